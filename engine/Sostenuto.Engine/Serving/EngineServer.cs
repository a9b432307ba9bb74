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
    readonly EngineLimits _limits;
    readonly int _maxConnections;
    readonly EngineLock _lock;
    readonly Socket _listener;
    readonly List<Task> _connections = new();
    int _active;
    long _connectionNumber;
    long _lastActivity = Environment.TickCount64;

    /// <param name="heldLock">The socket's lock, already taken (a spare that waited for it); null: take it now,
    /// or throw <see cref="EngineAlreadyRunningException"/> if another engine holds it. Owned by the server.</param>
    public EngineServer(ModelPackage package, string socketPath, Action<string> log, TimeSpan? idleExit, EngineLimits? limits = null,
        EngineLock? heldLock = null)
    {
        _package = package;
        _socketPath = socketPath;
        _log = log;
        _idleExit = idleExit;
        _limits = limits ?? EngineLimits.Default;
        _maxConnections = Math.Min(_limits.MaxConnections, DescriptorBudget.ConnectionsThatFit());

        if (heldLock is not null && heldLock.SocketPath != socketPath)
            throw new ArgumentException($"the lock given is {heldLock.SocketPath}'s, not {socketPath}'s", nameof(heldLock));
        _lock = heldLock ?? EngineLock.TryTake(socketPath) ?? throw new EngineAlreadyRunningException(socketPath);

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
        if (_maxConnections < _limits.MaxConnections)
            _log($"the file-descriptor limit leaves room for {_maxConnections} connections (of {_limits.MaxConnections}); raise it with ulimit -n for more");
        try
        {
            // Starts the runtime's timer thread now, while file descriptors are plentiful: the first timer of the
            // process (a Hello deadline, the retry delay below) starts it, and at EMFILE starting a thread fails
            // with OutOfMemoryException (seen in the issue 19 repro), which would end the engine.
            await Task.Delay(1, stop.Token);
            long failedAccepts = 0;
            while (!stop.IsCancellationRequested)
            {
                Socket peer;
                try { peer = await _listener.AcceptAsync(stop.Token); }
                catch (OperationCanceledException) { break; }
                catch (SocketException e)
                {
                    // EMFILE "Too many open files", ENFILE, ENOMEM, ENOBUFS: the connection waits in the backlog and
                    // the instances already connected must go on playing. Log the first of a run of failures, wait, retry.
                    if (failedAccepts++ == 0) _log($"accept failed, retrying every {_limits.AcceptRetryDelay.TotalMilliseconds:0} ms: {e.Message} ({e.SocketErrorCode})");
                    try { await Task.Delay(_limits.AcceptRetryDelay, stop.Token); }
                    catch (OperationCanceledException) { break; }
                    continue;
                }
                if (failedAccepts > 0)
                {
                    _log($"accepting again after {failedAccepts} failed accepts");
                    failedAccepts = 0;
                }
                try { Accept(peer, stop.Token); }
                catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
                {
                    _log($"dropped a connection while accepting it: {e.Message}"); // e.g. the peer left before SO_PEERCRED
                    peer.Dispose();
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
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
        if (Interlocked.Increment(ref _active) > _maxConnections)
        {
            Interlocked.Decrement(ref _active);
            _log($"refused connection {number}: {_maxConnections} connections are open (the most this engine serves)");
            try { peer.Send(ProtocolCodec.Encode(new ErrorMessage((ushort)EngineErrorCode.Overloaded, $"the engine serves at most {_maxConnections} connections"))); }
            catch (SocketException) { }
            peer.Dispose();
            return;
        }
        var connection = new InstanceConnection(peer, _package, _log, number, _limits);
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
