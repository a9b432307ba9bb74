using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// e^x for the token sampler's probabilities, eight at a time, on x in [<see cref="Lowest"/>, 0]:
/// Cody-Waite range reduction to r in [-ln2/2, ln2/2], Cephes' degree-7 polynomial for e^r, and
/// scaling by 2^n through the exponent bits (in two steps below 2^-126, so the denormal results
/// are rounded once, as a correctly rounded exp would). Within 2 ulp of <see cref="MathF.Exp"/>
/// (SamplerExpTests), and the same bits on every machine and in every build: only lane-wise IEEE
/// additions, multiplications and floor, with no fused multiply-add, in a fixed order, and the
/// scalar form <see cref="One"/> does the very same operations for a codebook's last few logits.
/// Why not MathF.Exp: one call per logit was most of the engine's own per-frame work (issue #20:
/// 33 codebooks x 512, of which about 290 above the underflow, for the default piano).
/// </summary>
public static class SamplerExp
{
    /// <summary>Below this the sampler does not call exp (e^-110 underflows single precision).</summary>
    public const float Lowest = -110f;

    const float Log2E = 1.44269504088896341f;
    const float Ln2Hi = 0.693359375f;       // exact in 9 bits: n * Ln2Hi is exact for |n| < 2^15
    const float Ln2Lo = -2.12194440e-4f;
    const float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f,
                P3 = 4.1665795894e-2f, P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;
    const int DenormalShift = 64;           // results below 2^-126 are made as 2^(n+64) * y * 2^-64
    const float DenormalScale = 5.42101086242752217e-20f; // 2^-64, exact

    /// <summary>e^x for 8 lanes with every x in [Lowest, 0]; other lanes give unspecified values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Of(Vector256<float> x)
    {
        var n = Vector256.Floor(x * Vector256.Create(Log2E) + Vector256.Create(0.5f));
        var r = x - n * Vector256.Create(Ln2Hi) - n * Vector256.Create(Ln2Lo);
        var r2 = r * r;
        var y = ((((Vector256.Create(P0) * r + Vector256.Create(P1)) * r + Vector256.Create(P2)) * r + Vector256.Create(P3)) * r
                 + Vector256.Create(P4)) * r + Vector256.Create(P5);
        y = y * r2 + r + Vector256<float>.One;
        var k = Vector256.ConvertToInt32(n);
        var small = Vector256.LessThan(k, Vector256.Create(-126));
        var shifted = Vector256.ConditionalSelect(small, k + Vector256.Create(DenormalShift), k);
        var scale = Vector256.ShiftLeft(shifted + Vector256.Create(127), 23).AsSingle();
        var after = Vector256.ConditionalSelect(small.AsSingle(), Vector256.Create(DenormalScale), Vector256<float>.One);
        return y * scale * after;
    }

    /// <summary>The same computation for one x in [Lowest, 0].</summary>
    public static float One(float x)
    {
        float n = MathF.Floor(x * Log2E + 0.5f);
        float r = x - n * Ln2Hi - n * Ln2Lo;
        float r2 = r * r;
        float y = ((((P0 * r + P1) * r + P2) * r + P3) * r + P4) * r + P5;
        y = y * r2 + r + 1f;
        int k = (int)n;
        bool small = k < -126;
        float scale = BitConverter.Int32BitsToSingle(((small ? k + DenormalShift : k) + 127) << 23);
        return y * scale * (small ? DenormalScale : 1f);
    }
}
