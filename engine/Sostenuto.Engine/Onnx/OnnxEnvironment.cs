using Microsoft.ML.OnnxRuntime;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// ONNX Runtime's process-wide environment (<see cref="OrtEnv"/>), created once before the first
/// session with log level "fatal": ORT's own logger writes to stderr, and every error it has
/// reaches us as an exception anyway, so the user gets one report, in our words.
/// </summary>
public static class OnnxEnvironment
{
    static readonly object s_gate = new();
    static bool s_created;

    /// <summary>The loaded ONNX Runtime's version, e.g. "1.32.0".</summary>
    public static string Version
    {
        get
        {
            EnsureCreated();
            return OrtEnv.Instance().GetVersionString();
        }
    }

    internal static void EnsureCreated()
    {
        lock (s_gate)
        {
            if (s_created) return;
            if (OrtEnv.IsCreated)
            {
                // Someone asked ORT something first (its Instance() creates the environment with
                // the default "warning" level); options can no longer be given, the level can.
                OrtEnv.Instance().EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            }
            else
            {
                var options = new EnvironmentCreationOptions
                {
                    logId = "sostenuto",
                    logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
                };
                OrtEnv.CreateInstanceWithOptions(ref options);
            }
            s_created = true;
        }
    }
}
