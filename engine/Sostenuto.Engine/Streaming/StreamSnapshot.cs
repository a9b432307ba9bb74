using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// What a <see cref="ModelStream"/> needs to generate again from one decoder chunk of a live stream on:
/// the audio side as it was at the chunk's start (the previous chunk's overlap tail, the resamplers,
/// how many host samples they had delivered), and a <see cref="FrameState"/> for each of the chunk's
/// frames, so that a rollback regenerates from the frame an event changes rather than from the chunk's
/// start. Token history needs no copy: it is kept long enough that rewinding its count restores it.
/// All buffers are allocated once, when the stream is built; taking and restoring a snapshot copies
/// and allocates nothing.
/// </summary>
sealed class StreamSnapshot
{
    public StreamSnapshot(int chunkFrames, Func<FrameState> newFrameState, int channels, int overlapSamples, Func<Resampler> newResampler)
    {
        Frames = Enumerable.Range(0, chunkFrames).Select(_ => newFrameState()).ToArray();
        OverlapTail = Enumerable.Range(0, channels).Select(_ => new float[overlapSamples]).ToArray();
        Resamplers = Enumerable.Range(0, channels).Select(_ => newResampler()).ToArray();
    }

    /// <summary>False until taken, and again once the future it was taken in has been rolled back.</summary>
    public bool Valid { get; set; }

    /// <summary>The chunk's first frame.</summary>
    public long Frame { get; set; }

    /// <summary>Host samples the resamplers had delivered: the local time at which the regenerated output starts.</summary>
    public long ProducedSamples { get; set; }

    public float[][] OverlapTail { get; }
    public Resampler[] Resamplers { get; }

    /// <summary>The state before each of the chunk's frames: [k] before frame <see cref="Frame"/> + k.</summary>
    public FrameState[] Frames { get; }
}

/// <summary>The LM and conditioning side of a live stream just before it generates one frame.</summary>
sealed class FrameState(int[] lmStateSizes, ConditioningTracker tracker, int featureValues)
{
    public bool Valid { get; set; }
    public long Frame { get; set; }

    /// <summary>Frames whose conditioning rows were computed (rows in <see cref="FeatureRows"/>).</summary>
    public long FeatureFrames { get; set; }

    /// <summary>Index (counted from the stream's first) of the first event not yet applied to the conditioning.</summary>
    public long NextEvent { get; set; }

    /// <summary>Index of the first sampling change not yet applied, and the setting in force.</summary>
    public long NextSamplingChange { get; set; }
    public SamplingSettings Sampling { get; set; } = null!;

    public float[][] LmState { get; } = lmStateSizes.Select(n => new float[n]).ToArray();
    public ConditioningTracker Tracker { get; } = tracker;
    public float[] FeatureRows { get; } = new float[featureValues];
}
