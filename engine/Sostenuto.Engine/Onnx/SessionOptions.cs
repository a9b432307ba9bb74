using System.Runtime.InteropServices;
using System.Text;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// How to build an <see cref="InferenceSession"/>. Defaults suit a real-time audio plugin:
/// one intra-op thread (the caller's), no spinning threads burning a core between audio
/// callbacks, sequential execution, full graph optimisation, CUDA if it is actually installed.
/// </summary>
public sealed record SessionOptions
{
    /// <summary>Intra-op threads. 1 runs every kernel on the calling thread; 0 lets ORT pick (one per core).</summary>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>
    /// Use the CUDA execution provider if its provider library (libonnxruntime_providers_cuda.so /
    /// onnxruntime_providers_cuda.dll) sits next to the loaded ORT library; otherwise (or if
    /// registering it fails) fall back to CPU and say so through <see cref="Log"/>.
    /// </summary>
    public bool UseCuda { get; init; } = true;

    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.All;

    /// <summary>Receives one-line notes about choices made while building the session (e.g. CUDA fallback).</summary>
    public Action<string>? Log { get; init; }

    internal static string CudaProviderFileName =>
        OperatingSystem.IsWindows() ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so";

    /// <summary>Builds the native OrtSessionOptions. Only needed until CreateSession returns.</summary>
    internal unsafe OrtSessionOptionsHandle ToNative(out bool cudaEnabled)
    {
        if (IntraOpThreads < 0) throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "must be 0 (ORT default) or more");
        var api = OrtApi.Instance;
        IntPtr raw;
        OrtApi.Check(api.CreateSessionOptions(&raw));
        var options = new OrtSessionOptionsHandle(raw);
        try
        {
            OrtApi.Check(api.SetIntraOpNumThreads(raw, IntraOpThreads));
            // Inter-op threads only matter for parallel execution, which we do not use; one
            // keeps ORT from creating an idle pool.
            OrtApi.Check(api.SetInterOpNumThreads(raw, 1));
            OrtApi.Check(api.SetSessionExecutionMode(raw, 0 /* ORT_SEQUENTIAL */));
            OrtApi.Check(api.SetSessionGraphOptimizationLevel(raw, (int)GraphOptimizationLevel));
            // Spinning pool threads look idle-cheap in benchmarks but steal CPU from the audio
            // thread and the host between blocks.
            AddConfigEntry(api, raw, "session.intra_op.allow_spinning", "0");
            AddConfigEntry(api, raw, "session.inter_op.allow_spinning", "0");
            cudaEnabled = UseCuda && TryAppendCuda(api, raw);
            GC.KeepAlive(options);
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    private static unsafe void AddConfigEntry(OrtApi api, IntPtr options, string key, string value)
    {
        byte[] k = Encoding.UTF8.GetBytes(key + "\0");
        byte[] v = Encoding.UTF8.GetBytes(value + "\0");
        fixed (byte* pk = k)
        fixed (byte* pv = v)
            OrtApi.Check(api.AddSessionConfigEntry(options, pk, pv));
    }

    private unsafe bool TryAppendCuda(OrtApi api, IntPtr options)
    {
        // ORT looks for its provider libraries next to itself, so that is where we check; asking
        // ORT without the file costs a load attempt and an error log line on every session.
        string? ortDir = OrtLibrary.LoadedFrom is { } from && Path.IsPathRooted(from) ? Path.GetDirectoryName(from) : null;
        string? provider = ortDir is null ? null : Path.Combine(ortDir, CudaProviderFileName);
        if (provider is null || !File.Exists(provider))
        {
            Log?.Invoke($"onnx: CUDA not used: {(provider ?? CudaProviderFileName + " next to the ORT library")} not found; running on CPU");
            return false;
        }
        // The legacy exported entry point takes just a device id, so no provider-options struct
        // layout has to be mirrored here.
        if (!NativeLibrary.TryGetExport(api.LibraryHandle, "OrtSessionOptionsAppendExecutionProvider_CUDA", out var append))
        {
            Log?.Invoke("onnx: CUDA not used: this ORT build does not export OrtSessionOptionsAppendExecutionProvider_CUDA; running on CPU");
            return false;
        }
        IntPtr status = ((delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr>)append)(options, 0);
        if (status != IntPtr.Zero)
        {
            var e = api.ToException(status);
            Log?.Invoke($"onnx: CUDA not used: registering the CUDA provider failed ({e.Code}: {e.Message}); running on CPU");
            return false;
        }
        Log?.Invoke($"onnx: using CUDA execution provider ({provider})");
        return true;
    }
}
