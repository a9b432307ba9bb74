using Sostenuto.Engine.Midi;

namespace Sostenuto.Engine.Tests.Tools;

/// <summary>Writes a format-0 Standard MIDI File at one tempo, for tests that need a MIDI file of their own.</summary>
public static class StandardMidiFileWriter
{
    public static byte[] Format0(IEnumerable<TimedMidiMessage> messages, int ticksPerQuarter, int microsecondsPerQuarter)
    {
        var track = new List<byte>();
        track.AddRange([0x00, 0xFF, 0x51, 0x03, (byte)(microsecondsPerQuarter >> 16), (byte)(microsecondsPerQuarter >> 8), (byte)microsecondsPerQuarter]);
        double ticksPerSecond = ticksPerQuarter * 1e6 / microsecondsPerQuarter;
        long previous = 0;
        foreach (var m in messages)
        {
            long tick = (long)Math.Round(m.Seconds * ticksPerSecond);
            VarLen(track, tick - previous);
            previous = tick;
            track.AddRange([m.Message.Status, m.Message.Data1, m.Message.Data2]);
        }
        track.AddRange([0x00, 0xFF, 0x2F, 0x00]);

        var file = new List<byte>();
        file.AddRange("MThd"u8.ToArray());
        file.AddRange([0, 0, 0, 6, 0, 0, 0, 1, (byte)(ticksPerQuarter >> 8), (byte)ticksPerQuarter]);
        file.AddRange("MTrk"u8.ToArray());
        file.AddRange([(byte)(track.Count >> 24), (byte)(track.Count >> 16), (byte)(track.Count >> 8), (byte)track.Count]);
        file.AddRange(track);
        return file.ToArray();
    }

    static void VarLen(List<byte> output, long value)
    {
        var bytes = new Stack<byte>();
        bytes.Push((byte)(value & 0x7F));
        while ((value >>= 7) > 0) bytes.Push((byte)(0x80 | (value & 0x7F)));
        output.AddRange(bytes);
    }
}
