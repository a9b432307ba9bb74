using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Serving;

/// <summary>
/// The socket's locks (EngineLock): one engine and one spare per socket, and a spare's wait that ends the
/// moment the engine lets go. flock(2) locks belong to an open file, so two opens in one process contend
/// as two processes would.
/// </summary>
[Collection(nameof(FixtureModel))]
public sealed class EngineLockTests(FixtureModel fixture) : IDisposable
{
    readonly TempDirectory _temp = new("sostenuto-lock");

    string Socket()
    {
        var dir = Directory.CreateDirectory(_temp.File("run"), (UnixFileMode)0b111_000_000).FullName;
        return Path.Combine(dir, "engine.sock");
    }

    [Fact]
    public void OneEngineHoldsTheLockAtATime()
    {
        var socket = Socket();
        using (var first = EngineLock.TryTake(socket))
        {
            Assert.NotNull(first);
            Assert.Null(EngineLock.TryTake(socket));
            Assert.Throws<EngineAlreadyRunningException>(() => new EngineServer(fixture.Package, socket, _ => { }, null));
        }
        using var second = EngineLock.TryTake(socket);
        Assert.NotNull(second);
    }

    [Fact]
    public async Task ASpareWaitsForTheLockAndHasItWhenTheEngineLetsGo()
    {
        var socket = Socket();
        var engine = EngineLock.TryTake(socket)!;
        var wait = EngineLock.WaitAsync(socket, CancellationToken.None);
        await Task.Delay(100);
        Assert.False(wait.IsCompleted, "the spare had the lock while the engine held it");
        engine.Dispose();
        using var taken = await wait.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(socket, taken.SocketPath);
        Assert.Null(EngineLock.TryTake(socket));
        // The server takes a lock handed to it, and only its own socket's.
        using (var server = new EngineServer(fixture.Package, socket, _ => { }, null, heldLock: taken))
            Assert.True(File.Exists(socket));
    }

    [Fact]
    public async Task ACancelledWaitLeavesTheLockFreeForTheNextEngine()
    {
        var socket = Socket();
        var engine = EngineLock.TryTake(socket)!;
        using var cancel = new CancellationTokenSource();
        var wait = EngineLock.WaitAsync(socket, cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        engine.Dispose();
        // The waiting thread gets the lock, finds nobody wants it, and lets it go.
        EngineLock? next = null;
        for (int i = 0; i < 200 && next is null; i++)
        {
            next = EngineLock.TryTake(socket);
            if (next is null) await Task.Delay(25);
        }
        Assert.NotNull(next);
        next!.Dispose();
    }

    [Fact]
    public void TheLockOfAnotherSocketIsRefused()
    {
        var socket = Socket();
        using var other = EngineLock.TryTake(socket + "2")!;
        Assert.Throws<ArgumentException>(() => new EngineServer(fixture.Package, socket, _ => { }, null, heldLock: other));
    }

    [Fact]
    public void OneSpareStandsByPerSocketAndItsClaimIsPrivate()
    {
        var socket = Socket();
        using (var claim = EngineLock.TryTakeStandby(socket))
        {
            Assert.NotNull(claim);
            Assert.Null(EngineLock.TryTakeStandby(socket));
            using var engine = EngineLock.TryTake(socket);
            Assert.NotNull(engine); // the engine's lock is another file
        }
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket + ".standby.lock"));
        using var again = EngineLock.TryTakeStandby(socket);
        Assert.NotNull(again);
    }

    [Fact]
    public void APlantedStandbyLockLinkIsRefusedNotFollowed()
    {
        var socket = Socket();
        var victim = _temp.File("victim-file");
        File.CreateSymbolicLink(socket + ".standby.lock", victim);
        var e = Assert.ThrowsAny<IOException>(() => EngineLock.TryTakeStandby(socket));
        Assert.Contains("symbolic link", e.Message);
        Assert.False(File.Exists(victim));
    }

    [Fact]
    public void TheSpareCompilesTheEngineCodeAheadOfItsFirstConnection()
    {
        int compiled = EngineSpare.CompileEngineCode(typeof(EngineServer).Assembly);
        Assert.True(compiled > 500, $"{compiled} methods compiled");
    }

    [Fact]
    public void TheSpareIsStartedWithThisProcessCommandLineAndTheStandbyOption()
    {
        var command = EngineSpare.CommandOfThisProcess();
        Assert.Equal(Environment.ProcessPath, command[0]);
        Assert.Equal(EngineSpare.StandbyOption, command[^1]);
        Assert.Single(command, a => a == EngineSpare.StandbyOption);
    }

    public void Dispose() => _temp.Dispose();
}
