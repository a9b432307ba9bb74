using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// A dense CPU tensor whose memory is a managed array that ONNX Runtime reads and writes in
/// place. The array is allocated on the pinned object heap (it never moves, so ORT can keep a
/// raw pointer) and one <see cref="OrtValue"/> is created over it for the tensor's whole life,
/// so binding it to a <see cref="PreparedRun"/> costs nothing per run. Fill inputs and read
/// outputs via <see cref="Span"/>.
/// <para>
/// Lifetime: the buffer is referenced by this object, by the OrtValue (which pins it) and by
/// every <see cref="PreparedRun"/> binding that uses it. Pinned does not mean rooted: if only
/// native code pointed at it, the GC could collect it and hand the memory to someone else, and
/// ORT would compute with garbage without any error.
/// </para>
/// </summary>
public sealed class OrtTensor<T> : IOrtTensor where T : unmanaged
{
    readonly T[] _buffer;
    readonly long[] _shape;
    readonly OrtValue _value;
    bool _disposed;

    /// <summary>A zero-filled tensor of the given shape (e.g. <c>new OrtTensor&lt;float&gt;(1, 8)</c>).</summary>
    public OrtTensor(params ReadOnlySpan<long> shape)
    {
        ElementType = ElementTypeOf();
        _shape = shape.ToArray();
        Length = ElementCount(_shape);
        _buffer = GC.AllocateArray<T>(Length, pinned: true);
        _value = OrtValue.CreateTensorValueFromMemory(_buffer, _shape);
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
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _buffer;
        }
    }

    /// <summary>The dimensions (a copy; the tensor's shape is fixed).</summary>
    public long[] Shape => (long[])_shape.Clone();

    /// <summary>Number of elements (product of the dimensions).</summary>
    public int Length { get; }

    public TensorElementType ElementType { get; }

    /// <summary>Shape without copying, for validation.</summary>
    public ReadOnlySpan<long> ShapeSpan => _shape;

    OrtValue IOrtTensor.Value => _value;

    bool IOrtTensor.IsDisposed => _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _value.Dispose();
    }

    static TensorElementType ElementTypeOf()
    {
        // ORT's own table of .NET types it can wrap (float, long, bool, Half, ...); null for the rest.
        var info = TensorBase.GetTypeInfo(typeof(T));
        if (info is null)
            throw new NotSupportedException($"{typeof(T).Name} has no ONNX tensor element type; use float, double, long, int, short, sbyte, ulong, uint, ushort, byte, bool or Half.");
        return info.ElementType;
    }

    static int ElementCount(long[] shape)
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
}
