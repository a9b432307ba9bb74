using System.Buffers.Binary;

namespace Sostenuto.Engine.Tests.Fuzz;

/// <summary>
/// A seeded mutation fuzzer's input generator: takes a corpus entry and applies 1–4 random edits (bit flips,
/// interesting bytes and integers at random offsets, inserted, deleted or duplicated runs, truncation, a splice
/// with another entry). The same seed always gives the same inputs (System.Random with a seed is stable), so a
/// failure is reproduced by its seed and iteration alone.
/// </summary>
public sealed class Mutator(int seed, IReadOnlyList<byte[]> corpus)
{
    readonly Random _random = new(seed);
    static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x40, 0x20, (byte)'/', (byte)'\n'];
    static readonly ulong[] InterestingIntegers =
        [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1UL << 44, (1UL << 44) + 1, long.MaxValue, 1UL << 63, ulong.MaxValue];

    public byte[] Next()
    {
        var data = new List<byte>(corpus[_random.Next(corpus.Count)]);
        int edits = 1 + _random.Next(4);
        for (int e = 0; e < edits; e++) Mutate(data);
        return data.ToArray();
    }

    void Mutate(List<byte> data)
    {
        int at = data.Count == 0 ? 0 : _random.Next(data.Count);
        switch (_random.Next(9))
        {
            case 0 when data.Count > 0: data[at] ^= (byte)(1 << _random.Next(8)); break;
            case 1 when data.Count > 0: data[at] = InterestingBytes[_random.Next(InterestingBytes.Length)]; break;
            case 2 when data.Count > 0: data[at] = (byte)_random.Next(256); break;
            case 3:
            {
                int width = 1 << _random.Next(1, 4); // 2, 4 or 8 bytes, little or big endian
                if (data.Count < width) break;
                at = _random.Next(data.Count - width + 1);
                Span<byte> bytes = stackalloc byte[8];
                ulong value = InterestingIntegers[_random.Next(InterestingIntegers.Length)] + (ulong)(_random.Next(3) - 1);
                if (_random.Next(2) == 0) BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
                else BinaryPrimitives.WriteUInt64BigEndian(bytes, value << (64 - 8 * width));
                for (int i = 0; i < width; i++) data[at + i] = bytes[i];
                break;
            }
            case 4:
            {
                int n = 1 + _random.Next(16);
                for (int i = 0; i < n; i++) data.Insert(Math.Min(at, data.Count), (byte)_random.Next(256));
                break;
            }
            case 5 when data.Count > 0: data.RemoveRange(at, Math.Min(1 + _random.Next(16), data.Count - at)); break;
            case 6 when data.Count > 0:
            {
                int n = Math.Min(1 + _random.Next(32), data.Count - at);
                data.InsertRange(_random.Next(data.Count + 1), data.GetRange(at, n));
                break;
            }
            case 7 when data.Count > 0: data.RemoveRange(at, data.Count - at); break; // truncate
            case 8:
            {
                var other = corpus[_random.Next(corpus.Count)];
                if (other.Length == 0) break;
                int from = _random.Next(other.Length);
                data.RemoveRange(at, data.Count - at);
                data.AddRange(other.AsSpan(from).ToArray());
                break;
            }
        }
    }
}

/// <summary>
/// How long a fuzz target runs: a fixed count of inputs in <c>make test</c>; with SOSTENUTO_FUZZ_SECONDS
/// set (<c>make fuzz FUZZ_MINUTES=N</c>) as many as fit in that many seconds, from SOSTENUTO_FUZZ_SEED.
/// </summary>
public static class FuzzBudget
{
    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("SOSTENUTO_FUZZ_SEED"), out var s) ? s : 19;

    /// <summary>An input that takes this long in a timed run (<c>make fuzz</c>) is a hang.</summary>
    public const double HangSeconds = 1.0;

    static double? Seconds => double.TryParse(Environment.GetEnvironmentVariable("SOSTENUTO_FUZZ_SECONDS"), System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 ? s : null;

    /// <summary>Runs <paramref name="one"/> on inputs 0, 1, … until the budget is spent; returns how many ran.</summary>
    public static long Run(string target, int defaultCount, Action<long> one)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        long i = 0;
        if (Seconds is double seconds)
        {
            // Each input is timed: one that takes HangSeconds is a hang (the targets read a few kilobytes, in
            // microseconds), reported with its index and failed after the run.
            double slowest = 0;
            long slowestAt = -1, hangs = 0, firstHang = -1;
            while (watch.Elapsed.TotalSeconds < seconds)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                one(i);
                double took = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (took > slowest) (slowest, slowestAt) = (took, i);
                if (took >= HangSeconds && hangs++ == 0) firstHang = i;
                i++;
            }
            // make fuzz collects these lines for its report (a crash fails the test before it gets here).
            if (Environment.GetEnvironmentVariable("SOSTENUTO_FUZZ_REPORT") is { Length: > 0 } report)
                File.AppendAllText(report, $"C# {target}: {i} inputs in {watch.Elapsed.TotalSeconds:0} s, seed {Seed}, 0 crashes, " +
                                           $"{hangs} hangs (slowest input #{slowestAt}: {slowest * 1000:0.###} ms)\n");
            if (hangs > 0)
                throw new Xunit.Sdk.XunitException($"{target}: {hangs} inputs took {HangSeconds} s or more, the first #{firstHang} (seed {Seed})");
        }
        else while (i < defaultCount) one(i++);
        return i;
    }

    /// <summary>Saves a failing input where a developer can find it, and returns a message naming it.</summary>
    public static string Crash(string target, long iteration, byte[] input, Exception e)
    {
        var path = Path.Combine(Path.GetTempPath(), $"sostenuto-fuzz-{target}-seed{Seed}-{iteration}.bin");
        File.WriteAllBytes(path, input);
        return $"{target}: input {iteration} (seed {Seed}, saved to {path}, {input.Length} bytes: {Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 96)))}) threw {e}";
    }
}
