using Sostenuto.Engine.Diagnostics;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// The engine's one code path from MIDI to host audio, used by the CLI's render and by every
/// plug-in instance: events stamped in host samples go in, stereo float audio at the host's rate
/// comes out, identical however the caller slices time.
///
/// Time is the stream clock of docs/design.md. <see cref="AdvanceClock"/> says which events are known;
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
///
/// Live (<see cref="RenderSettings.Live"/>): <see cref="Render"/> renders ahead of the clock as if no
/// further event will come. An event, flush or parameter change stamped before <see cref="Position"/>
/// sets <see cref="RewindFrom"/>; the caller then <see cref="Rewind"/>s to a time at or after it (where
/// its reader still can hear the difference) and renders again from there: the audio from that time on
/// is what a session that had known the event all along renders.
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
    long _rewindFrom = long.MaxValue; // live: the earliest rendered time that an input since the last rewind changed
    ModelStream? _spare;      // live: the next stream, built ahead (building one takes tens of ms, too long for a key press)

    sealed class ActiveStream(ModelStream stream, long origin, ConditioningTracker keys)
    {
        public ModelStream Stream { get; } = stream;
        public long Origin { get; } = origin;
        public long? FadeStart { get; set; }
        /// <summary>Key and pedal state of the events the stream got (what decides whether it may rest).</summary>
        public ConditioningTracker Keys { get; } = keys;
        /// <summary>When the package declares a rest (docs/idle.md) and nothing sounds: where the stream fades out unless an event comes first.</summary>
        public long? RestAt { get; set; }
        /// <summary>Where the stream's fade-out starts: a flush or All Sound Off, else its rest.</summary>
        public long? EndsAt => FadeStart ?? RestAt;
    }

    readonly long? _restSamples; // the package's declared rest, in host samples (null: none)

    public RenderSession(ModelPackage package, RenderSettings settings)
    {
        if (settings.OutputRate is < 8000 or > 384000) throw new ArgumentOutOfRangeException(nameof(settings), $"output rate {settings.OutputRate} Hz is not supported");
        _package = package;
        _settings = settings;
        _sampling = settings.Sampling ?? package.Manifest.Sampling;
        _flushFadeSamples = Math.Max(1, (int)Math.Round(FlushFadeSeconds * settings.OutputRate));
        if (package.Manifest.RestAfterSeconds is double rest && settings.HonourRest) _restSamples = (long)Math.Round(rest * settings.OutputRate);
        // Live: speculation stands in for the lookahead, so the clock need not lead at all.
        LatencySamples = settings.Live ? 0 : ModelStream.Latency(package.Manifest, settings.OutputRate);
    }

    public bool IsLive => _settings.Live;

    /// <summary>Live: the earliest time whose rendered audio an input has changed since the last <see cref="Rewind"/>; null if none.</summary>
    public long? RewindFrom => _rewindFrom == long.MaxValue ? null : _rewindFrom;

    void Changed(long time)
    {
        if (_settings.Live && time < Position) _rewindFrom = Math.Min(_rewindFrom, time);
    }

    /// <summary>
    /// Live: moves <see cref="Position"/> back to <paramref name="position"/> and makes every stream deliver its
    /// audio from there. The caller rewinds no earlier than <see cref="RewindFrom"/> (before it nothing changed,
    /// and a stream that faded out before the clock may be gone).
    /// </summary>
    public void Rewind(long position)
    {
        if (!_settings.Live) throw new InvalidOperationException("only a live session rewinds");
        if (position > Position || position < 0) throw new ArgumentOutOfRangeException(nameof(position), $"rewind to {position}: rendered until {Position}");
        foreach (var s in _streams)
            if (position < FadeEnd(s)) s.Stream.Rewind(Math.Max(0, position - s.Origin));
        Position = position;
        _rewindFrom = long.MaxValue;
    }

    public int OutputRate => _settings.OutputRate;

    /// <summary>How far the event clock must lead <see cref="Position"/> for <see cref="Render"/> to complete a block (docs/design.md's L).</summary>
    public long LatencySamples { get; }

    /// <summary>The host time of the next sample <see cref="Render"/> writes.</summary>
    public long Position { get; private set; }

    /// <summary>Events that arrived stamped before the clock and were moved to it.</summary>
    public long LateEvents { get; private set; }

    /// <summary>Events and parameter changes held by the session's streams (a client stamping them far ahead makes this grow).</summary>
    public long QueuedInputs
    {
        get
        {
            long n = 0;
            foreach (var s in _streams) n += s.Stream.QueuedInputs;
            return n;
        }
    }

    /// <summary>Model streams alive: the sounding one and those still fading out after a flush (each holds megabytes of state).</summary>
    public int StreamCount => _streams.Count;

    public void AddEvent(MidiEvent e)
    {
        ModelActivity.Touch();
        long time = e.Time;
        if (time < _clock) { time = _clock; LateEvents++; }
        _clock = time;
        EndIfRested(time);
        if (_current is not null) Changed(_current.Origin + _current.Stream.EarliestChangeAt(time - _current.Origin));
        else if (e.Message.IsNoteOn) Changed(time);
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
            _current = new ActiveStream(TakeStream(), time, new ConditioningTracker([], _package.Manifest.SampleRate, _package.Manifest.HopLength));
            _streams.Add(_current);
            if (_pedalDown)
            {
                var pedal = MidiMessage.ControlChange(0, MidiMessage.SustainPedalController, 127);
                _current.Stream.AddEvent(0, pedal);
                _current.Keys.Apply(pedal, 0, 0);
            }
        }
        _current.Stream.AddEvent(time - _current.Origin, e.Message);
        _current.Keys.Apply(e.Message, 0, 0);
        // Nothing sounds after this event: the stream rests the declared time later, unless another event comes first.
        _current.RestAt = _restSamples is long rest && !_current.Keys.AnySounding ? time + rest : null;
    }

    /// <summary>
    /// The sounding stream came to rest before <paramref name="time"/> (docs/idle.md): it has faded out for good,
    /// and what comes at <paramref name="time"/> goes where it goes after a flush (a note starts a fresh stream).
    /// </summary>
    void EndIfRested(long time)
    {
        if (_current?.RestAt is not long restAt || time < restAt) return;
        _current.FadeStart = restAt;
        _current.Stream.EndInput();
        _current = null;
        Rests++;
    }

    /// <summary>Streams that came to rest (docs/idle.md).</summary>
    public long Rests { get; private set; }

    ModelStream TakeStream()
    {
        var stream = _spare ?? NewStream();
        _spare = null;
        if (stream.Sampling != _sampling) stream.SetSampling(0, _sampling);
        return stream;
    }

    ModelStream NewStream() => new(_package, _settings.OutputRate, _sampling, _settings.Seed, _settings.SpeculationSamples, _settings.ReuseUnchangedWork);

    long _retiredLmRuns, _retiredDecoderRuns, _retiredSkippedFrames;

    /// <summary>ORT runs of the LM so far, in every stream this session has had (the idle tests count them).</summary>
    public long LmRuns
    {
        get
        {
            long n = _retiredLmRuns;
            foreach (var s in _streams) n += s.Stream.LmRuns;
            return n;
        }
    }

    /// <summary>ORT runs of the decoder so far, in every stream this session has had.</summary>
    public long DecoderRuns
    {
        get
        {
            long n = _retiredDecoderRuns;
            foreach (var s in _streams) n += s.Stream.DecoderRuns;
            return n;
        }
    }

    /// <summary>Frames whose LM step was skipped because its result was known (docs/idle.md).</summary>
    public long SkippedFrames
    {
        get
        {
            long n = _retiredSkippedFrames;
            foreach (var s in _streams) n += s.Stream.SkippedFrames;
            return n;
        }
    }

    void Retire(ModelStream stream)
    {
        _retiredLmRuns += stream.LmRuns;
        _retiredDecoderRuns += stream.DecoderRuns;
        _retiredSkippedFrames += stream.SkippedFrames;
        stream.Dispose();
    }

    /// <summary>Live: builds the stream the next note after silence will take, if none is waiting. Call when time is not pressing.</summary>
    public void PrepareNextStream()
    {
        if (_settings.Live) _spare ??= NewStream();
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
        EndIfRested(time);
        _lastSamplingChange = time;
        _sampling = _sampling with { Temperature = temperature };
        if (_current is not null) Changed(_current.Origin + _current.Stream.EarliestChangeAt(time - _current.Origin, viaConditioning: false));
        _current?.Stream.SetSampling(time - _current.Origin, _sampling);
    }

    /// <summary>Transport stop or jump at host time <paramref name="time"/>: release everything, reset the model.</summary>
    public void Flush(long time)
    {
        if (time < _clock) time = _clock;
        _clock = time;
        EndIfRested(time);
        FadeOutCurrent(time);
        _pedalDown = false;
    }

    /// <summary>Releases every note of the sounding stream at <paramref name="time"/> and fades it out; the next note starts a fresh one.</summary>
    void FadeOutCurrent(long time)
    {
        if (_current is null) return;
        Changed(_current.Origin + _current.Stream.EarliestChangeAt(time - _current.Origin));
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
        long t = EngineProfile.Start();
        int done = 0;
        while (done < left.Length)
        {
            int want = Math.Min(left.Length - done, ModelStream.MaxReadSamples);
            int got = RenderPiece(left.Slice(done, want), right.Slice(done, want));
            done += got;
            if (got < want) break;
        }
        EngineProfile.Stop(EngineProfile.Section.Render, t);
        return done;
    }

    int RenderPiece(Span<float> left, Span<float> right)
    {
        long start = Position;
        int n = left.Length;
        // With no stream taking events, silence is final up to the clock: a later note starts
        // a stream at its own time, which is not before the clock.
        // (A live session renders as if no event will come, so its silence needs no clock.)
        // The same holds past the end of a current stream that comes to rest (docs/idle.md).
        if ((_current is null || FadeEnd(_current) < start + n) && _clock != long.MaxValue && !_settings.Live)
            n = (int)Math.Clamp(Math.Max(_clock, _current is null ? 0 : FadeEnd(_current)) - start, 0, n);
        // How much every stream that plays in [start, start + n) can deliver decides how much is final.
        foreach (var s in _streams)
        {
            long from = Math.Max(start, s.Origin);
            long to = Math.Min(start + n, FadeEnd(s));
            if (to <= from) continue;
            // A live stream that got an event for frames it had already conditioned (ahead of what was
            // rendered, so no rewind of the session was due) must regenerate before it delivers more.
            if (s.Stream.IsDirty) s.Stream.Rewind(s.Stream.OutputPosition);
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
                if (s.EndsAt is long fadeStart)
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
            // A live session keeps a faded stream until the clock passes its end: a rewind may still need it.
            if (playedTo >= FadeEnd(s) && (!_settings.Live || FadeEnd(s) <= _clock))
            {
                if (s == _current)
                {
                    _current = null; // came to rest and no event came: the next note starts afresh
                    Rests++;
                }
                Retire(s.Stream);
                _streams.RemoveAt(i);
            }
        }
        Position = start + n;
        return n;
    }

    long FadeEnd(ActiveStream s) => s.EndsAt is long fade ? fade + _flushFadeSamples : long.MaxValue;

    public void Dispose()
    {
        _spare?.Dispose();
        _spare = null;
        foreach (var s in _streams) s.Stream.Dispose();
        _streams.Clear();
        _current = null;
    }
}
