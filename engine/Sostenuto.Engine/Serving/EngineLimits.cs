namespace Sostenuto.Engine.Serving;

/// <summary>
/// Every resource one client of <c>sostenuto serve</c> can make the engine spend, bounded: the one
/// place these limits live (docs/protocol.md, "Limits", documents them for front ends). A client that
/// goes past one is refused or closed with an Error; the engine and its other clients carry on.
/// </summary>
public sealed record EngineLimits
{
    /// <summary>The limits <c>sostenuto serve</c> runs with.</summary>
    public static readonly EngineLimits Default = new();

    /// <summary>
    /// A connection that has not sent a whole Hello this long after it was accepted is closed. The plug-in
    /// sends Hello at once after connecting (and gives up waiting for Welcome after 2 s itself), so
    /// 10 s only ever closes connections that will never speak: they would otherwise hold a file
    /// descriptor each, forever.
    /// </summary>
    public TimeSpan HelloDeadline { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Connections served at once. The engine serves one user (peers of other users are refused), so
    /// this is the per-user cap: one connection per plug-in instance, far more instances than a session
    /// plays, and far fewer file descriptors than the default limit of 1024. A connection over the cap is
    /// sent Error <c>overloaded</c> and closed.
    /// </summary>
    public int MaxConnections { get; init; } = 256;

    /// <summary>
    /// Events and parameter changes one connection may have queued in the engine (stamped ahead of what it
    /// has rendered). A plug-in keeps this to the events of one latency (well under a second): 65536 is
    /// minutes of dense playing, and about 4 MB. A client stamping events far in the future is closed with
    /// Error <c>protocol_error</c> when it passes this, instead of growing the engine without bound.
    /// </summary>
    public int MaxQueuedEvents { get; init; } = 65536;

    /// <summary>
    /// Model streams one connection may keep alive: every note after a flush (transport stop or jump) or
    /// All Sound Off starts a new stream, and the old one lives until its fade-out has been rendered.
    /// A host jumping around within one latency needs a few; each holds megabytes of model state.
    /// </summary>
    public int MaxStreams { get; init; } = 32;

    /// <summary>
    /// The latest stream time the engine accepts in any message, 2^44 samples: 1.4 years at 384 kHz, far more
    /// than a session lasts. Beyond it the engine's exact sample arithmetic (host time × model rate, up to
    /// 192 kHz) could overflow a 64-bit integer; a later time is <c>invalid_value</c>, a protocol error.
    /// </summary>
    public const long MaxStreamTime = 1L << 44;

    /// <summary>The largest max block size a Hello may declare: the plug-in's own bound on a host's block (2^20).</summary>
    public const uint MaxBlockSize = 1u << 20;

    /// <summary>
    /// The largest compute slack (the latency a plug-in asks for beyond the model's lookahead) a Hello may
    /// request: one second, or two blocks if those are longer (the plug-in asks for one block and 2 ms in
    /// live mode, 50 ms and at least two blocks in studio mode). At most 2^21 samples, so the total latency
    /// always fits the Welcome's u32.
    /// </summary>
    public static long MaxComputeSlack(uint sampleRate, uint maxBlockSize) => Math.Max(sampleRate, 2L * maxBlockSize);

    /// <summary>
    /// How long the accept loop waits after accept() failed (EMFILE "Too many open files", ENFILE,
    /// ENOMEM): the pending connection stays in the backlog, so retrying at once would only spin.
    /// </summary>
    public TimeSpan AcceptRetryDelay { get; init; } = TimeSpan.FromMilliseconds(100);
}
