using System.Diagnostics;
using System.Text.RegularExpressions;
using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Tools;
using Xunit.Abstractions;

namespace Sostenuto.Engine.Tests.Plugin;

/// <summary>
/// Live mode through everything a player's key goes through: the real VST3 bundle in the headless
/// test host, processing blocks paced by the wall clock like a sound card, the shim's pipe and ring,
/// and the real engine. Key to sound is measured on what the host got back; the audio must equal the
/// studio render of the same MIDI away from the notes' splice windows, and have no click in them.
/// </summary>
[Collection(nameof(RealtimeFixtureModel))]
public sealed partial class LiveTestHostTests(FixtureModel fixture, ITestOutputHelper log) : IDisposable
{
    const int Rate = 48000;
    readonly TempDirectory _temp = new("sostenuto-live-host");

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    [InlineData(256)]
    public void KeyToSoundThroughThePlugInIsAtMostTenMillisecondsPlusABuffer(int block)
    {
        // Isolated notes (each after silence) at times on no grid, from 0.6 s on.
        var random = new Random(block);
        var notes = new List<TimedMidiMessage>();
        double t = 0.6;
        for (int i = 0; i < 12; i++)
        {
            int key = 45 + random.Next(30);
            notes.Add(new TimedMidiMessage(t, 0, MidiMessage.NoteOn(0, key, 70 + random.Next(50))));
            notes.Add(new TimedMidiMessage(t + 0.12, 0, MidiMessage.NoteOff(0, key)));
            t += 0.4 + random.NextDouble() * 0.1;
        }
        string midi = _temp.File("notes.mid");
        // 480 ticks per quarter at 120 bpm: a tick is 1/960 s. Times are rounded to ticks, as the file stores them.
        var timed = notes.Select(n => n with { Tick = (long)Math.Round(n.Seconds * 960), Seconds = Math.Round(n.Seconds * 960) / 960 }).ToList();
        File.WriteAllBytes(midi, StandardMidiFileWriter.Format0(timed, ticksPerQuarter: 480, microsecondsPerQuarter: 500000));

        var (wav, latency, underruns) = PlayPaced(midi, block);
        var played = wav.Samples.Where((_, i) => i % 2 == 0).ToArray(); // index = render time (the host dropped D)
        var events = OfflineRender.ToHostEvents(MidiFile.Read(midi).Messages.Select(m => (m.Seconds, m.Message)), Rate);
        var studio = StudioRender(events, played.Length);

        var k2s = new List<double>();
        foreach (var e in events.Where(e => e.Message.IsNoteOn))
        {
            long onset = Enumerable.Range((int)e.Time - Rate / 20, Rate / 5).FirstOrDefault(i => Math.Abs(played[i]) > 0.01f, -1);
            k2s.Add(onset < 0 ? double.PositiveInfinity : 1000.0 * (onset + latency - e.Time) / Rate);
        }
        // Splice windows: from the earliest change a note can make (its chunk, up to 8 + 2 frames
        // before it) to the end of its cross-fade, allowing for a late splice.
        var window = new bool[played.Length];
        foreach (var e in events)
            for (long s = Math.Max(0, e.Time - Rate / 4); s < Math.Min(played.Length, e.Time + Rate / 25); s++) window[s] = true;
        int differing = Enumerable.Range(0, played.Length).Count(i => !window[i] && played[i] != studio[i]);
        var clicks = new List<string>();
        foreach (var e in events)
        {
            long from = e.Time - Rate / 4, to = e.Time + Rate / 25;
            double inside = MaxSecondDifference(played, from, to), reference = MaxSecondDifference(studio, from, to);
            if (inside > 1.5 * reference + 1e-3) clicks.Add($"around {e.Time}: max |d2| {inside:F4}, studio {reference:F4}");
        }
        var sorted = k2s.OrderBy(k => k).ToList();
        double bound = 10 + 1000.0 * block / Rate, median = sorted[sorted.Count / 2], p90 = sorted[(int)Math.Ceiling(sorted.Count * 0.9) - 1];
        log.WriteLine($"block {block}: D = {latency} samples ({1000.0 * latency / Rate:F2} ms), {underruns} underrun blocks");
        log.WriteLine($"key-to-sound ms: {string.Join(" ", k2s.Select(k => k.ToString("F2")))}");
        log.WriteLine($"key-to-sound median {median:F2} ms, p90 {p90:F2} ms, max {sorted[^1]:F2} ms; bound {bound:F2} ms");
        log.WriteLine($"{differing} samples outside the splice windows differ from the studio render");
        foreach (var c in clicks) log.WriteLine(c);

        Assert.Equal(block + Rate / 500, latency); // D = S = a block and 2 ms, L = 0
        Assert.True(median <= bound, $"median key-to-sound {median:F2} ms above {bound:F2} ms");
        Assert.True(p90 <= bound, $"90th percentile key-to-sound {p90:F2} ms above {bound:F2} ms");
        Assert.Empty(clicks);
        if (underruns == 0) Assert.Equal(0, differing); // an underrun (a starved host thread) leaves a faded gap
    }

    static double MaxSecondDifference(float[] x, long from, long to)
    {
        double max = 0;
        for (long i = Math.Max(1, from); i < Math.Min(x.Length - 1, to); i++) max = Math.Max(max, Math.Abs(x[i + 1] - 2 * x[i] + x[i - 1]));
        return max;
    }

    /// <summary>
    /// The bundle's engine (`sostenuto serve`) in a process of its own, as the plug-in starts it, on the
    /// fixture model: a collection in this test process would pause it along with everything else.
    /// </summary>
    sealed class EngineProcess : IDisposable
    {
        readonly Process _process;
        readonly Task<string> _output;

        public EngineProcess(string socket)
        {
            // The bundle's apphost (`make bundle`).
            string engine = Path.Combine(NativeBuild.Bundle, "Contents", "Resources", "engine", "sostenuto");
            var psi = new ProcessStartInfo(engine, ["serve", "--socket", socket, "--model", RepositoryPaths.FixtureModel, "--idle-exit", "0"])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            _process = Process.Start(psi)!;
            _output = _process.StandardError.ReadToEndAsync().ContinueWith(e => e.Result + _process.StandardOutput.ReadToEnd());
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.Exists(socket) && DateTime.UtcNow < deadline && !_process.HasExited) Thread.Sleep(20);
            if (!File.Exists(socket)) throw new InvalidOperationException("the engine did not listen within 30 s");
        }

        public string Stop()
        {
            _process.Kill();
            _process.WaitForExit(10_000);
            return _output.Wait(10_000) ? _output.Result : "";
        }

        public void Dispose() => _process.Dispose();
    }

    (WavAudio Wav, int Latency, int Underruns) PlayPaced(string midi, int block)
    {
        string socket = _temp.File("engine.sock");
        using var engine = new EngineProcess(socket);
        // Play one session unmeasured first, as a player's first seconds after starting the engine would be
        // (ONNX Runtime's first runs; a JIT-built engine would also compile its serving code there).
        RunHost(["--plugin", NativeBuild.Bundle, "--midi", midi, "--rate", Rate.ToString(), "--block", "256", "--mode", "realtime",
                 "--paced", "--calls", "600", "--latency-mode", "live", "--engine-socket", socket, "--require-engine"]);
        string output = _temp.File($"live-{block}.wav");
        string stdout = RunHost(["--plugin", NativeBuild.Bundle, "--midi", midi, "--rate", Rate.ToString(), "--block", block.ToString(), "--mode", "realtime",
             "--paced", "--latency-mode", "live", "--engine-socket", socket, "--require-engine", "--tail", "0.5", "-o", output]);
        log.WriteLine(engine.Stop());
        int latency = int.Parse(LatencyLine().Match(stdout).Groups[1].Value);
        int underruns = int.Parse(UnderrunLine().Match(stdout).Groups[1].Value);
        return (WavFile.Read(output), latency, underruns);
    }

    string RunHost(string[] arguments)
    {
        var psi = new ProcessStartInfo(NativeBuild.TestHost, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "the test host did not finish in 120 s");
        log.WriteLine(stdout.Result);
        log.WriteLine(stderr.Result);
        Assert.True(process.ExitCode == 0, $"test host exit {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }

    float[] StudioRender(MidiEvent[] events, int length)
    {
        using var session = new RenderSession(fixture.Package, new RenderSettings(Rate));
        foreach (var e in events) session.AddEvent(e);
        session.EndInput();
        var left = new float[length];
        session.Render(left, new float[length]);
        return left;
    }

    [GeneratedRegex(@"latency\s+(\d+) samples")]
    private static partial Regex LatencyLine();

    [GeneratedRegex(@"underruns\s+(\d+) blocks")]
    private static partial Regex UnderrunLine();

    public void Dispose() => _temp.Dispose();
}
