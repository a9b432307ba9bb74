using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Streaming;

/// <summary>
/// Live sessions (docs/live-mode.md) render ahead as if no event will come and rewind when one does.
/// What they render after a rewind must be exactly what a session that knew the events all along
/// renders: the sampler's numbers are keyed by (seed, frame, codebook) and every snapshot restores the
/// whole state of a stream.
/// </summary>
[Collection(nameof(FixtureModel))]
public sealed class LiveRenderTests(FixtureModel fixture)
{
    const int Rate = 48000;
    const int Speculation = 9600;

    RenderSession Live() => new(fixture.Package, new RenderSettings(Rate, Seed: 3, SpeculationSamples: Speculation));

    [Fact]
    public void ALiveSessionThatKnowsEveryEventRendersWhatAStudioSessionRenders()
    {
        var events = TestPerformances.DemoOpening(Rate, 3);
        int length = Rate * 3;
        using var studio = new RenderSession(fixture.Package, new RenderSettings(Rate, Seed: 3));
        var expected = TestPerformances.RenderAtOnce(studio, events, length);

        using var live = Live();
        Assert.Equal(0, live.LatencySamples);
        foreach (var e in events) live.AddEvent(e);
        var left = new float[length];
        var right = new float[length];
        for (int at = 0; at < length; at += 256) Assert.Equal(Math.Min(256, length - at), live.Render(left.AsSpan(at, Math.Min(256, length - at)), right.AsSpan(at, Math.Min(256, length - at))));
        Assert.Equal(expected.Left, left);
        Assert.Equal(expected.Right, right);
    }

    /// <summary>
    /// Events arrive just in time (at the clock) while the session has rendered a speculation ahead;
    /// each time, it rewinds to a point between the earliest change and what it rendered (as a reader's
    /// claim would force) and renders on. Everything from each rewind point on is overwritten, so the
    /// final buffer must equal the studio render except in [change, rewind point) windows.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void RewindingAfterLateEventsRendersWhatKnowingThemEarlyRenders(int seed)
    {
        var events = TestPerformances.DemoOpening(Rate, 4);
        int length = Rate * 4;
        using var studio = new RenderSession(fixture.Package, new RenderSettings(Rate, Seed: 3));
        var expected = TestPerformances.RenderAtOnce(studio, events, length);

        using var live = Live();
        var random = new Random(seed);
        var left = new float[length + 2 * Speculation];
        var right = new float[length + 2 * Speculation];
        var stale = new bool[left.Length];
        int next = 0, rewinds = 0;
        for (long clock = 0; clock < length; clock += 128)
        {
            while (next < events.Length && events[next].Time < clock + 128) live.AddEvent(events[next++]);
            live.AdvanceClock(clock + 128);
            if (live.RewindFrom is long from)
            {
                long to = Math.Min(from + random.Next(0, 2400), live.Position);
                for (long t = from; t < to; t++) stale[t] = true;
                live.Rewind(to);
                rewinds++;
            }
            // Render ahead by the speculation (less a block), in uneven pieces.
            while (live.Position < clock + Speculation - 256)
            {
                int n = 1 + random.Next(700);
                int at = (int)live.Position;
                Assert.Equal(n, live.Render(left.AsSpan(at, n), right.AsSpan(at, n)));
                for (int i = at; i < at + n; i++) stale[i] = false;
            }
        }
        Assert.True(rewinds > 10, $"only {rewinds} rewinds");
        int compared = 0;
        for (int t = 0; t < length; t++)
        {
            if (stale[t]) continue;
            compared++;
            if (left[t] != expected.Left[t] || right[t] != expected.Right[t])
                Assert.Fail($"sample {t} differs from the studio render: {left[t]} vs {expected.Left[t]}");
        }
        Assert.True(compared > length / 2);
    }

    /// <summary>
    /// Flushes (a transport stop), all sound off and temperature changes arriving late rewind too: the
    /// faded-out stream, the fresh one after it and the new sampling all come out as if known early.
    /// </summary>
    [Fact]
    public void FlushesAndTemperatureChangesArrivingLateRenderWhatKnowingThemEarlyRenders()
    {
        var notes = TestPerformances.DemoOpening(Rate, 4);
        // (time, what): 0 an event, 1 a flush, 2 a temperature change.
        var inputs = notes.Select(e => (e.Time, Kind: 0, Event: e)).ToList();
        inputs.Add((Rate * 3 / 2 + 17, 1, default));
        inputs.Add((Rate * 5 / 2 + 333, 2, default));
        inputs.Add((Rate * 3 + 1000, 0, new MidiEvent(Rate * 3 + 1000, MidiMessage.ControlChange(0, MidiMessage.AllSoundOffController, 0))));
        inputs = inputs.OrderBy(i => i.Time).ToList();
        int length = Rate * 4;

        void Apply(RenderSession session, (long Time, int Kind, MidiEvent Event) input)
        {
            if (input.Kind == 0) session.AddEvent(input.Event);
            else if (input.Kind == 1) session.Flush(input.Time);
            else session.SetTemperature(input.Time, 0.6f);
        }

        using var studio = new RenderSession(fixture.Package, new RenderSettings(Rate, Seed: 3));
        foreach (var input in inputs) Apply(studio, input);
        studio.EndInput();
        var expected = new float[length];
        Assert.Equal(length, studio.Render(expected, new float[length]));

        using var live = Live();
        var left = new float[length + 2 * Speculation];
        var right = new float[length + 2 * Speculation];
        int next = 0, rewinds = 0;
        for (long clock = 0; clock < length; clock += 256)
        {
            while (next < inputs.Count && inputs[next].Time < clock + 256) Apply(live, inputs[next++]);
            live.AdvanceClock(clock + 256);
            if (live.RewindFrom is long from) { live.Rewind(from); rewinds++; }
            while (live.Position < clock + Speculation)
            {
                int at = (int)live.Position;
                live.Render(left.AsSpan(at, 500), right.AsSpan(at, 500));
            }
        }
        Assert.True(rewinds > 10);
        int firstDifference = Enumerable.Range(0, length).FirstOrDefault(i => left[i] != expected[i], -1);
        Assert.True(firstDifference < 0, $"live render differs from the studio render at sample {firstDifference}");
    }
}
