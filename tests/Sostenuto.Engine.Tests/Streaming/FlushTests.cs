using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Streaming;

/// <summary>A flush (transport stop or jump) releases every note and resets the model without a click.</summary>
[Collection(nameof(FixtureModel))]
public sealed class FlushTests(FixtureModel fixture)
{
    const int Rate = 48000;

    [Fact]
    public void FlushFadesTheOldStreamLinearlyAndThenIsSilent()
    {
        var events = TestPerformances.DemoOpening(Rate, 2.0);
        long flushAt = (long)(1.2 * Rate);
        int length = 2 * Rate;
        int fade = (int)Math.Round(RenderSession.FlushFadeSeconds * Rate);

        // What the old stream plays when every note is released at the flush time, with no fade.
        using var released = new RenderSession(fixture.Package, new RenderSettings(Rate, Seed: 5));
        var releasedEvents = events.Where(e => e.Time < flushAt)
            .Append(new MidiEvent(flushAt, MidiMessage.ControlChange(0, MidiMessage.AllNotesOffController, 0)));
        var (expected, _) = TestPerformances.RenderAtOnce(released, releasedEvents, length);

        using var session = new RenderSession(fixture.Package, new RenderSettings(Rate, Seed: 5));
        foreach (var e in events.Where(e => e.Time < flushAt)) session.AddEvent(e);
        session.Flush(flushAt);
        session.EndInput();
        var left = new float[length];
        var right = new float[length];
        Assert.Equal(length, session.Render(left, right));

        Assert.True(expected.AsSpan(0, (int)flushAt).SequenceEqual(left.AsSpan(0, (int)flushAt)), "audio before the flush changed");
        Assert.Contains(expected.Skip((int)flushAt).Take(fade), x => Math.Abs(x) > 1e-3); // sound was playing into the fade
        for (int i = 0; i < fade; i++)
        {
            float gain = 1f - (i + 0.5f) / fade;
            Assert.Equal(expected[flushAt + i] * gain, left[flushAt + i], 6);
        }
        // The fresh stream has no notes: the fixture answers silence with exact zeros.
        Assert.All(left.Skip((int)flushAt + fade), x => Assert.Equal(0f, x));
    }

    [Fact]
    public void NotesAfterAFlushPlayFromAFreshStream()
    {
        long flushAt = Rate / 2;
        var note = new MidiEvent(flushAt + Rate / 4, MidiMessage.NoteOn(0, 60, 100));
        using var session = new RenderSession(fixture.Package, new RenderSettings(Rate, Seed: 9));
        session.AddEvent(new MidiEvent(0, MidiMessage.NoteOn(0, 64, 100)));
        session.Flush(flushAt);
        session.AddEvent(note);
        session.EndInput();
        var left = new float[2 * Rate];
        Assert.Equal(left.Length, session.Render(left, new float[left.Length]));

        // A fresh session started at the flush time, given the same note, plays the same samples.
        using var fresh = new RenderSession(fixture.Package, new RenderSettings(Rate, Seed: 9));
        fresh.AddEvent(note with { Time = note.Time - flushAt });
        fresh.EndInput();
        var freshLeft = new float[left.Length - flushAt];
        fresh.Render(freshLeft, new float[freshLeft.Length]);
        int fade = (int)Math.Round(RenderSession.FlushFadeSeconds * Rate);
        int from = (int)flushAt + fade;
        Assert.Contains(freshLeft, x => x != 0);
        // The sampler is keyed by frame from the stream's origin, so the new stream draws exactly what
        // a fresh render draws: a bounce started by a flush equals a render started from scratch.
        Assert.True(freshLeft.AsSpan(from - (int)flushAt).SequenceEqual(left.AsSpan(from)), "a flushed stream differs from a fresh one");
    }
}
