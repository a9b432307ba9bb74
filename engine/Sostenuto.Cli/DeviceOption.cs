using System.CommandLine;
using Sostenuto.Engine.Onnx;

namespace Sostenuto.Cli;

/// <summary><c>--device cpu|cuda|auto</c>, shared by <c>render</c> and <c>serve</c> (docs/gpu.md).</summary>
static class DeviceOption
{
    public static Option<string> Create() => new("--device")
    {
        Description = "where the networks run: cpu, cuda (falls back to the CPU with one line if CUDA is unavailable) or auto",
        DefaultValueFactory = _ => "auto",
    };

    public static ComputeDevice Parse(string text) =>
        ComputeDevices.Parse(text) ?? throw new CliUsageException($"--device {text}: use cpu, cuda or auto");
}
