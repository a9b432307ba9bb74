using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Sostenuto.Engine.Onnx;

/// <summary>What a <see cref="PreparedRun"/> needs of a tensor whatever its element type.</summary>
public interface IOrtTensor : IDisposable
{
    TensorElementType ElementType { get; }
    ReadOnlySpan<long> ShapeSpan { get; }
    internal OrtValue Value { get; }
    internal bool IsDisposed { get; }
}
