namespace Sostenuto.Engine.Midi;

/// <summary>
/// A Standard MIDI File that cannot be read. The message names the source and the byte offset
/// of the problem so a user can find it with a hex viewer.
/// </summary>
public sealed class MidiFormatException : Exception
{
    public MidiFormatException(string sourceName, long offset, string problem)
        : base($"{sourceName}: offset 0x{offset:X}: {problem}")
    {
        SourceName = sourceName;
        Offset = offset;
    }

    public string SourceName { get; }

    /// <summary>Byte offset from the start of the file where the problem was found.</summary>
    public long Offset { get; }
}
