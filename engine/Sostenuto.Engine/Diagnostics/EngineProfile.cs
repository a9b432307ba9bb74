using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Sostenuto.Engine.Diagnostics;

/// <summary>
/// Where the engine's time goes, per section of its per-frame work and its serving loop
/// (benchmarks/cost/README.md). Off unless <c>SOSTENUTO_PROFILE</c> is set in the environment; off, every
/// call is a test of a static readonly field the JIT folds away. On, a section costs two
/// <see cref="Stopwatch.GetTimestamp"/> calls and two interlocked adds (~50 ns), and the counters are
/// process-wide (every connection's thread adds to them).
///
/// <c>SOSTENUTO_PROFILE=PATH</c> (anything but <c>1</c>): a background thread rewrites PATH with the
/// cumulative counters once a second (and <see cref="WriteNow"/> at the end), so a benchmark diffs two
/// reads to get one window's profile. <c>SOSTENUTO_PROFILE=1</c>: counters only (<see cref="Report"/>).
///
/// Sections nest: <see cref="Section.Frame"/> (one model frame) holds the LM run, sampling, features,
/// snapshot and, every chunk, the decoder's run and input, the cross-fade and the resampler;
/// <see cref="Section.Render"/> (RenderSession.Render) holds the frames and the mixing; <see cref="Section.Message"/>
/// (one protocol message handled) holds the renders it causes and the ring writes.
/// </summary>
public static class EngineProfile
{
    public enum Section
    {
        /// <summary>One ProduceFrame: everything below up to Ring.</summary>
        Frame,
        /// <summary>The LM step's ORT run.</summary>
        LmRun,
        /// <summary>Copying conditioning rows and previous tokens into the LM's input tensors.</summary>
        LmInput,
        /// <summary>The token sampler, every codebook.</summary>
        Sampling,
        /// <summary>Conditioning features of the frames that enter the lookahead window.</summary>
        Features,
        /// <summary>Live: the per-frame snapshot (LM state copy) and per-chunk audio-side snapshot.</summary>
        Snapshot,
        /// <summary>Filling the decoder's token window from the history.</summary>
        DecoderInput,
        /// <summary>The decoder's ORT run.</summary>
        DecoderRun,
        /// <summary>The overlap cross-fade and copies of a decoded chunk.</summary>
        CrossFade,
        /// <summary>Resampler push and pull of a decoded chunk.</summary>
        Resampler,
        /// <summary>RenderSession.Render: frames, mixing, fades.</summary>
        Render,
        /// <summary>Streams' MixInto (FIFO to host buffers).</summary>
        Mix,
        /// <summary>Writes and splices into the shared-memory ring.</summary>
        Ring,
        /// <summary>Handling one protocol message (renders it causes included).</summary>
        Message,
        /// <summary>Frame decoding (System.IO.Pipelines buffer to message objects).</summary>
        Decode,
        /// <summary>A ClockAdvance's work: the live writer's update or the studio render into the ring.</summary>
        ClockWork,
        /// <summary>Frames a quiescent stream skipped (counted, not timed: they cost nothing).</summary>
        SkippedFrame,
        /// <summary>Wake-ups of a connection's read loop (ReadAsync returning with data).</summary>
        Wakeup,
        /// <summary>ClockAdvance messages received.</summary>
        ClockAdvance,
        /// <summary>ClockAdvance work done (one per batch of frames read at once).</summary>
        ClockBatch,
    }

    static readonly int Count = Enum.GetValues<Section>().Length;
    static readonly long[] s_ticks = new long[Count];
    static readonly long[] s_counts = new long[Count];
    static readonly string? s_path;

    public static readonly bool Enabled;

    static EngineProfile()
    {
        var value = Environment.GetEnvironmentVariable("SOSTENUTO_PROFILE");
        Enabled = !string.IsNullOrEmpty(value) && value != "0";
        if (Enabled && value != "1")
        {
            s_path = value;
            var thread = new Thread(() =>
            {
                while (true)
                {
                    Thread.Sleep(1000);
                    WriteNow();
                }
            }) { IsBackground = true, Name = "profile writer", Priority = ThreadPriority.BelowNormal };
            thread.Start();
        }
    }

    /// <summary>A timestamp to pass to <see cref="Stop"/> (0 when profiling is off).</summary>
    public static long Start() => Enabled ? Stopwatch.GetTimestamp() : 0;

    public static void Stop(Section section, long start)
    {
        if (!Enabled) return;
        Interlocked.Add(ref s_ticks[(int)section], Stopwatch.GetTimestamp() - start);
        Interlocked.Increment(ref s_counts[(int)section]);
    }

    /// <summary>Counts an untimed occurrence.</summary>
    public static void Add(Section section, long count = 1)
    {
        if (!Enabled) return;
        Interlocked.Add(ref s_counts[(int)section], count);
    }

    public static void Reset()
    {
        for (int i = 0; i < Count; i++)
        {
            Interlocked.Exchange(ref s_ticks[i], 0);
            Interlocked.Exchange(ref s_counts[i], 0);
        }
    }

    /// <summary>(seconds, count) per section.</summary>
    public static IReadOnlyDictionary<Section, (double Seconds, long Count)> Read()
    {
        var result = new Dictionary<Section, (double, long)>();
        foreach (var s in Enum.GetValues<Section>())
            result[s] = ((double)Volatile.Read(ref s_ticks[(int)s]) / Stopwatch.Frequency, Volatile.Read(ref s_counts[(int)s]));
        return result;
    }

    /// <summary>One line per section: name, seconds, count (the format benchmarks/cost reads).</summary>
    public static string Report()
    {
        var text = new StringBuilder();
        foreach (var (section, (seconds, count)) in Read())
            text.Append(CultureInfo.InvariantCulture, $"{section} {seconds:F6} {count}\n");
        return text.ToString();
    }

    /// <summary>Rewrites the profile file (when one was asked for), atomically.</summary>
    public static void WriteNow()
    {
        if (s_path is null) return;
        try
        {
            var temporary = s_path + ".tmp";
            File.WriteAllText(temporary, Report());
            File.Move(temporary, s_path, overwrite: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
