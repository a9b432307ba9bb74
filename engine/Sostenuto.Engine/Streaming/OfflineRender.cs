using System.Diagnostics;
using Sostenuto.Engine.Midi;

namespace Sostenuto.Engine.Streaming;

/// <summary>What an offline render did: how long the audio is, how long it took, how loud it got.</summary>
public sealed record RenderSummary(long Samples, int SampleRate, TimeSpan WallTime, float Peak, long LateEvents)
{
    public double DurationSeconds => (double)Samples / SampleRate;
    /// <summary>Seconds of audio per second of computation: above 1 is faster than real time.</summary>
    public double RealTimeFactor => DurationSeconds / Math.Max(WallTime.TotalSeconds, 1e-9);
    public double PeakDbfs => 20 * Math.Log10(Math.Max(Peak, 1e-10f));
}

/// <summary>
/// Renders a whole MIDI performance through a <see cref="RenderSession"/> (the same code path a
/// plug-in uses), then lets the sound ring out: after the last event it keeps rendering until the
/// output has stayed below −80 dBFS for <see cref="SilenceToEndSeconds"/>, or for at most
/// <c>maxTailSeconds</c>. Where it stops depends only on the audio, never on the block size.
/// </summary>
public static class OfflineRender
{
    public const double SilenceToEndSeconds = 0.5;
    public const float SilenceThreshold = 1e-4f;

    /// <summary>MIDI times in seconds to host samples: round(seconds × rate), the rule the plug-in's test host follows too.</summary>
    public static MidiEvent[] ToHostEvents(IEnumerable<(double Seconds, MidiMessage Message)> messages, int rate) =>
        messages.Select(m => new MidiEvent((long)Math.Round(m.Seconds * rate, MidpointRounding.AwayFromZero), m.Message)).ToArray();

    public static RenderSummary Run(RenderSession session, IReadOnlyList<MidiEvent> events, long endTime, double maxTailSeconds,
        Action<ReadOnlySpan<float>, ReadOnlySpan<float>> sink, Action<double>? progress = null, int blockSize = 4096)
    {
        var watch = Stopwatch.StartNew();
        foreach (var e in events) session.AddEvent(e);
        session.EndInput();
        if (events.Count > 0) endTime = Math.Max(endTime, events[^1].Time);

        float peak = 0;
        var left = new float[blockSize];
        var right = new float[blockSize];
        while (session.Position < endTime)
        {
            int n = (int)Math.Min(blockSize, endTime - session.Position);
            RenderExactly(session, left.AsSpan(0, n), right.AsSpan(0, n));
            peak = Math.Max(peak, Peak(left.AsSpan(0, n), right.AsSpan(0, n)));
            sink(left.AsSpan(0, n), right.AsSpan(0, n));
            progress?.Invoke((double)session.Position / Math.Max(1, endTime));
        }

        // The tail is kept in memory (bounded by maxTailSeconds) so its end can be cut at a sample.
        int maxTail = (int)Math.Round(maxTailSeconds * session.OutputRate);
        int silenceToEnd = (int)Math.Round(SilenceToEndSeconds * session.OutputRate);
        var tailLeft = new float[maxTail];
        var tailRight = new float[maxTail];
        int rendered = 0, lastLoud = -1;
        while (rendered < maxTail && rendered - lastLoud <= silenceToEnd)
        {
            int n = Math.Min(blockSize, maxTail - rendered);
            RenderExactly(session, tailLeft.AsSpan(rendered, n), tailRight.AsSpan(rendered, n));
            for (int i = rendered; i < rendered + n; i++)
                if (Math.Abs(tailLeft[i]) >= SilenceThreshold || Math.Abs(tailRight[i]) >= SilenceThreshold) lastLoud = i;
            rendered += n;
        }
        int keep = Math.Min(maxTail, lastLoud + 1 + silenceToEnd);
        if (keep > 0)
        {
            peak = Math.Max(peak, Peak(tailLeft.AsSpan(0, keep), tailRight.AsSpan(0, keep)));
            sink(tailLeft.AsSpan(0, keep), tailRight.AsSpan(0, keep));
        }
        progress?.Invoke(1);
        return new RenderSummary(endTime + keep, session.OutputRate, watch.Elapsed, peak, session.LateEvents);
    }

    static void RenderExactly(RenderSession session, Span<float> left, Span<float> right)
    {
        int got = session.Render(left, right);
        if (got != left.Length) throw new InvalidOperationException($"the session rendered {got} of {left.Length} samples with its input ended");
    }

    static float Peak(ReadOnlySpan<float> left, ReadOnlySpan<float> right)
    {
        float peak = 0;
        for (int i = 0; i < left.Length; i++) peak = Math.Max(peak, Math.Max(Math.Abs(left[i]), Math.Abs(right[i])));
        return peak;
    }
}
