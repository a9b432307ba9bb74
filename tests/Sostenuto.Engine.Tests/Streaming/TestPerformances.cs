using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Streaming;

/// <summary>MIDI performances for streaming tests, as host-time events at a given rate.</summary>
static class TestPerformances
{
    /// <summary>The first <paramref name="seconds"/> of the bundled demo: chords, pedal, dynamics.</summary>
    public static MidiEvent[] DemoOpening(int rate, double seconds)
    {
        var midi = MidiFile.Read(RepositoryPaths.DemoMidi);
        return OfflineRender.ToHostEvents(midi.Messages.Where(m => m.Seconds < seconds).Select(m => (m.Seconds, m.Message)), rate);
    }

    /// <summary>Renders everything in one call, after every event is known: the reference a streamed render must equal.</summary>
    public static (float[] Left, float[] Right) RenderAtOnce(RenderSession session, IEnumerable<MidiEvent> events, int length)
    {
        foreach (var e in events) session.AddEvent(e);
        session.EndInput();
        var left = new float[length];
        var right = new float[length];
        Assert.Equal(length, session.Render(left, right));
        return (left, right);
    }
}
