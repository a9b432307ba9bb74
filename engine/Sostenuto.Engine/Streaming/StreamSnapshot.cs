using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Model;

namespace Sostenuto.Engine.Streaming;

/// <summary>
/// Everything a <see cref="ModelStream"/> needs to generate again from the start of a decoder chunk, as
/// it was just before that chunk's first frame: LM state, key and pedal state, the conditioning rows
/// already computed ahead, the audio side (the previous chunk's overlap tail, the resamplers) and the
/// cursors into the events and sampling changes. Token history needs no copy: it keeps enough frames
/// behind its newest that rewinding its count restores it. All buffers are allocated once, when the
/// stream is built; taking and restoring a snapshot copies and allocates nothing.
/// </summary>
sealed class StreamSnapshot
{
    public StreamSnapshot(int[] lmStateSizes, ConditioningTracker tracker, int featureValues, int channels, int overlapSamples, Func<Resampler> newResampler)
    {
        LmState = lmStateSizes.Select(n => new float[n]).ToArray();
        Tracker = tracker;
        FeatureRows = new float[featureValues];
        OverlapTail = Enumerable.Range(0, channels).Select(_ => new float[overlapSamples]).ToArray();
        Resamplers = Enumerable.Range(0, channels).Select(_ => newResampler()).ToArray();
    }

    /// <summary>False until taken, and again once the future it was taken in has been rolled back.</summary>
    public bool Valid { get; set; }

    /// <summary>The chunk's first frame: the next frame the LM generates.</summary>
    public long Frame { get; set; }

    /// <summary>Frames whose conditioning rows were computed (rows in <see cref="FeatureRows"/>).</summary>
    public long FeatureFrames { get; set; }

    /// <summary>Index (counted from the stream's first) of the first event not yet applied to the conditioning.</summary>
    public long NextEvent { get; set; }

    /// <summary>Index of the first sampling change not yet applied, and the setting in force.</summary>
    public long NextSamplingChange { get; set; }
    public SamplingSettings Sampling { get; set; } = null!;

    /// <summary>Host samples the resamplers had delivered: the local time at which the regenerated output starts.</summary>
    public long ProducedSamples { get; set; }

    public float[][] LmState { get; }
    public ConditioningTracker Tracker { get; }
    public float[] FeatureRows { get; }
    public float[][] OverlapTail { get; }
    public Resampler[] Resamplers { get; }
}
