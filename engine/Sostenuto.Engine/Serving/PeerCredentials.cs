using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Sostenuto.Engine.Serving;

/// <summary>Who is on the other end of a Unix socket (SO_PEERCRED), so the engine serves only its own user.</summary>
public static partial class PeerCredentials
{
    const int SolSocket = 1, SoPeerCred = 17;

    public readonly record struct Credentials(int ProcessId, uint UserId, uint GroupId);

    public static Credentials Of(Socket socket)
    {
        Span<byte> ucred = stackalloc byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        int length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length != 12) throw new IOException($"SO_PEERCRED returned {length} bytes");
        return new Credentials(BitConverter.ToInt32(ucred), BitConverter.ToUInt32(ucred[4..]), BitConverter.ToUInt32(ucred[8..]));
    }

    public static uint EffectiveUserId => geteuid();

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint geteuid();
}
