namespace Sostenuto.Engine.Midi;

/// <summary>One MTrk chunk reduced to what playback needs: channel messages, tempo changes and its length in ticks.</summary>
internal sealed class MidiTrack
{
    public List<(long Tick, MidiMessage Message)> Messages { get; } = new();
    public List<(long Tick, int MicrosecondsPerQuarter)> TempoChanges { get; } = new();
    public long EndTick { get; set; }
}

/// <summary>Decodes the events of one MTrk chunk.</summary>
internal static class MidiTrackParser
{
    private const byte MetaStatus = 0xFF;
    private const byte SysexStatus = 0xF0;
    private const byte SysexEscapeStatus = 0xF7;
    private const byte EndOfTrackMetaType = 0x2F;
    private const byte TempoMetaType = 0x51;

    /// <summary>Parses events until end-of-track or the end of the chunk; a chunk without end-of-track is accepted because sloppy writers omit it.</summary>
    public static MidiTrack Parse(ref MidiByteReader reader)
    {
        var track = new MidiTrack();
        long tick = 0;
        // Running status survives meta and sysex events. The standard says they cancel it, but
        // no conforming writer relies on that, and some writers keep using it across meta events.
        byte runningStatus = 0;
        while (!reader.AtEnd)
        {
            tick += reader.ReadVariableLength("event delta time");
            int statusOffset = reader.Position;
            byte status = reader.PeekByte("event status");
            if (status < 0x80)
            {
                if (runningStatus == 0)
                    throw reader.Error(statusOffset, "running status with no previous status byte");
                status = runningStatus;
            }
            else
            {
                reader.ReadByte("event status");
            }

            if (status < 0xF0)
            {
                track.Messages.Add((tick, ReadChannelMessage(ref reader, status)));
                runningStatus = status;
            }
            else if (status == MetaStatus)
            {
                byte type = reader.ReadByte("meta event type");
                int length = reader.ReadVariableLength("meta event length");
                int dataOffset = reader.Position;
                var data = reader.ReadBytes(length, "meta event data");
                if (type == EndOfTrackMetaType) break;
                if (type == TempoMetaType)
                {
                    if (length != 3)
                        throw reader.Error(dataOffset, $"tempo meta event has {length} data bytes, expected 3");
                    track.TempoChanges.Add((tick, (data[0] << 16) | (data[1] << 8) | data[2]));
                }
            }
            else if (status is SysexStatus or SysexEscapeStatus)
            {
                int length = reader.ReadVariableLength("sysex length");
                reader.ReadBytes(length, "sysex data");
            }
            else
            {
                throw reader.Error(statusOffset, $"status byte 0x{status:X2} is not allowed in a MIDI file");
            }
        }
        track.EndTick = tick;
        return track;
    }

    private static MidiMessage ReadChannelMessage(ref MidiByteReader reader, byte status)
    {
        int kind = status & 0xF0;
        byte data1 = ReadDataByte(ref reader);
        // Program change and channel pressure carry one data byte, all others two.
        byte data2 = kind is 0xC0 or 0xD0 ? (byte)0 : ReadDataByte(ref reader);
        return kind == 0x90 && data2 == 0
            ? MidiMessage.NoteOff(status & 0x0F, data1)
            : new MidiMessage(status, data1, data2);
    }

    private static byte ReadDataByte(ref MidiByteReader reader)
    {
        int offset = reader.Position;
        byte value = reader.ReadByte("channel message data");
        if (value >= 0x80)
            throw reader.Error(offset, $"channel message data byte 0x{value:X2} has its high bit set");
        return value;
    }
}
