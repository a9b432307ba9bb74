using System.Text;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// The process's OrtEnv. ORT keeps one environment per process (logging, default thread pools),
/// so every session uses <see cref="Shared"/>: created on first use with log level "fatal" (errors come back as statuses)
/// and log id "sostenuto". Sessions keep a counted reference to it, so it is only released
/// after the last session, even if someone disposes it early.
/// </summary>
public sealed unsafe class OrtEnvironment
{
    // ORT_LOGGING_LEVEL_FATAL: ORT's own logger writes to stderr, and every error it has reaches us
    // as an OrtStatus anyway (an OrtException with ORT's code and message); one report, in our words.
    private const int LoggingLevelFatal = 4;
    private const string LogId = "sostenuto";

    private static readonly object s_gate = new();
    private static OrtEnvironment? s_shared;

    private OrtEnvironment(OrtEnvHandle handle, string version)
    {
        Handle = handle;
        Version = version;
    }

    /// <summary>
    /// The shared environment. Loads ONNX Runtime on first use; a failure (library not found)
    /// is thrown to the caller and not cached, so a fixed setup works on the next call.
    /// </summary>
    public static OrtEnvironment Shared
    {
        get
        {
            var env = Volatile.Read(ref s_shared);
            if (env is not null) return env;
            lock (s_gate)
            {
                s_shared ??= Create();
                return s_shared;
            }
        }
    }

    /// <summary>The loaded ONNX Runtime's version string, e.g. "1.30.0".</summary>
    public string Version { get; }

    internal OrtEnvHandle Handle { get; }

    private static OrtEnvironment Create()
    {
        var api = OrtApi.Instance;
        byte[] logId = Encoding.UTF8.GetBytes(LogId + "\0");
        IntPtr env;
        fixed (byte* p = logId)
            OrtApi.Check(api.CreateEnv(LoggingLevelFatal, p, &env));
        return new OrtEnvironment(new OrtEnvHandle(env), api.Version);
    }
}
