namespace Sostenuto.Engine.Streaming;

/// <summary>
/// When this process last ran a model (an LM step of any stream): how a warm spare's start-up
/// (EngineSpare) waits for a pause in the music instead of competing with a player for the CPU. One
/// process-wide timestamp, written with a plain volatile store per LM step (a monotonic clock read of
/// tens of nanoseconds beside a model step of hundreds of microseconds).
/// </summary>
public static class ModelActivity
{
    static long s_lastWork = long.MinValue / 2;

    /// <summary>Called by every LM step.</summary>
    public static void Touch() => Volatile.Write(ref s_lastWork, Environment.TickCount64);

    /// <summary>How long no model has run in this process (very long if none ever ran).</summary>
    public static TimeSpan QuietFor => TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref s_lastWork));
}
