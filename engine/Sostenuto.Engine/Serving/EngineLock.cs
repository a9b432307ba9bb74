using Microsoft.Win32.SafeHandles;
using Sostenuto.Engine.IO;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// One engine per socket: an exclusive flock on <c>SOCKET.lock</c>, held for the engine's lifetime and
/// released by the kernel when the engine exits or dies. The lock file is created with O_EXCL or opened
/// with O_NOFOLLOW (a planted link is refused, never followed), mode 0600, in a folder checked private.
/// An engine that starts takes it without waiting (<see cref="TryTake"/>) and exits if another holds it;
/// a warm spare (<see cref="EngineSpare"/>) waits for it (<see cref="WaitAsync"/>) and takes over the
/// socket the moment its engine dies.
///
/// A spare also holds <c>SOCKET.standby.lock</c> (<see cref="TryTakeStandby"/>) from its start until it
/// listens: one spare per socket, and a launcher that finds nothing listening but either lock held
/// waits for that engine instead of starting another (the kernel frees the engine's lock before the
/// spare's flock call returns with it, and the launcher must not read that instant as "no engine").
/// </summary>
public sealed class EngineLock : IDisposable
{
    const string EngineSuffix = ".lock", StandbySuffix = ".standby.lock";
    readonly SafeFileHandle _file;

    EngineLock(SafeFileHandle file, string socketPath)
    {
        _file = file;
        SocketPath = socketPath;
    }

    public string SocketPath { get; }

    /// <summary>The engine's lock if no other process holds it, else null.</summary>
    public static EngineLock? TryTake(string socketPath) => TryTake(socketPath, EngineSuffix);

    /// <summary>The spare's claim if no other spare holds it, else null.</summary>
    public static EngineLock? TryTakeStandby(string socketPath) => TryTake(socketPath, StandbySuffix);

    static EngineLock? TryTake(string socketPath, string suffix)
    {
        var file = Open(socketPath, suffix);
        if (UnixFile.TryLockExclusive(file)) return new EngineLock(file, socketPath);
        file.Dispose();
        return null;
    }

    /// <summary>
    /// The lock, once whoever holds it lets go. The wait blocks a background thread of its own in flock(2),
    /// so the kernel hands the lock over at once and a waiting spare costs no wake-ups. Cancelling ends the
    /// wait for the caller; the thread stays blocked until the lock is free, then lets it go again (a
    /// cancelled spare is exiting anyway).
    /// </summary>
    public static Task<EngineLock> WaitAsync(string socketPath, CancellationToken cancel)
    {
        var file = Open(socketPath, EngineSuffix);
        var taken = new TaskCompletionSource<EngineLock>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                UnixFile.WaitLockExclusive(file);
                if (!taken.TrySetResult(new EngineLock(file, socketPath))) file.Dispose();
            }
            catch (Exception e)
            {
                file.Dispose();
                taken.TrySetException(e);
            }
        })
        { IsBackground = true, Name = "engine lock wait" };
        thread.Start();
        cancel.Register(() => taken.TrySetCanceled(cancel));
        return taken.Task;
    }

    static SafeFileHandle Open(string socketPath, string suffix)
    {
        // The socket's folder must be private, as the plug-in requires of it: a directory, not a link, ours, mode 0700.
        RuntimePaths.EnsurePrivateDirectory(Path.GetDirectoryName(Path.GetFullPath(socketPath))!);
        return UnixFile.OpenPrivateFile(socketPath + suffix);
    }

    public void Dispose() => _file.Dispose();
}
