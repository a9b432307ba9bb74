using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// One stream of the model from one origin: MIDI events in (host time counted from the origin),
/// stereo audio at the host's rate out. It runs the chain of DESIGN.md frame by frame:
/// conditioning features (honouring the lookahead) → LM step → sampler → token history →
/// chunked decoder with linear cross-fades over the overlaps → resampler to the host rate.
///
/// Everything here is driven by frame numbers and event times, never by how the caller slices
/// time, which is what makes a bounce equal a realtime render: the same events give the same
/// samples in blocks of any size.
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
    readonly Queue<(long Frame, float Offset, double ModelSample, MidiMessage Message)> _pending = new();
    readonly Queue<(long Frame, SamplingSettings Settings)> _samplingChanges = new();

    readonly float[] _featureRows;    // ring of L+1 feature rows, row g at g % (L+1)
    readonly int[] _frameTokens;
    readonly float[][] _overlapTail;  // per channel, the previous chunk's last O frames
    readonly float[] _chunkScratch;
    readonly float[] _pullScratch;
    readonly Resampler[] _resamplers;
    readonly SampleFifo[] _output;    // per output channel (left, right), at host rate

    readonly int _lookahead, _rowSize, _hop, _chunkFrames, _overlapFrames, _leftContextFrames;
    long _knownUntil;        // every event before this local host time has been added
    long _lastEventTime;
    long _featureFrames;     // frames whose features are computed
    long _generatedFrames;   // frames whose tokens are sampled
    long _decodedChunks;

    public ModelStream(ModelPackage package, int hostRate, SamplingSettings sampling, ulong seed)
    {
        _manifest = package.Manifest;
        var m = _manifest;
        _clock = new FrameClock(hostRate, m.SampleRate, m.HopLength);
        _tracker = new ConditioningTracker(m.Features, m.SampleRate, m.HopLength);
        _sampler = new TokenSampler(m.CodebookSize, sampling, seed);
        _lm = new LmStepper(package);
        _decoder = new ChunkDecoder(package);

        _lookahead = m.LookaheadFrames;
        _rowSize = _tracker.Size;
        _hop = m.HopLength;
        _chunkFrames = m.Decoder.ChunkFrames;
        _overlapFrames = m.Decoder.OverlapFrames;
        _leftContextFrames = m.Decoder.LeftContextFrames;
        _history = new TokenHistory(m.Codebooks, m.Decoder.WindowFrames + _chunkFrames, m.SilenceTokens);

        _featureRows = new float[(_lookahead + 1) * _rowSize];
        _frameTokens = new int[m.Codebooks];
        _overlapTail = Enumerable.Range(0, m.Channels).Select(_ => new float[_overlapFrames * _hop]).ToArray();
        _chunkScratch = new float[(_chunkFrames + _overlapFrames) * _hop];

        int chunkHostSamples = (int)((long)_chunkFrames * _hop * hostRate / m.SampleRate) + 2;
        _resamplers = Enumerable.Range(0, m.Channels).Select(_ => new Resampler(m.SampleRate, hostRate, 4 * _chunkFrames * _hop + 4096)).ToArray();
        _pullScratch = new float[chunkHostSamples + 1024];
        _output = [new SampleFifo(MaxReadSamples + 2 * chunkHostSamples + 4096), new SampleFifo(MaxReadSamples + 2 * chunkHostSamples + 4096)];
        LatencySamples = Latency(m, hostRate);
    }

    /// <summary>
    /// How far ahead of the audio the event clock must run for the audio to be complete: the
    /// model's lookahead, the decoder's chunk and overlap, and the resampler's filter, in host samples.
    /// This is the <c>L</c> of DESIGN.md's timing model for this model at this rate.
    /// </summary>
    public long LatencySamples { get; }

    /// <summary>Host samples ready to read.</summary>
    public int Ready => _output[0].Count;

    /// <summary>Adds an event at local host time <paramref name="time"/>. Events come in time order, not before the known clock.</summary>
    public void AddEvent(long time, MidiMessage message)
    {
        if (time < _knownUntil || time < _lastEventTime)
            throw new ArgumentOutOfRangeException(nameof(time), $"event at {time} arrives after the clock reached {_knownUntil}");
        _lastEventTime = time;
        _pending.Enqueue((_clock.FrameOf(time), _clock.OffsetInFrame(time), _clock.ModelSamples(time), message));
    }

    /// <summary>
    /// Changes the sampling from the frame containing local host time <paramref name="time"/> on. That frame
    /// cannot have been generated yet (the clock has not passed it), so the change lands on the same frame
    /// however the caller slices time.
    /// </summary>
    public void SetSampling(long time, SamplingSettings settings)
    {
        if (time < _knownUntil) throw new ArgumentOutOfRangeException(nameof(time), $"change at {time} arrives after the clock reached {_knownUntil}");
        _samplingChanges.Enqueue((_clock.FrameOf(time), settings));
    }

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
        long frame = _generatedFrames;
        while (_featureFrames <= frame + _lookahead)
        {
            if (!FrameEventsKnown(_featureFrames)) return false;
            ComputeFeatures(_featureFrames++);
        }

        var conditioning = _lm.Conditioning;
        for (int i = 0; i <= _lookahead; i++)
        {
            long g = frame + i;
            _featureRows.AsSpan((int)(g % (_lookahead + 1)) * _rowSize, _rowSize).CopyTo(conditioning.Slice(i * _rowSize, _rowSize));
        }
        var previous = _lm.PreviousTokens;
        for (int k = 0; k < _frameTokens.Length; k++) previous[k] = _history.Get(frame - 1, k);

        while (_samplingChanges.Count > 0 && _samplingChanges.Peek().Frame <= frame) _sampler.Settings = _samplingChanges.Dequeue().Settings;
        _lm.Step();
        for (int k = 0; k < _frameTokens.Length; k++)
            _frameTokens[k] = _sampler.Sample(_lm.Logits(k), frame, k);
        _history.Append(_frameTokens);
        _generatedFrames++;

        if (_generatedFrames % _chunkFrames == 0) DecodeChunk();
        return true;
    }

    bool FrameEventsKnown(long frame) => _knownUntil == long.MaxValue || frame < _clock.FrameOf(_knownUntil);

    void ComputeFeatures(long frame)
    {
        _tracker.BeginFrame();
        while (_pending.Count > 0 && _pending.Peek().Frame <= frame)
        {
            var e = _pending.Dequeue();
            _tracker.Apply(e.Message, e.ModelSample, e.Offset);
        }
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
            _resamplers[ch].Push(emit[..n]);
        }
        PullResampled();
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
                var dest = (ch == 0 ? left : right).Slice(done, count);
                if (gain.IsEmpty) for (int i = 0; i < count; i++) dest[i] += part[i];
                else for (int i = 0; i < count; i++) dest[i] += part[i] * gain[done + i];
            }
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
