using System.Buffers.Binary;

namespace Sostenuto.Engine.Audio;

/// <summary>
/// The bytes before the sample data of a WAV file written by <see cref="WavWriter"/>.
/// Integer formats use plain WAVE_FORMAT_PCM (1) with a 16-byte fmt chunk, which every reader
/// accepts for any bit depth and channel count. Float formats use WAVE_FORMAT_IEEE_FLOAT (3)
/// with the 18-byte fmt chunk and the fact chunk the specification requires for non-PCM data.
/// </summary>
internal static class WavHeader
{
    private const ushort PcmFormatTag = 1;
    private const ushort IeeeFloatFormatTag = 3;

    public static int Size(WavSampleFormat format) => WavSampleCodec.IsFloat(format) ? 58 : 44;

    /// <summary>Largest sample data that keeps the RIFF size within 32 bits (pad byte included).</summary>
    public static long MaxDataBytes(WavSampleFormat format) => uint.MaxValue - (Size(format) - 8) - 1;

    public static byte[] Build(int sampleRate, int channels, WavSampleFormat format, long frames)
    {
        bool isFloat = WavSampleCodec.IsFloat(format);
        int bytesPerSample = WavSampleCodec.BytesPerSample(format);
        int blockAlign = channels * bytesPerSample;
        long dataBytes = frames * blockAlign;
        long padBytes = dataBytes & 1;

        var header = new byte[Size(format)];
        var writer = new SpanWriter(header);
        writer.Tag("RIFF");
        writer.UInt32((uint)(header.Length - 8 + dataBytes + padBytes));
        writer.Tag("WAVE");
        writer.Tag("fmt ");
        writer.UInt32(isFloat ? 18u : 16u);
        writer.UInt16(isFloat ? IeeeFloatFormatTag : PcmFormatTag);
        writer.UInt16((ushort)channels);
        writer.UInt32((uint)sampleRate);
        writer.UInt32((uint)(sampleRate * (long)blockAlign));
        writer.UInt16((ushort)blockAlign);
        writer.UInt16((ushort)(bytesPerSample * 8));
        if (isFloat)
        {
            writer.UInt16(0); // cbSize: no extension
            writer.Tag("fact");
            writer.UInt32(4);
            writer.UInt32((uint)frames);
        }
        writer.Tag("data");
        writer.UInt32((uint)dataBytes);
        return header;
    }

    private ref struct SpanWriter(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;
        private int _position;

        public void Tag(string fourCc)
        {
            for (int i = 0; i < 4; i++) _buffer[_position++] = (byte)fourCc[i];
        }

        public void UInt16(ushort value)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(_buffer.Slice(_position), value);
            _position += 2;
        }

        public void UInt32(uint value)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer.Slice(_position), value);
            _position += 4;
        }
    }
}
