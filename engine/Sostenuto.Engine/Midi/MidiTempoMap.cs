namespace Sostenuto.Engine.Midi;

/// <summary>
/// Converts file ticks to seconds. Tempo changes from every track form one map (format 1 keeps
/// them in the first track by convention, but real files put them anywhere).
/// Each segment stores its start time in seconds so a conversion does not accumulate rounding
/// error over thousands of events.
/// </summary>
internal sealed class MidiTempoMap
{
    private const int DefaultMicrosecondsPerQuarter = 500_000; // 120 bpm

    private readonly MidiTimeDivision _division;
    private readonly long[] _segmentTicks;
    private readonly double[] _segmentSeconds;
    private readonly double[] _segmentSecondsPerTick;

    /// <param name="tempoChanges">(tick, microseconds per quarter note), sorted by tick.</param>
    public MidiTempoMap(MidiTimeDivision division, IReadOnlyList<(long Tick, int MicrosecondsPerQuarter)> tempoChanges)
    {
        _division = division;
        var ticks = new List<long> { 0 };
        var seconds = new List<double> { 0 };
        var secondsPerTick = new List<double> { SecondsPerTick(DefaultMicrosecondsPerQuarter) };
        if (!division.IsSmpte)
        {
            foreach (var (tick, microseconds) in tempoChanges)
            {
                int last = ticks.Count - 1;
                if (tick == ticks[last])
                {
                    // Later change at the same tick wins, as it does during playback.
                    secondsPerTick[last] = SecondsPerTick(microseconds);
                    continue;
                }
                ticks.Add(tick);
                seconds.Add(seconds[last] + (tick - ticks[last]) * secondsPerTick[last]);
                secondsPerTick.Add(SecondsPerTick(microseconds));
            }
        }
        _segmentTicks = ticks.ToArray();
        _segmentSeconds = seconds.ToArray();
        _segmentSecondsPerTick = secondsPerTick.ToArray();
    }

    public double SecondsAt(long tick)
    {
        int index = Array.BinarySearch(_segmentTicks, tick);
        if (index < 0) index = ~index - 1;
        return _segmentSeconds[index] + (tick - _segmentTicks[index]) * _segmentSecondsPerTick[index];
    }

    private double SecondsPerTick(int microsecondsPerQuarter) => _division.IsSmpte
        ? 1.0 / (_division.FramesPerSecond * _division.TicksPerFrame)
        : microsecondsPerQuarter / 1e6 / _division.TicksPerQuarterNote;
}
