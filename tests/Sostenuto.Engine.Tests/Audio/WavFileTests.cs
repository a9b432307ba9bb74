using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Audio;

public class WavFileTests
{
    [Theory]
    [InlineData("unsigned-integer", 8, WavSampleFormat.Pcm8)]
    [InlineData("signed-integer", 16, WavSampleFormat.Pcm16)]
    [InlineData("signed-integer", 24, WavSampleFormat.Pcm24)]   // sox writes WAVE_FORMAT_EXTENSIBLE here
    [InlineData("signed-integer", 32, WavSampleFormat.Pcm32)]
    [InlineData("floating-point", 32, WavSampleFormat.Float32)]
    [InlineData("floating-point", 64, WavSampleFormat.Float64)]
    public void SoxWrittenFile_ReadsAsSoxDecodesIt(string encoding, int bits, WavSampleFormat expectedFormat)
    {
        using var directory = new TempDirectory();
        string path = directory.File("sox.wav");
        ExternalTools.Run("sox", ["-n", "-r", "22050", "-c", "3", "-e", encoding, "-b", bits.ToString(), path,
            "synth", "0.05", "sine", "440", "sine", "660", "square", "100", "gain", "-1"]);

        var audio = WavFile.Read(path);

        Assert.Equal((22050, 3, expectedFormat), (audio.SampleRate, audio.Channels, audio.Format));
        var reference = ExternalTools.SoxSamples(path);
        Assert.Equal(reference.Length, audio.Samples.Length);
        for (int i = 0; i < reference.Length; i++)
            Assert.True((float)reference[i] == audio.Samples[i], $"sample {i}: sox {reference[i]:R}, reader {audio.Samples[i]:R}");
    }

    [Theory]
    [InlineData(WavSampleFormat.Pcm16, "16", "Signed Integer PCM")]
    [InlineData(WavSampleFormat.Pcm24, "24", "Signed Integer PCM")]
    [InlineData(WavSampleFormat.Float32, "32", "Floating Point PCM")]
    [InlineData(WavSampleFormat.Pcm8, "8", "Unsigned Integer PCM")]
    [InlineData(WavSampleFormat.Pcm32, "32", "Signed Integer PCM")]
    [InlineData(WavSampleFormat.Float64, "64", "Floating Point PCM")]
    public void WrittenFile_IsReadBySoxAsWritten(WavSampleFormat format, string bits, string encoding)
    {
        using var directory = new TempDirectory();
        string path = directory.File("ours.wav");
        float[] samples = TestSignal(channels: 2, frames: 999);

        WavFile.Write(path, 48000, 2, samples, format);

        Assert.Equal(("48000", "2", bits, encoding, "999"),
            (ExternalTools.SoxInfo(path, "-r"), ExternalTools.SoxInfo(path, "-c"), ExternalTools.SoxInfo(path, "-b"),
             ExternalTools.SoxInfo(path, "-e"), ExternalTools.SoxInfo(path, "-s")));
        var soxSamples = ExternalTools.SoxSamples(path);
        var ourSamples = WavFile.Read(path).Samples;
        Assert.Equal(samples.Length, soxSamples.Length);
        for (int i = 0; i < samples.Length; i++)
        {
            // sox clips floats to [-1, 1] on its internal 32-bit integer path, so only integer formats compare exactly.
            if (format is not (WavSampleFormat.Float32 or WavSampleFormat.Float64))
                Assert.True((float)soxSamples[i] == ourSamples[i], $"sample {i}: sox {soxSamples[i]:R}, reader {ourSamples[i]:R}");
            Assert.True(Math.Abs(Expected(samples[i], format) - soxSamples[i]) <= 1e-9,
                $"sample {i} ({samples[i]:R}): expected {Expected(samples[i], format):R}, sox read {soxSamples[i]:R}");
        }
    }

    [Theory]
    [InlineData(0.5f, 16384)]            // 16383.5 rounds away from zero
    [InlineData(-0.5f, -16384)]
    [InlineData(1f, 32767)]
    [InlineData(-1f, -32767)]
    [InlineData(1.5f, 32767)]            // clipped
    [InlineData(-1.5f, -32768)]
    [InlineData(float.NaN, 0)]
    [InlineData(1f / 32767, 1)]
    public void Pcm16Quantization_RoundsToNearestAndClips(float sample, short expected)
    {
        using var directory = new TempDirectory();
        string path = directory.File("q.wav");

        WavFile.Write(path, 8000, 1, [sample], WavSampleFormat.Pcm16);

        Assert.Equal(expected, BitConverter.ToInt16(File.ReadAllBytes(path), 44));
    }

    [Fact]
    public void Float32_RoundTripsExactly()
    {
        using var directory = new TempDirectory();
        string path = directory.File("f.wav");
        float[] samples = [.. TestSignal(1, 100), float.NaN, float.PositiveInfinity, -0f, 3.5f, float.Epsilon];

        WavFile.Write(path, 44100, 1, samples, WavSampleFormat.Float32);

        var audio = WavFile.Read(path);
        Assert.Equal(samples.Select(BitConverter.SingleToInt32Bits), audio.Samples.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal("fact"u8.ToArray(), File.ReadAllBytes(path)[38..42]);
    }

    [Fact]
    public void FluidsynthRender_ReadsAsSoxDecodesIt()
    {
        ExternalTools.RequireFile(ExternalTools.SoundFont, "fluid-soundfont-gm");
        using var directory = new TempDirectory();
        string path = directory.File("demo.wav");
        ExternalTools.Run("fluidsynth", ["-ni", "-F", path, "-r", "44100", ExternalTools.SoundFont, RepositoryPaths.DemoMidi]);

        var audio = WavFile.Read(path);

        Assert.Equal((44100, 2), (audio.SampleRate, audio.Channels));
        Assert.InRange(audio.DurationSeconds, 20, 40);
        Assert.True(audio.Samples.Max(Math.Abs) > 0.01f, "the render is not silent");
        var reference = ExternalTools.SoxSamples(path);
        Assert.Equal(reference.Length, audio.Samples.Length);
        Assert.True(reference.Select((r, i) => (float)r == audio.Samples[i]).All(same => same), "samples differ from sox");
    }

    [Fact]
    public void OtherChunks_OddPadding_AndExtensibleFloat_AreHandled()
    {
        float[] values = [0.25f, -0.5f, 1f];
        byte[] floats = values.SelectMany(BitConverter.GetBytes).ToArray();
        byte[] data = WavBytes.Riff(
            WavBytes.Chunk("LIST", [.. "INFOICMT"u8, .. WavBytes.UInt32(3), .. "hi\0"u8, 0]),
            WavBytes.Chunk("junk", [1, 2, 3]),                   // odd size, padded
            WavBytes.ExtensibleFmt(3, 1, 96000, 32),
            WavBytes.Chunk("fact", WavBytes.UInt32(3)),
            WavBytes.Chunk("data", floats),
            WavBytes.Chunk("odd!", [9]));

        var audio = WavFile.Parse(data, "chunks.wav");

        Assert.Equal((96000, 1, WavSampleFormat.Float32), (audio.SampleRate, audio.Channels, audio.Format));
        Assert.Equal(values, audio.Samples);
    }

    [Fact]
    public void Pcm8WithOddDataSize_IsPaddedAndReadable()
    {
        using var directory = new TempDirectory();
        string path = directory.File("odd.wav");

        WavFile.Write(path, 8000, 1, [0f, 1f, -1f], WavSampleFormat.Pcm8);

        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(44 + 3 + 1, bytes.Length);
        Assert.Equal(new byte[] { 128, 255, 1 }, bytes[44..47]);
        Assert.Equal([0f, 127f / 128, -127f / 128], WavFile.Read(path).Samples);
        Assert.Equal("3", ExternalTools.SoxInfo(path, "-s"));
    }

    [Fact]
    public void StreamingUnknownSizes_AreAccepted()
    {
        byte[] data = WavBytes.Riff(WavBytes.Fmt(1, 1, 8000, 16), WavBytes.Chunk("data", [0x00, 0x40, 0x00, 0xC0]));
        WavBytes.UInt32(0xFFFFFFFF).CopyTo(data, 4);
        WavBytes.UInt32(0xFFFFFFFF).CopyTo(data, 40);

        Assert.Equal([0.5f, -0.5f], WavFile.Parse(data, "pipe.wav").Samples);
    }

    /// <summary>A deterministic signal that includes the values where conversion can go wrong.</summary>
    internal static float[] TestSignal(int channels, int frames)
    {
        var samples = new float[channels * frames];
        for (int i = 0; i < samples.Length; i++)
            samples[i] = (float)(1.1 * Math.Sin(i * 0.0137) * Math.Cos(i * 0.0021));
        float[] special = [0f, 1f, -1f, 0.5f, -0.5f, 2f, -2f, 1f / 32767, 0.5f / 32767, -0.5f / 32767, 1e-9f];
        special.CopyTo(samples, 0);
        return samples;
    }

    /// <summary>The value sox should decode: our quantization, divided back by 2^(bits-1).</summary>
    private static double Expected(float sample, WavSampleFormat format)
    {
        double Quantized(long fullScale, long min, long max) =>
            Math.Clamp(Math.Round(sample * (double)fullScale, MidpointRounding.AwayFromZero), min, max) / (fullScale + 1.0);

        return format switch
        {
            WavSampleFormat.Pcm8 => Quantized(127, -128, 127),
            WavSampleFormat.Pcm16 => Quantized(32767, -32768, 32767),
            WavSampleFormat.Pcm24 => Quantized(8388607, -8388608, 8388607),
            WavSampleFormat.Pcm32 => Quantized(int.MaxValue, int.MinValue, int.MaxValue),
            _ => Math.Clamp(sample, -1.0, 1.0),
        };
    }
}
