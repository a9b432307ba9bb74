using Sostenuto.Engine.Streaming;

namespace Sostenuto.Engine.Tests.Streaming;

public sealed class FrameClockTests
{
    [Theory]
    [InlineData(44100)]
    [InlineData(48000)]
    [InlineData(88200)]
    [InlineData(96000)]
    [InlineData(44000)]
    public void FrameEndIsTheFirstHostSampleOfTheNextFrame(int hostRate)
    {
        var clock = new FrameClock(hostRate, 24000, 480);
        for (long f = 0; f < 300; f++)
        {
            long end = clock.FrameEnd(f);
            Assert.Equal(f + 1, clock.FrameOf(end));
            Assert.Equal(f, clock.FrameOf(end - 1));
        }
    }

    [Fact]
    public void OffsetsLieInTheFrameAndGrowWithTime()
    {
        var clock = new FrameClock(44100, 24000, 480);
        Assert.Equal(0f, clock.OffsetInFrame(0));
        Assert.Equal(0.5f, clock.OffsetInFrame(441), 6);
        for (long t = 0; t < 5000; t++) Assert.InRange(clock.OffsetInFrame(t), 0f, 0.99999f);
    }
}
