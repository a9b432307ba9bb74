using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Sostenuto.Engine.IO;

/// <summary>
/// The engine's one way to read a file it was given (model.json, ONNX files, MIDI files), bounded after
/// opening: the file is opened without blocking (a FIFO cannot hang the engine), its type and size are
/// taken from the open handle (fstat, not the path: a symlink to /dev/zero once passed a size check made
/// on the link), only regular files are read, at most the size measured, and never more than a cap.
/// Also the engine's status checks on paths and handles (owner, mode, type) via statx(2), whose layout is
/// the same on every Linux architecture.
/// </summary>
public static partial class UnixFile
{
    /// <summary>What statx reported about a file.</summary>
    public readonly record struct Status(uint Mode, uint OwnerId, long Size)
    {
        const uint TypeMask = 0xF000, Regular = 0x8000, Directory = 0x4000, SymbolicLink = 0xA000;
        public bool IsRegularFile => (Mode & TypeMask) == Regular;
        public bool IsDirectory => (Mode & TypeMask) == Directory;
        public bool IsSymbolicLink => (Mode & TypeMask) == SymbolicLink;
        /// <summary>The permission bits (0777).</summary>
        public uint Permissions => Mode & 0xFFF;
        public string Kind => IsRegularFile ? "a regular file" : IsDirectory ? "a directory" : IsSymbolicLink ? "a symbolic link"
            : (Mode & TypeMask) switch { 0x1000 => "a FIFO", 0x2000 => "a character device", 0x6000 => "a block device", 0xC000 => "a socket", _ => "not a regular file" };
    }

    const int ORdOnly = 0, ONoCtty = 0x100, ONonBlock = 0x800, ONoFollow = 0x20000, OCloExec = 0x80000;
    const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100, AtEmptyPath = 0x1000, StatxBasicStats = 0x7FF;

    /// <summary>Opens <paramref name="path"/> for reading without blocking on a FIFO or a device; <paramref name="followLinks"/> false refuses a symlink as the last component (ELOOP).</summary>
    public static SafeFileHandle OpenForReading(string path, bool followLinks = true)
    {
        int fd = open(path, ORdOnly | ONoCtty | ONonBlock | OCloExec | (followLinks ? 0 : ONoFollow), 0);
        if (fd < 0) throw ErrnoException(path, Marshal.GetLastPInvokeError());
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>The status of an open file (fstat).</summary>
    public static Status StatusOf(SafeFileHandle handle)
    {
        Span<byte> buffer = stackalloc byte[256];
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxBasicStats, buffer) != 0)
                throw ErrnoException("an open file", Marshal.GetLastPInvokeError());
        }
        finally { if (added) handle.DangerousRelease(); }
        return Parse(buffer);
    }

    /// <summary>The status of <paramref name="path"/> itself (lstat: a symlink is reported as one); null if it does not exist.</summary>
    public static Status? LinkStatus(string path)
    {
        Span<byte> buffer = stackalloc byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 2) return null; // ENOENT
            throw ErrnoException(path, errno);
        }
        return Parse(buffer);
    }

    static Status Parse(ReadOnlySpan<byte> statxBuffer) => new(
        BinaryPrimitives.ReadUInt16LittleEndian(statxBuffer[28..]), // stx_mode (host order; Linux targets are little-endian)
        BinaryPrimitives.ReadUInt32LittleEndian(statxBuffer[20..]), // stx_uid
        (long)BinaryPrimitives.ReadUInt64LittleEndian(statxBuffer[40..])); // stx_size

    /// <summary>The path the kernel has for an open file: every symlink on the way resolved.</summary>
    public static string RealPathOf(SafeFileHandle handle)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var link = new FileInfo($"/proc/self/fd/{(int)handle.DangerousGetHandle()}").LinkTarget;
            return link ?? throw new UnixFileException("an open file", "cannot resolve its path through /proc/self/fd");
        }
        finally { if (added) handle.DangerousRelease(); }
    }

    /// <summary>
    /// Opens a file that must be a regular file of at most <paramref name="maxBytes"/> bytes and, when
    /// <paramref name="within"/> is given, must really lie inside that folder (symlinks are followed, but
    /// one that leads out of the folder is refused). Returns the open handle and its measured size.
    /// Throws <see cref="UnixFileException"/> with a one-line reason.
    /// </summary>
    public static (SafeFileHandle Handle, long Size) OpenBounded(string path, long maxBytes, string? within = null)
    {
        var handle = OpenForReading(path);
        try
        {
            var status = StatusOf(handle);
            if (!status.IsRegularFile) throw new UnixFileException(path, $"is {status.Kind}, not a regular file");
            if (status.Size > maxBytes) throw new UnixFileException(path, $"too large ({status.Size} bytes; at most {maxBytes})");
            if (within is not null)
            {
                var folder = RealDirectory(within);
                var real = RealPathOf(handle);
                if (!real.StartsWith(folder.TrimEnd('/') + "/", StringComparison.Ordinal))
                    throw new UnixFileException(path, $"leads to {real}, outside the folder {folder} (a link inside a model package must stay inside it)");
            }
            return (handle, status.Size);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>A directory's real path, every symlink resolved (opened, then asked of the kernel).</summary>
    static string RealDirectory(string path)
    {
        int fd = open(path, ORdOnly | OCloExec | 0x10000 /* O_DIRECTORY */, 0);
        if (fd < 0) throw ErrnoException(path, Marshal.GetLastPInvokeError());
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        return RealPathOf(handle);
    }

    /// <summary><see cref="OpenBounded"/>, then the whole file: at most the size measured on the handle.</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, string? within = null)
    {
        var (handle, size) = OpenBounded(path, maxBytes, within);
        using (handle)
        {
            var bytes = new byte[size];
            int total = 0;
            while (total < bytes.Length)
            {
                int n = RandomAccess.Read(handle, bytes.AsSpan(total), total);
                if (n == 0) break; // shrank while we read: what is there
                total += n;
            }
            return total == bytes.Length ? bytes : bytes[..total];
        }
    }

    static UnixFileException ErrnoException(string path, int errno) => new(path, Marshal.GetPInvokeErrorMessage(errno));

    /// <summary>
    /// Opens (creating if missing, mode 0600) a file that must be ours: never through a symbolic link (a new
    /// file is created with O_EXCL, an existing one opened with O_NOFOLLOW), a regular file, owned by the
    /// effective user; its mode is then set to 0600. For the engine's lock file, in a directory checked private.
    /// </summary>
    public static SafeFileHandle OpenPrivateFile(string path)
    {
        const int ORdWr = 2, OCreat = 0x40, OExcl = 0x80;
        int fd = open(path, ORdWr | OCreat | OExcl | ONoFollow | OCloExec, 0x180 /* 0600 */);
        if (fd < 0 && Marshal.GetLastPInvokeError() == 17 /* EEXIST */)
            fd = open(path, ORdWr | ONoFollow | ONonBlock | OCloExec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno == 40 /* ELOOP */ ? new UnixFileException(path, "is a symbolic link") : ErrnoException(path, errno);
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            var status = StatusOf(handle);
            if (!status.IsRegularFile) throw new UnixFileException(path, $"is {status.Kind}, not a regular file");
            if (status.OwnerId != geteuid()) throw new UnixFileException(path, $"belongs to another user (uid {status.OwnerId})");
            if (status.Permissions != 0x180 && fchmod(fd, 0x180) != 0) throw ErrnoException(path, Marshal.GetLastPInvokeError());
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Takes an exclusive flock on the file without waiting; false if another process holds it.</summary>
    public static bool TryLockExclusive(SafeFileHandle handle) => LockExclusive(handle, wait: false);

    /// <summary>
    /// Takes an exclusive flock on the file, blocking the calling thread until no other process holds it
    /// (the kernel wakes it the moment the holder closes the file or dies).
    /// </summary>
    public static void WaitLockExclusive(SafeFileHandle handle) => LockExclusive(handle, wait: true);

    static bool LockExclusive(SafeFileHandle handle, bool wait)
    {
        const int LockEx = 2, LockNb = 4;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            while (true)
            {
                if (flock((int)handle.DangerousGetHandle(), wait ? LockEx : LockEx | LockNb) == 0) return true;
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 4 /* EINTR */ && wait) continue;
                if (errno == 11 /* EWOULDBLOCK */ && !wait) return false;
                throw ErrnoException("a lock file", errno);
            }
        }
        finally { if (added) handle.DangerousRelease(); }
    }

    /// <summary>
    /// Opens an existing file for reading and writing that must be ours and private: not through a symbolic link,
    /// a regular file, owned by the effective user, no group or other permission bits. For the audio ring.
    /// Returns the handle and its size measured on it.
    /// </summary>
    public static (SafeFileHandle Handle, long Size) OpenOwnPrivateFile(string path)
    {
        const int ORdWr = 2;
        int fd = open(path, ORdWr | ONoFollow | ONonBlock | ONoCtty | OCloExec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                40 => new UnixFileException(path, "is a symbolic link"),
                2 => new UnixFileException(path, "no such file"),
                _ => ErrnoException(path, errno),
            };
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            var status = StatusOf(handle);
            if (!status.IsRegularFile) throw new UnixFileException(path, $"is {status.Kind}, not a regular file");
            if (status.OwnerId != geteuid()) throw new UnixFileException(path, $"belongs to another user (uid {status.OwnerId})");
            if ((status.Permissions & 0x3F) != 0) throw new UnixFileException(path, $"is accessible to other users (mode {Convert.ToString(status.Permissions, 8)}; 0600 required)");
            return (handle, status.Size);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc")]
    private static partial uint geteuid();

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string path, int flags, uint mask, Span<byte> buffer);
}

/// <summary>A file the engine will not or cannot read; <see cref="Reason"/> says why in one line, without the path.</summary>
public sealed class UnixFileException(string path, string reason) : IOException($"{path}: {reason}")
{
    public string FilePath { get; } = path;
    public string Reason { get; } = reason;
}
