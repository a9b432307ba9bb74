using System.Diagnostics;
using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Tools;
using Xunit.Abstractions;

namespace Sostenuto.Engine.Tests.Plugin;

/// <summary>
/// The real plug-in bundle, loaded through the VST3 ABI by the headless test host, talking to the
/// real engine over a real socket and shared memory: an offline bounce equals the engine's own
/// render of the same MIDI sample for sample (the host drops the reported latency), at every
/// block size and rate, because a bounce goes through the same session code as `sostenuto render`.
/// </summary>
[Collection(nameof(FixtureModel))]
public sealed class TestHostBounceTests(FixtureModel fixture, ITestOutputHelper log) : IDisposable
{
    readonly TempDirectory _temp = new("sostenuto-bounce");

    public static TheoryData<int, string> RatesAndBlocks()
    {
        var data = new TheoryData<int, string>();
        foreach (var block in new[] { "32", "128", "512", "4096", "varying" }) data.Add(48000, block);
        foreach (var rate in new[] { 44100, 96000 }) { data.Add(rate, "128"); data.Add(rate, "varying"); }
        return data;
    }

    [Theory]
    [MemberData(nameof(RatesAndBlocks))]
    public void AnOfflineBounceEqualsTheEngineRender(int rate, string block)
    {
        string midi = WriteTestMidi();
        var bounce = Bounce(midi, rate, block, "offline");
        var expected = Render(midi, rate, bounce.FrameCount);

        var left = bounce.Samples.Where((_, i) => i % 2 == 0).ToArray();
        Assert.Contains(expected, x => x != 0);
        int firstDifference = Enumerable.Range(0, expected.Length).FirstOrDefault(i => expected[i] != left[i], -1);
        Assert.True(firstDifference < 0, $"bounce differs from the render at sample {firstDifference} ({left[Math.Max(0, firstDifference)]} vs {expected[Math.Max(0, firstDifference)]})");
    }

    /// <summary>A short performance: chords, dynamics and the pedal from the demo's opening.</summary>
    string WriteTestMidi()
    {
        var path = _temp.File("test.mid");
        var midi = MidiFile.Read(RepositoryPaths.DemoMidi);
        // The first 3 seconds of the demo, as a format-0 file (the whole demo at block 32 costs time).
        var events = midi.Messages.Where(m => m.Seconds < 3.0).ToList();
        File.WriteAllBytes(path, StandardMidiFileWriter.Format0(events, ticksPerQuarter: 480, microsecondsPerQuarter: 500000));
        return path;
    }

    WavAudio Bounce(string midi, int rate, string block, string mode)
    {
        string socket = _temp.File("engine.sock");
        using var server = new EngineServer(fixture.Package, socket, line => log.WriteLine(line), idleExit: null);
        using var stop = new CancellationTokenSource();
        var run = server.RunAsync(stop.Token);

        string output = _temp.File($"bounce-{rate}-{block}.wav");
        var psi = new ProcessStartInfo(NativeBuild.TestHost,
            ["--plugin", NativeBuild.Bundle, "--midi", midi, "--rate", rate.ToString(), "--block", block, "--mode", mode,
             "--engine-socket", socket, "--require-engine", "--tail", "1", "-o", output])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "the test host did not finish in 120 s");
        log.WriteLine(stdout.Result);
        log.WriteLine(stderr.Result);
        Assert.True(process.ExitCode == 0, $"test host exit {process.ExitCode}: {stderr.Result}");
        stop.Cancel();
        run.Wait(TimeSpan.FromSeconds(10));
        return WavFile.Read(output);
    }

    float[] Render(string midiPath, int rate, int length)
    {
        var midi = MidiFile.Read(midiPath);
        using var session = new RenderSession(fixture.Package, new RenderSettings(rate));
        foreach (var e in OfflineRender.ToHostEvents(midi.Messages.Select(m => (m.Seconds, m.Message)), rate)) session.AddEvent(e);
        session.EndInput();
        var left = new float[length];
        Assert.Equal(length, session.Render(left, new float[length]));
        return left;
    }

    public void Dispose() => _temp.Dispose();
}
