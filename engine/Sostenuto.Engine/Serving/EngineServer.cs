using System.Net.Sockets;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// <c>sostenuto serve</c>: one engine process per user serves every plug-in instance over a Unix
/// socket (mode 0600, in the user's private runtime directory), one <see cref="InstanceConnection"/>
/// per instance, all over one loaded model. A peer of another user is refused. With an idle
/// timeout the engine exits when no instance has been connected for that long, so the plug-in's
/// launcher can start it on demand.
/// </summary>
public sealed class EngineServer : IDisposable
{
    readonly ModelPackage _package;
    readonly string _socketPath;
    readonly Action<string> _log;
    readonly TimeSpan? _idleExit;
    readonly FileStream _lock;
    readonly Socket _listener;
    readonly List<Task> _connections = new();
    int _active;
    long _connectionNumber;
    long _lastActivity = Environment.TickCount64;

    public EngineServer(ModelPackage package, string socketPath, Action<string> log, TimeSpan? idleExit)
    {
        _package = package;
        _socketPath = socketPath;
        _log = log;
        _idleExit = idleExit;

        var directory = Path.GetDirectoryName(Path.GetFullPath(socketPath))!;
        Directory.CreateDirectory(directory);
        // One engine per socket: the lock (flock underneath) is released by the kernel if the engine dies.
        try { _lock = new FileStream(socketPath + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException) { throw new EngineAlreadyRunningException(socketPath); }

        if (File.Exists(socketPath)) File.Delete(socketPath); // stale: its engine no longer holds the lock
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            _listener.Listen(64);
        }
        catch
        {
            _listener.Dispose();
            _lock.Dispose();
            throw;
        }
    }

    public string SocketPath => _socketPath;

    public async Task RunAsync(CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var idleWatch = _idleExit is { } idle ? WatchIdleAsync(idle, stop) : Task.CompletedTask;
        _log($"serving {_package.Manifest.Name} {_package.Manifest.Version} on {_socketPath}");
        try
        {
            while (!stop.IsCancellationRequested)
            {
                Socket peer;
                try { peer = await _listener.AcceptAsync(stop.Token); }
                catch (OperationCanceledException) { break; }
                Accept(peer, stop.Token);
            }
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(_connections.Append(idleWatch).Select(t => t.ContinueWith(_ => { })));
        }
    }

    void Accept(Socket peer, CancellationToken cancel)
    {
        long number = ++_connectionNumber;
        var credentials = PeerCredentials.Of(peer);
        if (credentials.UserId != PeerCredentials.EffectiveUserId)
        {
            _log($"refused a connection from uid {credentials.UserId} (pid {credentials.ProcessId}): the engine serves uid {PeerCredentials.EffectiveUserId} only");
            peer.Dispose();
            return;
        }
        Interlocked.Increment(ref _active);
        var connection = new InstanceConnection(peer, _package, _log, number);
        lock (_connections)
        {
            _connections.RemoveAll(t => t.IsCompleted);
            _connections.Add(Task.Run(async () =>
            {
                try { await connection.RunAsync(cancel); }
                finally
                {
                    Interlocked.Decrement(ref _active);
                    Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
                }
            }));
        }
    }

    async Task WatchIdleAsync(TimeSpan idle, CancellationTokenSource stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try { await Task.Delay(TimeSpan.FromMilliseconds(250), stop.Token); }
            catch (OperationCanceledException) { return; }
            if (Volatile.Read(ref _active) == 0 && Environment.TickCount64 - Interlocked.Read(ref _lastActivity) > idle.TotalMilliseconds)
            {
                _log($"no instance for {idle.TotalSeconds:0.#} s: exiting");
                stop.Cancel();
            }
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        try { File.Delete(_socketPath); } catch (IOException) { }
        _lock.Dispose();
    }
}

public sealed class EngineAlreadyRunningException(string socketPath) : IOException($"an engine is already serving {socketPath}")
{
    public string SocketPath { get; } = socketPath;
}
