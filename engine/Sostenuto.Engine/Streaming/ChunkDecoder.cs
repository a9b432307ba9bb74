using Sostenuto.Engine.Diagnostics;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Onnx;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// Runs the codec decoder of one stream over a window of token frames. The decoder is a pure
/// function of its window (docs/model-format.md), so any chunk can be decoded again.
/// </summary>
public sealed class ChunkDecoder : IDisposable
{
    readonly PreparedRun _run;
    readonly OrtTensor<long> _tokens;
    readonly OrtTensor<float> _audio;
    readonly int _codebooks;
    readonly int _windowFrames;
    readonly int _windowSamples;

    public ChunkDecoder(ModelPackage package)
    {
        var m = package.Manifest;
        var spec = m.Decoder;
        _codebooks = m.Codebooks;
        _windowFrames = spec.WindowFrames;
        _windowSamples = spec.WindowFrames * m.HopLength;
        Channels = m.Channels;
        _run = package.Decoder.Prepare([spec.Input(TensorRoles.Tokens).Name], [spec.Output(TensorRoles.Audio).Name]);
        _tokens = new OrtTensor<long>([1, _codebooks, _windowFrames]);
        _audio = new OrtTensor<float>([1, Channels, _windowSamples]);
        _run.SetInput(0, _tokens);
        _run.SetOutput(0, _audio);
        _run.Prebind(); // the native binding made at set-up, not at the first decode
    }

    public int Channels { get; }

    bool _outputValid; // the audio tensor holds the decoding of the token tensor's window

    /// <summary>Whether a window equal to the last one reuses its audio (on: exact; off only for the tests that compare).</summary>
    public bool ReuseUnchanged { get; init; } = true;

    /// <summary>Decoder runs (ORT calls) so far, and decodes that reused the previous run's audio.</summary>
    public long Runs { get; private set; }
    public long Reuses { get; private set; }

    /// <summary>Decodes the window whose last frame is <paramref name="lastFrame"/>.</summary>
    public void Decode(TokenHistory history, long lastFrame)
    {
        long t = EngineProfile.Start();
        var tokens = _tokens.Span;
        long first = lastFrame - _windowFrames + 1;
        // The tensors hold the last run's window and its audio: the decoder is a pure function of its
        // window, so the same window again (a stream holding silence) has that audio without a run.
        bool same = _outputValid && ReuseUnchanged;
        for (int k = 0; k < _codebooks; k++)
            for (int i = 0; i < _windowFrames; i++)
            {
                long token = history.Get(first + i, k);
                ref long slot = ref tokens[k * _windowFrames + i];
                if (slot != token) { slot = token; same = false; }
            }
        EngineProfile.Stop(EngineProfile.Section.DecoderInput, t);
        if (same)
        {
            Reuses++;
            return;
        }
        t = EngineProfile.Start();
        _outputValid = false;
        _run.Run();
        _outputValid = true;
        Runs++;
        ModelActivity.Touch();
        EngineProfile.Stop(EngineProfile.Section.DecoderRun, t);
    }

    /// <summary>The decoded window's audio of one channel.</summary>
    public ReadOnlySpan<float> Audio(int channel) => _audio.Span.Slice(channel * _windowSamples, _windowSamples);

    public void Dispose()
    {
        _run.Dispose();
        _tokens.Dispose();
        _audio.Dispose();
    }
}
