using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Streaming;
using Sostenuto.Engine.Tests.Tools;
using Xunit.Abstractions;

namespace Sostenuto.Engine.Tests.Streaming;

/// <summary>
/// An instance with no sound pending does no model work (docs/idle.md, issue #20): a stream skips an LM
/// step whose inputs equal the last step's when that step left its state unchanged and drew every token
/// with certainty, and a decode whose window equals the last one. Both are exact, so the audio is bit for
/// bit the audio of a stream that runs every frame; the counts of ORT runs say the work was not done.
/// </summary>
public sealed class IdleWorkTests(ITestOutputHelper output)
{
    const int Rate = 48000;

    static readonly Lazy<ModelPackage> Piano = new(() => ModelPackage.Load(Path.Combine(RepositoryPaths.Root, "models", "piano")));
    static readonly Lazy<ModelPackage> Piano3 = new(() => ModelPackage.Load(Path.Combine(RepositoryPaths.Root, "models", "piano3")));
    static readonly Lazy<ModelPackage> Fixture = new(() => ModelPackage.Load(RepositoryPaths.FixtureModel));

    static ModelPackage Model(string name) => name switch
    {
        "piano" => Piano.Value,
        "piano3" => Piano3.Value,
        _ => Fixture.Value,
    };

    /// <summary>A chord, silence, a phrase with the pedal, silence: notes after a stream went quiet, so a skipped stretch is followed by real work.</summary>
    static MidiEvent[] NotesSilenceNotes()
    {
        var e = new List<MidiEvent>();
        void Note(double at, double length, int key, int velocity)
        {
            e.Add(new MidiEvent((long)(at * Rate), MidiMessage.NoteOn(0, key, velocity)));
            e.Add(new MidiEvent((long)((at + length) * Rate), MidiMessage.NoteOff(0, key, 0)));
        }
        foreach (int k in new[] { 48, 60, 64, 67 }) Note(0.1, 0.5, k, 90);
        e.Add(new MidiEvent((long)(4.0 * Rate), MidiMessage.ControlChange(0, MidiMessage.SustainPedalController, 127)));
        Note(4.02, 0.3, 72, 100);
        Note(4.3, 0.2, 76, 60);
        e.Add(new MidiEvent((long)(4.9 * Rate), MidiMessage.ControlChange(0, MidiMessage.SustainPedalController, 0)));
        return e.OrderBy(x => x.Time).ToArray();
    }

    static (float[] Left, float[] Right, RenderSession Session) Render(ModelPackage package, bool reuse, int speculation, int seconds, int block)
    {
        var session = new RenderSession(package, new RenderSettings(Rate, Seed: 5, SpeculationSamples: speculation, ReuseUnchangedWork: reuse));
        foreach (var ev in NotesSilenceNotes()) session.AddEvent(ev);
        session.EndInput();
        int length = seconds * Rate;
        var left = new float[length];
        var right = new float[length];
        for (int at = 0; at < length; at += block)
        {
            int n = Math.Min(block, length - at);
            Assert.Equal(n, session.Render(left.AsSpan(at, n), right.AsSpan(at, n)));
        }
        return (left, right, session);
    }

    /// <summary>Skipping known work changes no sample, for every model in the repository, in studio and live sessions.</summary>
    [Theory]
    [InlineData("fixture", 0)]
    [InlineData("fixture", 9600)]
    [InlineData("piano", 0)]
    [InlineData("piano", 9600)]
    [InlineData("piano3", 0)]
    public void SkippingKnownWorkIsBitExact(string model, int speculation)
    {
        var package = Model(model);
        var (refLeft, refRight, reference) = Render(package, reuse: false, speculation, seconds: 9, block: 4096);
        var (left, right, reused) = Render(package, reuse: true, speculation, seconds: 9, block: 1000);
        using (reference)
        using (reused)
        {
            output.WriteLine($"{model} speculation {speculation}: LM runs {reference.LmRuns} -> {reused.LmRuns} ({reused.SkippedFrames} skipped), decoder runs {reference.DecoderRuns} -> {reused.DecoderRuns}");
            Assert.Equal(0, reference.SkippedFrames);
            Assert.Equal(refLeft, left);
            Assert.Equal(refRight, right);
        }
    }

    /// <summary>
    /// The default piano declares a rest (model.json <c>rest.afterSeconds</c>, docs/idle.md): that long after the
    /// last event, with no key held or sustained, its stream ends, and no network runs until the next note.
    /// Before issue #20 every frame ran both networks, note or no note, until a flush.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(9600)]
    public void ThePianoDoesNoModelWorkOnceItHasComeToRest(int speculation)
    {
        var package = Model("piano");
        Assert.NotNull(package.Manifest.RestAfterSeconds);
        long rest = (long)Math.Round(package.Manifest.RestAfterSeconds!.Value * Rate);
        using var session = new RenderSession(package, new RenderSettings(Rate, Seed: 5, SpeculationSamples: speculation));
        foreach (int k in new[] { 48, 60, 64, 67 }) session.AddEvent(new MidiEvent(Rate / 10, MidiMessage.NoteOn(0, k, 90)));
        foreach (int k in new[] { 48, 60, 64, 67 }) session.AddEvent(new MidiEvent(Rate / 2, MidiMessage.NoteOff(0, k, 0)));
        var left = new float[512];
        var right = new float[512];
        long clock = Rate / 2 + 1;
        float peak = 0;
        void RenderUntil(long until)
        {
            peak = 0;
            while (session.Position < until)
            {
                clock = Math.Max(clock, session.Position + 512 + session.LatencySamples);
                session.AdvanceClock(clock);
                int n = (int)Math.Min(512, until - session.Position);
                Assert.Equal(n, session.Render(left.AsSpan(0, n), right.AsSpan(0, n)));
                peak = Math.Max(peak, left.AsSpan(0, n).ToArray().Max(Math.Abs));
            }
        }
        RenderUntil(Rate / 2 + rest + Rate / 2);
        long lm = session.LmRuns, decoder = session.DecoderRuns;
        Assert.True(lm > 0);
        RenderUntil(session.Position + 10 * Rate);
        output.WriteLine($"LM runs {lm} until the rest, {session.LmRuns - lm} in the 10 s after; decoder {decoder}, then {session.DecoderRuns - decoder}; {session.Rests} rests");
        Assert.Equal(lm, session.LmRuns);
        Assert.Equal(decoder, session.DecoderRuns);
        Assert.Equal(0, session.StreamCount);
        Assert.Equal(0f, peak);

        // A note after the rest plays at once (a fresh stream, as after a flush).
        session.AddEvent(new MidiEvent(Math.Max(clock, session.Position) + 100, MidiMessage.NoteOn(0, 60, 100)));
        if (session.RewindFrom is long from) session.Rewind(from);
        RenderUntil(session.Position + Rate / 2);
        Assert.True(session.LmRuns > lm, "the note ran the LM");
        Assert.True(peak > 1e-3f, $"the note sounds (peak {peak})");
    }

    /// <summary>The fixture with a declared rest of 0.3 s: a copy of its package with the field added.</summary>
    static ModelPackage FixtureWithRest(TempDirectory dir, double seconds)
    {
        foreach (var f in Directory.GetFiles(RepositoryPaths.FixtureModel)) File.Copy(f, dir.File(Path.GetFileName(f)));
        var json = File.ReadAllText(dir.File("model.json"));
        File.WriteAllText(dir.File("model.json"), json.Replace("\"sampling\":", $"\"rest\": {{ \"afterSeconds\": {seconds.ToString(System.Globalization.CultureInfo.InvariantCulture)} }},\n  \"sampling\":"));
        var package = ModelPackage.Load(dir.Path);
        Assert.Equal(seconds, package.Manifest.RestAfterSeconds!.Value, 5);
        return package;
    }

    /// <summary>
    /// The rest depends only on the events (the last one's time, whether anything sounds after it), never on
    /// how time is sliced or when an event arrived: events delivered just in time in small blocks, all at
    /// once, or (live) late with rewinds give the same audio. Notes land before, at and after the rest.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ARestIsBlockSizeInvariantAndLiveEqualsStudio(bool live)
    {
        using var dir = new TempDirectory();
        using var package = FixtureWithRest(dir, 0.3);
        long rest = (long)(0.3 * Rate);
        var events = new List<MidiEvent>();
        void Note(long at, long length, int key)
        {
            events.Add(new MidiEvent(at, MidiMessage.NoteOn(0, key, 90)));
            events.Add(new MidiEvent(at + length, MidiMessage.NoteOff(0, key, 0)));
        }
        Note(1000, 6000, 60);                      // quiet from 7000: rests at 7000 + rest
        Note(7000 + rest - 1, 3000, 62);           // one sample before the rest: the same stream
        Note(10_000 + rest - 1 + rest, 2000, 64);  // exactly at the next rest: a fresh stream
        events.Add(new MidiEvent(30_000, MidiMessage.ControlChange(0, MidiMessage.SustainPedalController, 127)));
        Note(30_100, 500, 65);                     // sustained by the pedal: no rest until it lifts
        events.Add(new MidiEvent(60_000, MidiMessage.ControlChange(0, MidiMessage.SustainPedalController, 0)));
        Note(60_000 + rest + 4000, 3000, 67);      // well after the rest
        var all = events.OrderBy(e => e.Time).ToArray();
        int length = 120_000;

        using var once = new RenderSession(package, new RenderSettings(Rate, Seed: 2));
        var expected = TestPerformances.RenderAtOnce(once, all, length);
        Assert.True(once.Rests >= 2, $"{once.Rests} rests");

        using var streamed = new RenderSession(package, new RenderSettings(Rate, Seed: 2, SpeculationSamples: live ? 9600 : 0));
        var left = new float[length];
        var right = new float[length];
        var random = new Random(7);
        int next = 0;
        long clock = 0;
        while (streamed.Position < length)
        {
            int block = 1 + random.Next(700);
            clock += block;
            while (next < all.Length && all[next].Time < clock) streamed.AddEvent(all[next++]);
            streamed.AdvanceClock(clock);
            if (streamed.RewindFrom is long from) streamed.Rewind(from);
            long want = live ? Math.Min(length, clock + 4000) : Math.Min(length, clock - streamed.LatencySamples);
            if (want <= streamed.Position) continue;
            int n = (int)(want - streamed.Position);
            int at = (int)streamed.Position;
            Assert.Equal(n, streamed.Render(left.AsSpan(at, n), right.AsSpan(at, n)));
        }
        Assert.Equal(expected.Left, left);
        Assert.Equal(expected.Right, right);
    }

    /// <summary>A session that never had a note has no stream, so it runs nothing at all.</summary>
    [Fact]
    public void ANeverPlayedSessionRunsNothing()
    {
        using var session = new RenderSession(Model("fixture"), new RenderSettings(Rate, SpeculationSamples: 9600));
        var left = new float[4096];
        var right = new float[4096];
        for (int i = 0; i < 50; i++) Assert.Equal(4096, session.Render(left, right));
        Assert.Equal(0, session.LmRuns);
        Assert.Equal(0, session.DecoderRuns);
    }
}
