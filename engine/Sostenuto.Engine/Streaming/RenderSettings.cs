using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>What a caller chooses about a render: the host's rate and the sampling (null = the model's defaults).</summary>
public sealed record RenderSettings(int OutputRate, ulong Seed = 0, SamplingSettings? Sampling = null)
{
    public static readonly int[] SupportedRates = [44100, 48000, 88200, 96000];
}
