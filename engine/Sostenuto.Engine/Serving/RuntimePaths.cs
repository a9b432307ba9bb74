using Sostenuto.Engine.IO;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// Where the engine's socket lives: the user's runtime directory, private to the user
/// ($XDG_RUNTIME_DIR, else /tmp/sostenuto-UID with mode 0700) — the same rule, and the same checks, as
/// native-bridge's runtime_paths.cpp, so the plug-in finds the engine it starts and neither trusts a
/// folder another user could write to.
/// </summary>
public static class RuntimePaths
{
    public const string SocketFileName = "sostenuto-engine.sock";

    const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public static string RuntimeDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!string.IsNullOrEmpty(xdg) && xdg.StartsWith('/'))
        {
            CheckPrivateDirectory(xdg);
            return xdg;
        }
        var path = $"/tmp/sostenuto-{PeerCredentials.EffectiveUserId}";
        if (UnixFile.LinkStatus(path) is null) Directory.CreateDirectory(path, Private);
        CheckPrivateDirectory(path);
        return path;
    }

    public static string DefaultSocketPath() => Path.Combine(RuntimeDirectory(), SocketFileName);

    /// <summary>
    /// Throws <see cref="IOException"/> unless <paramref name="path"/> is a real directory (not a symbolic link),
    /// owned by the engine's user, with no group or other permissions: as is_private_directory in runtime_paths.cpp.
    /// </summary>
    public static void CheckPrivateDirectory(string path)
    {
        var status = UnixFile.LinkStatus(path) ?? throw new IOException($"runtime directory {path} does not exist");
        if (!status.IsDirectory) throw new IOException($"runtime directory {path} is {status.Kind}, not a directory");
        if (status.OwnerId != PeerCredentials.EffectiveUserId) throw new IOException($"runtime directory {path} belongs to another user (uid {status.OwnerId})");
        if ((status.Permissions & 0x3F) != 0) throw new IOException($"runtime directory {path} is accessible to other users (mode {Convert.ToString(status.Permissions, 8)}; 0700 required)");
    }

    /// <summary>Creates the directory a socket goes in (mode 0700) if it is missing, then checks it is private.</summary>
    public static void EnsurePrivateDirectory(string path)
    {
        if (UnixFile.LinkStatus(path) is null) Directory.CreateDirectory(path, Private);
        CheckPrivateDirectory(path);
    }
}
