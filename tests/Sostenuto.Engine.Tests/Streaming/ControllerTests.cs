using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Streaming;

/// <summary>
/// What the session does with the controllers docs/controllers.md defines, heard in the fixture's
/// audio (it answers silence with exact zeros, and a sounding note with sound).
/// </summary>
[Collection(nameof(FixtureModel))]
public sealed class ControllerTests(FixtureModel fixture)
{
    const int Rate = 48000;

    static MidiEvent At(double seconds, MidiMessage message) => new((long)Math.Round(seconds * Rate), message);
    static MidiMessage Cc(int controller, int value) => MidiMessage.ControlChange(0, controller, value);

    float[] Render(IEnumerable<MidiEvent> events, double seconds = 2.0, ulong seed = 3)
    {
        using var session = new RenderSession(fixture.Package, new RenderSettings(Rate, Seed: seed));
        return TestPerformances.RenderAtOnce(session, events, (int)(seconds * Rate)).Left;
    }

    static double Peak(float[] audio, double from, double to) =>
        audio.Skip((int)(from * Rate)).Take((int)((to - from) * Rate)).Select(x => (double)Math.Abs(x)).DefaultIfEmpty(0).Max();

    [Fact]
    public void AllSoundOffFadesOutAtItsTimeExactlyAsAFlushDoes()
    {
        MidiEvent[] playing = [At(0.0, Cc(64, 127)), At(0.1, MidiMessage.NoteOn(0, 60, 100)), At(0.2, MidiMessage.NoteOn(0, 67, 90))];
        var withCc = Render(playing.Append(At(0.5, Cc(MidiMessage.AllSoundOffController, 0))));

        using var flushed = new RenderSession(fixture.Package, new RenderSettings(Rate, Seed: 3));
        foreach (var e in playing) flushed.AddEvent(e);
        flushed.Flush((long)(0.5 * Rate));
        flushed.EndInput();
        var expected = new float[withCc.Length];
        Assert.Equal(expected.Length, flushed.Render(expected, new float[expected.Length]));

        Assert.True(Peak(withCc, 0.45, 0.5) > 1e-3, "the notes sounded until the all-sound-off");
        Assert.True(withCc.AsSpan().SequenceEqual(expected), "all sound off differs from a flush at its time");
        Assert.Equal(0, Peak(withCc, 0.5 + RenderSession.FlushFadeSeconds, 2.0));
    }

    [Fact]
    public void AllSoundOffLeavesThePedalDownForTheNotesThatFollow()
    {
        // Pedal down throughout; after the all-sound-off a short note is played: the pedal holds it.
        MidiEvent[] events =
        [
            At(0.0, Cc(64, 127)), At(0.1, MidiMessage.NoteOn(0, 60, 100)), At(0.4, Cc(MidiMessage.AllSoundOffController, 0)),
            At(0.6, MidiMessage.NoteOn(0, 72, 100)), At(0.7, MidiMessage.NoteOff(0, 72)),
        ];
        var audio = Render(events);
        Assert.True(Peak(audio, 1.2, 1.9) > 1e-3, "the pedal did not hold the note played after all sound off");
    }

    [Fact]
    public void ResetAllControllersLiftsThePedalBeforeAndDuringAStream()
    {
        // Before any note: the pedal the stream would start with is lifted.
        var before = Render([At(0.0, Cc(64, 127)), At(0.05, Cc(MidiMessage.ResetAllControllersController, 0)),
                             At(0.1, MidiMessage.NoteOn(0, 60, 100)), At(0.2, MidiMessage.NoteOff(0, 60))]);
        Assert.True(Peak(before, 0.1, 0.2) > 1e-3);
        Assert.Equal(0, Peak(before, 0.6, 2.0));

        // While a note sounds under the pedal: it is released.
        var during = Render([At(0.0, Cc(64, 127)), At(0.1, MidiMessage.NoteOn(0, 60, 100)), At(0.2, MidiMessage.NoteOff(0, 60)),
                             At(0.8, Cc(MidiMessage.ResetAllControllersController, 0))]);
        Assert.True(Peak(during, 0.6, 0.8) > 1e-3, "the pedal held the note");
        Assert.Equal(0, Peak(during, 1.3, 2.0));
    }
}
