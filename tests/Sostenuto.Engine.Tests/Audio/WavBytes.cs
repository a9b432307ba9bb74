using System.Buffers.Binary;

namespace Sostenuto.Engine.Tests.Audio;

/// <summary>Builds WAV files chunk by chunk, for layouts sox and our writer never produce.</summary>
internal static class WavBytes
{
    public static byte[] Riff(params byte[][] chunks)
    {
        byte[] body = [.. "WAVE"u8, .. chunks.SelectMany(c => c)];
        return [.. "RIFF"u8, .. UInt32(body.Length), .. body];
    }

    /// <summary>A chunk with its pad byte when the body has odd length.</summary>
    public static byte[] Chunk(string id, byte[] body) =>
        [.. System.Text.Encoding.ASCII.GetBytes(id), .. UInt32(body.Length), .. body, .. (body.Length % 2 == 1 ? new byte[] { 0 } : [])];

    public static byte[] Fmt(ushort tag, int channels, int sampleRate, int bits) =>
        Chunk("fmt ", [.. UInt16(tag), .. UInt16(channels), .. UInt32(sampleRate), .. UInt32(sampleRate * channels * bits / 8),
            .. UInt16(channels * bits / 8), .. UInt16(bits)]);

    public static byte[] ExtensibleFmt(ushort subFormatTag, int channels, int sampleRate, int bits) =>
        Chunk("fmt ", [.. UInt16(0xFFFE), .. UInt16(channels), .. UInt32(sampleRate), .. UInt32(sampleRate * channels * bits / 8),
            .. UInt16(channels * bits / 8), .. UInt16(bits), .. UInt16(22), .. UInt16(bits), .. UInt32(3),
            .. UInt16(subFormatTag), 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71]);

    public static byte[] UInt16(int value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, (ushort)value);
        return bytes;
    }

    public static byte[] UInt32(long value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)value);
        return bytes;
    }
}
