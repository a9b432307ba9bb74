using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Midi;

public class MidiFileTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void MidoWrittenFile_MatchesMidoPlayback(int format)
    {
        using var directory = new TempDirectory();
        string path = directory.File($"format{format}.mid");
        MidoTestFiles.Write(path, format);

        var file = MidiFile.Read(path);

        MidoPlayback.Of(path).AssertMatches(file);
        Assert.Equal(format == 1 ? 384 : 96, file.Division.TicksPerQuarterNote);
        Assert.Contains(file.Messages, m => m.Message == MidiMessage.ControlChange(0, 64, 127));
    }

    [Fact]
    public void MidoWrittenFile_KeepsOverlappingNotesOfOneKeyAsWritten()
    {
        using var directory = new TempDirectory();
        string path = directory.File("overlap.mid");
        MidoTestFiles.Write(path, 1);

        var key72 = MidiFile.Read(path).Messages.Where(m => m.Message.Data1 == 72 && m.Message.Channel == 0 && m.Message.Kind is 0x80 or 0x90)
            .Select(m => m.Message).ToList();

        Assert.Equal([MidiMessage.NoteOn(0, 72, 50), MidiMessage.NoteOn(0, 72, 90), MidiMessage.NoteOff(0, 72, 64), MidiMessage.NoteOff(0, 72)], key72);
    }

    [Fact]
    public void Demo_MatchesMidoPlayback()
    {
        var file = MidiFile.Read(RepositoryPaths.DemoMidi);

        MidoPlayback.Of(RepositoryPaths.DemoMidi).AssertMatches(file);
    }

    [Fact]
    public void Demo_IsTheDescribedPiece()
    {
        var file = MidiFile.Read(RepositoryPaths.DemoMidi);
        var noteOns = file.Messages.Where(m => m.Message.IsNoteOn).ToList();

        Assert.Equal((1, 2, 480), (file.Format, file.TrackCount, file.Division.TicksPerQuarterNote));
        Assert.InRange(file.DurationSeconds, 22, 30);
        Assert.InRange(noteOns.Min(m => m.Message.Data2), 1, 35);     // pp
        Assert.InRange(noteOns.Max(m => m.Message.Data2), 110, 127);  // ff
        Assert.True(file.Messages.Count(m => m.Message is { IsControlChange: true, Data1: MidiMessage.SustainPedalController }) >= 10);
        Assert.True(LongestSilence(file) >= 1.0, "the piece has a pause of silence");
        Assert.True(noteOns.Zip(noteOns.Skip(1)).Any(p => p.Second.Seconds - p.First.Seconds is > 0 and < 0.16), "the piece has a fast passage");
    }

    /// <summary>Longest stretch with no key held down (pedal ignored), between the first and last note.</summary>
    private static double LongestSilence(MidiFile file)
    {
        int held = 0;
        double silentSince = 0, longest = 0;
        foreach (var (seconds, _, message) in file.Messages)
        {
            if (message.IsNoteOn)
            {
                if (held == 0 && seconds > 0) longest = Math.Max(longest, seconds - silentSince);
                held++;
            }
            else if (message.IsNoteOff && --held == 0)
            {
                silentSince = seconds;
            }
        }
        return longest;
    }

    [Fact]
    public void RunningStatus_SurvivesMetaAndSysexEvents()
    {
        byte[] body =
        [
            0x00, 0x90, 60, 100,
            0x00, 0xFF, 0x01, 0x02, (byte)'h', (byte)'i',
            0x10, 62, 101,                     // running status after a meta event
            0x00, 0xF0, 0x02, 0x7E, 0xF7,
            0x10, 64, 0,                       // running status after sysex, velocity 0
            0x00, 0xF7, 0x01, 0xF8,            // escaped real-time byte
            0x10, 0xC3, 5,
            0x00, 6,                           // running status with a one-data-byte message
            .. MidiBytes.EndOfTrack,
        ];

        var file = MidiFile.Parse(MidiBytes.File(0, 96, body), "running.mid");

        Assert.Equal(
            [MidiMessage.NoteOn(0, 60, 100), MidiMessage.NoteOn(0, 62, 101), MidiMessage.NoteOff(0, 64),
             new MidiMessage(0xC3, 5, 0), new MidiMessage(0xC3, 6, 0)],
            file.Messages.Select(m => m.Message));
        Assert.Equal([0L, 16, 32, 48, 48], file.Messages.Select(m => m.Tick));
    }

    [Fact]
    public void Times_FollowTempoChangesFromAnyTrackAndDefaultTo120Bpm()
    {
        byte[] tempoTrack = [0x83, 0x60, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, .. MidiBytes.EndOfTrack]; // 60 bpm from tick 480
        byte[] notes = [0x00, 0x90, 60, 1, 0x83, 0x60, 61, 1, 0x83, 0x60, 62, 1, 0x00, 0xFF, 0x2F, 0x00];

        var file = MidiFile.Parse(MidiBytes.File(1, 480, tempoTrack, notes), "tempo.mid");

        Assert.Equal([0.0, 0.5, 1.5], file.Messages.Select(m => m.Seconds));
        Assert.Equal(1.5, file.DurationSeconds);
    }

    [Fact]
    public void EqualTimes_KeepTrackOrderThenFileOrder()
    {
        byte[] first = [0x00, 0x90, 1, 1, 0x00, 0x90, 2, 1, 0x0A, 0x90, 5, 1, .. MidiBytes.EndOfTrack];
        byte[] second = [0x00, 0x91, 3, 1, 0x00, 0x91, 4, 1, .. MidiBytes.EndOfTrack];

        var file = MidiFile.Parse(MidiBytes.File(1, 96, first, second), "order.mid");

        Assert.Equal([1, 2, 3, 4, 5], file.Messages.Select(m => (int)m.Message.Data1));
    }

    [Fact]
    public void SmpteDivision_IgnoresTempo()
    {
        // 25 frames per second, 40 ticks per frame: one tick is one millisecond.
        byte[] body = [0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, 0x87, 0x68, 0x90, 60, 100, .. MidiBytes.EndOfTrack];

        var file = MidiFile.Parse(MidiBytes.File(0, unchecked((byte)-25) << 8 | 40, body), "smpte.mid");

        Assert.True(file.Division.IsSmpte);
        Assert.Equal((25, 40), (file.Division.SmpteFormat, file.Division.TicksPerFrame));
        Assert.Equal(1.0, file.Messages.Single().Seconds, 12);
    }

    [Fact]
    public void UnknownChunks_AreSkipped_AndMissingEndOfTrackIsAccepted()
    {
        byte[] data =
        [
            .. MidiBytes.Header(0, 1, 96),
            .. MidiBytes.Chunk("XFIH", [1, 2, 3, 4, 5]),
            .. MidiBytes.Track([0x00, 0x90, 60, 100, 0x60, 60, 0]),
            .. "trailing garbage"u8,
        ];

        var file = MidiFile.Parse(data, "sloppy.mid");

        Assert.Equal([MidiMessage.NoteOn(0, 60, 100), MidiMessage.NoteOff(0, 60)], file.Messages.Select(m => m.Message));
        Assert.Equal(0.5, file.DurationSeconds);
    }

    [Fact]
    public void EmptyFile_HasNoMessages()
    {
        var file = MidiFile.Parse(MidiBytes.File(1, 96, [.. MidiBytes.EndOfTrack]), "empty.mid");

        Assert.Empty(file.Messages);
        Assert.Equal(0, file.DurationSeconds);
    }
}
