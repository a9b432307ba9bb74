using BenchmarkDotNet.Attributes;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Onnx;
using Sostenuto.Engine.Streaming;

namespace Sostenuto.Benchmarks;

/// <summary>
/// One LM step of a model package as the engine runs it, on the fixture (models/fixture: 2-layer
/// GRU, 64 hidden, K = 4 codebooks of V = 256, conditioning [1, 3, 641]) and on the default model
/// (models/default: K = 33 codebooks of 512, state [1, 88, 32]): <see cref="LmStepper.Step"/> and then
/// <see cref="TokenSampler.Sample"/> for all four codebooks, the sampled tokens fed back as the
/// next step's previous frame. A real stream does exactly this once per 20 ms frame.
/// <para>
/// Baseline: the binding has no un-prepared run path (every run goes through
/// <see cref="OnnxSession.Prepare"/>), so the baseline is the least memory traffic a step
/// cannot avoid: copying the state (2×64 floats, in to out) and the logits (4×256 floats) once.
/// The Ratio column is therefore "a step costs N memcpys of its own tensors", i.e. how much of
/// the step is compute and framework overhead rather than data movement. The other two
/// benchmarks split the step: the bare ONNX Runtime run on the same session (own tensors, no
/// sampling) and the sampling of four codebooks alone from fixed logits.
/// </para>
/// </summary>
// Min and median beside the mean: on a shared machine the mean carries other processes' load,
// the minimum is the step's own cost.
[MemoryDiagnoser, MinColumn, MedianColumn]
public class LmStepBenchmarks
{
    const ulong Seed = 7;

    /// <summary>The package under models/: the small fixture and the shipped default model.</summary>
    [Params("fixture", "default")]
    public string Model { get; set; } = "fixture";

    ModelPackage _package = null!;
    LmStepper _stepper = null!;
    TokenSampler _sampler = null!;
    int _codebooks;
    long _frame;

    // baseline buffers: the sizes of the state pair and the logits
    float[] _stateIn = [], _stateOut = [], _logitsSource = [], _logitsDestination = [];

    // bare run: a second prepared run on the same session, with its own tensors
    PreparedRun _bare = null!;
    readonly List<IDisposable> _bareTensors = new();

    // fixed logits for the sampling-only benchmark
    float[] _fixedLogits = [];

    [GlobalSetup]
    public void Setup()
    {
        _package = ModelPackage.Load(RepoPaths.ModelPackage(Model));
        var m = _package.Manifest;
        _codebooks = m.Codebooks;
        _stepper = new LmStepper(_package);
        _sampler = new TokenSampler(m.CodebookSize, m.Sampling, Seed);
        FillConditioning(_stepper.Conditioning, m);

        long stateElements = m.Lm.Inputs.Where(t => t.Role == TensorRoles.State).Sum(t => t.ElementsPerItem);
        int logitElements = m.Codebooks * m.CodebookSize;
        _stateIn = new float[stateElements];
        _stateOut = new float[stateElements];
        _logitsSource = new float[logitElements];
        _logitsDestination = new float[logitElements];
        new Random(3).NextBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_stateIn.AsSpan()));

        var inputNames = m.Lm.Inputs.Select(t => t.Name).ToArray();
        var outputNames = m.Lm.Outputs.Select(t => t.Name).ToArray();
        _bare = _package.Lm.Prepare(inputNames, outputNames);
        for (int i = 0; i < inputNames.Length; i++)
        {
            var spec = m.Lm.Inputs[i];
            if (spec.Type == TensorType.Int64) _bare.SetInput(i, Keep(new OrtTensor<long>(OneItem(spec))));
            else
            {
                var t = Keep(new OrtTensor<float>(OneItem(spec)));
                if (spec.Role == TensorRoles.Conditioning) FillConditioning(t.Span, m);
                _bare.SetInput(i, t);
            }
        }
        for (int i = 0; i < outputNames.Length; i++) _bare.SetOutput(i, Keep(new OrtTensor<float>(OneItem(m.Lm.Outputs[i]))));

        // Logits of a real step, for sampling alone.
        _stepper.Step();
        _fixedLogits = new float[logitElements];
        for (int k = 0; k < _codebooks; k++) _stepper.Logits(k).CopyTo(_fixedLogits.AsSpan(k * m.CodebookSize));
        _stepper.Reset();
        FillConditioning(_stepper.Conditioning, m);
    }

    /// <summary>Memcpy of the state (in → out) and of the logits: the data a step must move at the very least.</summary>
    [Benchmark(Baseline = true)]
    public float CopyStateAndLogits()
    {
        _stateIn.AsSpan().CopyTo(_stateOut);
        _logitsSource.AsSpan().CopyTo(_logitsDestination);
        return _stateOut[0] + _logitsDestination[^1];
    }

    /// <summary>The engine's step: LmStepper.Step, then TokenSampler over all codebooks, tokens fed back.</summary>
    [Benchmark]
    public long StepAndSample()
    {
        _stepper.Step();
        var previous = _stepper.PreviousTokens;
        long sum = 0;
        for (int k = 0; k < _codebooks; k++)
        {
            int token = _sampler.Sample(_stepper.Logits(k), _frame, k);
            previous[k] = token;
            sum += token;
        }
        _frame++;
        return sum;
    }

    /// <summary>Only ONNX Runtime: one run of the LM session on pre-bound tensors, no ping-pong, no sampling.</summary>
    [Benchmark]
    public void OnnxRunOnly() => _bare.Run();

    /// <summary>Only the sampler: every codebook from fixed logits, with the model's default sampling settings.</summary>
    [Benchmark]
    public long SampleOnly()
    {
        long sum = 0;
        int v = _fixedLogits.Length / _codebooks;
        for (int k = 0; k < _codebooks; k++) sum += _sampler.Sample(_fixedLogits.AsSpan(k * v, v), _frame, k);
        _frame++;
        return sum;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _bare.Dispose();
        foreach (var t in _bareTensors) t.Dispose();
        _stepper.Dispose();
        _package.Dispose();
    }

    T Keep<T>(T tensor) where T : IDisposable
    {
        _bareTensors.Add(tensor);
        return tensor;
    }

    static long[] OneItem(TensorSpec spec)
    {
        var shape = (long[])spec.Shape.Clone();
        shape[0] = 1;
        return shape;
    }

    /// <summary>A chord sounding in every frame of the window, so the fixture's silence gate is off and sampling draws from real distributions.</summary>
    static void FillConditioning(Span<float> window, ModelManifest m)
    {
        window.Clear();
        int row = m.ConditioningSize;
        for (int frame = 0; frame <= m.LookaheadFrames; frame++)
        {
            int offset = frame * row;
            foreach (var feature in m.Features)
            {
                int size = ConditioningFeatures.Size(feature);
                foreach (int pitch in new[] { 60, 64, 67 })
                {
                    float value = feature switch
                    {
                        ConditioningFeature.NoteOnset => frame == 0 ? 0.7f : 0f,
                        ConditioningFeature.NoteSounding or ConditioningFeature.NoteHeld => 1f,
                        ConditioningFeature.NoteVelocity => 0.7f,
                        ConditioningFeature.NoteAge => 0.02f * (frame + 1),
                        _ => 0f,
                    };
                    if (size == ConditioningFeatures.PitchCount) window[offset + pitch] = value;
                }
                offset += size;
            }
        }
    }
}
