using System.Diagnostics;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Tests.Tools;
using Xunit.Abstractions;

namespace Sostenuto.Engine.Tests.Cli;

/// <summary>
/// A render that is stopped leaves nothing behind, and a MIDI file cannot make one write without end
/// (issue 19 item 6). The real CLI as a process, real signals, real files.
/// </summary>
[Collection(CliCollection.Name)]
public class RenderLimitsTests(CliFixture cli, ITestOutputHelper log)
{
    /// <summary>A note, then a silent span of <paramref name="seconds"/>, then its note-off.</summary>
    string LongMidi(double seconds)
    {
        var path = cli.NewPath("long.mid");
        File.WriteAllBytes(path, StandardMidiFileWriter.Format0(
            [new TimedMidiMessage(0, 0, new MidiMessage(0x90, 60, 80)), new TimedMidiMessage(seconds, 0, new MidiMessage(0x80, 60, 0))], 480, 500000));
        return path;
    }

    [Fact]
    public void AMidiFileLongerThanMaxLengthIsRefusedBeforeAnythingIsWritten()
    {
        var folder = cli.NewFolder("huge");
        var midi = LongMidi(5 * 3600); // five hours of silence: used to write until the 4 GiB RIFF limit
        var r = CliRunner.Run("render", midi, "-o", Path.Combine(folder, "out.wav"), "--model", RepositoryPaths.FixtureModel);
        log.WriteLine(r.ToString());
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("longer than --max-length 3600 s", Assert.Single(r.StderrLines));
        Assert.Empty(Entries(folder));
    }

    [Fact]
    public void MaxLengthCanBeRaised()
    {
        var midi = LongMidi(20);
        var refused = CliRunner.Run("render", midi, "-o", cli.NewPath("short.wav"), "--model", RepositoryPaths.FixtureModel, "--max-length", "10");
        Assert.True(refused.ExitCode == 1, refused.ToString());
        var path = cli.NewPath("raised.wav");
        var ok = CliRunner.Run("render", midi, "-o", path, "--model", RepositoryPaths.FixtureModel, "--max-length", "30", "--quiet");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.True(File.Exists(path));
    }

    /// <summary>Everything in the folder, hidden files too (the temporary WAV is a dot file, which .NET skips by default).</summary>
    static string[] Entries(string folder) => Directory.GetFileSystemEntries(folder, "*", new EnumerationOptions { AttributesToSkip = 0 });

    public static TheoryData<string, int> Signals() => new() { { "TERM", 143 }, { "INT", 130 } };

    /// <summary>All 32 timeouts of the MIDI fuzz left their temporary WAV behind (up to 399 MB).</summary>
    [Theory]
    [MemberData(nameof(Signals))]
    public async Task ASignalledRenderRemovesItsTemporaryFile(string signal, int exitCode)
    {
        var folder = cli.NewFolder("signal-" + signal);
        var midi = LongMidi(3000); // minutes of rendering: the signal always comes first
        // Started through `env --default-signal`: a test run launched in the background (a CI job, `make test &`)
        // inherits SIGINT ignored, the render would rightly keep it ignored, and the signal would never arrive.
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
        foreach (var a in new[] { "--default-signal=INT,TERM", dotnet, CliRunner.DllPath, "render", midi, "-o", Path.Combine(folder, "out.wav"), "--model", RepositoryPaths.FixtureModel, "--quiet" })
            start.ArgumentList.Add(a);
        using var render = Process.Start(start)!;
        var stderr = render.StandardError.ReadToEndAsync();
        try
        {
            // Wait for the temporary file (the render is writing), then signal.
            var watch = Stopwatch.StartNew();
            while (!Entries(folder).Any(f => f.EndsWith(".tmp")))
            {
                if (render.HasExited) Assert.Fail($"the render ended before writing: {await stderr}");
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), "no temporary file after 60 s");
                await Task.Delay(20);
            }
            using (var kill = Process.Start("kill", ["-" + signal, render.Id.ToString()])) await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await render.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!render.HasExited) render.Kill();
        }
        var error = await stderr;
        log.WriteLine(error);
        Assert.Equal(exitCode, render.ExitCode);
        Assert.Contains($"interrupted by SIG{signal}", error);
        Assert.Empty(Entries(folder));
    }
}
