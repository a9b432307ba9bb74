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
    readonly int[] _order;
    readonly float[] _sortKeys;

    public TokenSampler(int codebookSize, SamplingSettings settings, ulong seed)
    {
        _probabilities = new float[codebookSize];
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

    /// <summary>Below this, <see cref="MathF.Exp"/> is exactly 0 (TokenSamplerTests checks it).</summary>
    internal const float ExpUnderflow = -110f;

    /// <param name="frame">Frame number from the stream's origin: a stream started by a flush draws what a fresh render draws.</param>
    public int Sample(ReadOnlySpan<float> logits, long frame, int codebook)
    {
        int n = _probabilities.Length;
        if (logits.Length != n) throw new ArgumentException($"expected {n} logits, got {logits.Length}");

        float max = float.NegativeInfinity;
        for (int i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
        if (float.IsNaN(max) || float.IsNegativeInfinity(max)) { LastDrawCertain = true; return 0; } // a broken model must not crash the stream

        float invTemperature = 1f / Settings.Temperature;
        for (int i = 0; i < n; i++)
        {
            // exp of anything below -110 is 0 in single precision (e^-110 is 1.7e-48; the smallest float is
            // 1.4e-45): skipping the call gives the same bits, and a confident or cold model's logits are
            // mostly that far below the best (issue #20: sampling was the largest per-frame cost after ORT).
            float x = (logits[i] - max) * invTemperature;
            float p = x < ExpUnderflow ? 0f : MathF.Exp(x);
            _probabilities[i] = float.IsNaN(p) ? 0f : p;
        }

        double u = UniformDouble(Seed, frame, codebook);
        bool truncate = (Settings.TopK > 0 && Settings.TopK < n) || Settings.TopP < 1f;
        return truncate ? SampleTruncated(u) : SampleFull(u);
    }

    int SampleFull(double u)
    {
        double total = 0;
        int nonzero = 0;
        for (int i = 0; i < _probabilities.Length; i++)
        {
            total += _probabilities[i];
            if (_probabilities[i] > 0) nonzero++;
        }
        LastDrawCertain = nonzero <= 1;
        double target = u * total, cumulative = 0;
        int last = 0;
        for (int i = 0; i < _probabilities.Length; i++)
        {
            if (_probabilities[i] <= 0) continue;
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
        int n = 0;
        for (int i = 0; i < _probabilities.Length; i++)
        {
            if (_probabilities[i] <= 0f) continue;
            _order[n] = i;
            _sortKeys[n++] = -_probabilities[i];
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
