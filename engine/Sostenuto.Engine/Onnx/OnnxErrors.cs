using Microsoft.ML.OnnxRuntime;

namespace Sostenuto.Engine.Onnx;

/// <summary>ONNX Runtime's errors in the engine's one-line style.</summary>
public static class OnnxErrors
{
    const string CodePrefix = "[ErrorCode:";

    /// <summary>
    /// ORT's message without the "[ErrorCode:NoSuchFile] " prefix the .NET package adds (see
    /// <see cref="Code"/>): users read the sentence.
    /// </summary>
    public static string WithoutCode(OnnxRuntimeException e)
    {
        string message = e.Message;
        if (message.StartsWith(CodePrefix, StringComparison.Ordinal))
        {
            int end = message.IndexOf(']');
            if (end > 0) message = message[(end + 1)..].TrimStart();
        }
        return message;
    }

    /// <summary>ORT's error code name (e.g. "NoSuchFile", "InvalidProtobuf"), read from the message's prefix; "" if it has none.</summary>
    public static string Code(OnnxRuntimeException e)
    {
        string message = e.Message;
        if (!message.StartsWith(CodePrefix, StringComparison.Ordinal)) return "";
        int end = message.IndexOf(']');
        return end > CodePrefix.Length ? message[CodePrefix.Length..end] : "";
    }
}
