using BenchmarkDotNet.Attributes;
using Sostenuto.Engine.Audio;

namespace Sostenuto.Benchmarks;

/// <summary>
/// One second of 24 kHz model audio per operation, streamed in 512-sample blocks as the engine does.
/// The naive linear interpolator is the baseline, so the Ratio column is "cost of doing it properly".
/// </summary>
[MemoryDiagnoser]
public class ResamplerBenchmarks
{
    private const int InputRate = 24000;
    private const int BlockSize = 512;

    [Params(44100, 48000)]
    public int OutputRate { get; set; }

    private float[] _input = [];
    private float[] _output = [];
    private Resampler _resampler = null!;
    private LinearInterpolationResampler _linear = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _input = new float[InputRate];
        for (int i = 0; i < _input.Length; i++) _input[i] = (float)(random.NextDouble() * 2 - 1);
        _output = new float[4 * BlockSize * OutputRate / InputRate + 16];
        _resampler = new Resampler(InputRate, OutputRate);
        _linear = new LinearInterpolationResampler(InputRate, OutputRate);
    }

    [Benchmark(Baseline = true)]
    public int LinearInterpolation()
    {
        _linear.Reset();
        int total = 0;
        for (int offset = 0; offset < _input.Length; offset += BlockSize)
        {
            var block = _input.AsSpan(offset, Math.Min(BlockSize, _input.Length - offset));
            total += _linear.Process(block, _output);
        }
        return total;
    }

    [Benchmark]
    public int PolyphaseKaiserSinc()
    {
        _resampler.Reset();
        int total = 0;
        for (int offset = 0; offset < _input.Length; offset += BlockSize)
        {
            _resampler.Push(_input.AsSpan(offset, Math.Min(BlockSize, _input.Length - offset)));
            int got;
            while ((got = _resampler.Pull(_output)) > 0) total += got;
        }
        return total;
    }
}
