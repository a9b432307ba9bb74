namespace Sostenuto.Engine.Streaming;

/// <summary>
/// When this process last did the music's work: an LM step or a decoder run of any stream, or a MIDI
/// event into any session (a model that reuses its work while a chord rings runs neither network, but
/// a player who is playing sends events). How a warm spare's start-up (EngineSpare) waits for a pause
/// in the music instead of competing with a player for the CPU. One process-wide timestamp, written
/// with a volatile store (a monotonic clock read of tens of nanoseconds beside a model step of
/// hundreds of microseconds).
/// </summary>
public static class ModelActivity
{
    static long s_lastWork = long.MinValue / 2;

    /// <summary>Called by every LM step, decoder run and MIDI event.</summary>
    public static void Touch() => Volatile.Write(ref s_lastWork, Environment.TickCount64);

    /// <summary>How long no model has run in this process (very long if none ever ran).</summary>
    public static TimeSpan QuietFor => TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref s_lastWork));
}
