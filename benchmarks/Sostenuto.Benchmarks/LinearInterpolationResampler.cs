namespace Sostenuto.Benchmarks;

/// <summary>
/// Naive streaming linear-interpolation resampler: the cheapest thing that "works", used only as the
/// baseline in <see cref="ResamplerBenchmarks"/> so the polyphase cost reads as a ratio. Not for audio
/// use: it aliases and droops (no anti-imaging filter).
/// </summary>
internal sealed class LinearInterpolationResampler(int inputRate, int outputRate)
{
    private readonly double _step = (double)inputRate / outputRate;
    private float _previous;   // input sample just before the current block (index −1 relative to it)
    private double _position;  // time of the next output, in input samples relative to the current block

    public void Reset()
    {
        _previous = 0;
        _position = 0;
    }

    /// <summary>Consumes a whole input block and writes the outputs that fall inside it; returns their count.</summary>
    public int Process(ReadOnlySpan<float> input, Span<float> output)
    {
        int written = 0;
        // Interpolate between sample floor(t) and floor(t)+1; both must be inside (or just before) this block.
        while (_position < input.Length - 1 && written < output.Length)
        {
            int i = (int)Math.Floor(_position);
            float a = i < 0 ? _previous : input[i];
            float b = input[i + 1];
            float frac = (float)(_position - i);
            output[written++] = a + frac * (b - a);
            _position += _step;
        }
        _previous = input[^1];
        _position -= input.Length;
        return written;
    }
}
