using Sostenuto.Engine.Model;
using Sostenuto.Engine.Streaming;

namespace Sostenuto.Engine.Tests.Streaming;

public sealed class TokenSamplerTests
{
    /// <summary>A draw where one token keeps all the probability is certain; a spread one is not (the reuse rule of docs/idle.md).</summary>
    [Fact]
    public void ADrawIsCertainOnlyWhenOneTokenKeepsAllTheProbability()
    {
        var sampler = new TokenSampler(4, new SamplingSettings(0.1f, 0, 1f), 1);
        Assert.Equal(2, sampler.Sample(new float[] { -50, -40, 0, -30 }, 0, 0));
        Assert.True(sampler.LastDrawCertain);
        sampler.Sample(new float[] { 0, 0, -1, -30 }, 0, 0);
        Assert.False(sampler.LastDrawCertain);
        sampler.Settings = new SamplingSettings(1f, 1, 1f); // top-k 1 keeps one
        sampler.Sample(new float[] { 0, 0.5f, -1, -3 }, 0, 0);
        Assert.True(sampler.LastDrawCertain);
    }

    static float[] Logits(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 4)).ToArray();
    }

    [Fact]
    public void TheSameKeyDrawsTheSameTokenWhateverWasDrawnBefore()
    {
        var logits = Logits(256, 1);
        var a = new TokenSampler(256, SamplingSettings.Default, 42);
        var b = new TokenSampler(256, SamplingSettings.Default, 42);
        for (int f = 0; f < 50; f++) a.Sample(logits, f, 0); // history must not matter
        Assert.Equal(a.Sample(logits, 77, 2), b.Sample(logits, 77, 2));
    }

    [Fact]
    public void DifferentSeedsFramesAndCodebooksDrawDifferently()
    {
        var logits = new float[256]; // uniform: every draw is a fresh random token
        var s = new TokenSampler(256, SamplingSettings.Default, 1);
        var t = new TokenSampler(256, SamplingSettings.Default, 2);
        var bySeed = Enumerable.Range(0, 64).Count(f => s.Sample(logits, f, 0) != t.Sample(logits, f, 0));
        var byCodebook = Enumerable.Range(0, 64).Count(f => s.Sample(logits, f, 0) != s.Sample(logits, f, 1));
        Assert.True(bySeed > 55 && byCodebook > 55, $"{bySeed}, {byCodebook}");
    }

    [Fact]
    public void DrawsFollowTheSoftmaxDistribution()
    {
        var logits = new[] { 0f, MathF.Log(3f) }; // p = 0.25, 0.75
        var s = new TokenSampler(2, SamplingSettings.Default, 9);
        int ones = Enumerable.Range(0, 20000).Count(f => s.Sample(logits, f, 0) == 1);
        Assert.InRange(ones / 20000.0, 0.74, 0.76);
    }

    [Fact]
    public void TopKKeepsOnlyTheKLikeliestTokens()
    {
        var logits = Logits(256, 3);
        var top = logits.Select((l, i) => (l, i)).OrderByDescending(x => x.l).Take(5).Select(x => x.i).ToHashSet();
        var s = new TokenSampler(256, new SamplingSettings(2f, 5, 1f), 4);
        for (int f = 0; f < 2000; f++) Assert.Contains(s.Sample(logits, f, 0), top);
    }

    [Fact]
    public void TopPKeepsTheSmallestNucleusReachingP()
    {
        var logits = new[] { MathF.Log(0.5f), MathF.Log(0.3f), MathF.Log(0.15f), MathF.Log(0.05f) };
        var s = new TokenSampler(4, new SamplingSettings(1f, 0, 0.8f), 5);
        var drawn = Enumerable.Range(0, 5000).Select(f => s.Sample(logits, f, 0)).ToHashSet();
        Assert.Equal(new HashSet<int> { 0, 1 }, drawn);
    }

    [Fact]
    public void LowTemperatureIsNearlyArgmax()
    {
        var logits = Logits(256, 6);
        int argmax = Array.IndexOf(logits, logits.Max());
        var s = new TokenSampler(256, new SamplingSettings(0.001f, 0, 1f), 7);
        Assert.All(Enumerable.Range(0, 200), f => Assert.Equal(argmax, s.Sample(logits, f, 0)));
    }

    [Fact]
    public void BrokenLogitsDoNotCrashTheStream()
    {
        var s = new TokenSampler(4, SamplingSettings.Default, 1);
        Assert.Equal(0, s.Sample([float.NaN, float.NaN, float.NaN, float.NaN], 0, 0));
        Assert.Equal(0, s.Sample([float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity], 0, 0));
    }
}
