using BenchmarkDotNet.Attributes;
using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Streaming;

namespace Sostenuto.Benchmarks;

/// <summary>
/// The whole chain as a plug-in runs it: a <see cref="RenderSession"/> on the fixture renders the
/// first second of examples/demo.mid at 48 kHz in 512-sample host blocks (features, LM steps,
/// sampling, chunked decoding with cross-fades, resampling 24 → 48 kHz). Each operation starts
/// from a fresh session holding all of the demo's events with the input ended, so every
/// operation renders the same second; creating that session is done in [IterationSetup] and is
/// not measured (hence one invocation per iteration, and BenchmarkDotNet's expected warning that an
/// iteration is shorter than 100 ms). Below 1 s per operation is faster than
/// real time; the fixture does ~50 LM steps and ~6–7 decoder windows per second of audio, plus
/// the latency's worth of frames produced ahead.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(1)]
public class RenderBenchmarks
{
    const int OutputRate = 48000;
    const int BlockSize = 512;

    ModelPackage _package = null!;
    MidiEvent[] _events = [];
    RenderSession _session = null!;
    readonly float[] _left = new float[BlockSize];
    readonly float[] _right = new float[BlockSize];

    [GlobalSetup]
    public void Setup()
    {
        _package = ModelPackage.Load(RepoPaths.FixtureModel);
        var midi = MidiFile.Read(RepoPaths.DemoMidi);
        _events = OfflineRender.ToHostEvents(midi.Messages.Select(m => (m.Seconds, m.Message)), OutputRate);
    }

    [IterationSetup]
    public void NewSession()
    {
        _session = new RenderSession(_package, new RenderSettings(OutputRate, Seed: 7));
        foreach (var e in _events) _session.AddEvent(e);
        _session.EndInput();
    }

    [Benchmark]
    public float RenderOneSecond()
    {
        float last = 0;
        for (int done = 0; done < OutputRate; done += BlockSize)
        {
            int n = Math.Min(BlockSize, OutputRate - done);
            int got = _session.Render(_left.AsSpan(0, n), _right.AsSpan(0, n));
            if (got != n) throw new InvalidOperationException($"rendered {got} of {n} samples with the input ended");
            last = _left[n - 1];
        }
        return last;
    }

    [IterationCleanup]
    public void DisposeSession() => _session.Dispose();

    [GlobalCleanup]
    public void Cleanup() => _package.Dispose();
}
