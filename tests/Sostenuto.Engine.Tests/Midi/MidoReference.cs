using System.Text.Json;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Midi;

/// <summary>What mido itself makes of a MIDI file: its merged playback with times in seconds.</summary>
internal sealed record MidoPlayback(int Format, int TrackCount, double Length, IReadOnlyList<(double Seconds, MidiMessage Message)> Messages)
{
    private const string Script = """
        import json, sys, mido
        midi = mido.MidiFile(sys.argv[1])
        now, events = 0.0, []
        for msg in midi:  # merged tracks, msg.time = seconds since the previous message
            now += msg.time
            if not msg.is_meta and msg.type != 'sysex':
                data = msg.bytes() + [0, 0]
                events.append([now, data[0], data[1], data[2]])
        print(json.dumps({'type': midi.type, 'tracks': len(midi.tracks), 'length': midi.length, 'events': events}))
        """;

    public static MidoPlayback Of(string midiPath)
    {
        using var json = JsonDocument.Parse(ExternalTools.RunPython(Script, midiPath));
        var root = json.RootElement;
        var messages = root.GetProperty("events").EnumerateArray().Select(e =>
        {
            var message = new MidiMessage((byte)e[1].GetInt32(), (byte)e[2].GetInt32(), (byte)e[3].GetInt32());
            // mido keeps note-on velocity 0 as written; the reader reports it as note-off.
            if (message.Kind == 0x90 && message.Data2 == 0) message = MidiMessage.NoteOff(message.Channel, message.Data1);
            return (e[0].GetDouble(), message);
        }).ToList();
        return new MidoPlayback(root.GetProperty("type").GetInt32(), root.GetProperty("tracks").GetInt32(),
            root.GetProperty("length").GetDouble(), messages);
    }

    public void AssertMatches(MidiFile file, double tolerance = 1e-9)
    {
        Assert.Equal(Format, file.Format);
        Assert.Equal(TrackCount, file.TrackCount);
        Assert.Equal(Messages.Count, file.Messages.Count);
        for (int i = 0; i < Messages.Count; i++)
        {
            var expected = Messages[i];
            var actual = file.Messages[i];
            Assert.True(expected.Message == actual.Message,
                $"message {i}: expected {expected.Message} at {expected.Seconds}, got {actual.Message} at {actual.Seconds}");
            Assert.True(Math.Abs(expected.Seconds - actual.Seconds) <= tolerance,
                $"message {i} ({actual.Message}): expected {expected.Seconds:R} s, got {actual.Seconds:R} s");
        }
        Assert.True(Math.Abs(Length - file.DurationSeconds) <= tolerance, $"duration: mido {Length:R}, reader {file.DurationSeconds:R}");
    }
}
