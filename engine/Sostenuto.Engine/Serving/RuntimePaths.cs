namespace Sostenuto.Engine.Serving;

/// <summary>
/// Where the engine's socket lives: the user's runtime directory, private to the user
/// ($XDG_RUNTIME_DIR, else /tmp/sostenuto-UID with mode 0700) — the same rule as
/// native-bridge's runtime_paths.cpp, so the plug-in finds the engine it starts.
/// </summary>
public static class RuntimePaths
{
    public const string SocketFileName = "sostenuto-engine.sock";

    public static string RuntimeDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!string.IsNullOrEmpty(xdg) && xdg.StartsWith('/')) return xdg;
        var path = $"/tmp/sostenuto-{PeerCredentials.EffectiveUserId}";
        if (!Directory.Exists(path)) Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var info = new DirectoryInfo(path);
        if (info.LinkTarget is not null) throw new IOException($"runtime directory {path} is a symbolic link");
        if ((File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute)) != 0)
            throw new IOException($"runtime directory {path} is accessible to other users (mode 0700 required)");
        return path;
    }

    public static string DefaultSocketPath() => Path.Combine(RuntimeDirectory(), SocketFileName);
}
