using Sostenuto.Engine.Model;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Streaming;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Model;

/// <summary>
/// sostenuto-piano 3 (models/piano3, docs/model-card-piano3.md) through the real engine: a token LM
/// that is really sampled, over a learned decoder that streams with an overlap the engine cross-fades.
/// </summary>
public sealed class Piano3PackageTests
{
    const int Rate = 48000;
    static string Dir => Path.Combine(RepositoryPaths.Root, "models", "piano3");

    [Fact]
    public void DeclaresTenMillisecondFramesAndADecoderThatOverlaps()
    {
        using var package = ModelPackage.Load(Dir);
        var m = package.Manifest;
        Assert.Equal("sostenuto-piano", m.Name);
        Assert.StartsWith("3.", m.Version);
        Assert.False(m.Untrained);
        Assert.True(m.HopLength * 100 <= m.SampleRate, "frames of at most 10 ms");
        Assert.True(m.Decoder.OverlapFrames >= 1, "the engine's cross-fade is exercised");
        Assert.True(m.Decoder.LeftContextFrames >= 1);
    }

    [Fact]
    public void TheSeedChangesTheRenderAndTheSameSeedRepeatsIt()
    {
        // Sampling is not inert: two seeds give two performances, one seed gives the same one again.
        using var package = ModelPackage.Load(Dir);
        var a = Render(package, seed: 1);
        var b = Render(package, seed: 1);
        var c = Render(package, seed: 2);
        Assert.True(a.AsSpan().SequenceEqual(b), "the same seed must render bit-identically");
        double energy = a.Sum(x => (double)x * x);
        double diff = a.Zip(c, (x, y) => (double)(x - y) * (x - y)).Sum();
        Assert.True(energy > 0, "the piano plays the demo");
        Assert.True(diff > 1e-4 * energy, $"seeds 1 and 2 differ by only {10 * Math.Log10(diff / energy):F1} dB");
    }

    static float[] Render(ModelPackage package, ulong seed)
    {
        const double seconds = 2.5;
        using var session = new RenderSession(package, new RenderSettings(Rate, Seed: seed));
        var (left, _) = TestPerformances.RenderAtOnce(session, TestPerformances.DemoOpening(Rate, seconds - 0.5), (int)(seconds * Rate));
        return left;
    }
}
