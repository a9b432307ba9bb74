using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sostenuto.Engine.Audio;

/// <summary>
/// Streaming rational-ratio (L/M) polyphase windowed-sinc resampler, mono.
/// </summary>
/// <remarks>
/// <para><b>Alignment.</b> Output sample j is the band-limited value of the input at input time
/// t = j·M/L exactly: the kernel is symmetric and centred on t, and input before index 0 is zero.
/// There is therefore no group delay to compensate (same convention as <c>sox rate</c>), at the price
/// of <see cref="LookaheadInputSamples"/> of look-ahead: output j is only available once input index
/// floor(j·M/L) + <see cref="LookaheadInputSamples"/> has been pushed.</para>
/// <para><b>Block-size invariance.</b> Each output is a function of absolute indices only: its phase row
/// is (j·M) mod L, its taps are input indices floor(j·M/L) − H + 1 … floor(j·M/L) + H, read as one
/// contiguous span (the history ring is mirrored, so a window never wraps), and the dot product always
/// runs in the same order. How the caller slices Push/Pull therefore cannot change a single bit.</para>
/// <para><b>Real time.</b> All memory (filter table, history ring) is allocated in the constructor;
/// <see cref="Push"/> and <see cref="Pull"/> allocate nothing. Push throws rather than grow the ring.</para>
/// <para><b>Filter.</b> Passband flat (ripple ≈ 1e−5) up to 0.45·min(rates), stopband from
/// 0.5·min(rates) (i.e. the lower Nyquist) with ≥ 100 dB design attenuation, −6 dB at 0.475·min(rates).
/// Each phase row is normalised to unit sum, so DC passes with gain 1 on every phase.</para>
/// <para>Not thread-safe: one producer/consumer thread at a time (the audio thread).</para>
/// </remarks>
public sealed class Resampler
{
    // Design targets. 100 dB gives a 10 dB margin over the 90 dB requirement for the
    // float-table rounding and the truncation of the window at ±H.
    private const double StopbandAttenuationDb = 100.0;
    private const double PassbandEdgeOfMinRate = 0.45; // fraction of min(rates), i.e. 90 % of the lower Nyquist
    private const double StopbandEdgeOfMinRate = 0.50; // the lower Nyquist itself: nothing may alias or image below it

    // Half-width H is rounded up to this so that 2H taps divide into whole pairs of 8-lane vectors
    // (Dot): the dot product then has no scalar tail.
    private const int TapGranularity = 8;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(int, int), float[]> s_tables = new();

    private readonly int _l;           // output step (upsampling factor)
    private readonly int _m;           // input step (downsampling factor)
    private readonly int _halfWidth;   // H: taps on each side of the output time
    private readonly int _taps;        // 2H taps per phase (0 for passthrough)
    private readonly float[] _table;   // [phase * _taps + tap], tap 0 multiplies input index n0 − H + 1
    private readonly bool _passthrough;
    private readonly int _tapsBehind;  // input index of tap 0 is n0 − _tapsBehind (H − 1; 0 for passthrough)

    // History ring: logical length _size, stored twice (_ring[i] == _ring[i + _size]) so any
    // window of up to _size samples starting at any position is one contiguous span.
    private readonly float[] _ring;
    private readonly int _size;

    private long _written;        // input samples in the ring, including the silence appended by Finish
    private long _pushed;         // input samples the caller pushed
    private long _pulled;         // output samples delivered (= index j of the next output)
    private long _n0;             // floor(_pulled · M / L)
    private int _phase;           // (_pulled · M) mod L
    private int _windowPos;       // ring position of input index _n0 − _tapsBehind (first tap of the next output)
    private long _endOutput = long.MaxValue; // total output length once finished

    /// <param name="inputRate">Input sample rate in Hz.</param>
    /// <param name="outputRate">Output sample rate in Hz.</param>
    /// <param name="capacityInputSamples">
    /// How many input samples may be waiting (pushed but not yet consumed by Pull) at once, on top of
    /// the filter's own history. Push throws if this would be exceeded.
    /// </param>
    public Resampler(int inputRate, int outputRate, int capacityInputSamples = 65536)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacityInputSamples);

        InputRate = inputRate;
        OutputRate = outputRate;
        int g = Gcd(inputRate, outputRate);
        _l = outputRate / g;
        _m = inputRate / g;
        _passthrough = _l == _m;

        if (_passthrough)
        {
            _halfWidth = 0;
            _taps = 0;
            _tapsBehind = 0;
            _table = [];
        }
        else
        {
            // Everything in units of input samples: for downsampling the band edges sit below the
            // input Nyquist, so the kernel stretches by M/L, as it must to reject what would alias.
            double minRate = Math.Min(inputRate, outputRate);
            double passband = PassbandEdgeOfMinRate * minRate / inputRate;
            double stopband = StopbandEdgeOfMinRate * minRate / inputRate;
            double cutoff = (passband + stopband) / 2;
            double order = KaiserSincDesign.Order(StopbandAttenuationDb, stopband - passband);
            int h = (int)Math.Ceiling(order / 2);
            h = (h + TapGranularity - 1) / TapGranularity * TapGranularity;
            _halfWidth = h;
            _taps = 2 * h;
            _tapsBehind = h - 1;

            long tableLength = (long)_l * _taps;
            if (tableLength > 1 << 26)
                throw new ArgumentException(
                    $"Rate pair {inputRate}->{outputRate} reduces to {_l}/{_m}; the polyphase table would need {tableLength} floats.");
            // The table depends only on the rate pair: built once per process, shared read-only by every
            // resampler (a model stream and each of its rollback snapshots have their own).
            if (s_tables.TryGetValue((inputRate, outputRate), out var shared)) _table = shared;
            else
            {
                _table = new float[tableLength];
                BuildTable(cutoff);
                s_tables.TryAdd((inputRate, outputRate), _table);
            }
        }

        _size = checked(capacityInputSamples + _taps + 1);
        _ring = new float[checked(2 * _size)];
        Reset();
    }

    public int InputRate { get; }
    public int OutputRate { get; }

    /// <summary>Reduced upsampling factor L (output rate / gcd).</summary>
    public int UpFactor => _l;

    /// <summary>Reduced downsampling factor M (input rate / gcd).</summary>
    public int DownFactor => _m;

    /// <summary>Taps per polyphase row (2 × <see cref="LookaheadInputSamples"/>; 0 when the rates are equal).</summary>
    public int TapsPerPhase => _taps;

    /// <summary>
    /// H: how many input samples past floor(t) must have been pushed before the output at input time t is
    /// determined. Zero when the rates are equal.
    /// </summary>
    public int LookaheadInputSamples => _halfWidth;

    public long InputSamplesPushed => _pushed;
    public long OutputSamplesPulled => _pulled;
    public bool IsFinished => _endOutput != long.MaxValue;

    /// <summary>Output samples that are fully determined by what has been pushed and not yet pulled.</summary>
    public long AvailableOutputSamples => Math.Min(ReadyOutputCount(), _endOutput) - _pulled;

    /// <summary>Appends input samples. Allocation-free. Throws if the ring would overflow or after <see cref="Finish"/>.</summary>
    public void Push(ReadOnlySpan<float> input)
    {
        if (IsFinished) throw new InvalidOperationException("Push after Finish; call Reset to start a new stream.");
        EnsureRoom(input.Length);
        Write(input);
        _pushed += input.Length;
    }

    /// <summary>
    /// Marks the end of the stream: the input's future is silence. Afterwards Pull delivers the tail,
    /// for a total of ceil(InputSamplesPushed · L / M) output samples (every output whose time lies
    /// within the input).
    /// </summary>
    public void Finish()
    {
        if (IsFinished) return;
        // The last outputs need H samples of look-ahead; make them real zeros in the ring, because
        // the slots past _written still hold whatever the previous lap of the ring left there.
        EnsureRoom(_halfWidth);
        Span<float> zeros = stackalloc float[Math.Min(_halfWidth, 256)];
        zeros.Clear();
        for (int left = _halfWidth; left > 0; left -= zeros.Length)
            Write(zeros[..Math.Min(left, zeros.Length)]);
        _endOutput = CeilDiv(_pushed * _l, _m);
    }

    /// <summary>Same as <see cref="Finish"/>: treat everything after the pushed input as zeros.</summary>
    public void PushSilenceToEnd() => Finish();

    /// <summary>Returns to the freshly constructed state (empty, silent history, time 0). Allocation-free.</summary>
    public void Reset()
    {
        // The zeroed ring is what makes "input before index 0 is zero" true.
        Array.Clear(_ring);
        _written = 0;
        _pushed = 0;
        _pulled = 0;
        _n0 = 0;
        _phase = 0;
        _windowPos = Mod(-_tapsBehind);
        _endOutput = long.MaxValue;
    }

    /// <summary>
    /// Becomes an exact copy of <paramref name="source"/>'s stream state (history, positions), which must
    /// be a resampler built with the same rates and capacity: a snapshot to roll back to. Allocation-free.
    /// </summary>
    public void CopyStateFrom(Resampler source)
    {
        if (source._l != _l || source._m != _m || source._size != _size) throw new ArgumentException("resamplers differ in rates or capacity", nameof(source));
        source._ring.AsSpan().CopyTo(_ring);
        _written = source._written;
        _pushed = source._pushed;
        _pulled = source._pulled;
        _n0 = source._n0;
        _phase = source._phase;
        _windowPos = source._windowPos;
        _endOutput = source._endOutput;
    }

    /// <summary>
    /// Writes up to <c>output.Length</c> output samples that are fully determined and returns how many
    /// it wrote (0 if none are ready yet). Allocation-free.
    /// </summary>
    public int Pull(Span<float> output)
    {
        int count = (int)Math.Min(output.Length, AvailableOutputSamples);
        if (count <= 0) return 0;

        if (_passthrough)
        {
            // L = M = 1: output j is input j. The mirrored ring makes the run contiguous.
            _ring.AsSpan(_windowPos, count).CopyTo(output);
            _pulled += count;
            _n0 += count;
            _windowPos = (int)((_windowPos + (long)count) % _size);
            return count;
        }

        int taps = _taps;
        int l = _l;
        int stepWhole = _m / l;      // input samples advanced per output, integer part …
        int stepFrac = _m % l;       // … and fractional part, in 1/L units
        ref float ring = ref MemoryMarshal.GetArrayDataReference(_ring);
        ref float table = ref MemoryMarshal.GetArrayDataReference(_table);
        int phase = _phase;
        int pos = _windowPos;
        int size = _size;
        long n0 = _n0;

        for (int i = 0; i < count; i++)
        {
            output[i] = Dot(ref Unsafe.Add(ref table, phase * taps), ref Unsafe.Add(ref ring, pos), taps);

            // Advance t by M/L: phase += M (mod L), carrying whole input samples into the window start.
            int advance = stepWhole;
            phase += stepFrac;
            if (phase >= l) { phase -= l; advance++; }
            pos += advance;
            if (pos >= size) pos -= size;
            n0 += advance;
        }

        _phase = phase;
        _windowPos = pos;
        _n0 = n0;
        _pulled += count;
        return count;
    }

    // Fixed evaluation order regardless of caller and of the machine: two 8-lane accumulators over
    // the row, then a lane-by-lane horizontal sum (explicit, so it cannot depend on how the compiler
    // lowers a horizontal sum). Vector256 rather than Vector<float>, whose width is the machine's
    // (4, 8 or 16 lanes; and 4 in the engine's ahead-of-time build, which targets any x86-64-v2):
    // every build then sums in the same order, so the bundled engine and `sostenuto render` write
    // the same samples. Without AVX, Vector256 runs as two 128-bit halves, lane for lane the same.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ref float coefficients, ref float samples, int taps)
    {
        const int width = 8;
        var acc0 = Vector256<float>.Zero;
        var acc1 = Vector256<float>.Zero;
        for (int k = 0; k < taps; k += 2 * width) // taps is a multiple of 2 * TapGranularity = 16
        {
            acc0 += Vector256.LoadUnsafe(ref coefficients, (nuint)k) * Vector256.LoadUnsafe(ref samples, (nuint)k);
            acc1 += Vector256.LoadUnsafe(ref coefficients, (nuint)(k + width)) * Vector256.LoadUnsafe(ref samples, (nuint)(k + width));
        }
        var acc = acc0 + acc1;
        float sum = 0;
        for (int lane = 0; lane < width; lane++) sum += acc.GetElement(lane);
        return sum;
    }

    private void BuildTable(double cutoff)
    {
        double beta = KaiserSincDesign.Beta(StopbandAttenuationDb);
        double i0Beta = KaiserSincDesign.BesselI0(beta);
        var row = new double[_taps];
        for (int p = 0; p < _l; p++)
        {
            // Output time t = n0 + p/L; tap k reads input n0 − H + 1 + k, at distance τ = t − input.
            double frac = (double)p / _l;
            double sum = 0;
            for (int k = 0; k < _taps; k++)
            {
                double tau = frac + _halfWidth - 1 - k;
                row[k] = KaiserSincDesign.Kernel(tau, cutoff, _halfWidth, beta, i0Beta);
                sum += row[k];
            }
            // Unit DC gain on every phase: otherwise the tiny per-phase gain differences would
            // modulate a DC offset into a tone at the output rate's phase period.
            for (int k = 0; k < _taps; k++)
                _table[p * _taps + k] = (float)(row[k] / sum);
        }
    }

    /// <summary>Outputs j whose last tap, floor(j·M/L) + H, has been written: j &lt; ceil((written − H)·L/M).</summary>
    private long ReadyOutputCount()
    {
        long lastWhole = _written - _halfWidth; // number of n0 values whose window is complete
        return lastWhole <= 0 ? 0 : CeilDiv(lastWhole * _l, _m);
    }

    private void EnsureRoom(int incoming)
    {
        // Oldest sample still needed is the next output's first tap.
        long retainedFrom = _n0 - _tapsBehind;
        if (_written + incoming - retainedFrom > _size)
            throw new InvalidOperationException(
                $"Resampler ring overflow: {_written - retainedFrom} samples held, {incoming} more would exceed {_size}. Pull more often or raise capacityInputSamples.");
    }

    private void Write(ReadOnlySpan<float> input)
    {
        int pos = Mod(_written);
        while (!input.IsEmpty)
        {
            int run = Math.Min(input.Length, _size - pos);
            var chunk = input[..run];
            chunk.CopyTo(_ring.AsSpan(pos, run));
            chunk.CopyTo(_ring.AsSpan(pos + _size, run));
            input = input[run..];
            _written += run;
            pos = 0;
        }
    }

    private int Mod(long index)
    {
        long r = index % _size;
        return (int)(r < 0 ? r + _size : r);
    }

    private static long CeilDiv(long a, long b) => (a + b - 1) / b;

    private static int Gcd(int a, int b)
    {
        while (b != 0) (a, b) = (b, a % b);
        return a;
    }
}
