using System.Runtime.Intrinsics;
using Sostenuto.Engine.Streaming;

namespace Sostenuto.Engine.Tests.Streaming;

public sealed class SamplerExpTests
{
    /// <summary>Units in the last place between two positive floats (denormals count in steps of 2^-149).</summary>
    static long Ulps(float a, float b) => Math.Abs((long)BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b));

    /// <summary>Within 2 ulp of MathF.Exp over the whole range the sampler uses, denormal results included.</summary>
    [Fact]
    public void IsWithinTwoUlpOfMathFExpFromTheLowestToZero()
    {
        long worst = 0;
        float at = 0;
        for (float x = SamplerExp.Lowest; x <= 0f; x += 3.7e-5f)
        {
            long u = Ulps(SamplerExp.One(x), MathF.Exp(x));
            if (u > worst) (worst, at) = (u, x);
        }
        Assert.True(worst <= 2, $"{worst} ulp at x = {at}");
        Assert.Equal(1f, SamplerExp.One(0f));
        Assert.Equal(1f, SamplerExp.One(-0f));
    }

    /// <summary>Skipping exp below the bound gives the bits the function gives there: 0.</summary>
    [Fact]
    public void IsZeroJustBelowTheLowest()
    {
        for (float x = SamplerExp.Lowest; x > -130f; x -= 0.01f) Assert.Equal(0f, SamplerExp.One(x));
        Assert.Equal(0f, MathF.Exp(SamplerExp.Lowest)); // and single precision's own exp underflows there too
    }

    /// <summary>The eight-lane form and the scalar form give the same bits (a codebook's tail takes the scalar one).</summary>
    [Fact]
    public void TheVectorAndTheScalarFormAgreeBitForBit()
    {
        var random = new Random(20);
        var lanes = new float[8];
        for (int round = 0; round < 100_000; round++)
        {
            for (int i = 0; i < 8; i++) lanes[i] = round % 7 == 0 ? -(float)random.NextDouble() * 0.01f : SamplerExp.Lowest * (float)random.NextDouble();
            var e = SamplerExp.Of(Vector256.Create(lanes));
            for (int i = 0; i < 8; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(SamplerExp.One(lanes[i])), BitConverter.SingleToInt32Bits(e.GetElement(i)));
        }
    }
}
