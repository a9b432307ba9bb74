using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// What a caller chooses about a render: the host's rate and the sampling (null = the model's defaults).
/// <paramref name="SpeculationSamples"/> above 0 makes the render live (docs/live-mode.md): it renders
/// ahead of the clock, at most that many samples past it, as if no further event will come, and rewinds
/// when one does.
/// </summary>
public sealed record RenderSettings(int OutputRate, ulong Seed = 0, SamplingSettings? Sampling = null, int SpeculationSamples = 0)
{
    public bool Live => SpeculationSamples > 0;

    public static readonly int[] SupportedRates = [44100, 48000, 88200, 96000];
}
