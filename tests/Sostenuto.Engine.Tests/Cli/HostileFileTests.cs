using System.Diagnostics;
using System.Text;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Tests.Model;
using Sostenuto.Engine.Tests.Tools;
using Xunit.Abstractions;

namespace Sostenuto.Engine.Tests.Cli;

/// <summary>
/// Files that are not what they claim (issue 19 items 3 and 4): every read is bounded after opening, only
/// regular files are read, links may not lead out of a model package, and a bad file is one line on stderr
/// and exit 1, never a stack trace. Real files, real links, a real FIFO; the real CLI where the exit matters.
/// </summary>
[Collection(CliCollection.Name)]
public class HostileFileTests(CliFixture cli, ITestOutputHelper log)
{
    CliResult AssertOneLineExit1(CliResult r, string expected)
    {
        log.WriteLine(r.ToString());
        Assert.True(r.ExitCode == 1, $"exit code {r.ExitCode}, expected 1\n{r}");
        var lines = r.StderrLines;
        Assert.True(lines.Length == 1, $"expected exactly one line on stderr, got {lines.Length}\n{r}");
        Assert.StartsWith("sostenuto:", lines[0]);
        Assert.Contains(expected, lines[0]);
        return r;
    }

    static void BreakUtf8(string manifestPath)
    {
        var bytes = File.ReadAllBytes(manifestPath);
        var text = Encoding.UTF8.GetString(bytes);
        int at = Encoding.UTF8.GetByteCount(text[..text.IndexOf("sostenuto-fixture", StringComparison.Ordinal)]);
        File.WriteAllBytes(manifestPath, [.. bytes[..at], 0xFF, 0xFE, .. bytes[at..]]); // inside the name string
    }

    [Fact]
    public void InvalidUtf8InTheManifestIsOneLineForInfo()
    {
        using var package = new PackageCopy();
        BreakUtf8(package.ManifestPath);
        AssertOneLineExit1(CliRunner.Run("info", "--model", package.Dir), "not valid UTF-8");
    }

    [Fact]
    public void InvalidUtf8InTheManifestIsOneLineForRender()
    {
        using var package = new PackageCopy();
        BreakUtf8(package.ManifestPath);
        AssertOneLineExit1(CliRunner.Run("render", RepositoryPaths.DemoMidi, "-o", cli.NewPath("utf8.wav"), "--model", package.Dir), "not valid UTF-8");
    }

    public static TheoryData<string> Devices() => new() { "/dev/zero", "/dev/urandom", "/dev/null" };

    [Theory]
    [MemberData(nameof(Devices))]
    public void AManifestLinkedToADeviceIsRefused(string device)
    {
        using var package = new PackageCopy();
        File.Delete(package.ManifestPath);
        File.CreateSymbolicLink(package.ManifestPath, device);
        var e = PackageCopy.RefusedToLoad(package.Dir);
        Assert.Contains("character device, not a regular file", e.Message);
    }

    [Fact]
    public void AManifestThatIsAFifoIsRefusedWithoutWaitingForAWriter()
    {
        using var package = new PackageCopy();
        File.Delete(package.ManifestPath);
        MakeFifo(package.ManifestPath);
        var r = CliRunner.Run("info", "--model", package.Dir); // used to block in open() until the CLI runner's timeout
        AssertOneLineExit1(r, "FIFO");
    }

    [Fact]
    public void AnOnnxFileLinkedOutsideThePackageIsRefused()
    {
        using var package = new PackageCopy();
        var outside = Path.Combine(package.Scratch, "elsewhere.onnx");
        File.Move(package.LmPath, outside);
        File.CreateSymbolicLink(package.LmPath, outside);
        var e = PackageCopy.RefusedToLoad(package.Dir);
        Assert.Contains("outside the folder", e.Message);
    }

    [Fact]
    public void AManifestLinkedOutsideThePackageIsRefused()
    {
        using var package = new PackageCopy();
        var outside = Path.Combine(package.Scratch, "model.json");
        File.Move(package.ManifestPath, outside);
        File.CreateSymbolicLink(package.ManifestPath, outside);
        var e = PackageCopy.RefusedToLoad(package.Dir);
        Assert.Contains("outside the folder", e.Message);
    }

    /// <summary>The policy allows links that stay inside the package (and a package folder that is itself a link, as models/default is).</summary>
    [Fact]
    public void LinksInsideThePackageAreFollowed()
    {
        using var package = new PackageCopy();
        var sub = Directory.CreateDirectory(Path.Combine(package.Dir, "networks")).FullName;
        File.Move(package.LmPath, Path.Combine(sub, "lm_step.onnx"));
        File.CreateSymbolicLink(package.LmPath, "networks/lm_step.onnx");
        var linkedFolder = Path.Combine(package.Scratch, "linked");
        Directory.CreateSymbolicLink(linkedFolder, package.Dir);
        using var loaded = ModelPackage.Load(linkedFolder);
        Assert.Equal("sostenuto-fixture", loaded.Manifest.Name);
    }

    [Fact]
    public void AnOversizeManifestIsRefusedByItsMeasuredSize()
    {
        using var package = new PackageCopy();
        using (var f = File.OpenWrite(package.ManifestPath)) f.SetLength((1 << 20) + 1); // sparse: costs no disk
        Assert.Contains("too large", PackageCopy.RefusedToLoad(package.Dir).Message);
    }

    [Fact]
    public void AMidiFileThatIsAFifoIsOneLine()
    {
        var fifo = cli.NewPath("input.mid");
        MakeFifo(fifo);
        AssertOneLineExit1(CliRunner.Run("render", fifo, "-o", cli.NewPath("fifo.wav"), "--model", RepositoryPaths.FixtureModel), "FIFO");
    }

    [Fact]
    public void AMidiFileThatIsADeviceIsOneLine()
    {
        AssertOneLineExit1(CliRunner.Run("render", "/dev/zero", "-o", cli.NewPath("zero.wav"), "--model", RepositoryPaths.FixtureModel), "not a regular file");
    }

    [Fact]
    public void AnOversizeMidiFileIsOneLine()
    {
        var big = cli.NewPath("big.mid");
        using (var f = File.Create(big)) f.SetLength((64L << 20) + 1); // sparse
        AssertOneLineExit1(CliRunner.Run("render", big, "-o", cli.NewPath("big.wav"), "--model", RepositoryPaths.FixtureModel), "too large");
    }

    static void MakeFifo(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [path]))!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }
}
