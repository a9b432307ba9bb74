using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Streaming;

/// <summary>
/// Steady-state generation allocates no managed memory: no garbage, so no collector pauses in the
/// engine's render loop. Measured with the runtime's own per-thread allocation counter.
/// </summary>
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
            for (int k = 0; k < m.Codebooks; k++) lm.PreviousTokens[k] = sampler.Sample(lm.Logits(k), 0, frame, k);
        }

        for (int f = 0; f < 20; f++) Step(f); // warm-up: JIT, ORT's first-run allocations
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int f = 20; f < 520; f++) Step(f);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
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

        long before = GC.GetAllocatedBytesForCurrentThread();
        int rendered = 0;
        for (int i = 0; i < 500; i++) rendered += session.Render(left, right);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(500 * 256, rendered);
    }
}
