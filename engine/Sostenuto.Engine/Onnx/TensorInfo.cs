using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sostenuto.Engine.Onnx;

/// <summary>
/// What a model declares for one input or output.
/// </summary>
/// <param name="Name">The graph name used to bind it.</param>
/// <param name="ElementType">Element type (non-tensor inputs report <see cref="TensorElementType.DataTypeMax"/> and an empty shape).</param>
/// <param name="Shape">Declared dimensions; -1 where the dimension is dynamic.</param>
/// <param name="SymbolicDimensions">Per dimension, its symbolic name (e.g. "batch"), or "" where it has none.</param>
public sealed record TensorInfo(string Name, TensorElementType ElementType, long[] Shape, string[] SymbolicDimensions)
{
    /// <summary>Readable form for error messages, e.g. <c>x: Float[batch, 3]</c>.</summary>
    public override string ToString() =>
        $"{Name}: {ElementType}[{string.Join(", ", Shape.Select((d, i) => d >= 0 ? d.ToString() : SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]";

    /// <summary>From ORT's metadata of one input or output (sequences and maps are not bindable here: no element type, no shape).</summary>
    internal static TensorInfo From(string name, NodeMetadata metadata)
    {
        if (!metadata.IsTensor) return new TensorInfo(name, TensorElementType.DataTypeMax, [], []);
        var symbolic = metadata.SymbolicDimensions.Select(s => s ?? "").ToArray();
        return new TensorInfo(name, metadata.ElementDataType, metadata.Dimensions.Select(d => (long)d).ToArray(), symbolic);
    }
}
