namespace Sostenuto.Engine.Tests.Midi;

/// <summary>Builds MIDI files byte by byte, for cases no well-behaved writer produces.</summary>
internal static class MidiBytes
{
    public static byte[] File(int format, int division, params byte[][] trackBodies) =>
        [.. Header(format, trackBodies.Length, division), .. trackBodies.SelectMany(Track)];

    public static byte[] Header(int format, int trackCount, int division) =>
        [.. "MThd"u8, 0, 0, 0, 6, 0, (byte)format, (byte)(trackCount >> 8), (byte)trackCount, (byte)(division >> 8), (byte)division];

    public static byte[] Track(byte[] body) => Chunk("MTrk", body);

    public static byte[] Chunk(string type, byte[] body) =>
        [.. System.Text.Encoding.ASCII.GetBytes(type), (byte)(body.Length >> 24), (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];

    public static readonly byte[] EndOfTrack = [0x00, 0xFF, 0x2F, 0x00];

    /// <summary>Offset of the first track body in a file built by <see cref="File"/>.</summary>
    public const int FirstTrackBody = 14 + 8;
}
