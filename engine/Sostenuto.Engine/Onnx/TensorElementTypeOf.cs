namespace Sostenuto.Engine.Onnx;

/// <summary>
/// Maps a blittable .NET element type to the ONNX element type with the same in-memory
/// layout. Computed once per T (a static generic field), so tensor code pays nothing per use.
/// </summary>
internal static class TensorElementTypeOf<T> where T : unmanaged
{
    public static readonly TensorElementType Value = Resolve();

    private static TensorElementType Resolve()
    {
        if (typeof(T) == typeof(float)) return TensorElementType.Float;
        if (typeof(T) == typeof(double)) return TensorElementType.Double;
        if (typeof(T) == typeof(long)) return TensorElementType.Int64;
        if (typeof(T) == typeof(int)) return TensorElementType.Int32;
        if (typeof(T) == typeof(short)) return TensorElementType.Int16;
        if (typeof(T) == typeof(sbyte)) return TensorElementType.Int8;
        if (typeof(T) == typeof(ulong)) return TensorElementType.UInt64;
        if (typeof(T) == typeof(uint)) return TensorElementType.UInt32;
        if (typeof(T) == typeof(ushort)) return TensorElementType.UInt16;
        if (typeof(T) == typeof(byte)) return TensorElementType.UInt8;
        // .NET bool is one byte holding 0/1, which is exactly ONNX's bool tensor layout.
        if (typeof(T) == typeof(bool)) return TensorElementType.Bool;
        if (typeof(T) == typeof(Half)) return TensorElementType.Float16;
        return TensorElementType.Undefined;
    }

    public static TensorElementType Require()
    {
        if (Value == TensorElementType.Undefined)
            throw new NotSupportedException($"{typeof(T).Name} has no ONNX tensor element type; use float, double, long, int, short, sbyte, ulong, uint, ushort, byte, bool or Half.");
        return Value;
    }
}
