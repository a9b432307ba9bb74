using System.Buffers.Binary;

namespace Sostenuto.Engine.Audio;

/// <summary>
/// Reads and writes RIFF WAVE files.
/// Reading accepts PCM 8/16/24/32-bit integer and 32/64-bit float, plain or WAVE_FORMAT_EXTENSIBLE,
/// skips chunks it does not need (LIST, fact, ...) including their pad bytes, and converts to
/// float by dividing integers by 2^(bits-1).
/// Writing scales by 2^(bits-1) - 1, rounds to nearest (halves away from zero) and clips, without
/// dither, so output is identical bit for bit on every run.
/// </summary>
public static class WavFile
{
    private const ushort PcmFormatTag = 1;
    private const ushort IeeeFloatFormatTag = 3;
    private const ushort ExtensibleFormatTag = 0xFFFE;
    private const int ExtensibleFmtSize = 40;
    private const uint UnknownSize = 0xFFFFFFFF;

    // Bytes 2..15 of every KSDATAFORMAT_SUBTYPE GUID; bytes 0..1 are the format tag.
    private static ReadOnlySpan<byte> SubFormatGuidTail =>
        [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <exception cref="WavFormatException">The file is not a readable WAV file.</exception>
    public static WavAudio Read(string path) => Parse(File.ReadAllBytes(path), Path.GetFileName(path));

    /// <param name="sourceName">Names the data in error messages, usually the file name.</param>
    /// <exception cref="WavFormatException">The data is not a readable WAV file.</exception>
    public static WavAudio Parse(ReadOnlySpan<byte> data, string sourceName)
    {
        WavFormatException Error(long offset, string problem) => new(sourceName, offset, problem);

        if (data.Length < 12)
            throw Error(data.Length, "file ends inside the RIFF header");
        if (!data[..4].SequenceEqual("RIFF"u8))
            throw Error(0, "not a WAV file (no 'RIFF' header)");
        if (!data[8..12].SequenceEqual("WAVE"u8))
            throw Error(8, "RIFF file is not of type 'WAVE'");

        uint riffSize = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        long riffEnd = 8L + riffSize;
        // Writers that stream to a pipe leave 0 or 0xFFFFFFFF here: take the file as it is.
        if (riffSize is 0 or UnknownSize) riffEnd = data.Length;
        else if (riffEnd > data.Length)
            throw Error(4, $"RIFF chunk declares {riffSize} bytes but the file has only {data.Length - 8}");

        int fmtOffset = -1, fmtSize = 0, dataOffset = -1;
        long dataSize = 0;
        long position = 12;
        while (position < riffEnd)
        {
            if (riffEnd - position < 8)
                throw Error(position, "file ends inside a chunk header");
            var id = data.Slice((int)position, 4);
            long size = BinaryPrimitives.ReadUInt32LittleEndian(data[((int)position + 4)..]);
            long bodyOffset = position + 8;
            if (id.SequenceEqual("data"u8) && size == UnknownSize) size = riffEnd - bodyOffset;
            if (size > riffEnd - bodyOffset)
                throw Error(position + 4, $"'{FourCc(id)}' chunk declares {size} bytes but only {riffEnd - bodyOffset} remain");

            if (id.SequenceEqual("fmt "u8) && fmtOffset < 0)
            {
                fmtOffset = (int)bodyOffset;
                fmtSize = (int)size;
            }
            else if (id.SequenceEqual("data"u8) && dataOffset < 0)
            {
                dataOffset = (int)bodyOffset;
                dataSize = size;
            }
            // Chunks have even length; a missing pad byte after the last chunk is tolerated.
            position = bodyOffset + size + (size & 1);
        }
        if (fmtOffset < 0) throw Error(12, "no 'fmt ' chunk");
        if (dataOffset < 0) throw Error(12, "no 'data' chunk");

        var (format, channels, sampleRate, blockAlign) = ParseFmt(data.Slice(fmtOffset, fmtSize), fmtOffset, Error);

        // A trailing partial frame (a truncated recording) is dropped rather than rejected.
        long frames = dataSize / blockAlign;
        var samples = new float[frames * channels];
        WavSampleCodec.Decode(data.Slice(dataOffset, (int)(frames * blockAlign)), format, samples);
        return new WavAudio(sampleRate, channels, format, samples);
    }

    /// <summary>Writes a whole file at once (atomically, through <see cref="WavWriter"/>).</summary>
    public static void Write(string path, int sampleRate, int channels, ReadOnlySpan<float> interleaved, WavSampleFormat format)
    {
        using var writer = WavWriter.Create(path, sampleRate, channels, format);
        writer.Write(interleaved);
        writer.Complete();
    }

    private static (WavSampleFormat Format, int Channels, int SampleRate, int BlockAlign) ParseFmt(
        ReadOnlySpan<byte> fmt, int offset, Func<long, string, WavFormatException> error)
    {
        if (fmt.Length < 16)
            throw error(offset, $"'fmt ' chunk has {fmt.Length} bytes, expected at least 16");
        ushort formatTag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        int channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
        uint sampleRate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]);
        int blockAlign = BinaryPrimitives.ReadUInt16LittleEndian(fmt[12..]);
        int bitsPerSample = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);

        if (formatTag == ExtensibleFormatTag)
        {
            if (fmt.Length < ExtensibleFmtSize)
                throw error(offset, $"WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk has {fmt.Length} bytes, expected {ExtensibleFmtSize}");
            var subFormat = fmt.Slice(24, 16);
            if (!subFormat[2..].SequenceEqual(SubFormatGuidTail))
                throw error(offset + 24, "WAVE_FORMAT_EXTENSIBLE sub-format is not a PCM or IEEE float GUID");
            // The container size (bitsPerSample) decides the layout; valid bits only say how many are used.
            formatTag = BinaryPrimitives.ReadUInt16LittleEndian(subFormat);
        }

        WavSampleFormat? format = (formatTag, bitsPerSample) switch
        {
            (PcmFormatTag, 8) => WavSampleFormat.Pcm8,
            (PcmFormatTag, 16) => WavSampleFormat.Pcm16,
            (PcmFormatTag, 24) => WavSampleFormat.Pcm24,
            (PcmFormatTag, 32) => WavSampleFormat.Pcm32,
            (IeeeFloatFormatTag, 32) => WavSampleFormat.Float32,
            (IeeeFloatFormatTag, 64) => WavSampleFormat.Float64,
            _ => null,
        };
        if (format is null)
            throw error(offset, $"unsupported sample format: format tag 0x{formatTag:X4} with {bitsPerSample} bits per sample");
        if (channels == 0)
            throw error(offset + 2, "zero channels");
        if (sampleRate == 0 || sampleRate > int.MaxValue)
            throw error(offset + 4, $"invalid sample rate {sampleRate}");
        int expectedBlockAlign = channels * WavSampleCodec.BytesPerSample(format.Value);
        if (blockAlign != expectedBlockAlign)
            throw error(offset + 12, $"block align is {blockAlign}, expected {expectedBlockAlign} for {channels} channels of {bitsPerSample} bits");
        return (format.Value, channels, (int)sampleRate, blockAlign);
    }

    private static string FourCc(ReadOnlySpan<byte> id)
    {
        Span<char> chars = stackalloc char[4];
        for (int i = 0; i < 4; i++) chars[i] = id[i] is >= 0x20 and < 0x7F ? (char)id[i] : '?';
        return new string(chars);
    }
}
