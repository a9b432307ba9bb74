using System.Runtime.InteropServices;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Onnx;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// Runs the LM step of one stream: previous frame's tokens and a window of conditioning in,
/// logits out, state carried from call to call (explicit state in, state out). Every tensor is
/// allocated once here and bound once; each state pair ping-pongs between two buffers, so a
/// step allocates nothing and copies no state.
/// </summary>
public sealed class LmStepper : IDisposable
{
    readonly PreparedRun _run;
    readonly OrtTensor<long> _tokens;
    readonly OrtTensor<float> _conditioning;
    readonly OrtTensor<float> _logits;
    readonly StatePair[] _states;
    readonly int _codebooks;
    readonly int _codebookSize;
    bool _odd;

    sealed record StatePair(int InputIndex, int OutputIndex, OrtTensor<float> A, OrtTensor<float> B);

    public LmStepper(ModelPackage package)
    {
        var m = package.Manifest;
        var spec = m.Lm;
        _codebooks = m.Codebooks;
        _codebookSize = m.CodebookSize;

        var inputNames = spec.Inputs.Select(t => t.Name).ToArray();
        var outputNames = spec.Outputs.Select(t => t.Name).ToArray();
        _run = package.Lm.Prepare(inputNames, outputNames);

        _tokens = new OrtTensor<long>(OneItem(spec.Input(TensorRoles.Tokens)));
        _conditioning = new OrtTensor<float>(OneItem(spec.Input(TensorRoles.Conditioning)));
        _logits = new OrtTensor<float>(OneItem(spec.Output(TensorRoles.Logits)));
        _run.SetInput(Array.IndexOf(inputNames, spec.Input(TensorRoles.Tokens).Name), _tokens);
        _run.SetInput(Array.IndexOf(inputNames, spec.Input(TensorRoles.Conditioning).Name), _conditioning);
        _run.SetOutput(Array.IndexOf(outputNames, spec.Output(TensorRoles.Logits).Name), _logits);

        _states = spec.Inputs.Where(t => t.Role == TensorRoles.State).Select(input =>
            new StatePair(Array.IndexOf(inputNames, input.Name), Array.IndexOf(outputNames, input.StateOutput),
                new OrtTensor<float>(OneItem(input)), new OrtTensor<float>(OneItem(input)))).ToArray();
        // Both ping-pong bindings are made now, while the stream is built, rather than in its first
        // two steps (for a live stream built ahead, those come right after a key press).
        _odd = true;
        BindStates();
        _run.Prebind();
        Reset();
        _run.Prebind();
    }

    /// <summary>Tokens of the previous frame, to fill before <see cref="Step"/>.</summary>
    public Span<long> PreviousTokens => _tokens.Span;

    /// <summary>Conditioning window (frames f … f+L, row-major), to fill before <see cref="Step"/>.</summary>
    public Span<float> Conditioning => _conditioning.Span;

    /// <summary>Runs one step; the logits of codebook k are <c>Logits(k)</c> afterwards.</summary>
    public void Step()
    {
        _run.Run();
        Runs++;
        ModelActivity.Touch();
        _odd = !_odd;
        BindStates();
    }

    public ReadOnlySpan<float> Logits(int codebook) => _logits.Span.Slice(codebook * _codebookSize, _codebookSize);

    /// <summary>
    /// After a <see cref="Step"/>: whether the state it wrote is bit for bit the state it read, every state
    /// tensor (a fixed point: a step with the same tokens and conditioning writes it again).
    /// </summary>
    public bool StateUnchangedByLastStep()
    {
        foreach (var s in _states)
            if (!MemoryMarshal.AsBytes(s.A.Span).SequenceEqual(MemoryMarshal.AsBytes(s.B.Span))) return false;
        return true;
    }

    /// <summary>Runs so far (ORT calls of this stream's LM).</summary>
    public long Runs { get; private set; }

    /// <summary>Sizes of the state tensors, for buffers that hold a copy of the state.</summary>
    public int[] StateSizes => _states.Select(s => s.A.Span.Length).ToArray();

    /// <summary>Copies the state the next <see cref="Step"/> reads into <paramref name="destination"/> (one buffer per state tensor).</summary>
    public void SaveState(float[][] destination)
    {
        for (int i = 0; i < _states.Length; i++) (_odd ? _states[i].B : _states[i].A).Span.CopyTo(destination[i]);
    }

    /// <summary>Makes a state saved by <see cref="SaveState"/> the one the next <see cref="Step"/> reads.</summary>
    public void LoadState(float[][] source)
    {
        for (int i = 0; i < _states.Length; i++) source[i].AsSpan().CopyTo((_odd ? _states[i].B : _states[i].A).Span);
    }

    /// <summary>Zero state and silence as the previous frame: the state before the start of a stream.</summary>
    public void Reset()
    {
        foreach (var s in _states)
        {
            s.A.Span.Clear();
            s.B.Span.Clear();
        }
        _odd = false;
        BindStates();
    }

    /// <summary>The state written by the last step becomes the next step's input; the other buffer takes the output.</summary>
    void BindStates()
    {
        foreach (var s in _states)
        {
            _run.SetInput(s.InputIndex, _odd ? s.B : s.A);
            _run.SetOutput(s.OutputIndex, _odd ? s.A : s.B);
        }
    }

    static long[] OneItem(TensorSpec spec)
    {
        var shape = (long[])spec.Shape.Clone();
        shape[0] = 1;
        return shape;
    }

    public void Dispose()
    {
        _run.Dispose();
        _tokens.Dispose();
        _conditioning.Dispose();
        _logits.Dispose();
        foreach (var s in _states)
        {
            s.A.Dispose();
            s.B.Dispose();
        }
    }
}
