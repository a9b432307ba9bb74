using System.Runtime.InteropServices;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// How many connections the engine's file-descriptor limit leaves room for. The engine must never reach
/// EMFILE ("Too many open files"): at that point not only accept() fails, the .NET runtime cannot start a
/// thread either (it dies with "Out of memory"), and every instance would lose its sound. So the connection
/// cap is kept below what the limit allows, with a reserve for everything else the process opens.
/// </summary>
public static partial class DescriptorBudget
{
    /// <summary>Descriptors one connection holds: its socket and its audio ring's shared-memory object.</summary>
    public const int PerConnection = 2;

    /// <summary>Kept free for the runtime's threads, the log, a model file being opened, a launcher's probe.</summary>
    public const int Reserve = 32;

    const int RlimitNofile = 7;

    [StructLayout(LayoutKind.Sequential)]
    struct RLimit { public ulong Current, Maximum; }

    /// <summary>
    /// Raises the soft descriptor limit to the hard one (as most daemons do), then returns how many more
    /// connections fit: (limit − descriptors open now − reserve) / per connection, at least 1.
    /// </summary>
    public static int ConnectionsThatFit()
    {
        if (getrlimit(RlimitNofile, out var limit) != 0) return int.MaxValue; // no limit we can see
        if (limit.Current < limit.Maximum)
        {
            var raised = limit with { Current = limit.Maximum };
            if (setrlimit(RlimitNofile, in raised) == 0) limit = raised;
        }
        long open;
        try { open = Directory.GetFileSystemEntries("/proc/self/fd").Length; }
        catch (IOException) { open = 64; }
        long room = ((long)Math.Min(limit.Current, int.MaxValue) - open - Reserve) / PerConnection;
        return (int)Math.Clamp(room, 1, int.MaxValue);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, in RLimit limit);
}
