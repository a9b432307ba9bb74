using Sostenuto.Engine.Streaming;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// Live mode's producer (docs/live-mode.md): keeps the ring filled a speculation horizon ahead of the
/// plug-in's reader with audio rendered as if no further event will come, and when an event changes
/// audio already in the ring, rewinds the session to the first time the reader has not claimed, renders
/// again and splices the new audio in with a short linear cross-fade. If the engine falls behind, the
/// reader plays the speculative continuation instead of a gap.
/// </summary>
public sealed class SpeculativeRingWriter
{
    /// <summary>Length of the old-to-new cross-fade of a splice.</summary>
    public const double CrossFadeSeconds = 0.004;

    /// <summary>How far ahead of the reader's claim the ring is kept filled.</summary>
    public const double HorizonSeconds = 0.1;

    const int Block = 4096;

    readonly RenderSession _session;
    readonly SharedAudioRing _ring;
    readonly int _maxBlock;
    readonly float[] _left = new float[Block];
    readonly float[] _right = new float[Block];

    /// <param name="maxBlock">the largest block the reader claims at once (the Hello's max block size)</param>
    public SpeculativeRingWriter(RenderSession session, SharedAudioRing ring, int maxBlock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBlock, 1);
        _maxBlock = maxBlock;
        if (!session.IsLive) throw new ArgumentException("a speculative writer needs a live session", nameof(session));
        _session = session;
        _ring = ring;
        session.PrepareNextStream();
        CrossFadeSamples = Math.Max(1, (int)Math.Round(CrossFadeSeconds * session.OutputRate));
        HorizonSamples = (int)Math.Min(Math.Round(HorizonSeconds * session.OutputRate), ring.CapacityFrames / 2);
    }

    /// <summary>The speculation a live session needs to be built with for this writer (see <see cref="RenderSettings"/>).</summary>
    public static int SpeculationFor(int outputRate, int maxBlock) => (int)Math.Round(HorizonSeconds * outputRate) + 2 * maxBlock + Block;

    public int CrossFadeSamples { get; }
    public int HorizonSamples { get; }

    /// <summary>Splices this session has made.</summary>
    public long Splices { get; private set; }

    /// <summary>Times the reader had passed everything written (it played a gap).</summary>
    public long Underruns { get; private set; }

    /// <summary>Called with every splice: the time the new audio was asked for (the change) and where it starts being heard.</summary>
    public Action<long, long>? SpliceObserver { get; set; }

    static int s_warm;

    /// <summary>
    /// Runs a short live session with a late note once per process, so the first note a player plays
    /// does not wait for the JIT to compile the rewind path (tens of milliseconds). The bundled engine
    /// is compiled ahead of time and has nothing to compile: there it would only delay the first
    /// Welcome (by 130-180 ms, most of an engine restart's budget; issue #19), so it is skipped.
    /// </summary>
    public static void WarmUp(Sostenuto.Engine.Model.ModelPackage package)
    {
        if (!System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled) return;
        if (Interlocked.Exchange(ref s_warm, 1) != 0) return;
        const int rate = 48000;
        using var session = new RenderSession(package, new RenderSettings(rate, SpeculationSamples: SpeculationFor(rate, 1024)));
        var left = new float[Block];
        var right = new float[Block];
        for (int round = 0; round < 4; round++)
        {
            long t = session.Position - 2000;
            session.AddEvent(new Sostenuto.Engine.Midi.MidiEvent(Math.Max(0, t), Sostenuto.Engine.Midi.MidiMessage.NoteOn(0, 60 + round, 80)));
            if (session.RewindFrom is long from) session.Rewind(from);
            for (int i = 0; i < 6; i++) session.Render(left, right);
        }
    }

    /// <summary>Publishes what the inputs since the last call changed, then renders ahead. Call after each batch of inputs.</summary>
    public void Update()
    {
        SpliceChanges();
        CatchUp();
        FillAhead();
        _session.PrepareNextStream(); // last: the ring is full for the horizon now
    }

    void SpliceChanges()
    {
        if (_session.RewindFrom is not long from) return;
        long written = _session.Position; // equal to the ring's write position between calls
        // One block above the reader's claim: its next block then ends below the splice, so only a reader
        // two blocks ahead of this thread (preempted that long mid-splice) can meet the splice in progress
        // and stop short. The margin is taken again when the splice is announced (Splice's claimMargin):
        // rendering the new audio takes about a period, and a margin taken only before it would be gone by
        // then, leaving a reader that happens to claim during the copy to stop short (a CI underrun).
        long at = Math.Max(from, _ring.ReadClaim + _maxBlock);
        if (at >= written)
        {
            // The reader has claimed everything the change touches (it is in a gap): regenerate, publish nothing.
            _session.Rewind(written);
            return;
        }
        _session.Rewind(at);
        // The splice drops the old audio beyond what it writes, and until FillAhead has rendered the rest
        // of the horizon that is all the reader has: write enough (half the horizon, 50 ms) that this thread
        // being preempted between the two does not starve the reader. Rendering it first delays the splice
        // by well under a millisecond of compute.
        int n = (int)Math.Min(Math.Min(Math.Max(4L * CrossFadeSamples, HorizonSamples / 2), Block), _ring.ReadPosition + _ring.CapacityFrames - at);
        if (n <= 0) { _session.Rewind(at); return; }
        int got = _session.Render(_left.AsSpan(0, n), _right.AsSpan(0, n));
        long start = _ring.Splice(at, _left.AsSpan(0, got), _right.AsSpan(0, got), CrossFadeSamples, _maxBlock);
        Splices++;
        SpliceObserver?.Invoke(from, start);
    }

    /// <summary>Keeps the session at the ring's write position when the reader passed it (a gap) or a splice came too late.</summary>
    void CatchUp()
    {
        long target = Math.Max(_ring.ReadPosition, _ring.WritePosition);
        if (_ring.ReadPosition > _ring.WritePosition) Underruns++;
        while (_session.Position < target)
        {
            int n = (int)Math.Min(Block, target - _session.Position);
            _session.Render(_left.AsSpan(0, n), _right.AsSpan(0, n));
        }
        _ring.SkipTo(target);
    }

    void FillAhead()
    {
        long target = _ring.ReadClaim + HorizonSamples;
        while (_session.Position < target)
        {
            int n = (int)Math.Min(Math.Min(Block, target - _session.Position), _ring.WritableFrames);
            if (n <= 0) break;
            int got = _session.Render(_left.AsSpan(0, n), _right.AsSpan(0, n));
            _ring.Write(_left.AsSpan(0, got), _right.AsSpan(0, got));
        }
    }
}
