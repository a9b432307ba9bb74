using Microsoft.ML.OnnxRuntime;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// A loaded ONNX model, ready to run: ONNX Runtime's <see cref="InferenceSession"/> plus what the
/// engine needs around it: the declared tensors as <see cref="TensorInfo"/> (checked against a
/// package's manifest), the device choice with its CPU fallback, and <see cref="Prepare"/>, which
/// fixes names and buffers up front so the per-block run allocates nothing.
/// </summary>
public sealed class OnnxSession : IDisposable
{
    readonly InferenceSession _session;
    bool _disposed;

    /// <summary>Loads <paramref name="modelPath"/>. Missing or invalid files raise <see cref="OnnxRuntimeException"/> whose message names the file.</summary>
    public OnnxSession(string modelPath, SessionSettings? settings = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        settings ??= new SessionSettings();
        ModelPath = Path.GetFullPath(modelPath);
        OnnxEnvironment.EnsureCreated();

        using (var options = settings.ToOrt(out bool cuda))
        {
            try
            {
                _session = Open(ModelPath, options);
                UsesCuda = cuda;
                if (cuda) settings.Log?.Invoke("onnx: using the CUDA execution provider");
            }
            catch (OnnxRuntimeException e) when (cuda && File.Exists(ModelPath))
            {
                // The CUDA provider registered but could not start (no GPU, driver too old):
                // the model itself is fine, so run it on the CPU and say so once.
                settings.Log?.Invoke($"onnx: CUDA not available ({OnnxErrors.WithoutCode(e).ReplaceLineEndings(" ")}); running on CPU");
                using var cpu = (settings with { Device = ComputeDevice.Cpu, Log = null }).ToOrt(out _);
                _session = Open(ModelPath, cpu);
            }
        }
        Inputs = _session.InputNames.Select(n => TensorInfo.From(n, _session.InputMetadata[n])).ToArray();
        Outputs = _session.OutputNames.Select(n => TensorInfo.From(n, _session.OutputMetadata[n])).ToArray();
    }

    /// <summary>Absolute path of the loaded model.</summary>
    public string ModelPath { get; }

    /// <summary>Declared inputs, in model order.</summary>
    public IReadOnlyList<TensorInfo> Inputs { get; }

    /// <summary>Declared outputs, in model order.</summary>
    public IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>Whether the session runs on the CUDA execution provider.</summary>
    public bool UsesCuda { get; }

    internal InferenceSession Session
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _session;
        }
    }

    internal bool IsDisposed => _disposed;

    /// <summary>
    /// Fixes which inputs are fed and which outputs are fetched. Every model input must be
    /// listed; outputs may be a subset. Names are checked here, and tensors when bound, so
    /// <see cref="PreparedRun.Run"/> has nothing left to validate.
    /// </summary>
    public PreparedRun Prepare(string[] inputNames, string[] outputNames)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new PreparedRun(this, inputNames, outputNames);
    }

    /// <summary>
    /// A one-off run with outputs allocated by ORT, for tools (<c>sostenuto onnx-run</c>) and tests.
    /// It allocates: the audio path uses <see cref="Prepare"/>.
    /// </summary>
    public IDisposableReadOnlyCollection<OrtValue> RunOnce(IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs, IReadOnlyCollection<string> outputNames)
    {
        using var options = new RunOptions();
        return Session.Run(options, inputNames, inputs, outputNames);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _session.Dispose();
    }

    // ORT's load errors name the model's path ("Load model from /…/lm_step.onnx failed: …"), which
    // matters when one of several models breaks; the tests hold it to that.
    static InferenceSession Open(string path, SessionOptions options) => new(path, options);
}
