using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Serving;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Serving;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Streaming;

/// <summary>
/// Steady-state generation allocates no managed memory: no garbage, so no collector pauses in the
/// engine's render loop. Measured with the runtime's own per-thread allocation counter.
/// </summary>
/// <summary>
/// Measures managed allocation of a piece of work on this thread, in up to three rounds, stopping at
/// the first round that allocates nothing. Steady state means some round is clean: the runtime may
/// still finish one-off work (a type load, a tier-up) inside the first round while the rest of the
/// test suite keeps the JIT busy, but code that allocates per call allocates in every round.
/// </summary>
static class SteadyState
{
    public static List<long> MeasureRounds(Action work)
    {
        var rounds = new List<long>(3);
        for (int round = 0; round < 3; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            work();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            rounds.Add(allocated);
            if (allocated == 0) break;
        }
        return rounds;
    }
}

[Collection(nameof(FixtureModel))]
public sealed class AllocationTests(FixtureModel fixture)
{
    [Fact]
    public void AnLmStepWithSamplingAllocatesNothing()
    {
        var m = fixture.Package.Manifest;
        using var lm = new LmStepper(fixture.Package);
        var sampler = new TokenSampler(m.CodebookSize, new(0.9f, 50, 0.95f), seed: 1);
        lm.Conditioning.Fill(0.5f); // notes sounding: the fixture's logits are spread, so sampling does real work

        void Step(long frame)
        {
            lm.Step();
            for (int k = 0; k < m.Codebooks; k++) lm.PreviousTokens[k] = sampler.Sample(lm.Logits(k), frame, k);
        }

        long frame = 0;
        for (; frame < 200; frame++) Step(frame); // warm-up: JIT, ORT's first-run allocations
        var rounds = SteadyState.MeasureRounds(() => { for (int i = 0; i < 500; i++) Step(frame++); });
        Assert.True(rounds.Contains(0), $"every round of 500 steps allocated: {string.Join(", ", rounds)} bytes");
    }

    [Fact]
    public void RenderingInHostBlocksAllocatesNothing()
    {
        const int rate = 48000;
        using var session = new RenderSession(fixture.Package, new RenderSettings(rate, Seed: 1));
        // Events are queued up front (queueing may grow a buffer); the measured loop only renders.
        for (int i = 0; i < 40; i++)
        {
            session.AddEvent(new MidiEvent(i * 4800L, MidiMessage.NoteOn(0, 48 + i % 24, 90)));
            session.AddEvent(new MidiEvent(i * 4800L + 3000, MidiMessage.NoteOff(0, 48 + i % 24)));
        }
        session.EndInput();
        var left = new float[256];
        var right = new float[256];
        for (int i = 0; i < 100; i++) session.Render(left, right); // warm-up past the first chunks

        int rendered = 0;
        var rounds = SteadyState.MeasureRounds(() => { for (int i = 0; i < 200; i++) rendered += session.Render(left, right); });
        Assert.True(rounds.Contains(0), $"every round of 200 blocks allocated: {string.Join(", ", rounds)} bytes");
        Assert.Equal(200 * 256 * rounds.Count, rendered);
    }

    /// <summary>
    /// Live mode's steady state: a reader takes 128-frame blocks from the real ring, notes arrive after
    /// their audio was rendered ahead, the writer rewinds, regenerates from a snapshot and splices.
    /// None of it allocates (a new stream after silence does, and is built ahead; there is none here).
    /// </summary>
    [Fact]
    public void LivePlayingWithRewindsAndSplicesAllocatesNothing()
    {
        const int rate = 48000, block = 128;
        using var testRing = new TestAudioRing(1 << 16);
        using var ring = SharedAudioRing.Open(testRing.Name);
        using var session = new RenderSession(fixture.Package, new RenderSettings(rate, Seed: 1, SpeculationSamples: SpeculativeRingWriter.SpeculationFor(rate, block)));
        var writer = new SpeculativeRingWriter(session, ring, block);
        var left = new float[block];
        var right = new float[block];
        long s = 0;
        int key = 0;
        void Period()
        {
            testRing.Read(s - 2 * block, left, right);
            // A note every 64 blocks (170 ms), released 32 blocks later, at an offset inside the block.
            long n = s / block;
            if (n % 64 == 0) session.AddEvent(new MidiEvent(s + 37, MidiMessage.NoteOn(0, 48 + key++ % 24, 90)));
            if (n % 64 == 32) session.AddEvent(new MidiEvent(s + 91, MidiMessage.NoteOff(0, 48 + (key - 1) % 24)));
            s += block;
            session.AdvanceClock(s);
            writer.Update();
        }
        for (int i = 0; i < 1200; i++) Period(); // warm-up: JIT, ORT's first runs, the event list's capacity
        long splicesBefore = writer.Splices;
        var rounds = SteadyState.MeasureRounds(() => { for (int i = 0; i < 640; i++) Period(); });
        Assert.True(writer.Splices - splicesBefore >= 10 * rounds.Count, $"only {writer.Splices - splicesBefore} splices measured");
        Assert.True(rounds.Contains(0), $"every round of 640 periods allocated: {string.Join(", ", rounds)} bytes");
    }
}
