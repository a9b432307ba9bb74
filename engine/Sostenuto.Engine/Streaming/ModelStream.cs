using System.Runtime.InteropServices;
using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Diagnostics;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// One stream of the model from one origin: MIDI events in (host time counted from the origin),
/// stereo audio at the host's rate out. It runs the chain of docs/design.md frame by frame:
/// conditioning features (honouring the lookahead) → LM step → sampler → token history →
/// chunked decoder with linear cross-fades over the overlaps → resampler to the host rate.
///
/// Everything here is driven by frame numbers and event times, never by how the caller slices
/// time, which is what makes a bounce equal a realtime render: the same events give the same
/// samples in blocks of any size.
///
/// A live stream (docs/live-mode.md) does not wait for the clock: it generates ahead as if no
/// further event will come, and keeps a <see cref="StreamSnapshot"/> of every decoder chunk (the audio
/// side at its start, the LM and conditioning before each of its frames). An event that lands in frames
/// it already conditioned marks the stream dirty; <see cref="Rewind"/> then restores the newest frame
/// before the change and regenerates. Since the sampler's random
/// numbers depend only on (seed, frame, codebook), what it regenerates is exactly what a stream that
/// knew the event all along would have generated.
/// </summary>
public sealed class ModelStream : IDisposable
{
    /// <summary>Largest read the caller may ask for in one call; fixes the size of the output buffers.</summary>
    public const int MaxReadSamples = 16384;

    readonly ModelManifest _manifest;
    readonly FrameClock _clock;
    readonly ConditioningTracker _tracker;
    readonly TokenSampler _sampler;
    readonly LmStepper _lm;
    readonly ChunkDecoder _decoder;
    readonly TokenHistory _history;
    // Events and sampling changes stay after they are applied, for as long as a snapshot may re-apply
    // them: index i of the stream lives at [i - base]; "next" is the first not yet applied.
    readonly List<(long Frame, float Offset, double ModelSample, MidiMessage Message)> _events = new();
    readonly List<(long Frame, SamplingSettings Settings)> _samplingChanges = new();
    long _eventsBase, _nextEvent, _samplingBase, _nextSamplingChange;

    readonly float[] _featureRows;    // ring of L+1 feature rows, row g at g % (L+1)
    readonly int[] _frameTokens;
    readonly float[][] _overlapTail;  // per channel, the previous chunk's last O frames
    readonly float[] _chunkScratch;
    readonly float[] _pullScratch;
    readonly Resampler[] _resamplers;
    readonly SampleFifo[] _output;    // per output channel (left, right), at host rate

    readonly StreamSnapshot[] _snapshots; // live only: slot c % length holds chunk c's start
    readonly bool _live;
    readonly bool _reuse;
    // The reuse rule (docs/idle.md): the last LM step left its state unchanged and drew every token with
    // certainty, so a step whose tokens and conditioning equal that step's (still in the input tensors)
    // would compute the same logits, draw the same tokens and leave the same state: it is skipped.
    bool _lmFixedPoint;
    SamplingSettings? _lastStepSampling;

    readonly int _lookahead, _rowSize, _hop, _chunkFrames, _overlapFrames, _leftContextFrames;
    long _knownUntil;        // every event before this local host time has been added
    long _lastEventTime;
    long _featureFrames;     // frames whose features are computed
    long _generatedFrames;   // frames whose tokens are sampled
    long _decodedChunks;
    long _producedSamples;   // host samples the resamplers have delivered (local time of the end of _output)
    long _outputStart;       // local host time of the oldest sample in _output
    long _dirtyFeatureFrame = long.MaxValue; // live: first frame whose conditioning changed after it was computed
    long _dirtyFrame = long.MaxValue;        // live: first generated frame whose sampling changed

    /// <param name="speculationSamples">
    /// 0: a studio stream, which generates only what the clock has made final. Above 0: a live stream,
    /// which generates ahead of the clock, and whose caller reads at most this many host samples past
    /// the clock (it sizes the snapshots kept for rolling back).
    /// </param>
    /// <param name="reuseUnchangedWork">skip LM steps and decodes whose result is known exactly (docs/idle.md); off only to compare</param>
    public ModelStream(ModelPackage package, int hostRate, SamplingSettings sampling, ulong seed, int speculationSamples = 0, bool reuseUnchangedWork = true)
    {
        _reuse = reuseUnchangedWork;
        _manifest = package.Manifest;
        var m = _manifest;
        _clock = new FrameClock(hostRate, m.SampleRate, m.HopLength);
        _tracker = new ConditioningTracker(m.Features, m.SampleRate, m.HopLength);
        _sampler = new TokenSampler(m.CodebookSize, sampling, seed);
        Sampling = sampling;
        _lm = new LmStepper(package);
        _decoder = new ChunkDecoder(package) { ReuseUnchanged = reuseUnchangedWork };

        _lookahead = m.LookaheadFrames;
        _rowSize = _tracker.Size;
        _hop = m.HopLength;
        _chunkFrames = m.Decoder.ChunkFrames;
        _overlapFrames = m.Decoder.OverlapFrames;
        _leftContextFrames = m.Decoder.LeftContextFrames;
        _live = speculationSamples > 0;
        // A rewind goes back at most to the chunk before the clock's, less the lookahead; generation runs
        // at most the speculation, a chunk, the overlap, the lookahead and the resampler's reach past it.
        long hostPerFrame = ((long)_hop * hostRate + m.SampleRate - 1) / m.SampleRate;
        int reachFrames = (int)((speculationSamples + 8192) / hostPerFrame) + 3 * _chunkFrames + _overlapFrames + 2 * _lookahead + 2;
        int snapshotCount = _live ? reachFrames / _chunkFrames + 2 : 0;
        _history = new TokenHistory(m.Codebooks, m.Decoder.WindowFrames + _chunkFrames + snapshotCount * _chunkFrames, m.SilenceTokens);

        _featureRows = new float[(_lookahead + 1) * _rowSize];
        _frameTokens = new int[m.Codebooks];
        _overlapTail = Enumerable.Range(0, m.Channels).Select(_ => new float[_overlapFrames * _hop]).ToArray();
        _chunkScratch = new float[(_chunkFrames + _overlapFrames) * _hop];

        int chunkHostSamples = (int)((long)_chunkFrames * _hop * hostRate / m.SampleRate) + 2;
        _resamplers = Enumerable.Range(0, m.Channels).Select(_ => new Resampler(m.SampleRate, hostRate, 4 * _chunkFrames * _hop + 4096)).ToArray();
        _pullScratch = new float[chunkHostSamples + 1024];
        _output = [new SampleFifo(MaxReadSamples + 2 * chunkHostSamples + 4096), new SampleFifo(MaxReadSamples + 2 * chunkHostSamples + 4096)];
        LatencySamples = Latency(m, hostRate);

        int resamplerCapacity = 4 * _chunkFrames * _hop + 4096;
        var lmStateSizes = _lm.StateSizes;
        _snapshots = Enumerable.Range(0, snapshotCount).Select(_ => new StreamSnapshot(_chunkFrames,
            () => new FrameState(lmStateSizes, new ConditioningTracker(m.Features, m.SampleRate, m.HopLength), _featureRows.Length),
            m.Channels, _overlapFrames * _hop, () => new Resampler(m.SampleRate, hostRate, resamplerCapacity))).ToArray();
    }

    /// <summary>The sampling the stream starts with (changes from <see cref="SetSampling"/> aside).</summary>
    public SamplingSettings Sampling { get; }

    /// <summary>Whether this stream generates ahead of the clock and can roll back (see the class remarks).</summary>
    public bool IsLive => _live;

    /// <summary>
    /// How far ahead of the audio the event clock must run for the audio to be complete: the
    /// model's lookahead, the decoder's chunk and overlap, and the resampler's filter, in host samples.
    /// This is the <c>L</c> of docs/design.md's timing model for this model at this rate.
    /// </summary>
    public long LatencySamples { get; }

    /// <summary>Events and sampling changes the stream holds: those not applied yet, and (live) those a snapshot may apply again.</summary>
    public int QueuedInputs => _events.Count + _samplingChanges.Count;

    /// <summary>Host samples ready to read.</summary>
    public int Ready => _output[0].Count;

    /// <summary>Adds an event at local host time <paramref name="time"/>. Events come in time order, not before the known clock.</summary>
    public void AddEvent(long time, MidiMessage message)
    {
        if (time < _knownUntil || time < _lastEventTime)
            throw new ArgumentOutOfRangeException(nameof(time), $"event at {time} arrives after the clock reached {_knownUntil}");
        _lastEventTime = time;
        long frame = _clock.FrameOf(time);
        _events.Add((frame, _clock.OffsetInFrame(time), _clock.ModelSamples(time), message));
        if (frame < _featureFrames) _dirtyFeatureFrame = Math.Min(_dirtyFeatureFrame, frame); // live: conditioned without it
    }

    /// <summary>
    /// Changes the sampling from the frame containing local host time <paramref name="time"/> on. That frame
    /// cannot have been generated yet (the clock has not passed it), so the change lands on the same frame
    /// however the caller slices time.
    /// </summary>
    public void SetSampling(long time, SamplingSettings settings)
    {
        if (time < _knownUntil) throw new ArgumentOutOfRangeException(nameof(time), $"change at {time} arrives after the clock reached {_knownUntil}");
        long frame = _clock.FrameOf(time);
        _samplingChanges.Add((frame, settings));
        if (frame < _generatedFrames) _dirtyFrame = Math.Min(_dirtyFrame, frame); // live: generated without it
    }

    /// <summary>Whether an event or a change landed in frames a live stream has already generated: <see cref="Rewind"/> is due.</summary>
    public bool IsDirty => _dirtyFeatureFrame != long.MaxValue || _dirtyFrame != long.MaxValue;

    /// <summary>
    /// Live: the earliest local host time whose audio an event at <paramref name="localTime"/> may change. The
    /// event changes the conditioning from its frame on, which the LM sees <c>lookahead</c> frames earlier;
    /// the decoder and resampler spread that over the whole chunk, so: where that chunk's regenerated
    /// output starts. Audio before it is the same with or without the event.
    /// </summary>
    public long EarliestChangeAt(long localTime, bool viaConditioning = true)
    {
        long frame = _clock.FrameOf(localTime) - (viaConditioning ? _lookahead : 0);
        if (frame < 0) return 0;
        long chunkStart = frame / _chunkFrames * _chunkFrames;
        foreach (var snapshot in _snapshots)
            if (snapshot.Valid && snapshot.Frame == chunkStart) return Math.Min(snapshot.ProducedSamples, localTime);
        return localTime; // that chunk is not generated yet: nothing before the event has been rendered from it
    }

    /// <summary>Local host time of the next sample <see cref="MixInto"/> delivers.</summary>
    public long OutputPosition => _outputStart;

    /// <summary>Declares that every event before local host time <paramref name="time"/> has been added.</summary>
    public void AdvanceClock(long time)
    {
        if (time > _knownUntil) _knownUntil = time;
    }

    /// <summary>Declares the input finished: the stream may generate as far as anyone reads.</summary>
    public void EndInput() => _knownUntil = long.MaxValue;

    /// <summary>
    /// Generates one more frame (and decodes a chunk when one is complete). Returns false when the
    /// next frame needs events the clock has not reached yet.
    /// </summary>
    public bool ProduceFrame()
    {
        long frameStart = EngineProfile.Start();
        long frame = _generatedFrames;
        long t = EngineProfile.Start();
        if (_live) TakeSnapshot();
        EngineProfile.Stop(EngineProfile.Section.Snapshot, t);
        t = EngineProfile.Start();
        while (_featureFrames <= frame + _lookahead)
        {
            if (!FrameEventsKnown(_featureFrames)) return false;
            ComputeFeatures(_featureFrames++);
        }
        EngineProfile.Stop(EngineProfile.Section.Features, t);

        t = EngineProfile.Start();
        while (_nextSamplingChange - _samplingBase < _samplingChanges.Count && _samplingChanges[(int)(_nextSamplingChange - _samplingBase)].Frame <= frame)
            _sampler.Settings = _samplingChanges[(int)(_nextSamplingChange++ - _samplingBase)].Settings;
        bool known = _reuse && _lmFixedPoint && _sampler.Settings == _lastStepSampling && InputsUnchanged(frame);
        if (!known)
        {
            var conditioning = _lm.Conditioning;
            for (int i = 0; i <= _lookahead; i++)
            {
                long g = frame + i;
                _featureRows.AsSpan((int)(g % (_lookahead + 1)) * _rowSize, _rowSize).CopyTo(conditioning.Slice(i * _rowSize, _rowSize));
            }
            var previous = _lm.PreviousTokens;
            for (int k = 0; k < _frameTokens.Length; k++) previous[k] = _history.Get(frame - 1, k);
        }
        EngineProfile.Stop(EngineProfile.Section.LmInput, t);
        if (known)
        {
            // _frameTokens still holds what the last step drew, and the state it left is the one it read.
            SkippedFrames++;
            EngineProfile.Add(EngineProfile.Section.SkippedFrame);
            _history.Append(_frameTokens);
        }
        else
        {
            t = EngineProfile.Start();
            _lm.Step();
            EngineProfile.Stop(EngineProfile.Section.LmRun, t);
            t = EngineProfile.Start();
            bool certain = true;
            for (int k = 0; k < _frameTokens.Length; k++)
            {
                _frameTokens[k] = _sampler.Sample(_lm.Logits(k), frame, k);
                certain &= _sampler.LastDrawCertain;
            }
            _history.Append(_frameTokens);
            _lastStepSampling = _sampler.Settings;
            _lmFixedPoint = _reuse && certain && _lm.StateUnchangedByLastStep();
            EngineProfile.Stop(EngineProfile.Section.Sampling, t);
        }
        _generatedFrames++;

        if (_generatedFrames % _chunkFrames == 0) DecodeChunk();
        EngineProfile.Stop(EngineProfile.Section.Frame, frameStart);
        return true;
    }

    /// <summary>Whether frame <paramref name="frame"/>'s LM inputs (conditioning window, previous tokens) are bit for bit those in the input tensors.</summary>
    bool InputsUnchanged(long frame)
    {
        var conditioning = _lm.Conditioning;
        for (int i = 0; i <= _lookahead; i++)
        {
            long g = frame + i;
            var row = _featureRows.AsSpan((int)(g % (_lookahead + 1)) * _rowSize, _rowSize);
            if (!MemoryMarshal.AsBytes(row).SequenceEqual(MemoryMarshal.AsBytes(conditioning.Slice(i * _rowSize, _rowSize)))) return false;
        }
        var previous = _lm.PreviousTokens;
        for (int k = 0; k < _frameTokens.Length; k++)
            if (previous[k] != _history.Get(frame - 1, k)) return false;
        return true;
    }

    /// <summary>ORT runs of this stream's LM and decoder, and frames whose LM step the reuse rule skipped.</summary>
    public long LmRuns => _lm.Runs;
    public long DecoderRuns => _decoder.Runs;
    public long SkippedFrames { get; private set; }

    bool FrameEventsKnown(long frame) => _live || _knownUntil == long.MaxValue || frame < _clock.FrameOf(_knownUntil);

    void ComputeFeatures(long frame)
    {
        _tracker.BeginFrame();
        while (_nextEvent - _eventsBase < _events.Count && _events[(int)(_nextEvent - _eventsBase)].Frame <= frame)
        {
            var e = _events[(int)(_nextEvent++ - _eventsBase)];
            _tracker.Apply(e.Message, e.ModelSample, e.Offset);
        }
        ForgetApplied();
        var row = _featureRows.AsSpan((int)(frame % (_lookahead + 1)) * _rowSize, _rowSize);
        _tracker.CompleteFrame((frame + 1) * _hop, row);
    }

    /// <summary>
    /// Decodes chunk c (frames [(c+1)P − W, (c+1)P)), cross-fades its first O kept frames over the
    /// previous chunk's last O, and sends the audio that is now final to the resamplers.
    /// </summary>
    void DecodeChunk()
    {
        long c = _decodedChunks++;
        _decoder.Decode(_history, (c + 1) * _chunkFrames - 1);
        long t = EngineProfile.Start();
        int overlap = _overlapFrames * _hop;
        int keptStart = _leftContextFrames * _hop;
        int finalLength = _chunkFrames * _hop - overlap; // kept audio after the overlap that no later chunk touches

        for (int ch = 0; ch < _decoder.Channels; ch++)
        {
            var kept = _decoder.Audio(ch)[keptStart..];
            var tail = _overlapTail[ch];
            var emit = _chunkScratch.AsSpan();
            int n = 0;
            if (c > 0) // chunk 0's overlap lies before the origin, where nothing is played
            {
                CrossFade.Linear(tail, kept[..overlap], emit[..overlap]);
                n = overlap;
            }
            kept.Slice(overlap, finalLength).CopyTo(emit.Slice(n, finalLength));
            n += finalLength;
            kept.Slice(overlap + finalLength, overlap).CopyTo(tail);
            EngineProfile.Stop(EngineProfile.Section.CrossFade, t);
            t = EngineProfile.Start();
            _resamplers[ch].Push(emit[..n]);
            EngineProfile.Stop(EngineProfile.Section.Resampler, t);
            t = EngineProfile.Start();
        }
        t = EngineProfile.Start();
        PullResampled();
        EngineProfile.Stop(EngineProfile.Section.Resampler, t);
    }

    void PullResampled()
    {
        while (true)
        {
            int free = Math.Min(_output[0].Free, _pullScratch.Length);
            if (free == 0) throw new InvalidOperationException("stream output buffer full; read before producing more");
            int got = _resamplers[0].Pull(_pullScratch.AsSpan(0, free));
            if (got == 0) break;
            _output[0].Write(_pullScratch.AsSpan(0, got));
            _producedSamples += got;
            if (_resamplers.Length == 2)
            {
                int gotRight = _resamplers[1].Pull(_pullScratch.AsSpan(0, got));
                if (gotRight != got) throw new InvalidOperationException("channel resamplers out of step");
            }
            _output[1].Write(_pullScratch.AsSpan(0, got)); // mono models play the same signal on both sides
        }
    }

    /// <summary>Produces frames until <paramref name="samples"/> host samples are ready or the clock stops it. Returns what is ready.</summary>
    public int ProduceUntilReady(int samples)
    {
        while (Ready < samples && ProduceFrame()) { }
        return Ready;
    }

    /// <summary>Moves <paramref name="left"/>.Length ready samples out (adding them to what the spans hold, scaled by <paramref name="gain"/>).</summary>
    public void MixInto(Span<float> left, Span<float> right, ReadOnlySpan<float> gain)
    {
        long t = EngineProfile.Start();
        int n = left.Length;
        Span<float> buffer = stackalloc float[Math.Min(n, 1024)];
        for (int done = 0; done < n; done += buffer.Length)
        {
            int count = Math.Min(buffer.Length, n - done);
            for (int ch = 0; ch < 2; ch++)
            {
                var part = buffer[..count];
                _output[ch].Peek(part);
                _output[ch].Discard(count);
                if (ch == 0) _outputStart += count;
                var dest = (ch == 0 ? left : right).Slice(done, count);
                if (gain.IsEmpty) for (int i = 0; i < count; i++) dest[i] += part[i];
                else for (int i = 0; i < count; i++) dest[i] += part[i] * gain[done + i];
            }
        }
        EngineProfile.Stop(EngineProfile.Section.Mix, t);
    }

    /// <summary>
    /// Live streams: makes the next sample <see cref="MixInto"/> delivers the one for local host time
    /// <paramref name="localTime"/>, as a stream that had known every event added so far would have
    /// generated it. When nothing changed and the sample is still buffered this just skips to it;
    /// otherwise it restores the newest snapshot that lies before both the change and that time, and
    /// generates forward from there.
    /// </summary>
    public void Rewind(long localTime)
    {
        if (!_live) throw new InvalidOperationException("only a live stream can rewind");
        if (localTime < 0) throw new ArgumentOutOfRangeException(nameof(localTime));
        if (!IsDirty && localTime >= _outputStart)
        {
            SkipTo(localTime);
            return;
        }
        StreamSnapshot? bestChunk = null;
        FrameState? best = null;
        foreach (var chunk in _snapshots)
        {
            if (!chunk.Valid || chunk.ProducedSamples > localTime) continue;
            foreach (var f in chunk.Frames)
            {
                if (!f.Valid || f.FeatureFrames > _dirtyFeatureFrame || f.Frame > _dirtyFrame) continue;
                if (best is null || f.Frame > best.Frame) { best = f; bestChunk = chunk; }
            }
        }
        if (best is null || bestChunk is null) throw new InvalidOperationException($"no snapshot to rewind to local time {localTime} (dirty from frame {Math.Min(_dirtyFeatureFrame, _dirtyFrame)}); the caller read too far ahead");
        Restore(bestChunk, best);
        SkipTo(localTime);
    }

    void SkipTo(long localTime)
    {
        while (_outputStart < localTime)
        {
            int skip = (int)Math.Min(localTime - _outputStart, MaxReadSamples);
            ProduceUntilReady(skip);
            Discard(skip);
        }
    }

    void Discard(int count)
    {
        _output[0].Discard(count);
        _output[1].Discard(count);
        _outputStart += count;
    }

    void TakeSnapshot()
    {
        long chunk = _generatedFrames / _chunkFrames;
        int k = (int)(_generatedFrames % _chunkFrames);
        var c = _snapshots[(int)(chunk % _snapshots.Length)];
        if (k == 0)
        {
            // The audio side changes only when a chunk is decoded: once per chunk, at its start.
            foreach (var stale in c.Frames) stale.Valid = false;
            c.Frame = _generatedFrames;
            c.ProducedSamples = _producedSamples;
            for (int ch = 0; ch < _overlapTail.Length; ch++)
            {
                _overlapTail[ch].AsSpan().CopyTo(c.OverlapTail[ch]);
                c.Resamplers[ch].CopyStateFrom(_resamplers[ch]);
            }
            c.Valid = true;
        }
        else if (!c.Valid || c.Frame != _generatedFrames - k) return; // the chunk's start was not taken (cannot happen: frames come in order)
        var f = c.Frames[k];
        f.Frame = _generatedFrames;
        f.FeatureFrames = _featureFrames;
        f.NextEvent = _nextEvent;
        f.NextSamplingChange = _nextSamplingChange;
        f.Sampling = _sampler.Settings;
        _lm.SaveState(f.LmState);
        f.Tracker.CopyStateFrom(_tracker);
        _featureRows.AsSpan().CopyTo(f.FeatureRows);
        f.Valid = true;
    }

    void Restore(StreamSnapshot chunk, FrameState f)
    {
        _lm.LoadState(f.LmState);
        _tracker.CopyStateFrom(f.Tracker);
        f.FeatureRows.AsSpan().CopyTo(_featureRows);
        for (int ch = 0; ch < _overlapTail.Length; ch++)
        {
            chunk.OverlapTail[ch].AsSpan().CopyTo(_overlapTail[ch]);
            _resamplers[ch].CopyStateFrom(chunk.Resamplers[ch]);
        }
        _featureFrames = f.FeatureFrames;
        _nextEvent = f.NextEvent;
        _nextSamplingChange = f.NextSamplingChange;
        _sampler.Settings = f.Sampling;
        _generatedFrames = f.Frame;
        _decodedChunks = chunk.Frame / _chunkFrames; // the chunk is decoded again when its last frame is generated
        _history.Truncate(f.Frame);
        _producedSamples = chunk.ProducedSamples;
        _output[0].Clear();
        _output[1].Clear();
        _outputStart = chunk.ProducedSamples;
        // Everything taken in the future that was just undone: later chunks, and this chunk's later frames.
        foreach (var other in _snapshots)
        {
            if (other.Frame > f.Frame) other.Valid = false;
            foreach (var later in other.Frames) if (later.Frame > f.Frame) later.Valid = false;
        }
        _dirtyFeatureFrame = long.MaxValue;
        _dirtyFrame = long.MaxValue;
        _lmFixedPoint = false; // the tensors hold a later frame's inputs, _frameTokens a later frame's draw
    }

    /// <summary>Drops the events and sampling changes that neither the stream nor any snapshot will apply again.</summary>
    void ForgetApplied()
    {
        long keepEvents = _nextEvent, keepChanges = _nextSamplingChange;
        foreach (var chunk in _snapshots)
        {
            if (!chunk.Valid) continue;
            foreach (var f in chunk.Frames)
            {
                if (!f.Valid) continue;
                keepEvents = Math.Min(keepEvents, f.NextEvent);
                keepChanges = Math.Min(keepChanges, f.NextSamplingChange);
            }
        }
        if (keepEvents > _eventsBase)
        {
            _events.RemoveRange(0, (int)(keepEvents - _eventsBase));
            _eventsBase = keepEvents;
        }
        if (keepChanges > _samplingBase)
        {
            _samplingChanges.RemoveRange(0, (int)(keepChanges - _samplingBase));
            _samplingBase = keepChanges;
        }
    }

    /// <summary>
    /// <see cref="LatencySamples"/> for a model at a host rate: the last sample of a chunk's final region
    /// is P − O frames after its first; deciding it needs the whole chunk (P frames), the LM for the
    /// chunk's last frame looks L further, and the resampler needs its filter's half-width of input.
    /// </summary>
    public static long Latency(ModelManifest manifest, int hostRate)
    {
        var d = manifest.Decoder;
        long frames = d.ChunkFrames + d.OverlapFrames + manifest.LookaheadFrames + 1;
        long modelSamples = frames * manifest.HopLength + new Resampler(manifest.SampleRate, hostRate).LookaheadInputSamples + 1;
        return (modelSamples * hostRate + manifest.SampleRate - 1) / manifest.SampleRate;
    }

    public void Dispose()
    {
        _lm.Dispose();
        _decoder.Dispose();
    }
}
