using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// A dense CPU tensor whose memory is a managed array that ONNX Runtime reads and writes in
/// place. The array is allocated on the pinned object heap (it never moves, so ORT can keep a
/// raw pointer) and one OrtValue is created over it for the tensor's whole life, so binding it
/// to a <see cref="PreparedRun"/> costs nothing per run. Fill inputs and read outputs via
/// <see cref="Span"/>.
/// <para>
/// Lifetime: the buffer is referenced by this object and by the OrtValue's handle. Pinned does
/// not mean rooted: if only native code pointed at it, the GC could collect it and hand the
/// memory to someone else, and ORT would compute with garbage without any error.
/// </para>
/// </summary>
public sealed unsafe class OrtTensor<T> : IDisposable where T : unmanaged
{
    private readonly T[] _buffer;
    private readonly long[] _shape;
    private readonly OrtValueHandle _value;

    /// <summary>A zero-filled tensor of the given shape (e.g. <c>new OrtTensor&lt;float&gt;(1, 8)</c>).</summary>
    public OrtTensor(params ReadOnlySpan<long> shape)
    {
        ElementType = TensorElementTypeOf<T>.Require();
        _shape = shape.ToArray();
        Length = ElementCount(_shape);
        _buffer = GC.AllocateArray<T>(Length, pinned: true);
        _value = CreateValue(_buffer, _shape, ElementType);
    }

    /// <summary>A tensor of the given shape holding a copy of <paramref name="values"/>.</summary>
    public static OrtTensor<T> Create(ReadOnlySpan<long> shape, ReadOnlySpan<T> values)
    {
        var tensor = new OrtTensor<T>(shape);
        if (values.Length != tensor.Length)
        {
            tensor.Dispose();
            throw new ArgumentException($"{values.Length} values given for shape [{string.Join(", ", shape.ToArray())}], which holds {tensor.Length}.", nameof(values));
        }
        values.CopyTo(tensor.Span);
        return tensor;
    }

    /// <summary>The elements, row-major. Valid until disposed; writes are what ORT sees as input, and outputs appear here after a run.</summary>
    public Span<T> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(_value.IsClosed, this);
            return _buffer;
        }
    }

    /// <summary>The dimensions (a copy; the tensor's shape is fixed).</summary>
    public long[] Shape => (long[])_shape.Clone();

    /// <summary>Number of elements (product of the dimensions).</summary>
    public int Length { get; }

    public TensorElementType ElementType { get; }

    /// <summary>The owned OrtValue; <see cref="PreparedRun"/> stores it (not a raw pointer) so it stays alive and ref-counted.</summary>
    internal OrtValueHandle Handle => _value;

    /// <summary>Shape without copying, for validation.</summary>
    internal ReadOnlySpan<long> ShapeSpan => _shape;

    public void Dispose() => _value.Dispose();

    private static int ElementCount(long[] shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException($"Tensor dimensions must be concrete (>= 0); got [{string.Join(", ", shape)}].", nameof(shape));
            count *= d;
            if (count > Array.MaxLength) throw new ArgumentException($"Tensor [{string.Join(", ", shape)}] is too large for one array.", nameof(shape));
        }
        return (int)count;
    }

    private static OrtValueHandle CreateValue(T[] buffer, long[] shape, TensorElementType type)
    {
        var api = OrtApi.Instance;
        // Safe to take the address outside a fixed block: the array is on the pinned heap.
        void* data = Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        IntPtr value;
        var memoryInfo = CpuMemoryInfo.Handle;
        fixed (long* dims = shape)
        {
            OrtApi.Check(api.CreateTensorWithDataAsOrtValue(
                memoryInfo.DangerousGetHandle(), data, (nuint)((long)buffer.Length * sizeof(T)),
                dims, (nuint)shape.Length, (int)type, &value));
        }
        var handle = new OrtValueHandle(value, buffer);
        // ORT is documented to use the caller's buffer as is; verify once, because if it ever
        // copied, writes through Span would silently never reach the model.
        void* seen;
        OrtApi.Check(api.GetTensorMutableData(value, &seen));
        if (seen != data && buffer.Length != 0)
        {
            handle.Dispose();
            throw new InvalidOperationException("ONNX Runtime copied the tensor buffer instead of wrapping it.");
        }
        return handle;
    }
}
