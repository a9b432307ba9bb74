using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// The engine's one code path from MIDI to host audio, used by the CLI's render and by every
/// plug-in instance: events stamped in host samples go in, stereo float audio at the host's rate
/// comes out, identical however the caller slices time.
///
/// Time is the stream clock of DESIGN.md. <see cref="AdvanceClock"/> says which events are known;
/// <see cref="Render"/> returns only audio that no later event can change. A flush (transport stop
/// or jump) fades the current stream out over a few milliseconds and starts a fresh one, so every
/// note is released and the model's state is reset without a click.
/// </summary>
public sealed class RenderSession : IDisposable
{
    /// <summary>Length of the fade that ends the old stream on a flush.</summary>
    public const double FlushFadeSeconds = 0.010;

    readonly ModelPackage _package;
    readonly RenderSettings _settings;
    SamplingSettings _sampling;
    readonly List<ActiveStream> _streams = new();
    readonly float[] _gain = new float[ModelStream.MaxReadSamples];
    readonly int _flushFadeSamples;
    long _clock;
    long _lastSamplingChange;

    sealed class ActiveStream(ModelStream stream, long origin)
    {
        public ModelStream Stream { get; } = stream;
        public long Origin { get; } = origin;
        public long? FadeStart { get; set; }
    }

    public RenderSession(ModelPackage package, RenderSettings settings)
    {
        if (settings.OutputRate is < 8000 or > 384000) throw new ArgumentOutOfRangeException(nameof(settings), $"output rate {settings.OutputRate} Hz is not supported");
        _package = package;
        _settings = settings;
        _sampling = settings.Sampling ?? package.Manifest.Sampling;
        _flushFadeSamples = Math.Max(1, (int)Math.Round(FlushFadeSeconds * settings.OutputRate));
        _streams.Add(new ActiveStream(NewStream(), 0));
        LatencySamples = _streams[0].Stream.LatencySamples;
    }

    public int OutputRate => _settings.OutputRate;

    /// <summary>How far the event clock must lead <see cref="Position"/> for <see cref="Render"/> to complete a block (DESIGN.md's L).</summary>
    public long LatencySamples { get; }

    /// <summary>The host time of the next sample <see cref="Render"/> writes.</summary>
    public long Position { get; private set; }

    /// <summary>Events that arrived stamped before the clock and were moved to it.</summary>
    public long LateEvents { get; private set; }

    ActiveStream Current => _streams[^1];

    public void AddEvent(MidiEvent e)
    {
        long time = e.Time;
        // An event stamped before the clock (or before a flush announced for a later time) is played
        // at the earliest moment still open, and counted.
        long earliest = Math.Max(_clock, Current.Origin);
        if (time < earliest) { time = earliest; LateEvents++; }
        _clock = time;
        Current.Stream.AddEvent(time - Current.Origin, e.Message);
    }

    /// <summary>Sets the sampling temperature from host time <paramref name="time"/> on (an automated parameter).</summary>
    public void SetTemperature(long time, float temperature)
    {
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature));
        time = Math.Max(time, Math.Max(_clock, _lastSamplingChange)); // changes apply in order, never in the past
        _lastSamplingChange = time;
        _sampling = _sampling with { Temperature = temperature };
        Current.Stream.SetSampling(time - Current.Origin, _sampling);
    }

    /// <summary>Every event before <paramref name="time"/> has been added.</summary>
    public void AdvanceClock(long time)
    {
        if (time <= _clock) return;
        _clock = time;
        Current.Stream.AdvanceClock(time - Current.Origin);
    }

    /// <summary>No more events will come: render as far as asked.</summary>
    public void EndInput()
    {
        _clock = long.MaxValue;
        Current.Stream.EndInput();
    }

    /// <summary>Transport stop or jump at host time <paramref name="time"/>: release everything, reset the model.</summary>
    public void Flush(long time)
    {
        if (time < _clock) time = _clock;
        var old = Current;
        old.Stream.AddEvent(time - old.Origin, MidiMessage.ControlChange(0, MidiMessage.AllSoundOffController, 0));
        old.Stream.EndInput();
        old.FadeStart = time;
        _streams.Add(new ActiveStream(NewStream(), time));
        _clock = time;
    }

    /// <summary>
    /// Writes the audio from <see cref="Position"/> on into the spans (overwriting them) and returns how
    /// many samples are final; fewer than asked when the clock does not yet allow more.
    /// </summary>
    public int Render(Span<float> left, Span<float> right)
    {
        if (right.Length != left.Length) throw new ArgumentException("left and right must have the same length");
        int done = 0;
        while (done < left.Length)
        {
            int want = Math.Min(left.Length - done, ModelStream.MaxReadSamples);
            int got = RenderPiece(left.Slice(done, want), right.Slice(done, want));
            done += got;
            if (got < want) break;
        }
        return done;
    }

    int RenderPiece(Span<float> left, Span<float> right)
    {
        long start = Position;
        int n = left.Length;
        // How much every stream that plays in [start, start + n) can deliver decides how much is final.
        foreach (var s in _streams)
        {
            long from = Math.Max(start, s.Origin);
            long to = start + n;
            if (s.FadeStart is long fade) to = Math.Min(to, fade + _flushFadeSamples);
            if (to <= from) continue;
            int need = (int)(to - from);
            int ready = s.Stream.ProduceUntilReady(need);
            if (ready < need) n = (int)Math.Min(n, from - start + ready);
        }
        if (n <= 0) return 0;

        left[..n].Clear();
        right[..n].Clear();
        for (int i = _streams.Count - 1; i >= 0; i--)
        {
            var s = _streams[i];
            long from = Math.Max(start, s.Origin);
            long to = start + n;
            long fadeEnd = s.FadeStart is long f ? f + _flushFadeSamples : long.MaxValue;
            long playedTo = Math.Min(to, fadeEnd);
            if (playedTo > from)
            {
                int offset = (int)(from - start), count = (int)(playedTo - from);
                var gain = ReadOnlySpan<float>.Empty;
                if (s.FadeStart is long fadeStart)
                {
                    for (int k = 0; k < count; k++)
                    {
                        long t = from + k - fadeStart;
                        _gain[k] = t < 0 ? 1f : 1f - (t + 0.5f) / _flushFadeSamples;
                    }
                    gain = _gain.AsSpan(0, count);
                }
                s.Stream.MixInto(left.Slice(offset, count), right.Slice(offset, count), gain);
            }
            if (playedTo >= fadeEnd)
            {
                s.Stream.Dispose();
                _streams.RemoveAt(i);
            }
        }
        Position = start + n;
        return n;
    }

    ModelStream NewStream()
    {
        var stream = new ModelStream(_package, _settings.OutputRate, _sampling, _settings.Seed);
        if (_clock == long.MaxValue) stream.EndInput();
        return stream;
    }

    public void Dispose()
    {
        foreach (var s in _streams) s.Stream.Dispose();
        _streams.Clear();
    }
}
