using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// What a caller chooses about a render: the host's rate and the sampling (null = the model's defaults).
/// <paramref name="SpeculationSamples"/> above 0 makes the render live (docs/live-mode.md): it renders
/// ahead of the clock, at most that many samples past it, as if no further event will come, and rewinds
/// when one does. <paramref name="ReuseUnchangedWork"/> (on by default) lets a stream skip an LM step or a
/// decode whose inputs are bit for bit those of the previous one and whose result is therefore known
/// (docs/idle.md); off, every frame runs the networks (the tests compare the two).
/// </summary>
/// <paramref name="HonourRest"/> (on by default): a stream ends at the rest its package declares (docs/idle.md).
public sealed record RenderSettings(int OutputRate, ulong Seed = 0, SamplingSettings? Sampling = null, int SpeculationSamples = 0,
    bool ReuseUnchangedWork = true, bool HonourRest = true)
{
    public bool Live => SpeculationSamples > 0;

    /// <summary>
    /// The engine's default for <see cref="ReuseUnchangedWork"/>: on, unless the environment has
    /// <c>SOSTENUTO_REUSE=0</c> (benchmarks/cost compares the two in one run; the audio is the same).
    /// </summary>
    public static bool ReuseFromEnvironment => Environment.GetEnvironmentVariable("SOSTENUTO_REUSE") != "0";

    /// <summary>The engine's default for <see cref="HonourRest"/>: on, unless <c>SOSTENUTO_REST=0</c> (benchmarks/cost's "before" rows).</summary>
    public static bool RestFromEnvironment => Environment.GetEnvironmentVariable("SOSTENUTO_REST") != "0";

    public static readonly int[] SupportedRates = [44100, 48000, 88200, 96000];
}
