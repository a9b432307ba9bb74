namespace Sostenuto.Engine.Audio;

/// <summary>A WAV file that cannot be read. The message names the source and the byte offset of the problem.</summary>
public sealed class WavFormatException : Exception
{
    public WavFormatException(string sourceName, long offset, string problem)
        : base($"{sourceName}: offset 0x{offset:X}: {problem}")
    {
        SourceName = sourceName;
        Offset = offset;
    }

    public string SourceName { get; }

    /// <summary>Byte offset from the start of the file where the problem was found.</summary>
    public long Offset { get; }
}
