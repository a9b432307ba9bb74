namespace Sostenuto.Engine.Onnx;

/// <summary>
/// No usable ONNX Runtime library was found. The message lists every place
/// <see cref="OrtLibrary"/> looked and why each one was rejected, because "DllNotFound" on
/// its own sends people guessing; the list tells them which knob to turn.
/// </summary>
public sealed class OrtLibraryNotFoundException : Exception
{
    public OrtLibraryNotFoundException(string message, IReadOnlyList<string> attempts)
        : base(message)
    {
        Attempts = attempts;
    }

    /// <summary>One line per place tried, in search order: "where: why it was rejected".</summary>
    public IReadOnlyList<string> Attempts { get; }
}
