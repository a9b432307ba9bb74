using BenchmarkDotNet.Attributes;
using Sostenuto.Engine.Audio;

namespace Sostenuto.Benchmarks;

/// <summary>A 20 ms (960 samples at 48 kHz) cross-fade against a plain copy of the same length.</summary>
public class CrossFadeBenchmarks
{
    private const int Length = 960;
    private readonly float[] _earlier = new float[Length];
    private readonly float[] _later = new float[Length];
    private readonly float[] _destination = new float[Length];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(2);
        for (int i = 0; i < Length; i++)
        {
            _earlier[i] = (float)(random.NextDouble() * 2 - 1);
            _later[i] = (float)(random.NextDouble() * 2 - 1);
        }
    }

    [Benchmark(Baseline = true)]
    public void Copy() => _earlier.AsSpan().CopyTo(_destination);

    [Benchmark]
    public void Linear() => CrossFade.Linear(_earlier, _later, _destination);
}
