using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Midi;

public class MidiFileMalformedTests
{
    private static MidiFormatException Rejects(byte[] data, string sourceName = "bad.mid")
    {
        var error = Assert.Throws<MidiFormatException>(() => MidiFile.Parse(data, sourceName));
        Assert.StartsWith($"{sourceName}: offset 0x{error.Offset:X}: ", error.Message);
        Assert.InRange(error.Offset, 0, data.Length);
        return error;
    }

    [Fact]
    public void RunningStatusWithoutStatusByte_NamesSourceAndOffset()
    {
        byte[] data = MidiBytes.File(0, 96, [0x00, 60, 100, .. MidiBytes.EndOfTrack]);

        var error = Rejects(data, "demo.mid");

        Assert.Equal(MidiBytes.FirstTrackBody + 1, error.Offset);
        Assert.Equal("demo.mid: offset 0x17: running status with no previous status byte", error.Message);
    }

    [Fact]
    public void Format2_IsRejectedWithAClearMessage()
    {
        var error = Rejects(MidiBytes.File(2, 96, [.. MidiBytes.EndOfTrack]));

        Assert.Equal(8, error.Offset);
        Assert.Contains("format 2", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x00, 0xFF, 0x01, 0x8F, 0xFF, 0xFF, 0x7F }, "meta event data")]      // 256 MiB text event
    [InlineData(new byte[] { 0x00, 0xF0, 0x8F, 0xFF, 0xFF, 0x7F, 0x01 }, "sysex data")]
    [InlineData(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x00, 0x90, 60, 1 }, "longer than 4 bytes")]
    [InlineData(new byte[] { 0x00, 0x90, 60, 0x90 }, "high bit")]
    [InlineData(new byte[] { 0x00, 0xF3, 0x01 }, "not allowed")]
    [InlineData(new byte[] { 0x00, 0xFF, 0x51, 0x02, 0x07, 0xA1 }, "tempo")]
    [InlineData(new byte[] { 0x00, 0x90, 60 }, "end of data")]
    public void BadEvents_AreRejected(byte[] body, string problem)
    {
        var error = Rejects(MidiBytes.File(0, 96, body));

        Assert.Contains(problem, error.Message);
        Assert.InRange(error.Offset, MidiBytes.FirstTrackBody, MidiBytes.FirstTrackBody + body.Length);
    }

    [Fact]
    public void ChunkLengthBeyondEndOfFile_IsRejected()
    {
        byte[] data = [.. MidiBytes.Header(0, 1, 96), .. "MTrk"u8, 0xFF, 0xFF, 0xFF, 0xFF, .. MidiBytes.EndOfTrack];

        var error = Rejects(data);

        Assert.Equal(18, error.Offset);
        Assert.Contains("4294967295", error.Message);
    }

    [Fact]
    public void HeaderProblems_AreRejected()
    {
        Assert.Equal(0, Rejects([]).Offset);
        Assert.Equal(0, Rejects("RIFF...."u8.ToArray()).Offset);
        Assert.Equal(12, Rejects(MidiBytes.File(1, 0, [.. MidiBytes.EndOfTrack])).Offset);
        Assert.Equal(12, Rejects(MidiBytes.File(1, 0xE700, [.. MidiBytes.EndOfTrack])).Offset); // SMPTE -25 with 0 ticks per frame
        Assert.Equal(14, Rejects(MidiBytes.Header(1, 2, 96)).Offset);                            // declared tracks missing
        Assert.Equal(4, Rejects([.. "MThd"u8, 0, 0, 0, 2, 0, 1]).Offset);
    }

    [Fact]
    public void EveryTruncationOfRealFiles_IsRejectedWithAnOffset()
    {
        using var directory = new TempDirectory();
        string midoFile = directory.File("format1.mid");
        MidoTestFiles.Write(midoFile, 1);

        foreach (var data in new[] { File.ReadAllBytes(midoFile), File.ReadAllBytes(RepositoryPaths.DemoMidi) })
        {
            for (int length = 0; length < data.Length; length++)
            {
                Rejects(data[..length]);
            }
            MidiFile.Parse(data, "whole.mid");
        }
    }

    [Fact]
    public void RandomGarbageAndMutations_EitherParseOrThrowTheFormatException()
    {
        var random = new Random(1234);
        var demo = File.ReadAllBytes(RepositoryPaths.DemoMidi);
        for (int i = 0; i < 2000; i++)
        {
            byte[] data;
            if (i % 4 == 0)
            {
                data = new byte[random.Next(0, 200)];
                random.NextBytes(data);
                if (data.Length >= 4 && i % 8 == 0) "MThd"u8.CopyTo(data);
            }
            else
            {
                data = (byte[])demo.Clone();
                for (int flips = random.Next(1, 6); flips > 0; flips--)
                    data[random.Next(data.Length)] = (byte)random.Next(256);
            }

            try
            {
                MidiFile.Parse(data, "fuzz.mid");
            }
            catch (MidiFormatException error)
            {
                Assert.InRange(error.Offset, 0, data.Length);
            }
        }
    }
}
