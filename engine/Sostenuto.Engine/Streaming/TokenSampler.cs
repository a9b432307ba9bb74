using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// Draws one token from a codebook's logits: temperature, then top-k, then top-p (nucleus).
/// The random number is a pure function of (seed, frame, codebook), not a running
/// generator, so the result cannot depend on how often or in which order the caller asks: a
/// re-generated frame, a different host block size or a rollback all draw the same numbers.
/// Allocation-free after construction.
/// </summary>
public sealed class TokenSampler
{
    readonly float[] _probabilities;
    readonly int[] _drawable;       // ascending indices of the tokens whose probability is above 0
    int _drawableCount;
    readonly int[] _order;
    readonly float[] _sortKeys;

    public TokenSampler(int codebookSize, SamplingSettings settings, ulong seed)
    {
        _probabilities = new float[codebookSize];
        _drawable = new int[codebookSize];
        _order = new int[codebookSize];
        _sortKeys = new float[codebookSize];
        Settings = settings;
        Seed = seed;
    }

    /// <summary>Changed only between frames (see <see cref="ModelStream.SetSampling"/>), so every frame samples with one setting.</summary>
    public SamplingSettings Settings { get; set; }
    public ulong Seed { get; }

    /// <summary>
    /// Whether the last <see cref="Sample"/> could have drawn only the token it drew: one token kept a
    /// probability above 0 (the others underflowed, or top-k/top-p left one). Such a draw does not depend
    /// on the random number, so the same logits give the same token at any frame (ModelStream's reuse rule).
    /// </summary>
    public bool LastDrawCertain { get; private set; }

    /// <param name="frame">Frame number from the stream's origin: a stream started by a flush draws what a fresh render draws.</param>
    public int Sample(ReadOnlySpan<float> logits, long frame, int codebook)
    {
        int n = _probabilities.Length;
        if (logits.Length != n) throw new ArgumentException($"expected {n} logits, got {logits.Length}");

        float max = Max(logits);
        if (float.IsNaN(max) || float.IsNegativeInfinity(max)) { LastDrawCertain = true; return 0; } // a broken model must not crash the stream

        Exponentiate(logits, max, 1f / Settings.Temperature);

        double u = UniformDouble(Seed, frame, codebook);
        bool truncate = (Settings.TopK > 0 && Settings.TopK < n) || Settings.TopP < 1f;
        return truncate ? SampleTruncated(u) : SampleFull(u);
    }

    // Why vectors (issue #20: sampling was the largest per-frame cost after ORT, 0.23 ms a frame for
    // 33 codebooks of 512): eight logits at a time are scaled, exponentiated (SamplerExp, the same
    // bits on every machine) and listed when drawable; the draw then walks only the drawable tokens,
    // in ascending order, which adds the same numbers in the same order as a walk over all of them
    // that skips zeros.

    /// <summary>The largest logit, NaN ignored (-inf if all are NaN or -inf).</summary>
    static float Max(ReadOnlySpan<float> logits)
    {
        int n = logits.Length, i = 0;
        ref float x = ref MemoryMarshal.GetReference(logits);
        float max = float.NegativeInfinity;
        if (n >= Vector256<float>.Count)
        {
            var best = Vector256.Create(float.NegativeInfinity);
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref x, (nuint)i);
                best = Vector256.ConditionalSelect(Vector256.GreaterThan(v, best), v, best); // NaN never compares greater
            }
            for (int lane = 0; lane < Vector256<float>.Count; lane++)
                if (best.GetElement(lane) > max) max = best.GetElement(lane);
        }
        for (; i < n; i++) if (Unsafe.Add(ref x, i) > max) max = Unsafe.Add(ref x, i);
        return max;
    }

    /// <summary>
    /// _probabilities[i] = e^((logits[i] - max) / T), and 0 below <see cref="SamplerExp.Lowest"/> (where
    /// single precision underflows anyway) or for NaN; lists the tokens above 0 in _drawable.
    /// </summary>
    void Exponentiate(ReadOnlySpan<float> logits, float max, float invTemperature)
    {
        int n = logits.Length, i = 0;
        _drawableCount = 0;
        ref float x = ref MemoryMarshal.GetReference(logits);
        ref float p = ref MemoryMarshal.GetArrayDataReference(_probabilities);
        if (n >= Vector256<float>.Count)
        {
            var vmax = Vector256.Create(max);
            var vinv = Vector256.Create(invTemperature);
            var lowest = Vector256.Create(SamplerExp.Lowest);
            for (; i + Vector256<float>.Count <= n; i += Vector256<float>.Count)
            {
                var scaled = (Vector256.LoadUnsafe(ref x, (nuint)i) - vmax) * vinv;
                var inRange = Vector256.GreaterThanOrEqual(scaled, lowest); // false for NaN
                if (inRange == Vector256<float>.Zero)
                {
                    Vector256<float>.Zero.StoreUnsafe(ref p, (nuint)i);
                    continue;
                }
                var e = Vector256.ConditionalSelect(inRange, SamplerExp.Of(scaled), Vector256<float>.Zero);
                e.StoreUnsafe(ref p, (nuint)i);
                for (uint bits = Vector256.GreaterThan(e, Vector256<float>.Zero).ExtractMostSignificantBits(); bits != 0; bits &= bits - 1)
                    _drawable[_drawableCount++] = i + System.Numerics.BitOperations.TrailingZeroCount(bits);
            }
        }
        for (; i < n; i++)
        {
            float scaled = (Unsafe.Add(ref x, i) - max) * invTemperature;
            float e = scaled >= SamplerExp.Lowest ? SamplerExp.One(scaled) : 0f; // false for NaN
            _probabilities[i] = e;
            if (e > 0f) _drawable[_drawableCount++] = i;
        }
    }

    int SampleFull(double u)
    {
        double total = 0;
        for (int j = 0; j < _drawableCount; j++) total += _probabilities[_drawable[j]];
        LastDrawCertain = _drawableCount <= 1;
        double target = u * total, cumulative = 0;
        int last = 0;
        for (int j = 0; j < _drawableCount; j++)
        {
            int i = _drawable[j];
            cumulative += _probabilities[i];
            last = i;
            if (cumulative > target) return i;
        }
        return last;
    }

    int SampleTruncated(double u)
    {
        // Only tokens whose probability did not underflow to 0 can be drawn, so only they are sorted:
        // a confident model (most logits far below the best) costs a handful of entries, not V.
        int n = _drawableCount;
        for (int j = 0; j < n; j++)
        {
            _order[j] = _drawable[j];
            _sortKeys[j] = -_probabilities[_drawable[j]];
        }
        // Sorting by descending probability; ties keep a deterministic (if unspecified) order,
        // because Array.Sort is a deterministic algorithm on identical input.
        Array.Sort(_sortKeys, _order, 0, n);

        int keep = Settings.TopK > 0 ? Math.Min(Settings.TopK, n) : n;
        double total = 0;
        for (int i = 0; i < keep; i++) total += -_sortKeys[i];
        if (Settings.TopP < 1f)
        {
            // The tolerance keeps rounding in exp() from pulling one more token into the nucleus.
            double limit = Settings.TopP * total * (1 - 1e-6), cumulative = 0;
            int nucleus = 0;
            while (nucleus < keep)
            {
                cumulative += -_sortKeys[nucleus++];
                if (cumulative >= limit) break;
            }
            keep = nucleus;
            total = cumulative;
        }
        LastDrawCertain = keep <= 1;

        double target = u * total, sum = 0;
        for (int i = 0; i < keep; i++)
        {
            sum += -_sortKeys[i];
            if (sum > target) return _order[i];
        }
        return _order[keep - 1];
    }

    /// <summary>A uniform number in [0, 1) from a counter-based hash (SplitMix64 finaliser over the key).</summary>
    public static double UniformDouble(ulong seed, long frame, int codebook)
    {
        ulong x = Mix(seed ^ 0x9E3779B97F4A7C15UL);
        x = Mix(x ^ (ulong)frame);
        x = Mix(x ^ (ulong)codebook);
        return (x >> 11) * (1.0 / (1UL << 53));
    }

    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
