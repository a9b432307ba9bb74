namespace Sostenuto.Engine.Onnx;

/// <summary>Where the networks run (<c>--device</c> on <c>render</c> and <c>serve</c>).</summary>
public enum ComputeDevice
{
    /// <summary>CUDA when the CUDA build of ONNX Runtime is installed and a GPU answers, else the CPU with one logged line.</summary>
    Auto,
    /// <summary>The CPU only, never trying CUDA.</summary>
    Cpu,
    /// <summary>Asked for CUDA: as <see cref="Auto"/>, but the fallback line is meant to be shown to the user.</summary>
    Cuda,
}

public static class ComputeDevices
{
    /// <summary>Parses <c>cpu</c>, <c>cuda</c> or <c>auto</c> (any case); null otherwise.</summary>
    public static ComputeDevice? Parse(string text) => text.ToLowerInvariant() switch
    {
        "auto" => ComputeDevice.Auto,
        "cpu" => ComputeDevice.Cpu,
        "cuda" => ComputeDevice.Cuda,
        _ => null,
    };
}
