using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;
using Microsoft.ML.OnnxRuntime;
using Sostenuto.Engine.Onnx;

namespace Sostenuto.Cli;

/// <summary>Which exceptions are the user's input or environment (reported in one line) rather than a bug (reported with a trace).</summary>
static class CliErrors
{
    public static bool IsUserFacing(Exception e) => e is MidiFormatException or WavFormatException or ModelPackageException
        or OnnxRuntimeException or DllNotFoundException or IOException or UnauthorizedAccessException or CliUsageException;

    public static string OneLine(Exception e) => (e is OnnxRuntimeException ort ? OnnxErrors.WithoutCode(ort) : e.Message).ReplaceLineEndings(" ");
}

/// <summary>A bad combination of options, found after parsing.</summary>
sealed class CliUsageException(string message) : Exception(message);
