namespace Sostenuto.Engine.Onnx;

/// <summary>Mirrors <c>GraphOptimizationLevel</c> from onnxruntime_c_api.h (note All is 99, not 3).</summary>
public enum GraphOptimizationLevel
{
    DisableAll = 0,
    Basic = 1,
    Extended = 2,
    All = 99,
}
