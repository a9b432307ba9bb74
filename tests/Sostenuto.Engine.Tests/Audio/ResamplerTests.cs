using Sostenuto.Engine.Audio;
using Xunit.Abstractions;

namespace Sostenuto.Engine.Tests.Audio;

public class ResamplerTests(ITestOutputHelper log)
{
    public static TheoryData<int, int> RatePairs => new()
    {
        { 24000, 44100 },
        { 24000, 48000 },
        { 24000, 88200 },
        { 24000, 96000 },
        { 44100, 48000 },
    };

    // Push and pull in fixed blocks; 0 means "varying sizes from a seeded Random".
    public static TheoryData<int, int, int> InvarianceCases()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var pair in new[] { (24000, 44100), (24000, 48000), (24000, 88200), (24000, 96000), (44100, 48000) })
            foreach (int block in new[] { 1, 32, 128, 1000, 4096, 0 })
                data.Add(pair.Item1, pair.Item2, block);
        return data;
    }

    internal static float[] Noise(int length, int seed)
    {
        var random = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>The whole signal in one Push, Finish, one Pull: the reference every slicing must reproduce.</summary>
    internal static float[] ResampleAtOnce(float[] input, int inRate, int outRate)
    {
        var resampler = new Resampler(inRate, outRate, input.Length + 16);
        resampler.Push(input);
        resampler.Finish();
        var output = new float[resampler.AvailableOutputSamples];
        Assert.Equal(output.Length, resampler.Pull(output));
        Assert.Equal(0, resampler.AvailableOutputSamples);
        return output;
    }

    private static float[] ResampleInBlocks(float[] input, int inRate, int outRate, Func<int> pushSize, Func<int> pullSize)
    {
        var resampler = new Resampler(inRate, outRate);
        var output = new List<float>();
        var pullBuffer = new float[8192];
        int offset = 0;
        void Drain()
        {
            int got;
            do
            {
                got = resampler.Pull(pullBuffer.AsSpan(0, pullSize()));
                output.AddRange(pullBuffer.AsSpan(0, got).ToArray());
            } while (got > 0);
        }
        while (offset < input.Length)
        {
            int n = Math.Min(pushSize(), input.Length - offset);
            resampler.Push(input.AsSpan(offset, n));
            offset += n;
            Drain();
        }
        resampler.Finish();
        Drain();
        return output.ToArray();
    }

    [Theory]
    [MemberData(nameof(InvarianceCases))]
    public void OutputIsBitIdenticalHoweverTimeIsSliced(int inRate, int outRate, int block)
    {
        var input = Noise(20011, seed: 1234);
        var reference = ResampleAtOnce(input, inRate, outRate);
        Assert.Equal((input.Length * (long)outRate + inRate - 1) / inRate, reference.Length);

        float[] sliced;
        if (block > 0)
        {
            // Same size both ways, and also pushes of `block` drained through an unrelated pull size.
            sliced = ResampleInBlocks(input, inRate, outRate, () => block, () => block);
            AssertBitIdentical(reference, sliced);
            sliced = ResampleInBlocks(input, inRate, outRate, () => block, () => 77);
            AssertBitIdentical(reference, sliced);
        }
        else
        {
            var random = new Random(42 + outRate);
            sliced = ResampleInBlocks(input, inRate, outRate, () => random.Next(0, 3000), () => random.Next(1, 5000));
            AssertBitIdentical(reference, sliced);
        }
    }

    [Fact]
    public void ResetStartsAnIdenticalStream()
    {
        var input = Noise(5000, seed: 7);
        var reference = ResampleAtOnce(input, 24000, 44100);
        var resampler = new Resampler(24000, 44100);
        resampler.Push(Noise(3000, seed: 8));
        resampler.Pull(new float[1000]);
        resampler.Reset();
        Assert.Equal(0, resampler.InputSamplesPushed);
        Assert.Equal(0, resampler.OutputSamplesPulled);
        resampler.Push(input);
        resampler.Finish();
        var output = new float[reference.Length];
        Assert.Equal(reference.Length, resampler.Pull(output));
        AssertBitIdentical(reference, output);
    }

    [Fact]
    public void EqualRatesAreExactPassthrough()
    {
        var input = Noise(10000, seed: 3);
        var resampler = new Resampler(48000, 48000, capacityInputSamples: 1000);
        Assert.Equal(0, resampler.LookaheadInputSamples);
        var output = new float[input.Length];
        int pulled = 0;
        var random = new Random(5);
        for (int offset = 0; offset < input.Length;)
        {
            int n = Math.Min(random.Next(1, 700), input.Length - offset);
            resampler.Push(input.AsSpan(offset, n));
            offset += n;
            pulled += resampler.Pull(output.AsSpan(pulled, Math.Min(random.Next(1, 900), output.Length - pulled)));
            pulled += resampler.Pull(output.AsSpan(pulled));
        }
        resampler.Finish();
        Assert.Equal(input.Length, pulled);
        AssertBitIdentical(input, output);
    }

    [Theory]
    [MemberData(nameof(RatePairs))]
    [InlineData(48000, 24000)]
    [InlineData(96000, 44100)]
    [InlineData(44100, 22050)]
    public void OutputBecomesAvailableExactlyWhenItsLastTapIsPushed(int inRate, int outRate)
    {
        var resampler = new Resampler(inRate, outRate);
        int h = resampler.LookaheadInputSamples;
        Assert.True(h > 0);
        var one = new float[1];
        var sink = new float[1];
        // Output j needs input index floor(j·M/L) + H, i.e. floor(j·M/L) + H + 1 samples pushed.
        for (int pushed = 1; pushed <= 3 * h + 50; pushed++)
        {
            resampler.Push(one);
            long expected = 0;
            while ((expected * resampler.DownFactor) / resampler.UpFactor + h + 1 <= pushed) expected++;
            Assert.Equal(expected, resampler.OutputSamplesPulled + resampler.AvailableOutputSamples);
            while (resampler.Pull(sink) > 0) { }
        }
    }

    [Theory]
    [MemberData(nameof(RatePairs))]
    [InlineData(48000, 24000)]
    [InlineData(96000, 44100)]
    [InlineData(48000, 44100)]
    public void DcGainIsOne(int inRate, int outRate)
    {
        var input = new float[inRate / 4];
        Array.Fill(input, 1f);
        var output = ResampleAtOnce(input, inRate, outRate);
        var r = new Resampler(inRate, outRate);
        // Skip the start-up and end transients (the zero history and zero future), one kernel width each.
        int edge = (int)((long)(2 * r.LookaheadInputSamples + 2) * outRate / inRate) + 2;
        for (int j = edge; j < output.Length - edge; j++)
            Assert.True(Math.Abs(output[j] - 1f) <= 1e-4f, $"output[{j}] = {output[j]}");
    }

    [Fact]
    public void OneKilohertzToneAt24kTo48kHasThdPlusNoiseBelowMinus90dB()
    {
        const int inRate = 24000, outRate = 48000;
        const double f = 1000;
        var input = new float[inRate];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(0.5 * Math.Sin(2 * Math.PI * f * i / inRate));
        var output = ResampleAtOnce(input, inRate, outRate);

        double thdn = SignalAnalysis.ResidualAfterSineFitDb(output.AsSpan(2000, output.Length - 4000), f / outRate);
        log.WriteLine($"1 kHz 24k->48k THD+N = {thdn:F1} dB");
        Assert.True(thdn < -90, $"THD+N = {thdn:F1} dB");
    }

    [Fact]
    public void PrototypeFilterMeetsItsSpecification()
    {
        // At 24k→96k (L = 4) the impulse response is the prototype kernel sampled every quarter input
        // sample, so its spectrum shows the continuous filter up to twice the input rate.
        const int inRate = 24000, outRate = 96000;
        var impulse = new float[2000];
        impulse[1000] = 1;
        var y = ResampleAtOnce(impulse, inRate, outRate);
        double Gain(double f)
        {
            double re = 0, im = 0;
            for (int n = 3000; n < 5000; n++)
            {
                double w = 2 * Math.PI * f * n / outRate;
                re += y[n] * Math.Cos(w);
                im -= y[n] * Math.Sin(w);
            }
            return Math.Sqrt(re * re + im * im) * inRate / outRate;
        }
        double worstPassband = 0, worstStopband = 0;
        for (double f = 0; f <= 0.45 * inRate; f += 10) worstPassband = Math.Max(worstPassband, Math.Abs(Gain(f) - 1));
        for (double f = 0.5 * inRate; f <= 2.0 * inRate; f += 5) worstStopband = Math.Max(worstStopband, Gain(f));
        log.WriteLine($"taps/phase {new Resampler(inRate, outRate).TapsPerPhase}, passband deviation {worstPassband:E2}, stopband {20 * Math.Log10(worstStopband):F1} dB");
        Assert.True(worstPassband < 1e-4, $"passband deviation {worstPassband:E2}");
        Assert.True(20 * Math.Log10(worstStopband) <= -90, $"stopband {20 * Math.Log10(worstStopband):F1} dB");
    }

    [Theory]
    [InlineData(48000, 24000, 13000)] // just above the output Nyquist: must not alias to 11 kHz
    [InlineData(96000, 44100, 30000)]
    [InlineData(44100, 24000, 12500)]
    public void DownsamplingRejectsWhatWouldAlias(int inRate, int outRate, double f)
    {
        var input = new float[inRate / 2];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(0.5 * Math.Sin(2 * Math.PI * f * i / inRate));
        var output = ResampleAtOnce(input, inRate, outRate);
        double leaked = SignalAnalysis.RmsDb(output.AsSpan(1000, output.Length - 2000)) - SignalAnalysis.RmsDb(input);
        log.WriteLine($"{inRate}->{outRate} tone at {f} Hz leaks at {leaked:F1} dB");
        Assert.True(leaked < -90, $"alias at {leaked:F1} dB");
    }

    [Fact]
    public void SteadyStatePushPullAllocatesNothing()
    {
        var resampler = new Resampler(24000, 44100);
        var input = Noise(512, seed: 9);
        var output = new float[2048];
        void Cycle()
        {
            resampler.Push(input);
            while (resampler.Pull(output) > 0) { }
        }
        for (int i = 0; i < 200; i++) Cycle(); // warm up (JIT tiering)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5000; i++) Cycle();
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
        Assert.True(resampler.OutputSamplesPulled > 0);
    }

    [Fact]
    public void PushBeyondCapacityThrowsAndPullingMakesRoom()
    {
        var resampler = new Resampler(24000, 48000, capacityInputSamples: 1000);
        resampler.Push(new float[1000]);
        Assert.Throws<InvalidOperationException>(() => resampler.Push(new float[1000]));
        var output = new float[4000];
        Assert.True(resampler.Pull(output) > 0);
        resampler.Push(new float[500]); // room again
        Assert.Equal(1500, resampler.InputSamplesPushed);
    }

    [Fact]
    public void PushAfterFinishThrows()
    {
        var resampler = new Resampler(24000, 48000);
        resampler.Push(new float[10]);
        resampler.Finish();
        Assert.Throws<InvalidOperationException>(() => resampler.Push(new float[1]));
    }

    [Theory]
    [InlineData(24000, 44100)]
    [InlineData(44100, 48000)]
    [InlineData(48000, 44100)]
    public void KernelIsSymmetricAboutTheOutputTime(int inRate, int outRate)
    {
        // An impulse at input n; outputs at times n ± d must match (zero phase, no delay).
        var input = new float[2000];
        input[1000] = 1;
        var y = ResampleAtOnce(input, inRate, outRate);
        var r = new Resampler(inRate, outRate);
        long l = r.UpFactor, m = r.DownFactor;
        for (long j = 0; j < y.Length; j++)
        {
            // Output at time t_j = j·M/L; its mirror about 1000 is 2000 − t_j = (2000·L − j·M)/L.
            long mirrorNumerator = 2000 * l - j * m;
            if (mirrorNumerator < 0 || mirrorNumerator % m != 0) continue;
            long mirror = mirrorNumerator / m;
            if (mirror >= y.Length) continue;
            Assert.True(Math.Abs(y[j] - y[mirror]) < 1e-6f, $"y[{j}]={y[j]} vs y[{mirror}]={y[mirror]}");
        }
    }

    internal static void AssertBitIdentical(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"sample {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
