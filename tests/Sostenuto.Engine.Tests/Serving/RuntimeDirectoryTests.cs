using System.Diagnostics;
using System.Net.Sockets;
using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Tests.Cli;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Serving;

/// <summary>
/// <c>serve</c>'s runtime directory, lock file and the rings it maps are checked as strictly as the plug-in
/// checks them (issue 19 item 5): real folders, links and files; the CLI where the exit matters.
/// </summary>
[Collection(nameof(FixtureModel))]
public sealed class RuntimeDirectoryTests(FixtureModel fixture) : IDisposable
{
    readonly TempDirectory _temp = new("sostenuto-runtime");
    static bool IsRoot => PeerCredentials.EffectiveUserId == 0;

    static void Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
    }

    /// <summary><c>sostenuto serve</c> with no --socket and this XDG_RUNTIME_DIR: it must refuse to start, in one line.</summary>
    static void ServeRefuses(string runtimeDirectory, string expected)
    {
        var r = CliRunner.RunWith(RepositoryPaths.Root, new Dictionary<string, string?> { ["XDG_RUNTIME_DIR"] = runtimeDirectory },
            "serve", "--model", RepositoryPaths.FixtureModel, "--idle-exit", "1");
        Assert.True(r.ExitCode == 1, r.ToString());
        var line = Assert.Single(r.StderrLines);
        Assert.StartsWith("sostenuto:", line);
        Assert.Contains(expected, line);
        Assert.False(File.Exists(Path.Combine(runtimeDirectory, RuntimePaths.SocketFileName)), "a socket was created");
    }

    [Fact]
    public void AWorldWritableRuntimeDirectoryIsRefused()
    {
        var dir = Directory.CreateDirectory(_temp.File("open")).FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_111_111);
        ServeRefuses(dir, "accessible to other users");
    }

    [Fact]
    public void ARuntimeDirectoryOfAnotherUserIsRefused()
    {
        if (!IsRoot) return; // needs root to give a folder away; CI and these machines run as root
        var dir = Directory.CreateDirectory(_temp.File("theirs")).FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_000_000);
        Run("chown", "65534", dir);
        ServeRefuses(dir, "belongs to another user");
    }

    [Fact]
    public void ARuntimeDirectoryThatIsALinkIsRefused()
    {
        var real = Directory.CreateDirectory(_temp.File("real"), (UnixFileMode)0b111_000_000).FullName;
        var link = _temp.File("link");
        Directory.CreateSymbolicLink(link, real);
        ServeRefuses(link, "symbolic link");
    }

    [Fact]
    public void APlantedLockLinkIsRefusedNotFollowed()
    {
        var dir = Directory.CreateDirectory(_temp.File("run"), (UnixFileMode)0b111_000_000).FullName;
        var victim = _temp.File("victim-file");
        var socket = Path.Combine(dir, "engine.sock");
        File.CreateSymbolicLink(socket + ".lock", victim);
        var e = Assert.ThrowsAny<IOException>(() => new EngineServer(fixture.Package, socket, _ => { }, null).Dispose());
        Assert.Contains("symbolic link", e.Message);
        Assert.False(File.Exists(victim), "the engine created the file the planted link points to");
    }

    [Fact]
    public void TheLockFileIsPrivate()
    {
        var dir = Directory.CreateDirectory(_temp.File("run"), (UnixFileMode)0b111_000_000).FullName;
        var socket = Path.Combine(dir, "engine.sock");
        using (new EngineServer(fixture.Package, socket, _ => { }, null))
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket + ".lock"));
        // An old lock file with a wider mode is narrowed when the next engine takes it.
        File.SetUnixFileMode(socket + ".lock", (UnixFileMode)0b110_110_110);
        using (new EngineServer(fixture.Package, socket, _ => { }, null))
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket + ".lock"));
    }

    [Fact]
    public void AnExplicitSocketInASharedFolderIsRefused()
    {
        var dir = Directory.CreateDirectory(_temp.File("shared")).FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_111_111);
        var e = Assert.ThrowsAny<IOException>(() => new EngineServer(fixture.Package, Path.Combine(dir, "engine.sock"), _ => { }, null).Dispose());
        Assert.Contains("accessible to other users", e.Message);
    }

    public static TheoryData<string> BadRings() => new() { "another user", "a link" };

    /// <summary>docs/protocol.md: the engine checks the ring's owner and mode (it used to check the mode only, through links).</summary>
    [Theory]
    [MemberData(nameof(BadRings))]
    public async Task ARingNotOwnedByTheUserOrBehindALinkIsRefused(string kind)
    {
        if (kind == "another user" && !IsRoot) return; // needs root to give the object away
        var dir = Directory.CreateDirectory(_temp.File("run"), (UnixFileMode)0b111_000_000).FullName;
        var socketPath = Path.Combine(dir, "engine.sock");
        var log = new List<string>();
        using var server = new EngineServer(fixture.Package, socketPath, l => { lock (log) log.Add(l); }, null);
        using var stop = new CancellationTokenSource();
        var run = server.RunAsync(stop.Token);
        using var ring = new TestAudioRing(1 << 12);
        string name = ring.Name;
        string? link = null;
        if (kind == "another user") Run("chown", "65534", "/dev/shm" + ring.Name);
        else
        {
            name = ring.Name + "-link";
            link = "/dev/shm" + name;
            File.CreateSymbolicLink(link, "/dev/shm" + ring.Name);
        }
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            socket.Send(ProtocolCodec.Encode(new HelloMessage(1, 48000, 256, ProcessMode.Realtime, LatencyMode.Studio, 0, 1024, 7, name)));
            var error = Assert.IsType<ErrorMessage>(Assert.Single(ProtocolFrames.Read(socket, TimeSpan.FromSeconds(30))));
            Assert.Equal((ushort)EngineErrorCode.AudioRingUnusable, error.Code);
            Assert.Contains(kind == "another user" ? "belongs to another user" : "symbolic link", error.Message);
        }
        finally
        {
            if (link is not null) File.Delete(link);
            stop.Cancel();
            await run;
        }
    }

    public void Dispose() => _temp.Dispose();
}
