// Evaluates NAudio.Midi 3.3.0's SMF reader against the cases Sostenuto's own reader passes
// (tests/Sostenuto.Engine.Tests/Midi). For each case: what the present reader does, what NAudio does.
using System.Diagnostics;
using NAudio.Midi;
using Ours = Sostenuto.Engine.Midi;

var results = new List<(string Case, string Expected, string NAudio, bool Pass)>();
string demoPath = args[0], format1Path = args[1], format0Path = args[2];
bool strictMode = args.Length > 3 && args[3] == "strict";

static byte[] Header(int format, int tracks, int division) =>
    [.. "MThd"u8, 0, 0, 0, 6, 0, (byte)format, (byte)(tracks >> 8), (byte)tracks, (byte)(division >> 8), (byte)division];
static byte[] Chunk(string type, byte[] body) =>
    [.. System.Text.Encoding.ASCII.GetBytes(type), (byte)(body.Length >> 24), (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body];
static byte[] File_(int format, int division, params byte[][] bodies) => [.. Header(format, bodies.Length, division), .. bodies.SelectMany(b => Chunk("MTrk", b))];
byte[] eot = [0x00, 0xFF, 0x2F, 0x00];

// Runs NAudio with a time limit; "ok" or the exception type and first line of its message.
static (bool Ok, string What, MidiFile? File) NAudioRead(byte[] data, bool strict)
{
    MidiFile? file = null;
    Exception? error = null;
    var t = new Thread(() => { try { file = new MidiFile(new MemoryStream(data), strict); } catch (Exception e) { error = e; } }, 64 << 20);
    t.IsBackground = true;
    t.Start();
    if (!t.Join(TimeSpan.FromSeconds(10))) return (false, "HANG (> 10 s)", null);
    if (error is null) return (true, "parsed", file);
    string line = error.Message.ReplaceLineEndings(" ");
    return (false, $"{error.GetType().Name}: {(line.Length > 90 ? line[..90] + "…" : line)}", null);
}

void MustReject(string name, byte[] data)
{
    var (ok, what, _) = NAudioRead(data, strictMode);
    // A rejection the caller can turn into a one-line error: a FormatException (NAudio's documented
    // error type for bad files) or an EndOfStreamException; anything else is a crash, "parsed" is acceptance of a broken file.
    bool pass = !ok && IsFormatError(what);
    results.Add((name, "rejected, one line with offset", what, pass));
}

void MustParse(string name, byte[] data, Func<MidiFile, string?> check)
{
    var (ok, what, file) = NAudioRead(data, strictMode);
    string? problem = ok ? check(file!) : what;
    results.Add((name, "parsed, same events", problem ?? "parsed, same events", problem is null));
}

// A rejection the caller can turn into a one-line error: NAudio's FormatException, or the stream's
// EndOfStreamException / InvalidDataException. Anything else (ArgumentOutOfRange, ...) is a crash.
static bool IsFormatError(string what) => what.StartsWith("FormatException") || what.StartsWith("EndOfStreamException") || what.StartsWith("InvalidDataException");

// --- the malformed cases of MidiFileMalformedTests ---
MustReject("running status with no previous status byte", File_(0, 96, [0x00, 60, 100, .. eot]));
MustReject("format 2", File_(2, 96, [.. eot]));
foreach (var (body, problem) in new (byte[], string)[]
{
    ([0x00, 0xFF, 0x01, 0x8F, 0xFF, 0xFF, 0x7F], "256 MiB meta event in a small file"),
    ([0x00, 0xF0, 0x8F, 0xFF, 0xFF, 0x7F, 0x01], "256 MiB sysex in a small file"),
    ([0x80, 0x80, 0x80, 0x80, 0x00, 0x90, 60, 1], "variable-length number longer than 4 bytes"),
    ([0x00, 0x90, 60, 0x90], "data byte with the high bit set"),
    ([0x00, 0xF3, 0x01], "system common message in a file"),
    ([0x00, 0xFF, 0x51, 0x02, 0x07, 0xA1], "tempo meta event of 2 bytes"),
    ([0x00, 0x90, 60], "event cut by the end of the track"),
})
    MustReject($"bad event: {problem}", File_(0, 96, body));
MustReject("chunk length beyond end of file", [.. Header(0, 1, 96), .. "MTrk"u8, 0xFF, 0xFF, 0xFF, 0xFF, .. eot]);
MustReject("header: empty file", []);
MustReject("header: RIFF", "RIFF...."u8.ToArray());
MustReject("header: division 0", File_(1, 0, [.. eot]));
MustReject("header: SMPTE with 0 ticks per frame", File_(1, 0xE700, [.. eot]));
MustReject("header: declared tracks missing", Header(1, 2, 96));
MustReject("header: header chunk cut short", [.. "MThd"u8, 0, 0, 0, 2, 0, 1]);

foreach (var (label, path) in new[] { ("mido format 1", format1Path), ("demo.mid", demoPath) })
{
    var data = File.ReadAllBytes(path);
    int accepted = 0, crashed = 0, hung = 0;
    string firstBad = "";
    for (int length = 0; length < data.Length; length++)
    {
        var (ok, what, _) = NAudioRead(data[..length], strictMode);
        if (ok) { accepted++; if (firstBad == "") firstBad = $"length {length}: parsed"; }
        else if (what.StartsWith("HANG")) hung++;
        else if (!IsFormatError(what)) { crashed++; if (firstBad == "") firstBad = $"length {length}: {what}"; }
    }
    results.Add(($"every truncation of {label} ({data.Length} prefixes)", "all rejected with an offset",
        $"{accepted} parsed, {crashed} other exceptions, {hung} hangs{(firstBad != "" ? $"; first: {firstBad}" : "")}", accepted + crashed + hung == 0));
}

{
    var random = new Random(1234);
    var demo = File.ReadAllBytes(demoPath);
    int crashed = 0, hung = 0;
    var kinds = new SortedDictionary<string, int>();
    for (int i = 0; i < 2000; i++)
    {
        byte[] data;
        if (i % 4 == 0)
        {
            data = new byte[random.Next(0, 200)];
            random.NextBytes(data);
            if (data.Length >= 4 && i % 8 == 0) "MThd"u8.CopyTo(data);
        }
        else
        {
            data = (byte[])demo.Clone();
            for (int flips = random.Next(1, 6); flips > 0; flips--) data[random.Next(data.Length)] = (byte)random.Next(256);
        }
        var (ok, what, _) = NAudioRead(data, strictMode);
        if (ok || IsFormatError(what)) continue;
        if (what.StartsWith("HANG")) hung++; else crashed++;
        string kind = what.Split(':')[0];
        kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
    }
    results.Add(("2000 random files and mutations of demo.mid (seed 1234)", "parse or a format error, no hang",
        $"{crashed} other exceptions ({string.Join(", ", kinds.Select(k => $"{k.Key} x{k.Value}"))}), {hung} hangs", crashed + hung == 0));
}

// --- the positive cases of MidiFileTests ---
static List<(long Tick, int Status, int D1, int D2)> Channel(MidiFile f) =>
    f.Events.SelectMany((track, t) => track.Where(e => e.CommandCode is >= MidiCommandCode.NoteOff and < MidiCommandCode.Sysex)
        .Select((e, i) => (e.AbsoluteTime, t, i, ev: e)))
        .OrderBy(x => x.AbsoluteTime).ThenBy(x => x.t).ThenBy(x => x.i)
        .Select(x => (x.AbsoluteTime, Status(x.ev), D1(x.ev), D2(x.ev))).ToList();
static int Status(MidiEvent e)
{
    int code = (int)e.CommandCode;
    if (e is NoteEvent { CommandCode: MidiCommandCode.NoteOn, Velocity: 0 }) code = 0x80;
    return code | (e.Channel - 1);
}
static int D1(MidiEvent e) => e switch { NoteEvent n => n.NoteNumber, ControlChangeEvent c => (int)c.Controller, PatchChangeEvent p => p.Patch, ChannelAfterTouchEvent a => a.AfterTouchPressure, PitchWheelChangeEvent w => w.Pitch & 0x7F, _ => -1 };
static int D2(MidiEvent e) => e switch { NoteEvent { CommandCode: MidiCommandCode.NoteOn, Velocity: 0 } => 0, NoteEvent n => n.Velocity, ControlChangeEvent c => c.ControllerValue, PitchWheelChangeEvent w => w.Pitch >> 7, _ => 0 };
static List<(long, int, int, int)> OursChannel(byte[] data) =>
    Ours.MidiFile.Parse(data, "x.mid").Messages.Select(m => (m.Tick, (int)m.Message.Status, (int)m.Message.Data1, (int)m.Message.Data2)).ToList();
string? SameAsOurs(MidiFile f, byte[] data)
{
    var a = Channel(f); var b = OursChannel(data);
    if (a.Count != b.Count) return $"{a.Count} channel events, ours {b.Count}";
    for (int i = 0; i < a.Count; i++) if (a[i] != b[i]) return $"event {i}: {a[i]} vs ours {b[i]}";
    return null;
}

foreach (var (label, path) in new[] { ("mido format 0 (running status throughout)", format0Path), ("mido format 1 (tempo map in track 0 and a later track)", format1Path), ("examples/demo.mid", demoPath) })
{
    var data = File.ReadAllBytes(path);
    MustParse(label, data, f => SameAsOurs(f, data));
}
byte[] running =
[
    0x00, 0x90, 60, 100, 0x00, 0xFF, 0x01, 0x02, (byte)'h', (byte)'i', 0x10, 62, 101,
    0x00, 0xF0, 0x02, 0x7E, 0xF7, 0x10, 64, 0, 0x00, 0xF7, 0x01, 0xF8, 0x10, 0xC3, 5, 0x00, 6, .. eot,
];
{ var d = File_(0, 96, running); MustParse("running status survives meta and sysex events", d, f => SameAsOurs(f, d)); }
{
    byte[] d = File_(0, unchecked((byte)-25) << 8 | 40, [0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, 0x87, 0x68, 0x90, 60, 100, .. eot]);
    MustParse("SMPTE division (25 fps x 40 ticks)", d, f => SameAsOurs(f, d));
}
{
    byte[] d = [.. Header(0, 1, 96), .. Chunk("XFIH", [1, 2, 3, 4, 5]), .. Chunk("MTrk", [0x00, 0x90, 60, 100, 0x60, 60, 0]), .. "trailing garbage"u8];
    MustParse("unknown chunk skipped, missing end-of-track accepted", d, f => SameAsOurs(f, d));
}

int failed = results.Count(r => !r.Pass);
Console.WriteLine($"NAudio.Midi 3.3.0 (strictChecking: {strictMode.ToString().ToLowerInvariant()}) against Sostenuto's SMF reader cases: {results.Count - failed} of {results.Count} pass");
Console.WriteLine();
Console.WriteLine("| case | the present reader | NAudio.Midi 3.3.0 | |");
Console.WriteLine("|---|---|---|---|");
foreach (var r in results) Console.WriteLine($"| {r.Case} | {r.Expected} | {r.NAudio.Replace("|", "\\|")} | {(r.Pass ? "pass" : "**FAIL**")} |");
