using System.Buffers.Binary;

namespace Sostenuto.Engine.Audio;

/// <summary>
/// Converts between float samples and the little-endian sample encodings of WAV files.
/// Reading divides integers by 2^(bits-1), so every integer maps exactly into [-1, 1).
/// Writing multiplies by 2^(bits-1) - 1, so +1 and -1 are both reachable without clipping, rounds
/// to nearest (halves away from zero), clips to the integer range and maps NaN to 0.
/// There is no dither: the same floats always give the same bytes.
/// An integer sample read and written again may therefore move by one step; use Float32 for
/// lossless round trips.
/// </summary>
internal static class WavSampleCodec
{
    public static int BytesPerSample(WavSampleFormat format) => format switch
    {
        WavSampleFormat.Pcm8 => 1,
        WavSampleFormat.Pcm16 => 2,
        WavSampleFormat.Pcm24 => 3,
        WavSampleFormat.Pcm32 or WavSampleFormat.Float32 => 4,
        WavSampleFormat.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown WAV sample format"),
    };

    public static bool IsFloat(WavSampleFormat format) => format is WavSampleFormat.Float32 or WavSampleFormat.Float64;

    public static void Decode(ReadOnlySpan<byte> source, WavSampleFormat format, Span<float> destination)
    {
        int size = BytesPerSample(format);
        for (int i = 0; i < destination.Length; i++)
        {
            var bytes = source.Slice(i * size, size);
            destination[i] = format switch
            {
                WavSampleFormat.Pcm8 => (bytes[0] - 128) / 128f,
                WavSampleFormat.Pcm16 => BinaryPrimitives.ReadInt16LittleEndian(bytes) / 32768f,
                WavSampleFormat.Pcm24 => (bytes[0] | (bytes[1] << 8) | ((sbyte)bytes[2] << 16)) / 8388608f,
                WavSampleFormat.Pcm32 => (float)(BinaryPrimitives.ReadInt32LittleEndian(bytes) / 2147483648.0),
                WavSampleFormat.Float32 => BinaryPrimitives.ReadSingleLittleEndian(bytes),
                _ => (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes),
            };
        }
    }

    public static void Encode(ReadOnlySpan<float> source, WavSampleFormat format, Span<byte> destination)
    {
        int size = BytesPerSample(format);
        for (int i = 0; i < source.Length; i++)
        {
            var bytes = destination.Slice(i * size, size);
            float sample = source[i];
            switch (format)
            {
                case WavSampleFormat.Pcm8:
                    bytes[0] = (byte)(Quantize(sample, 127, -128, 127) + 128);
                    break;
                case WavSampleFormat.Pcm16:
                    BinaryPrimitives.WriteInt16LittleEndian(bytes, (short)Quantize(sample, 32767, -32768, 32767));
                    break;
                case WavSampleFormat.Pcm24:
                    int value = (int)Quantize(sample, 8388607, -8388608, 8388607);
                    bytes[0] = (byte)value;
                    bytes[1] = (byte)(value >> 8);
                    bytes[2] = (byte)(value >> 16);
                    break;
                case WavSampleFormat.Pcm32:
                    BinaryPrimitives.WriteInt32LittleEndian(bytes, (int)Quantize(sample, int.MaxValue, int.MinValue, int.MaxValue));
                    break;
                case WavSampleFormat.Float32:
                    BinaryPrimitives.WriteSingleLittleEndian(bytes, sample);
                    break;
                default:
                    BinaryPrimitives.WriteDoubleLittleEndian(bytes, sample);
                    break;
            }
        }
    }

    private static long Quantize(float sample, long fullScale, long min, long max)
    {
        if (float.IsNaN(sample)) return 0;
        // Double keeps the product exact enough for 32-bit: float has 24 bits of mantissa, the scale 31.
        double scaled = Math.Round(sample * (double)fullScale, MidpointRounding.AwayFromZero);
        return (long)Math.Clamp(scaled, min, max);
    }
}
