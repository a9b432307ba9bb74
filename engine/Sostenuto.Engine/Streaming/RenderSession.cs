using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// The engine's one code path from MIDI to host audio, used by the CLI's render and by every
/// plug-in instance: events stamped in host samples go in, stereo float audio at the host's rate
/// comes out, identical however the caller slices time.
///
/// Time is the stream clock of DESIGN.md. <see cref="AdvanceClock"/> says which events are known;
/// <see cref="Render"/> returns only audio that no later event can change.
///
/// A model stream starts at its first event: its frame grid and its sampler begin there. So the
/// audio depends only on the events' times relative to each other, not on where a host's stream
/// clock happened to start (a DAW's pre-roll, a transport start, a plug-in activated long before
/// playback): a bounce equals a render of the same MIDI from any host. Before the first event, and
/// between a flush and the next event, the output is exact silence. A flush (transport stop or jump)
/// fades the sounding stream out over a few milliseconds, releasing every note and dropping the
/// model's state without a click; the next event starts a fresh stream. All sound off (CC 120) does
/// the same at its own time, so that it silences at once rather than letting notes ring out their
/// release; unlike a flush it leaves the sustain pedal as it was (docs/controllers.md).
/// </summary>
public sealed class RenderSession : IDisposable
{
    /// <summary>Length of the fade that ends the old stream on a flush.</summary>
    public const double FlushFadeSeconds = 0.010;

    readonly ModelPackage _package;
    readonly RenderSettings _settings;
    readonly List<ActiveStream> _streams = new();
    readonly float[] _gain = new float[ModelStream.MaxReadSamples];
    readonly int _flushFadeSamples;
    SamplingSettings _sampling;
    ActiveStream? _current;   // the stream new events go to; null before the first note and after a flush
    long _clock;
    long _lastSamplingChange;
    bool _pedalDown;          // the sustain pedal, carried into a stream that starts

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
        LatencySamples = ModelStream.Latency(package.Manifest, settings.OutputRate);
    }

    public int OutputRate => _settings.OutputRate;

    /// <summary>How far the event clock must lead <see cref="Position"/> for <see cref="Render"/> to complete a block (DESIGN.md's L).</summary>
    public long LatencySamples { get; }

    /// <summary>The host time of the next sample <see cref="Render"/> writes.</summary>
    public long Position { get; private set; }

    /// <summary>Events that arrived stamped before the clock and were moved to it.</summary>
    public long LateEvents { get; private set; }

    public void AddEvent(MidiEvent e)
    {
        long time = e.Time;
        if (time < _clock) { time = _clock; LateEvents++; }
        _clock = time;
        var m = e.Message;
        if (m.IsControlChange)
        {
            if (m.Data1 == MidiMessage.SustainPedalController) _pedalDown = m.Data2 >= 64;
            else if (m.Data1 is MidiMessage.AllNotesOffController or MidiMessage.ResetAllControllersController) _pedalDown = false;
            else if (m.Data1 == MidiMessage.AllSoundOffController)
            {
                FadeOutCurrent(time);
                return;
            }
        }
        if (_current is null)
        {
            // Only a note starts a stream: whether a host delivers a controller, a program change or a
            // stray note-off before the first note must not move the frame grid. The pedal's state is
            // all that such events leave behind, and it is carried into the stream at its start.
            if (!m.IsNoteOn) return;
            _current = new ActiveStream(new ModelStream(_package, _settings.OutputRate, _sampling, _settings.Seed), time);
            _streams.Add(_current);
            if (_pedalDown) _current.Stream.AddEvent(0, MidiMessage.ControlChange(0, MidiMessage.SustainPedalController, 127));
        }
        _current.Stream.AddEvent(time - _current.Origin, e.Message);
    }

    /// <summary>Every event before <paramref name="time"/> has been added.</summary>
    public void AdvanceClock(long time)
    {
        if (time <= _clock) return;
        _clock = time;
        _current?.Stream.AdvanceClock(time - _current.Origin);
    }

    /// <summary>No more events will come: render as far as asked.</summary>
    public void EndInput()
    {
        _clock = long.MaxValue;
        _current?.Stream.EndInput();
    }

    /// <summary>Sets the sampling temperature from host time <paramref name="time"/> on (an automated parameter).</summary>
    public void SetTemperature(long time, float temperature)
    {
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature));
        time = Math.Max(time, Math.Max(_clock, _lastSamplingChange)); // changes apply in order, never in the past
        _lastSamplingChange = time;
        _sampling = _sampling with { Temperature = temperature };
        _current?.Stream.SetSampling(time - _current.Origin, _sampling);
    }

    /// <summary>Transport stop or jump at host time <paramref name="time"/>: release everything, reset the model.</summary>
    public void Flush(long time)
    {
        if (time < _clock) time = _clock;
        _clock = time;
        FadeOutCurrent(time);
        _pedalDown = false;
    }

    /// <summary>Releases every note of the sounding stream at <paramref name="time"/> and fades it out; the next note starts a fresh one.</summary>
    void FadeOutCurrent(long time)
    {
        if (_current is null) return;
        _current.Stream.AddEvent(time - _current.Origin, MidiMessage.ControlChange(0, MidiMessage.AllSoundOffController, 0));
        _current.Stream.EndInput();
        _current.FadeStart = time;
        _current = null;
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
        // With no stream taking events, silence is final up to the clock: a later note starts
        // a stream at its own time, which is not before the clock.
        if (_current is null && _clock != long.MaxValue) n = (int)Math.Clamp(_clock - start, 0, n);
        // How much every stream that plays in [start, start + n) can deliver decides how much is final.
        foreach (var s in _streams)
        {
            long from = Math.Max(start, s.Origin);
            long to = Math.Min(start + n, FadeEnd(s));
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
            long playedTo = Math.Min(start + n, FadeEnd(s));
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
            if (playedTo >= FadeEnd(s))
            {
                s.Stream.Dispose();
                _streams.RemoveAt(i);
            }
        }
        Position = start + n;
        return n;
    }

    long FadeEnd(ActiveStream s) => s.FadeStart is long fade ? fade + _flushFadeSamples : long.MaxValue;

    public void Dispose()
    {
        foreach (var s in _streams) s.Stream.Dispose();
        _streams.Clear();
        _current = null;
    }
}
