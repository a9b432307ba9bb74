using Microsoft.ML.OnnxRuntime;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// A fixed call shape for one session: which inputs, which outputs, and which tensors are
/// bound to them. Runs go through ONNX Runtime's <see cref="OrtIoBinding"/>, which holds the
/// names and values natively, so <see cref="Run"/> allocates no managed memory.
/// <para>
/// Binding a tensor to an <see cref="OrtIoBinding"/> allocates (the name is converted to UTF-8
/// each time), so <see cref="SetInput{T}"/> and <see cref="SetOutput{T}"/> only record the
/// tensor, and <see cref="Run"/> keeps one native binding per distinct set of bound tensors,
/// made the first time that set runs (<see cref="BindingCache"/>). Callers that swap state
/// tensors between blocks (ping-pong) therefore cycle through two bindings, made once.
/// </para>
/// <para>
/// Outputs are preallocated: ORT writes straight into the bound output tensors, which must
/// have the output's exact shape for that run (dynamic dimensions are resolved by ORT at run
/// time, so a mismatch there is reported by <see cref="Run"/> as an <see cref="OnnxRuntimeException"/>).
/// </para>
/// <para>
/// On CUDA, ORT copies host inputs to the GPU when they are bound, not when the model runs,
/// so each run binds the inputs again (a few small allocations per run; the CPU path has none).
/// </para>
/// <para>Not thread-safe: one PreparedRun per thread of use.</para>
/// </summary>
public sealed class PreparedRun : IDisposable
{
    readonly OnnxSession _session;
    readonly TensorInfo[] _inputs;
    readonly TensorInfo[] _outputs;
    readonly RunOptions _runOptions = new();
    readonly BindingCache _bindings;

    // The tensors currently bound, inputs then outputs (null while unbound).
    readonly IOrtTensor?[] _bound;
    bool _disposed;

    internal PreparedRun(OnnxSession session, string[] inputNames, string[] outputNames)
    {
        ArgumentNullException.ThrowIfNull(inputNames);
        ArgumentNullException.ThrowIfNull(outputNames);
        _session = session;
        _inputs = Resolve(inputNames, session.Inputs, "input", nameof(inputNames));
        _outputs = Resolve(outputNames, session.Outputs, "output", nameof(outputNames));
        if (_outputs.Length == 0) throw new ArgumentException("At least one output must be requested.", nameof(outputNames));
        var missing = session.Inputs.Where(i => !inputNames.Contains(i.Name)).Select(i => i.Name).ToArray();
        if (missing.Length > 0)
            throw new ArgumentException($"Every model input must be fed; missing: {string.Join(", ", missing)}.", nameof(inputNames));
        _bound = new IOrtTensor?[_inputs.Length + _outputs.Length];
        _bindings = new BindingCache(session, _inputs.Select(i => i.Name).ToArray(), _outputs.Select(o => o.Name).ToArray());
    }

    /// <summary>The inputs in the order given to Prepare (the index used by <see cref="SetInput{T}"/>).</summary>
    public IReadOnlyList<TensorInfo> Inputs => _inputs;

    /// <summary>The outputs in the order given to Prepare (the index used by <see cref="SetOutput{T}"/>).</summary>
    public IReadOnlyList<TensorInfo> Outputs => _outputs;

    /// <summary>Binds <paramref name="tensor"/> to input <paramref name="index"/> after checking element type and shape. No allocation.</summary>
    public void SetInput<T>(int index, OrtTensor<T> tensor) where T : unmanaged =>
        Bind(index, tensor, _inputs, 0, "input");

    /// <summary>Binds <paramref name="tensor"/> as the preallocated buffer ORT writes output <paramref name="index"/> into. No allocation.</summary>
    public void SetOutput<T>(int index, OrtTensor<T> tensor) where T : unmanaged =>
        Bind(index, tensor, _outputs, _inputs.Length, "output");

    /// <summary>
    /// Runs the model on the bound tensors; outputs land in the bound output tensors. Every
    /// slot must be bound. Steady state allocates no managed memory on the CPU (checked by a test).
    /// </summary>
    public void Run()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var session = _session.Session; // throws if the session was disposed
        for (int i = 0; i < _bound.Length; i++)
        {
            var tensor = _bound[i];
            if (tensor is null) ThrowUnbound(i);
            if (tensor.IsDisposed) throw new ObjectDisposedException(tensor.GetType().Name, $"The tensor bound to {Slot(i)} was disposed.");
        }
        var binding = _bindings.For(_bound, rebindInputs: _session.UsesCuda);
        session.RunWithBinding(_runOptions, binding);
    }

    /// <summary>
    /// Makes the native binding of the tensors bound now, so that the first <see cref="Run"/> with
    /// them allocates nothing either. Optional: Run makes it when needed; this moves the work to
    /// set-up time (e.g. a live stream built ahead of the key press that will use it).
    /// </summary>
    public void Prebind()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        for (int i = 0; i < _bound.Length; i++)
            if (_bound[i] is null) ThrowUnbound(i);
        _bindings.For(_bound, rebindInputs: false);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Array.Clear(_bound);
        _bindings.Dispose();
        _runOptions.Dispose();
    }

    void Bind(int index, IOrtTensor tensor, TensorInfo[] infos, int offset, string kind)
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
        if (tensor.IsDisposed) throw new ObjectDisposedException(tensor.GetType().Name);
        _bound[offset + index] = tensor;
    }

    string Slot(int i) => i < _inputs.Length ? $"input {i}" : $"output {i - _inputs.Length}";

    static bool ShapeFits(long[] declared, ReadOnlySpan<long> actual)
    {
        if (declared.Length != actual.Length) return false;
        for (int i = 0; i < declared.Length; i++)
            if (declared[i] >= 0 && declared[i] != actual[i]) return false;
        return true;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    void ThrowUnbound(int slot)
    {
        string kind = slot < _inputs.Length ? "input" : "output";
        int index = slot < _inputs.Length ? slot : slot - _inputs.Length;
        throw new InvalidOperationException($"{kind} {index} has no tensor bound; call Set{char.ToUpperInvariant(kind[0])}{kind[1..]} first.");
    }

    static TensorInfo[] Resolve(string[] names, IReadOnlyList<TensorInfo> declared, string kind, string paramName)
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
}
