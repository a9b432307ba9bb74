using Microsoft.ML.OnnxRuntime;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// How to build an <see cref="OnnxSession"/>. Defaults suit a real-time audio plug-in: one
/// intra-op thread (the caller's), no spinning threads burning a core between audio callbacks,
/// sequential execution, full graph optimisation, CUDA if it is actually installed.
/// </summary>
public sealed record SessionSettings
{
    /// <summary>Intra-op threads. 1 runs every kernel on the calling thread; 0 lets ORT pick (one per core).</summary>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>CPU, CUDA or CUDA-if-it-works (see <see cref="ComputeDevice"/>).</summary>
    public ComputeDevice Device { get; init; } = ComputeDevice.Auto;

    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Receives one-line notes about choices made while building the session (e.g. the CUDA fallback).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Builds ORT's options; <paramref name="cudaEnabled"/> says whether the CUDA provider was registered. Only needed until the session exists.</summary>
    internal SessionOptions ToOrt(out bool cudaEnabled)
    {
        if (IntraOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "must be 0 (ORT default) or more");
        var options = new SessionOptions();
        try
        {
            options.IntraOpNumThreads = IntraOpThreads;
            // Inter-op threads only matter for parallel execution, which we do not use; one keeps
            // ORT from creating an idle pool.
            options.InterOpNumThreads = 1;
            options.ExecutionMode = ExecutionMode.ORT_SEQUENTIAL;
            options.GraphOptimizationLevel = GraphOptimizationLevel;
            // Spinning pool threads look idle-cheap in benchmarks but steal CPU from the audio
            // thread and the host between blocks.
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            options.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
            cudaEnabled = Device != ComputeDevice.Cpu && TryAppendCuda(options);
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Registers the CUDA execution provider, or says in one line why not. The CPU package's
    /// library has no CUDA support at all; the CUDA build (make gpu) has it, but registering
    /// fails when its provider library, CUDA or cuDNN cannot be loaded. Either way the session
    /// then runs on the CPU.
    /// </summary>
    bool TryAppendCuda(SessionOptions options)
    {
        // The CPU package's library does not even export the CUDA entry point; ask first.
        if (!OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider))
        {
            Log?.Invoke($"onnx: CUDA not available (this ONNX Runtime {OrtEnv.Instance().GetVersionString()} is the CPU build; `make gpu` installs the CUDA build); running on CPU");
            return false;
        }
        try
        {
            options.AppendExecutionProvider_CUDA(0);
        }
        catch (OnnxRuntimeException e)
        {
            // ORT says "Failed to load shared library" without naming what is missing: the
            // provider library needs CUDA and cuDNN, which are not in the bundle.
            string why = OnnxErrors.WithoutCode(e).ReplaceLineEndings(" ");
            if (why.Contains("Failed to load", StringComparison.OrdinalIgnoreCase)) why += "; it needs CUDA 13 and cuDNN 9 on the loader path";
            Log?.Invoke($"onnx: CUDA not available ({why}); running on CPU");
            return false;
        }
        return true; // said by OnnxSession once the session has started on it
    }

    const string CudaProvider = "CUDAExecutionProvider";
}
