using System.Diagnostics;
using System.Runtime.InteropServices;
using Sostenuto.Engine.Audio;
using Xunit.Abstractions;

namespace Sostenuto.Engine.Tests.Audio;

/// <summary>
/// Compares the resampler with <c>sox rate -v</c> (very high quality, linear phase). Both align output j
/// with input time j·M/L (zero delay), so the outputs are compared sample by sample with no shift.
/// sox is a required test tool (scripts/setup.sh installs it): without it the comparison fails, it is not skipped.
/// </summary>
public class ResamplerSoxComparisonTests(ITestOutputHelper log)
{
    private const double RequiredSnrDb = 60;

    public static TheoryData<int, int, string> Cases()
    {
        var data = new TheoryData<int, int, string>();
        foreach (var (i, o) in new[] { (24000, 44100), (24000, 48000), (24000, 88200), (24000, 96000), (44100, 48000), (48000, 44100), (48000, 24000) })
            foreach (var signal in new[] { "sines", "sweep", "noiseburst" })
                data.Add(i, o, signal);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesSoxOnBandLimitedSignals(int inRate, int outRate, string signal)
    {
        string sox = FindSox() ?? throw new InvalidOperationException("sox is not on PATH: run scripts/setup.sh (Debian package sox)");

        // Band limit: 0.45 of the lower rate, the edge of both filters' flat passband.
        double band = 0.45 * Math.Min(inRate, outRate);
        float[] input = signal switch
        {
            "sines" => Sines(inRate, band, inRate),
            "sweep" => Sweep(inRate, band, inRate),
            _ => NoiseBurst(inRate, band, inRate),
        };

        float[] ours = ResamplerTests.ResampleAtOnce(input, inRate, outRate);
        float[] theirs = RunSox(sox, input, inRate, outRate);

        // Compare away from the ends (the start-up and tail transients, where sox's and our
        // kernels see the zero padding through different lengths).
        int edge = 500 * outRate / 48000 + 300;
        int length = Math.Min(ours.Length, theirs.Length) - 2 * edge;
        double snr = SignalAnalysis.SnrDb(theirs.AsSpan(edge, length), ours.AsSpan(edge, length));
        log.WriteLine($"{inRate}->{outRate} {signal}: SNR vs sox = {snr:F1} dB (lengths ours {ours.Length}, sox {theirs.Length})");
        Assert.True(Math.Abs(ours.Length - theirs.Length) <= 1, $"length {ours.Length} vs sox {theirs.Length}");
        Assert.True(snr >= RequiredSnrDb, $"{inRate}->{outRate} {signal}: SNR vs sox {snr:F1} dB");
    }

    /// <summary>
    /// For the sum of sines the ideal output is known exactly (evaluate the sines at t = j/outRate), which
    /// tells whether a mismatch with sox is ours or sox's. Logged, with our own bar asserted.
    /// </summary>
    [Theory]
    [InlineData(24000, 44100)]
    [InlineData(24000, 48000)]
    [InlineData(24000, 88200)]
    [InlineData(24000, 96000)]
    [InlineData(44100, 48000)]
    [InlineData(48000, 44100)]
    [InlineData(48000, 24000)]
    public void SumOfSinesMatchesTheAnalyticSignal(int inRate, int outRate)
    {
        double band = 0.45 * Math.Min(inRate, outRate);
        float[] input = Sines(inRate, band, inRate);
        float[] ideal = Sines(inRate, band, outRate, outRate);
        float[] ours = ResamplerTests.ResampleAtOnce(input, inRate, outRate);
        int edge = 500 * outRate / 48000 + 300;
        int length = ideal.Length - 2 * edge;
        double snr = SignalAnalysis.SnrDb(ideal.AsSpan(edge, length), ours.AsSpan(edge, length));
        string soxNote = "";
        if (FindSox() is { } sox)
        {
            float[] theirs = RunSox(sox, input, inRate, outRate);
            soxNote = $", sox vs ideal = {SignalAnalysis.SnrDb(ideal.AsSpan(edge, length), theirs.AsSpan(edge, length)):F1} dB";
        }
        log.WriteLine($"{inRate}->{outRate} sines: ours vs ideal = {snr:F1} dB{soxNote}");
        Assert.True(snr >= 80, $"ours vs ideal {snr:F1} dB");
    }

    /// <summary>
    /// Equal-amplitude sines at incommensurate frequencies from 50 Hz up to the band limit, sampled at
    /// <paramref name="sampleRate"/> (defaults to <paramref name="rate"/>; the same continuous signal at any rate).
    /// </summary>
    private static float[] Sines(int rate, double band, int length, int sampleRate = 0)
    {
        if (sampleRate == 0) sampleRate = rate;
        var random = new Random(11);
        const int count = 24;
        var freq = new double[count];
        var phase = new double[count];
        for (int k = 0; k < count; k++)
        {
            freq[k] = 50 + (band - 50) * k / (count - 1) * (1 - 0.003 * random.NextDouble());
            phase[k] = 2 * Math.PI * random.NextDouble();
        }
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            double s = 0;
            for (int k = 0; k < count; k++) s += Math.Sin(2 * Math.PI * freq[k] * i / sampleRate + phase[k]);
            x[i] = (float)(s / count * 0.9);
        }
        return x;
    }

    /// <summary>Linear sweep 20 Hz → band limit, with 1000-sample raised-cosine fades so the ends stay band-limited.</summary>
    private static float[] Sweep(int rate, double band, int length)
    {
        var x = new float[length];
        double duration = (double)length / rate;
        for (int i = 0; i < length; i++)
        {
            double t = (double)i / rate;
            double phase = 2 * Math.PI * (20 * t + (band - 20) * t * t / (2 * duration));
            x[i] = (float)(0.7 * Math.Sin(phase) * Fade(i, length, 1000));
        }
        return x;
    }

    /// <summary>
    /// Noise band-limited by construction (random-phase sines on a fine grid up to the band limit),
    /// gated by a slow raised-cosine burst, which widens the spectrum by only a few hertz.
    /// </summary>
    private static float[] NoiseBurst(int rate, double band, int length)
    {
        var random = new Random(23);
        var x = new double[length];
        const int count = 400;
        for (int k = 0; k < count; k++)
        {
            double f = band * (k + random.NextDouble()) / count;
            double p = 2 * Math.PI * random.NextDouble();
            double a = 0.5 + random.NextDouble();
            // Recurrence would drift; direct evaluation in double is accurate and fast enough here.
            double w = 2 * Math.PI * f / rate;
            for (int i = 0; i < length; i++) x[i] += a * Math.Sin(w * i + p);
        }
        double peak = x.Max(Math.Abs);
        var y = new float[length];
        int start = length / 5, burst = length * 3 / 5;
        for (int i = 0; i < length; i++)
        {
            double gate = i < start || i >= start + burst ? 0 : Fade(i - start, burst, burst / 4);
            y[i] = (float)(0.8 * x[i] / peak * gate);
        }
        return y;
    }

    private static double Fade(int i, int length, int fade)
    {
        if (i < fade) return 0.5 - 0.5 * Math.Cos(Math.PI * i / fade);
        if (i >= length - fade) return 0.5 - 0.5 * Math.Cos(Math.PI * (length - 1 - i) / fade);
        return 1;
    }

    private static float[] RunSox(string sox, float[] input, int inRate, int outRate)
    {
        string dir = Path.Combine(Path.GetTempPath(), "sostenuto-sox-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string inPath = Path.Combine(dir, "in.raw"), outPath = Path.Combine(dir, "out.raw");
            File.WriteAllBytes(inPath, MemoryMarshal.AsBytes(input.AsSpan()).ToArray()); // little-endian host
            var psi = new ProcessStartInfo(sox)
            {
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "-t", "f32", "-r", inRate.ToString(), "-c", "1", inPath,
                                        "-t", "f32", "-r", outRate.ToString(), outPath, "rate", "-v" })
                psi.ArgumentList.Add(arg);
            using var process = Process.Start(psi)!;
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"sox failed: {stderr}");
            return MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(outPath)).ToArray();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string? FindSox()
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(dir, "sox");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
