// Evaluates NAudio.Core 3.3.0's WAV writer and reader against Sostenuto's (engine/…/Audio/Wav*.cs):
// does the writer produce the same bytes (renders must stay byte-identical), and does the reader
// reject what ours rejects (truncations, mutations) with a format error rather than a crash or hang?
using NAudio.Wave;
using Sostenuto.Engine.Audio;

string soxFile = args[0];
var results = new List<(string Case, string Ours, string NAudio, bool Pass)>();
float[] signal = Enumerable.Range(0, 2 * 41).Select(i => (float)Math.Sin(i * 0.37) * 0.9f).ToArray();

// --- writer: same samples, same format, compare the bytes ------------------------------------
foreach (var (format, label) in new[] { (WavSampleFormat.Pcm16, "pcm16"), (WavSampleFormat.Pcm24, "pcm24"), (WavSampleFormat.Float32, "float") })
{
    string ours = Path.GetTempFileName(), theirs = Path.GetTempFileName();
    WavFile.Write(ours, 48000, 2, signal, format);
    var waveFormat = format == WavSampleFormat.Float32 ? WaveFormat.CreateIeeeFloatWaveFormat(48000, 2)
        : new WaveFormat(48000, format == WavSampleFormat.Pcm16 ? 16 : 24, 2);
    using (var writer = new WaveFileWriter(theirs, waveFormat))
        writer.WriteSamples(signal, 0, signal.Length);
    byte[] a = File.ReadAllBytes(ours), b = File.ReadAllBytes(theirs);
    int firstDiff = Enumerable.Range(0, Math.Min(a.Length, b.Length)).FirstOrDefault(i => a[i] != b[i], -1);
    int headerOurs = format == WavSampleFormat.Float32 ? 58 : 44;
    bool sameSamples = a.AsSpan(headerOurs).SequenceEqual(b.AsSpan(b.Length - (a.Length - headerOurs)));
    string what = a.SequenceEqual(b) ? "identical bytes"
        : $"{b.Length} bytes vs ours {a.Length}; first difference at byte {(firstDiff >= 0 ? firstDiff : Math.Min(a.Length, b.Length))}; sample data {(sameSamples ? "identical" : "differs")}";
    results.Add(($"writer {label}: bytes of a 41-frame stereo file", "the engine's render format", what, a.SequenceEqual(b)));
}

// --- reader --------------------------------------------------------------------------------
static string Read(byte[] data)
{
    string result = "parsed";
    var t = new Thread(() =>
    {
        try
        {
            using var reader = new WaveFileReader(new MemoryStream(data));
            var buffer = new byte[reader.Length];
            int n = reader.Read(buffer, 0, buffer.Length);
            if (n != reader.Length) result = $"parsed, {n} of {reader.Length} data bytes";
        }
        catch (Exception e) { result = $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}"; }
    }, 64 << 20) { IsBackground = true };
    t.Start();
    return t.Join(TimeSpan.FromSeconds(10)) ? result : "HANG";
}
static bool IsFormatError(string what) => what.StartsWith("FormatException") || what.StartsWith("EndOfStreamException") || what.StartsWith("InvalidDataException");

string oursFloat = Path.GetTempFileName();
WavFile.Write(oursFloat, 8000, 1, signal.AsSpan(0, 41), WavSampleFormat.Float32);
foreach (var (label, path) in new[] { ("sox 24-bit stereo", soxFile), ("the engine's float mono", oursFloat) })
{
    var data = File.ReadAllBytes(path);
    int accepted = 0, crashed = 0, hung = 0;
    string first = "";
    for (int length = 0; length < data.Length; length++)
    {
        string what = Read(data[..length]);
        if (what.StartsWith("parsed")) { accepted++; if (first == "") first = $"length {length}: {what}"; }
        else if (what == "HANG") hung++;
        else if (!IsFormatError(what)) { crashed++; if (first == "") first = $"length {length}: {what}"; }
    }
    results.Add(($"every truncation of {label} ({data.Length} prefixes)", "all rejected with an offset",
        $"{accepted} accepted, {crashed} other exceptions, {hung} hangs{(first != "" ? $"; first: {first}" : "")}", accepted + crashed + hung == 0));
}

static byte[] U32(uint v) => BitConverter.GetBytes(v);
static byte[] Chunk(string id, byte[] body) => [.. System.Text.Encoding.ASCII.GetBytes(id), .. U32((uint)body.Length), .. body, .. (body.Length % 2 == 1 ? new byte[1] : [])];
static byte[] Riff(params byte[][] chunks) { byte[] body = [.. "WAVE"u8, .. chunks.SelectMany(c => c)]; return [.. "RIFF"u8, .. U32((uint)body.Length), .. body]; }
static byte[] Fmt(ushort tag, ushort channels, uint rate, ushort bits)
{
    ushort align = (ushort)(channels * bits / 8);
    return Chunk("fmt ", [.. BitConverter.GetBytes(tag), .. BitConverter.GetBytes(channels), .. U32(rate), .. U32(rate * align), .. BitConverter.GetBytes(align), .. BitConverter.GetBytes(bits)]);
}
byte[] pcm = [0, 0, 0, 0];
foreach (var (label, data) in new (string, byte[])[]
{
    ("huge declared data length", Riff(Fmt(1, 1, 8000, 16), [.. "data"u8, .. U32(0x7FFFFFF0), 0, 0])),
    ("no data chunk", Riff(Fmt(1, 1, 8000, 16))),
    ("no fmt chunk", Riff(Chunk("data", pcm))),
    ("zero channels", Riff(Fmt(1, 0, 8000, 16), Chunk("data", pcm))),
    ("sample rate 0", Riff(Fmt(1, 1, 0, 16), Chunk("data", pcm))),
    ("12-bit PCM", Riff(Fmt(1, 1, 8000, 12), Chunk("data", pcm))),
    ("fmt chunk of 4 bytes", Riff(Chunk("fmt ", pcm), Chunk("data", pcm))),
})
{
    string what = Read(data);
    results.Add(($"bad file: {label}", "rejected, one line with offset", what, IsFormatError(what)));
}
{
    var random = new Random(4321);
    byte[] valid = Riff(Chunk("LIST", [1, 2, 3]), Fmt(1, 2, 8000, 24), Chunk("data", new byte[60]));
    int crashed = 0, hung = 0;
    var kinds = new SortedDictionary<string, int>();
    for (int i = 0; i < 3000; i++)
    {
        byte[] data;
        if (i % 4 == 0)
        {
            data = new byte[random.Next(0, 120)];
            random.NextBytes(data);
            if (data.Length >= 12 && i % 8 == 0) { "RIFF"u8.CopyTo(data); "WAVE"u8.CopyTo(data.AsSpan(8)); }
        }
        else
        {
            data = (byte[])valid.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--) data[random.Next(data.Length)] = (byte)random.Next(256);
        }
        string what = Read(data);
        if (what.StartsWith("parsed") || IsFormatError(what)) continue;
        if (what == "HANG") hung++; else crashed++;
        string kind = what.Split(':')[0];
        kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
    }
    results.Add(("3000 random files and mutations (seed 4321)", "parse or a format error, no hang",
        $"{crashed} other exceptions ({string.Join(", ", kinds.Select(k => $"{k.Key} x{k.Value}"))}), {hung} hangs", crashed + hung == 0));
}

int failed = results.Count(r => !r.Pass);
Console.WriteLine($"NAudio.Core 3.3.0 against Sostenuto's WAV writer and reader cases: {results.Count - failed} of {results.Count} pass");
Console.WriteLine();
Console.WriteLine("| case | the engine's code | NAudio.Core 3.3.0 | |");
Console.WriteLine("|---|---|---|---|");
foreach (var r in results) Console.WriteLine($"| {r.Case} | {r.Ours} | {(r.NAudio.Length > 160 ? r.NAudio[..160] + "…" : r.NAudio).Replace("|", "\\|")} | {(r.Pass ? "pass" : "**FAIL**")} |");
