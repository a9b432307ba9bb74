namespace Sostenuto.Engine.Onnx;

/// <summary>
/// An error reported by ONNX Runtime through a non-null <c>OrtStatus*</c>. The message is
/// ORT's own text (from <c>GetErrorMessage</c>) so it can be searched for upstream, and the
/// code lets callers tell "file missing" from "bad model" from "bad input" without parsing.
/// </summary>
public sealed class OrtException : Exception
{
    public OrtException(OrtErrorCode code, string message)
        : base(message)
    {
        Code = code;
    }

    /// <summary>The <c>OrtErrorCode</c> ORT attached to the failing status.</summary>
    public OrtErrorCode Code { get; }

    public override string ToString() => $"{GetType().FullName} [{Code}]: {Message}{Environment.NewLine}{StackTrace}";
}
