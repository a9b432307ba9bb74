using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Streaming;

/// <summary>
/// The key property of the engine: the audio does not depend on how the caller slices time.
/// A simulated host streams the same MIDI in blocks of many sizes, sending each block's events
/// and clock and reading audio one reported latency behind, exactly as the plug-in will; every
/// block must be complete on time and the result must equal a render made in one call.
/// </summary>
[Collection(nameof(FixtureModel))]
public sealed class BlockSizeInvarianceTests(FixtureModel fixture)
{
    const double Seconds = 3.0;

    public static TheoryData<int, int> SizesAndRates()
    {
        var data = new TheoryData<int, int>();
        foreach (int size in new[] { 1, 32, 128, 1000, 4096, 0 /* varying */ }) data.Add(size, 48000);
        foreach (int rate in new[] { 44100, 88200, 96000 }) { data.Add(128, rate); data.Add(0, rate); }
        return data;
    }

    [Theory]
    [MemberData(nameof(SizesAndRates))]
    public void StreamedRenderEqualsOneShotRender(int blockSize, int rate)
    {
        var events = TestPerformances.DemoOpening(rate, Seconds - 0.5);
        int length = (int)(Seconds * rate);
        var settings = new RenderSettings(rate, Seed: 7);

        using var reference = new RenderSession(fixture.Package, settings);
        var (refLeft, refRight) = TestPerformances.RenderAtOnce(reference, events, length);

        using var streamed = new RenderSession(fixture.Package, settings);
        var (left, right) = StreamLikeAHost(streamed, events, length, NextBlock(blockSize), flushAt: null);

        Assert.True(refLeft.AsSpan().SequenceEqual(left), $"left channel differs at sample {FirstDifference(refLeft, left)}");
        Assert.True(refRight.AsSpan().SequenceEqual(right), $"right channel differs at sample {FirstDifference(refRight, right)}");
        Assert.Contains(refLeft, x => x != 0); // the fixture plays something, so equality means something
    }

    [Theory]
    [InlineData(1000, 48000)]
    [InlineData(0, 44100)]
    public void AFlushMidStreamIsAlsoBlockSizeInvariant(int blockSize, int rate)
    {
        var events = TestPerformances.DemoOpening(rate, Seconds - 0.5);
        int length = (int)(Seconds * rate);
        long flushAt = rate * 1; // a transport jump one second in, with notes sounding
        var settings = new RenderSettings(rate, Seed: 3);

        using var oneBlock = new RenderSession(fixture.Package, settings);
        var expected = StreamLikeAHost(oneBlock, events, length, NextBlock(length + 100000), flushAt);
        using var streamed = new RenderSession(fixture.Package, settings);
        var actual = StreamLikeAHost(streamed, events, length, NextBlock(blockSize), flushAt);

        Assert.True(expected.Left.AsSpan().SequenceEqual(actual.Left), $"differs at sample {FirstDifference(expected.Left, actual.Left)}");
    }

    /// <summary>
    /// Plays the role of the plug-in shim: at stream time s it sends the events of [s, s+b) and
    /// advances the clock to s+b, then reads the audio for render times [s−D, s−D+b), D being the
    /// session's latency. Nothing may come back short: that is what the reported latency promises.
    /// </summary>
    static (float[] Left, float[] Right) StreamLikeAHost(RenderSession session, MidiEvent[] events, int length, Func<int> nextBlock, long? flushAt)
    {
        var left = new float[length];
        var right = new float[length];
        long latency = session.LatencySamples;
        int next = 0;
        bool flushed = false;
        for (long s = 0; s - latency < length;)
        {
            int b = nextBlock();
            long blockEnd = s + b;
            while (next < events.Length && events[next].Time < blockEnd)
            {
                if (flushAt is long f && !flushed && events[next].Time >= f) { session.Flush(f); flushed = true; }
                session.AddEvent(events[next++]);
            }
            if (flushAt is long g && !flushed && g < blockEnd) { session.Flush(g); flushed = true; }
            session.AdvanceClock(blockEnd);

            long from = Math.Max(0, s - latency), to = Math.Min(length, blockEnd - latency);
            if (to > from)
            {
                Assert.Equal(from, session.Position);
                int got = session.Render(left.AsSpan((int)from, (int)(to - from)), right.AsSpan((int)from, (int)(to - from)));
                Assert.True(got == to - from, $"block at {s} (size {b}) came back short: {got} of {to - from} samples");
            }
            s = blockEnd;
        }
        return (left, right);
    }

    static Func<int> NextBlock(int size)
    {
        if (size > 0) return () => size;
        var random = new Random(1234);
        return () => random.Next(1, 5000);
    }

    static int FirstDifference(float[] a, float[] b)
    {
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return i;
        return -1;
    }
}
