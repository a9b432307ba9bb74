using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Audio;

public class WavFileMalformedTests
{
    private static WavFormatException Rejects(byte[] data, string sourceName = "bad.wav")
    {
        var error = Assert.Throws<WavFormatException>(() => WavFile.Parse(data, sourceName));
        Assert.StartsWith($"{sourceName}: offset 0x{error.Offset:X}: ", error.Message);
        Assert.InRange(error.Offset, 0, data.Length);
        return error;
    }

    [Fact]
    public void EveryTruncationOfRealFiles_IsRejectedWithAnOffset()
    {
        using var directory = new TempDirectory();
        string soxFile = directory.File("sox.wav");
        ExternalTools.Run("sox", ["-n", "-r", "8000", "-c", "2", "-b", "24", soxFile, "synth", "0.005", "sine", "440"]);
        string ourFile = directory.File("ours.wav");
        WavFile.Write(ourFile, 8000, 1, WavFileTests.TestSignal(1, 41), WavSampleFormat.Float32);

        foreach (var data in new[] { File.ReadAllBytes(soxFile), File.ReadAllBytes(ourFile) })
        {
            for (int length = 0; length < data.Length; length++)
                Rejects(data[..length]);
            WavFile.Parse(data, "whole.wav");
        }
    }

    [Fact]
    public void HugeDeclaredLengths_AreRejectedWhereTheyAreDeclared()
    {
        byte[] hugeData = WavBytes.Riff(WavBytes.Fmt(1, 1, 8000, 16), [.. "data"u8, .. WavBytes.UInt32(0x7FFFFFF0), 0, 0]);
        Assert.Equal(40, Rejects(hugeData).Offset);

        byte[] hugeFmt = WavBytes.Riff([.. "fmt "u8, .. WavBytes.UInt32(0xFFFFFFF0)]);
        Assert.Equal(16, Rejects(hugeFmt).Offset);

        byte[] hugeRiff = [.. "RIFF"u8, .. WavBytes.UInt32(0x7FFFFFFF), .. "WAVE"u8];
        Assert.Equal(4, Rejects(hugeRiff).Offset);
    }

    [Fact]
    public void BadHeadersAndFormats_AreRejected()
    {
        byte[] pcm = [0, 0, 0, 0];
        Assert.Equal(0, Rejects("not a wav file at all"u8.ToArray()).Offset);
        Assert.Equal(8, Rejects([.. "RIFF"u8, .. WavBytes.UInt32(4), .. "AVI "u8]).Offset);
        Assert.Contains("no 'data'", Rejects(WavBytes.Riff(WavBytes.Fmt(1, 1, 8000, 16))).Message);
        Assert.Contains("no 'fmt '", Rejects(WavBytes.Riff(WavBytes.Chunk("data", pcm))).Message);
        Assert.Contains("unsupported", Rejects(WavBytes.Riff(WavBytes.Fmt(2, 1, 8000, 4), WavBytes.Chunk("data", pcm))).Message);
        Assert.Contains("unsupported", Rejects(WavBytes.Riff(WavBytes.Fmt(1, 1, 8000, 12), WavBytes.Chunk("data", pcm))).Message);
        Assert.Contains("zero channels", Rejects(WavBytes.Riff(WavBytes.Fmt(1, 0, 8000, 16), WavBytes.Chunk("data", pcm))).Message);
        Assert.Contains("sample rate", Rejects(WavBytes.Riff(WavBytes.Fmt(1, 1, 0, 16), WavBytes.Chunk("data", pcm))).Message);
        Assert.Contains("'fmt ' chunk has 4 bytes", Rejects(WavBytes.Riff(WavBytes.Chunk("fmt ", pcm), WavBytes.Chunk("data", pcm))).Message);

        byte[] badAlign = WavBytes.Riff(WavBytes.Fmt(1, 2, 8000, 16), WavBytes.Chunk("data", pcm));
        badAlign[32] = 3;
        Assert.Equal(32, Rejects(badAlign).Offset);

        byte[] badGuid = WavBytes.Riff(WavBytes.ExtensibleFmt(1, 1, 8000, 16), WavBytes.Chunk("data", pcm));
        badGuid[20 + 24 + 5] ^= 0xFF;
        Assert.Equal(20 + 24, Rejects(badGuid).Offset);
    }

    [Fact]
    public void RandomGarbageAndMutations_EitherParseOrThrowTheFormatException()
    {
        var random = new Random(4321);
        var valid = WavBytes.Riff(WavBytes.Chunk("LIST", [1, 2, 3]), WavBytes.ExtensibleFmt(1, 2, 8000, 24),
            WavBytes.Chunk("data", new byte[60]));
        for (int i = 0; i < 3000; i++)
        {
            byte[] data;
            if (i % 4 == 0)
            {
                data = new byte[random.Next(0, 120)];
                random.NextBytes(data);
                if (data.Length >= 12 && i % 8 == 0) { "RIFF"u8.CopyTo(data); "WAVE"u8.CopyTo(data.AsSpan(8)); }
            }
            else
            {
                data = (byte[])valid.Clone();
                for (int flips = random.Next(1, 4); flips > 0; flips--)
                    data[random.Next(data.Length)] = (byte)random.Next(256);
            }

            try
            {
                WavFile.Parse(data, "fuzz.wav");
            }
            catch (WavFormatException error)
            {
                Assert.InRange(error.Offset, 0, data.Length);
            }
        }
    }
}
