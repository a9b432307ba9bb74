namespace Sostenuto.Engine.Onnx;

/// <summary>
/// What a model declares for one input or output.
/// </summary>
/// <param name="Name">The graph name used to bind it.</param>
/// <param name="ElementType">Element type (non-tensor inputs report <see cref="TensorElementType.Undefined"/> and an empty shape).</param>
/// <param name="Shape">Declared dimensions; -1 where the dimension is dynamic.</param>
/// <param name="SymbolicDimensions">Per dimension, its symbolic name (e.g. "batch"), or "" where it has none.</param>
public sealed record TensorInfo(string Name, TensorElementType ElementType, long[] Shape, string[] SymbolicDimensions)
{
    /// <summary>Readable form for error messages, e.g. <c>x: Float[batch, 3]</c>.</summary>
    public override string ToString() =>
        $"{Name}: {ElementType}[{string.Join(", ", Shape.Select((d, i) => d >= 0 ? d.ToString() : SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]";
}
