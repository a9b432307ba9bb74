using System.Buffers.Binary;

namespace Sostenuto.Engine.Midi;

/// <summary>
/// Bounds-checked big-endian reading of a MIDI file region. Every read checks the remaining
/// bytes first, so a malformed file ends in a <see cref="MidiFormatException"/> carrying the
/// absolute file offset, never an out-of-range exception or an allocation sized by the file.
/// </summary>
internal ref struct MidiByteReader
{
    private const int MaxVariableLengthBytes = 4;

    private readonly ReadOnlySpan<byte> _data;
    private readonly string _sourceName;
    private readonly int _end;

    public MidiByteReader(ReadOnlySpan<byte> data, string sourceName, int start, int end)
    {
        _data = data;
        _sourceName = sourceName;
        Position = start;
        _end = end;
    }

    public int Position { get; private set; }
    public int Remaining => _end - Position;
    public bool AtEnd => Position >= _end;

    public byte ReadByte(string what)
    {
        Require(1, what);
        return _data[Position++];
    }

    public byte PeekByte(string what)
    {
        Require(1, what);
        return _data[Position];
    }

    public ushort ReadUInt16(string what)
    {
        Require(2, what);
        var value = BinaryPrimitives.ReadUInt16BigEndian(_data.Slice(Position));
        Position += 2;
        return value;
    }

    public uint ReadUInt32(string what)
    {
        Require(4, what);
        var value = BinaryPrimitives.ReadUInt32BigEndian(_data.Slice(Position));
        Position += 4;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes(long count, string what)
    {
        Require(count, what);
        var bytes = _data.Slice(Position, (int)count);
        Position += (int)count;
        return bytes;
    }

    /// <summary>A variable-length quantity: 7 bits per byte, high bit set on all but the last, at most 4 bytes (28 bits).</summary>
    public int ReadVariableLength(string what)
    {
        int start = Position;
        int value = 0;
        for (int i = 0; i < MaxVariableLengthBytes; i++)
        {
            byte b = ReadByte(what);
            value = (value << 7) | (b & 0x7F);
            if (b < 0x80) return value;
        }
        throw Error(start, $"{what} is a variable-length quantity longer than {MaxVariableLengthBytes} bytes");
    }

    public MidiFormatException Error(long offset, string problem) => new(_sourceName, offset, problem);

    private void Require(long count, string what)
    {
        if (count > Remaining)
        {
            throw Error(Position, Remaining <= 0 && count > 0
                ? $"unexpected end of data reading {what}"
                : $"{what} needs {count} bytes but only {Math.Max(Remaining, 0)} remain");
        }
    }
}
