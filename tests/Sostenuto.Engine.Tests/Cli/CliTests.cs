using Sostenuto.Engine.Tests.Tools;
using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Midi;
using Xunit.Abstractions;

namespace Sostenuto.Engine.Tests.Cli;

/// <summary>
/// The real <c>sostenuto</c> command line, run as a process (<c>dotnet sostenuto.dll ...</c>) on
/// examples/demo.mid, with the small untrained fixture model unless a test is about the default model.
/// </summary>
[Collection(CliCollection.Name)]
public class CliTests(CliFixture cli, ITestOutputHelper log)
{
    const string Demo = "examples/demo.mid";

    // ---------------------------------------------------------------- render

    [Fact]
    public void SameSeedGivesByteIdenticalFiles()
    {
        var first = cli.NewPath("seed7-a.wav");
        var second = cli.NewPath("seed7-b.wav");
        var a = CliRunner.Run("render", Demo, "-o", first, "--seed", "7", "--model", RepositoryPaths.FixtureModel);
        var b = CliRunner.Run("render", Demo, "-o", second, "--seed", "7", "--model", RepositoryPaths.FixtureModel);
        log.WriteLine(a.ToString());
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.True(b.ExitCode == 0, b.ToString());

        var bytesA = File.ReadAllBytes(first);
        var bytesB = File.ReadAllBytes(second);
        Assert.True(bytesA.Length > 44 + 48000 * 2 * 3, $"only {bytesA.Length} bytes");
        Assert.True(bytesA.AsSpan().SequenceEqual(bytesB), "two renders with --seed 7 differ");
        Assert.True(Peak(WavFile.Read(first)) > 0.01f, "the render is silent");
    }

    [Fact]
    public void DifferentSeedGivesDifferentFile()
    {
        var (_, seed7) = cli.Demo("--seed", "7");
        var (_, seed8) = cli.Demo("--seed", "8");
        var a = WavFile.Read(seed7);
        var b = WavFile.Read(seed8);
        Assert.False(File.ReadAllBytes(seed7).AsSpan().SequenceEqual(File.ReadAllBytes(seed8)), "--seed 7 and --seed 8 wrote the same file");
        // Not just a few samples: the sampled tokens, so the audio, differ wherever notes sound.
        int n = Math.Min(a.Samples.Length, b.Samples.Length);
        int differing = 0;
        for (int i = 0; i < n; i++) if (a.Samples[i] != b.Samples[i]) differing++;
        Assert.True(differing > n / 10, $"only {differing} of {n} samples differ");
    }

    public static TheoryData<string, WavSampleFormat> Formats() => new()
    {
        { "pcm16", WavSampleFormat.Pcm16 },
        { "pcm24", WavSampleFormat.Pcm24 },
        { "float", WavSampleFormat.Float32 },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void FormatOptionWritesThatFormat(string format, WavSampleFormat expected)
    {
        var (_, path) = cli.Demo("--seed", "7", "--format", format);
        var wav = WavFile.Read(path);
        Assert.Equal(48000, wav.SampleRate);
        Assert.Equal(2, wav.Channels);
        Assert.Equal(expected, wav.Format);
        Assert.InRange(wav.FrameCount / 48000.0, 20, 60);
        Assert.InRange(Peak(wav), 0.01f, 1f);

        // Every format carries the same signal, to within its quantisation step.
        var reference = WavFile.Read(cli.Demo("--seed", "7", "--format", "float").Path);
        Assert.Equal(reference.Samples.Length, wav.Samples.Length);
        double step = expected switch { WavSampleFormat.Pcm16 => 1.0 / 32767, WavSampleFormat.Pcm24 => 1.0 / 8388607, _ => 0 };
        double worst = 0;
        for (int i = 0; i < wav.Samples.Length; i++) worst = Math.Max(worst, Math.Abs(wav.Samples[i] - reference.Samples[i]));
        Assert.True(worst <= step * 1.01 + 1e-7, $"{format} differs from float by up to {worst}");
    }

    public static TheoryData<int> Rates() => new() { 44100, 48000, 88200, 96000 };

    [Theory]
    [MemberData(nameof(Rates))]
    public void RateOptionWritesThatRateWithTheSameDuration(int rate)
    {
        var (result, path) = cli.Demo("--seed", "7", "--rate", rate.ToString());
        var wav = WavFile.Read(path);
        Assert.Equal(rate, wav.SampleRate);
        Assert.Equal(2, wav.Channels);
        Assert.Equal(WavSampleFormat.Pcm24, wav.Format); // the default
        Assert.InRange(Peak(wav), 0.01f, 1f);
        Assert.Contains($"at {rate} Hz", result.Stderr);

        var reference = WavFile.Read(cli.Demo("--seed", "7", "--rate", "48000").Path);
        double seconds = (double)wav.FrameCount / rate, referenceSeconds = (double)reference.FrameCount / reference.SampleRate;
        log.WriteLine($"{rate} Hz: {wav.FrameCount} frames = {seconds * 1000:0.000} ms (48 kHz: {referenceSeconds * 1000:0.000} ms)");
        Assert.True(Math.Abs(seconds - referenceSeconds) <= 0.001, $"{rate} Hz lasts {seconds * 1000:0.000} ms, 48 kHz {referenceSeconds * 1000:0.000} ms");

        // The piece and its release tail fit: the file is at least as long as the MIDI.
        Assert.True(seconds >= MidiFile.Read(RepositoryPaths.DemoMidi).DurationSeconds);
    }

    [Fact]
    public void DefaultRateIs48kHzAndDefaultSeedIsFixed()
    {
        var (_, path) = cli.Demo();
        Assert.Equal(48000, WavFile.Read(path).SampleRate);
        Assert.True(File.ReadAllBytes(path).AsSpan().SequenceEqual(File.ReadAllBytes(cli.Demo("--seed", "0").Path)), "no --seed is not --seed 0");
    }

    [Fact]
    public void QuietRenderPrintsNothing()
    {
        var path = cli.NewPath("quiet.wav");
        var r = CliRunner.Run("render", Demo, "-o", path, "--quiet", "--max-tail", "0");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stdout);
        Assert.Equal("", r.Stderr);
        Assert.True(File.Exists(path));
    }

    // ---------------------------------------------------------------- info

    [Fact]
    public void InfoPrintsTheContract()
    {
        var r = CliRunner.Run("info", "--model", RepositoryPaths.FixtureModel);
        log.WriteLine(r.ToString());
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        foreach (var expected in new[]
        {
            "sostenuto-fixture 0.1.0", "UNTRAINED", "license     MIT",
            "24000 Hz, 1 channel(s), hop 480 samples",
            "4 codebooks x 256 tokens; silence = [0, 0, 0, 0]",
            "lookahead   2 frames",
            "note_onset, onset_offset, note_sounding, note_velocity, note_age, pedal (641 values per frame)",
            "temperature 1, top-k 0, top-p 1",
            "lm_step.onnx", "decoder.onnx",
            "[batch, 3, 641]", "state_in", "-> state_out", "[batch, 4, 256]",
            "window 12 frames, chunk 8, overlap 2",
            "[batch, 4, 12]", "[batch, 1, 5760]",
            "latency",
        })
            Assert.Contains(expected, r.Stdout);
    }

    [Fact]
    public void InfoWithModelOptionReadsThatFolder()
    {
        var r = CliRunner.Run("info", "--model", RepositoryPaths.FixtureModel);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"folder      {RepositoryPaths.FixtureModel}", r.Stdout);
    }

    // ---------------------------------------------------------------- failures: one line on stderr, non-zero exit

    [Fact]
    public void TruncatedMidiFails()
    {
        var mid = cli.NewPath("truncated.mid");
        File.WriteAllBytes(mid, File.ReadAllBytes(RepositoryPaths.DemoMidi)[..30]);
        AssertRenderFails(mid, "truncated.mid");
    }

    [Fact]
    public void GarbageMidiFails()
    {
        var mid = cli.NewPath("garbage.mid");
        var bytes = new byte[2048];
        new Random(11).NextBytes(bytes);
        File.WriteAllBytes(mid, bytes);
        AssertRenderFails(mid, "garbage.mid");
    }

    [Fact]
    public void MissingMidiFails()
    {
        AssertRenderFails(cli.NewPath("missing.mid"), "missing.mid");
    }

    [Fact]
    public void MidiThatIsAFolderFails()
    {
        AssertRenderFails(cli.NewFolder("folder.mid"), "folder.mid");
    }

    [Fact]
    public void InfoOnPackageWithBrokenManifestFails()
    {
        var dir = CopyFixture("broken-manifest");
        File.WriteAllText(Path.Combine(dir, "model.json"), "{ \"format\": \"sostenuto-model\", \"formatVersion\": 1, \"audio\": ");
        var r = AssertFailsWithOneLine(CliRunner.Run("info", "--model", dir));
        Assert.Contains("model.json", r.Stderr);
    }

    [Fact]
    public void InfoOnPackageWithBrokenFieldFails()
    {
        var dir = CopyFixture("broken-field");
        var manifest = Path.Combine(dir, "model.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"codebookSize\": 256", "\"codebookSize\": 1"));
        var r = AssertFailsWithOneLine(CliRunner.Run("info", "--model", dir));
        Assert.Contains("model.json: codec.codebookSize: must be between 2 and 65536", r.Stderr);
    }

    [Fact]
    public void InfoOnPackageWithGarbageDecoderFails()
    {
        var dir = CopyFixture("garbage-decoder");
        var bytes = new byte[50_000];
        new Random(5).NextBytes(bytes);
        File.WriteAllBytes(Path.Combine(dir, "decoder.onnx"), bytes);
        var r = AssertFailsWithOneLine(CliRunner.Run("info", "--model", dir));
        Assert.Contains("decoder.onnx", r.Stderr);
    }

    [Fact]
    public void InfoOnPackageWithEmptyDecoderFails()
    {
        // ONNX Runtime's message for this one ends in a newline; the CLI must still print one line.
        var dir = CopyFixture("empty-decoder");
        File.WriteAllBytes(Path.Combine(dir, "decoder.onnx"), []);
        var r = AssertFailsWithOneLine(CliRunner.Run("info", "--model", dir));
        Assert.Contains("decoder.onnx", r.Stderr);
    }

    [Fact]
    public void RenderWithBrokenPackageFails()
    {
        var dir = CopyFixture("broken-for-render");
        File.Delete(Path.Combine(dir, "lm_step.onnx"));
        var output = cli.NewPath("out.wav");
        var r = AssertFailsWithOneLine(CliRunner.Run("render", Demo, "-o", output, "--model", dir));
        Assert.Contains("lm.file", r.Stderr);
        Assert.False(File.Exists(output));
    }

    /// <summary>
    /// A package that passes validation but whose decoder fails when run (it declares [batch, 1, 5760]
    /// and produces [1, 1, 100]): the render fails after the output file was opened.
    /// </summary>
    string PackageThatFailsWhileRendering()
    {
        var dir = CopyFixture("fails-while-rendering");
        Model.OnnxTestModel.Write(Path.Combine(dir, "decoder.onnx"),
            [new("tokens", Model.OnnxTestModel.ElementType.Int64, "batch", 4L, 12L)],
            [new("audio", Model.OnnxTestModel.ElementType.Float, "batch", 1L, 5760L) { Produces = [1, 1, 100] }]);
        var info = CliRunner.Run("info", "--model", dir);
        Assert.True(info.ExitCode == 0, $"the package should pass validation\n{info}");
        return dir;
    }

    [Fact]
    public void RenderFailingMidwayFails()
    {
        var folder = cli.NewFolder("midway");
        var r = CliRunner.Run("render", Demo, "-o", Path.Combine(folder, "out.wav"), "--model", PackageThatFailsWhileRendering());
        log.WriteLine(r.ToString());
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.StartsWith("sostenuto: ", r.StderrLines[^1]);
        Assert.DoesNotContain(" at Sostenuto.", r.Stderr); // a message, not a stack trace
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void RenderFailingMidwayFailsWithOneLine()
    {
        var folder = cli.NewFolder("midway-one-line");
        AssertFailsWithOneLine(CliRunner.Run("render", Demo, "-o", Path.Combine(folder, "out.wav"), "--model", PackageThatFailsWhileRendering()));
    }

    [Fact]
    public void RenderFailingMidwayLeavesTheOutputUntouched()
    {
        var package = PackageThatFailsWhileRendering();
        var folder = cli.NewFolder("midway-existing");
        var output = Path.Combine(folder, "out.wav");
        File.WriteAllText(output, "the previous render");
        var r = CliRunner.Run("render", Demo, "-o", output, "--model", package);
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Equal("the previous render", File.ReadAllText(output));
        Assert.Equal([output], Directory.GetFiles(folder)); // and no temporary file left behind
    }

    [Fact]
    public void UnwritableOutputErrorNamesTheOutputPath()
    {
        var output = Path.Combine(cli.NewPath("no-such-folder"), "out.wav");
        var r = AssertFailsWithOneLine(CliRunner.Run("render", Demo, "-o", output));
        Assert.Contains($"{output}", r.Stderr);
        Assert.DoesNotContain(".tmp", r.Stderr);
    }

    [Fact]
    public void UnsupportedRateFails()
    {
        var r = AssertRenderFailsWith("--rate", "12345");
        Assert.Contains("12345", r.Stderr);
    }

    [Theory]
    [InlineData("mp3")]
    [InlineData("PCM16")]
    [InlineData("")]
    public void BadFormatFails(string format)
    {
        var r = AssertRenderFailsWith("--format", format);
        Assert.Contains("--format", r.Stderr);
    }

    [Fact]
    public void NonexistentModelFolderFails()
    {
        var missing = cli.NewPath("no-such-model");
        var r = AssertRenderFailsWith("--model", missing);
        Assert.Contains(missing, r.Stderr);
        var info = AssertFailsWithOneLine(CliRunner.Run("info", "--model", missing));
        Assert.Contains(missing, info.Stderr);
    }

    [Fact]
    public void OutputInsideAFileFails()
    {
        // The output's folder is a regular file: nothing can be written there, whoever runs the tests (even root).
        var file = cli.NewPath("plain-file");
        File.WriteAllText(file, "not a folder");
        var output = Path.Combine(file, "out.wav");
        AssertFailsWithOneLine(CliRunner.Run("render", Demo, "-o", output));
        Assert.Equal("not a folder", File.ReadAllText(file));
    }

    [Fact]
    public void OutputInMissingFolderFails()
    {
        var folder = cli.NewPath("no-such-folder");
        AssertFailsWithOneLine(CliRunner.Run("render", Demo, "-o", Path.Combine(folder, "out.wav")));
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void OutputThatIsAFolderFails()
    {
        var folder = cli.NewFolder("existing-folder.wav");
        AssertFailsWithOneLine(CliRunner.Run("render", Demo, "-o", folder));
        Assert.True(Directory.Exists(folder));
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
    }

    [Theory]
    [InlineData("render examples/demo.mid")] // no -o
    [InlineData("render examples/demo.mid -o x.wav --rate fast")]
    [InlineData("render examples/demo.mid -o x.wav --seed -1")]
    [InlineData("play examples/demo.mid")]
    [InlineData("info --model")]
    public void UsageErrorsFail(string commandLine)
    {
        AssertFailsWithOneLine(CliRunner.RunIn(RepositoryPaths.Root, commandLine.Split(' ')));
        Assert.False(File.Exists(Path.Combine(RepositoryPaths.Root, "x.wav")));
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Renders <paramref name="midi"/> into a fresh folder; asserts the failure contract and that nothing was left behind.</summary>
    CliResult AssertRenderFails(string midi, string mentions)
    {
        var folder = cli.NewFolder("out");
        var r = AssertFailsWithOneLine(CliRunner.Run("render", midi, "-o", Path.Combine(folder, "out.wav")));
        Assert.Contains(mentions, r.Stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
        return r;
    }

    /// <summary>Renders the demo with <paramref name="options"/> into a fresh folder; asserts the failure contract and that nothing was written.</summary>
    CliResult AssertRenderFailsWith(params string[] options)
    {
        var folder = cli.NewFolder("out");
        var r = AssertFailsWithOneLine(CliRunner.Run(["render", Demo, "-o", Path.Combine(folder, "out.wav"), .. options]));
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
        return r;
    }

    CliResult AssertFailsWithOneLine(CliResult r)
    {
        log.WriteLine(r.ToString());
        Assert.True(r.ExitCode != 0, $"exit code 0\n{r}");
        var lines = r.StderrLines;
        Assert.True(lines.Length == 1, $"expected exactly one line on stderr, got {lines.Length}\n{r}");
        Assert.StartsWith("sostenuto:", lines[0]);
        Assert.True(lines[0].Length > "sostenuto: ".Length + 5, $"no message\n{r}");
        Assert.Equal("", r.Stdout);
        return r;
    }

    string CopyFixture(string name)
    {
        var dir = cli.NewFolder(name);
        foreach (var file in Directory.GetFiles(RepositoryPaths.FixtureModel))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        return dir;
    }

    static float Peak(WavAudio wav)
    {
        float peak = 0;
        foreach (var s in wav.Samples) peak = Math.Max(peak, Math.Abs(s));
        return peak;
    }
}
