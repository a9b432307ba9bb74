using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sostenuto.Engine.Audio;

/// <summary>
/// Linear (equal-gain) cross-fades, allocation-free.
/// </summary>
/// <remarks>
/// <para>Over a span of n samples the weight of the later signal at sample i is a = (i + 0.5) / n, and the
/// earlier signal gets 1 − a. Sampling the ramp at sample <i>midpoints</i> rather than at i / n or
/// i / (n − 1) is what makes the fade symmetric: the weights mirror exactly (a[n−1−i] = 1 − a[i]), so
/// fading A into B is the time reverse of fading B into A, no sample is a pure copy of either input, and
/// back-to-back fades of the same length tile the ramp with no repeated or skipped gain step.
/// The consequence: the first sample still carries 0.5/n of the later signal and the last sample
/// 0.5/n of the earlier one; the full 0→1 ramp spans the block's edges, not its first and last sample.</para>
/// <para>The blend is computed as earlier + a·(later − earlier), so where both inputs are equal the
/// output is bit-exactly that value (a constant or a shared signal passes through untouched).</para>
/// <para>Equal-gain (linear) rather than equal-power: the two sides of our fades are usually
/// the same voice before and after a change, i.e. strongly correlated, where linear keeps the level constant.</para>
/// </remarks>
public static class CrossFade
{
    /// <summary>
    /// destination[i] = earlier[i]·(1 − a) + later[i]·a with a = (i + 0.5) / n, n = destination.Length.
    /// All three spans must have the same length. <paramref name="destination"/> may be the very same
    /// memory as either input (each index is read before it is written); a partial, shifted overlap is rejected.
    /// </summary>
    public static void Linear(ReadOnlySpan<float> earlier, ReadOnlySpan<float> later, Span<float> destination)
    {
        int n = destination.Length;
        if (earlier.Length != n || later.Length != n)
            throw new ArgumentException("earlier, later and destination must have the same length.");
        CheckAliasing(earlier, destination, nameof(earlier));
        CheckAliasing(later, destination, nameof(later));
        if (n == 0) return;

        float invN = 1f / n;
        ref float e = ref MemoryMarshal.GetReference(earlier);
        ref float l = ref MemoryMarshal.GetReference(later);
        ref float d = ref MemoryMarshal.GetReference(destination);

        int i = 0;
        int width = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated && n >= width)
        {
            // Lane offsets i + 0.5 are exact in float for any realistic n (< 2^23), so the vector and
            // scalar paths produce the same weight for the same index.
            Span<float> lanes = stackalloc float[width];
            for (int k = 0; k < width; k++) lanes[k] = k + 0.5f;
            var index = new Vector<float>(lanes);
            var step = new Vector<float>(width);
            var scale = new Vector<float>(invN);
            for (; i + width <= n; i += width)
            {
                var ve = LoadVector(ref Unsafe.Add(ref e, i));
                var vl = LoadVector(ref Unsafe.Add(ref l, i));
                var result = ve + index * scale * (vl - ve);
                StoreVector(result, ref Unsafe.Add(ref d, i));
                index += step;
            }
        }
        for (; i < n; i++)
        {
            float a = (i + 0.5f) * invN;
            float ve = Unsafe.Add(ref e, i);
            Unsafe.Add(ref d, i) = ve + a * (Unsafe.Add(ref l, i) - ve);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> LoadVector(ref float source) =>
        Unsafe.ReadUnaligned<Vector<float>>(ref Unsafe.As<float, byte>(ref source));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreVector(Vector<float> value, ref float destination) =>
        Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref destination), value);

    private static void CheckAliasing(ReadOnlySpan<float> input, ReadOnlySpan<float> destination, string name)
    {
        // Element-wise, in-order processing is only safe when index i of the input is index i of the
        // destination; a shifted overlap would read samples already overwritten.
        if (input.Overlaps(destination, out int offset) && offset != 0)
            throw new ArgumentException("destination may alias an input only exactly (same start), not with an offset.", name);
    }
}
