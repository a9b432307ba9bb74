using BenchmarkDotNet.Attributes;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Streaming;

namespace Sostenuto.Benchmarks;

/// <summary>
/// One <see cref="ChunkDecoder.Decode"/> of the fixture's window: W = 12 frames × 4 codebooks of
/// tokens in, 12 × 480 = 5760 samples of 24 kHz audio out. The engine decodes one window per
/// chunk of P = 8 frames, i.e. every 160 ms of audio. The window holds random (non-silence)
/// tokens, so the decoder does its full work.
/// </summary>
[MemoryDiagnoser]
public class DecoderChunkBenchmarks
{
    ModelPackage _package = null!;
    ChunkDecoder _decoder = null!;
    TokenHistory _history = null!;
    long _lastFrame;

    [GlobalSetup]
    public void Setup()
    {
        _package = ModelPackage.Load(RepoPaths.FixtureModel);
        var m = _package.Manifest;
        _decoder = new ChunkDecoder(_package);
        _history = new TokenHistory(m.Codebooks, m.Decoder.WindowFrames + m.Decoder.ChunkFrames, m.SilenceTokens);
        var random = new Random(4);
        var frame = new int[m.Codebooks];
        for (int f = 0; f < m.Decoder.WindowFrames; f++)
        {
            for (int k = 0; k < frame.Length; k++) frame[k] = random.Next(1, m.CodebookSize);
            _history.Append(frame);
        }
        _lastFrame = _history.Count - 1;
    }

    [Benchmark]
    public float DecodeWindow()
    {
        _decoder.Decode(_history, _lastFrame);
        return _decoder.Audio(0)[^1];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _decoder.Dispose();
        _package.Dispose();
    }
}
