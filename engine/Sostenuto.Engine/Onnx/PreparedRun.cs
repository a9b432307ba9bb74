using System.Runtime.InteropServices;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// A fixed call shape for one session: which inputs, which outputs, and which tensors are
/// bound to them. Everything ORT's Run needs (UTF-8 name arrays, OrtValue* arrays) is built
/// once in native memory; binding a tensor just stores its pointer, so callers can swap state
/// tensors between blocks (ping-pong) and <see cref="Run"/> allocates no managed memory.
/// <para>
/// Outputs are preallocated: ORT writes straight into the bound output tensors, which must
/// have the output's exact shape for that run (dynamic dimensions are resolved by ORT at run
/// time, so a mismatch there is reported by <see cref="Run"/> as an <see cref="OrtException"/>).
/// </para>
/// <para>Not thread-safe: one PreparedRun per thread of use.</para>
/// </summary>
public sealed unsafe class PreparedRun : IDisposable
{
    private readonly InferenceSession _session;
    private readonly OrtApi _api;
    private readonly TensorInfo[] _inputs;
    private readonly TensorInfo[] _outputs;

    // Native arrays handed to ORT's Run. Names: CoTaskMem UTF-8 strings; values: the raw
    // OrtValue* of the currently bound tensors (IntPtr.Zero while unbound).
    private IntPtr* _inputNames;
    private IntPtr* _outputNames;
    private IntPtr* _inputValues;
    private IntPtr* _outputValues;

    // The owners of the bound values. Holding the handles (not just pointers) keeps the
    // OrtValues, and through them the pinned buffers, alive while bound, and lets Run take a
    // ref-count on each so a concurrently disposed tensor fails cleanly instead of being freed
    // under ORT.
    private readonly OrtValueHandle?[] _inputHandles;
    private readonly OrtValueHandle?[] _outputHandles;
    private bool _disposed;

    internal PreparedRun(InferenceSession session, string[] inputNames, string[] outputNames)
    {
        ArgumentNullException.ThrowIfNull(inputNames);
        ArgumentNullException.ThrowIfNull(outputNames);
        _session = session;
        _api = OrtApi.Instance;
        _inputs = Resolve(inputNames, session.Inputs, "input", nameof(inputNames));
        _outputs = Resolve(outputNames, session.Outputs, "output", nameof(outputNames));
        if (_outputs.Length == 0) throw new ArgumentException("At least one output must be requested.", nameof(outputNames));
        var missing = session.Inputs.Where(i => !inputNames.Contains(i.Name)).Select(i => i.Name).ToArray();
        if (missing.Length > 0)
            throw new ArgumentException($"Every model input must be fed; missing: {string.Join(", ", missing)}.", nameof(inputNames));

        _inputHandles = new OrtValueHandle?[_inputs.Length];
        _outputHandles = new OrtValueHandle?[_outputs.Length];
        try
        {
            _inputNames = AllocNames(inputNames);
            _outputNames = AllocNames(outputNames);
            _inputValues = (IntPtr*)NativeMemory.AllocZeroed((nuint)Math.Max(1, _inputs.Length), (nuint)sizeof(IntPtr));
            _outputValues = (IntPtr*)NativeMemory.AllocZeroed((nuint)_outputs.Length, (nuint)sizeof(IntPtr));
        }
        catch
        {
            FreeNative();
            GC.SuppressFinalize(this);
            throw;
        }
    }

    ~PreparedRun() => FreeNative();

    /// <summary>The inputs in the order given to Prepare (the index used by <see cref="SetInput{T}"/>).</summary>
    public IReadOnlyList<TensorInfo> Inputs => _inputs;

    /// <summary>The outputs in the order given to Prepare (the index used by <see cref="SetOutput{T}"/>).</summary>
    public IReadOnlyList<TensorInfo> Outputs => _outputs;

    /// <summary>Binds <paramref name="tensor"/> to input <paramref name="index"/> after checking element type and shape. No allocation.</summary>
    public void SetInput<T>(int index, OrtTensor<T> tensor) where T : unmanaged =>
        Bind(index, tensor, _inputs, _inputHandles, _inputValues, "input");

    /// <summary>Binds <paramref name="tensor"/> as the preallocated buffer ORT writes output <paramref name="index"/> into. No allocation.</summary>
    public void SetOutput<T>(int index, OrtTensor<T> tensor) where T : unmanaged =>
        Bind(index, tensor, _outputs, _outputHandles, _outputValues, "output");

    /// <summary>
    /// Runs the model on the bound tensors; outputs land in the bound output tensors. Every
    /// slot must be bound. Steady state allocates no managed memory (checked by a test).
    /// </summary>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var session = _session.Handle;
        bool sessionAdded = false;
        int inputsAdded = 0, outputsAdded = 0;
        try
        {
            session.DangerousAddRef(ref sessionAdded);
            for (; inputsAdded < _inputHandles.Length; inputsAdded++)
                AddRef(_inputHandles[inputsAdded], "input", inputsAdded);
            for (; outputsAdded < _outputHandles.Length; outputsAdded++)
                AddRef(_outputHandles[outputsAdded], "output", outputsAdded);

            OrtApi.Check(_api.Run(
                session.DangerousGetHandle(), IntPtr.Zero,
                _inputNames, _inputValues, (nuint)_inputHandles.Length,
                _outputNames, (nuint)_outputHandles.Length, _outputValues));
        }
        finally
        {
            while (outputsAdded > 0) _outputHandles[--outputsAdded]!.DangerousRelease();
            while (inputsAdded > 0) _inputHandles[--inputsAdded]!.DangerousRelease();
            if (sessionAdded) session.DangerousRelease();
            // The native arrays passed above are freed by our finalizer; without this, `this`
            // is unreachable once its fields are loaded and could be finalized mid-call.
            GC.KeepAlive(this);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Array.Clear(_inputHandles);
        Array.Clear(_outputHandles);
        FreeNative();
        GC.SuppressFinalize(this);
    }

    private void Bind<T>(int index, OrtTensor<T> tensor, TensorInfo[] infos, OrtValueHandle?[] handles, IntPtr* values, string kind) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(tensor);
        if ((uint)index >= (uint)infos.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"This run has {infos.Length} {kind}(s).");
        var info = infos[index];
        if (tensor.ElementType != info.ElementType)
            throw new ArgumentException($"{kind} '{info.Name}' expects {info.ElementType} elements, got a {tensor.ElementType} tensor.", nameof(tensor));
        if (!ShapeFits(info.Shape, tensor.ShapeSpan))
            throw new ArgumentException($"{kind} '{info.Name}' is declared as {info}, got shape [{string.Join(", ", tensor.ShapeSpan.ToArray())}].", nameof(tensor));
        var handle = tensor.Handle;
        if (handle.IsClosed) throw new ObjectDisposedException(nameof(OrtTensor<T>));
        handles[index] = handle;
        values[index] = handle.DangerousGetHandle();
    }

    private static bool ShapeFits(long[] declared, ReadOnlySpan<long> actual)
    {
        if (declared.Length != actual.Length) return false;
        for (int i = 0; i < declared.Length; i++)
            if (declared[i] >= 0 && declared[i] != actual[i]) return false;
        return true;
    }

    private static void AddRef(OrtValueHandle? handle, string kind, int index)
    {
        if (handle is null) ThrowUnbound(kind, index);
        bool added = false;
        handle.DangerousAddRef(ref added); // throws ObjectDisposedException if the tensor was disposed
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowUnbound(string kind, int index) =>
        throw new InvalidOperationException($"{kind} {index} has no tensor bound; call Set{char.ToUpperInvariant(kind[0])}{kind[1..]} first.");

    private static TensorInfo[] Resolve(string[] names, IReadOnlyList<TensorInfo> declared, string kind, string paramName)
    {
        var result = new TensorInfo[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            string name = names[i] ?? throw new ArgumentException($"{kind} name {i} is null.", paramName);
            if (Array.IndexOf(names, name) != i)
                throw new ArgumentException($"{kind} '{name}' is listed twice.", paramName);
            result[i] = declared.FirstOrDefault(d => d.Name == name)
                ?? throw new ArgumentException($"The model has no {kind} named '{name}'; its {kind}s are: {string.Join(", ", declared.Select(d => d.ToString()))}.", paramName);
        }
        return result;
    }

    private static IntPtr* AllocNames(string[] names)
    {
        var array = (IntPtr*)NativeMemory.AllocZeroed((nuint)Math.Max(1, names.Length), (nuint)sizeof(IntPtr));
        for (int i = 0; i < names.Length; i++)
            array[i] = Marshal.StringToCoTaskMemUTF8(names[i]);
        return array;
    }

    private void FreeNative()
    {
        FreeNames(ref _inputNames, _inputs?.Length ?? 0);
        FreeNames(ref _outputNames, _outputs?.Length ?? 0);
        NativeMemory.Free(_inputValues);
        _inputValues = null;
        NativeMemory.Free(_outputValues);
        _outputValues = null;
    }

    private static void FreeNames(ref IntPtr* names, int count)
    {
        if (names == null) return;
        for (int i = 0; i < count; i++) Marshal.FreeCoTaskMem(names[i]);
        NativeMemory.Free(names);
        names = null;
    }
}
