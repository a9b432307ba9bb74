namespace Sostenuto.Engine.Streaming;

/// <summary>
/// Maps host time (samples at the host's rate, counted from a stream's origin) to model frames,
/// in exact integer arithmetic so that every caller agrees on which frame an event falls in.
/// </summary>
public readonly struct FrameClock
{
    public FrameClock(int hostRate, int modelRate, int hopLength)
    {
        if (hostRate <= 0 || modelRate <= 0 || hopLength <= 0) throw new ArgumentOutOfRangeException(nameof(hostRate));
        HostRate = hostRate;
        ModelRate = modelRate;
        HopLength = hopLength;
    }

    public int HostRate { get; }
    public int ModelRate { get; }
    public int HopLength { get; }

    /// <summary>Host samples per frame times the model rate: frame f spans host times [f·D/Rm, (f+1)·D/Rm).</summary>
    long FrameSpan => (long)HostRate * HopLength;

    /// <summary>The frame in which an event at host time <paramref name="hostTime"/> falls.</summary>
    public long FrameOf(long hostTime) => FloorDiv(hostTime * ModelRate, FrameSpan);

    /// <summary>Position of <paramref name="hostTime"/> inside its frame, in [0, 1).</summary>
    public float OffsetInFrame(long hostTime)
    {
        long scaled = hostTime * ModelRate;
        long frame = FloorDiv(scaled, FrameSpan);
        return (float)((double)(scaled - frame * FrameSpan) / FrameSpan);
    }

    /// <summary>First host time that lies after frame <paramref name="frame"/>: once the clock reaches it, the frame's events are all known.</summary>
    public long FrameEnd(long frame) => CeilDiv((frame + 1) * FrameSpan, ModelRate);

    /// <summary>Model-rate sample position of a host time, in model samples (fractional).</summary>
    public double ModelSamples(long hostTime) => (double)hostTime * ModelRate / HostRate;

    static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);
    static long CeilDiv(long a, long b) => -FloorDiv(-a, b);
}
