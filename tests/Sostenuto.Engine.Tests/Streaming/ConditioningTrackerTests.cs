using Sostenuto.Engine.Midi;
using Sostenuto.Engine.Model;
using Sostenuto.Engine.Streaming;

namespace Sostenuto.Engine.Tests.Streaming;

/// <summary>The per-frame MIDI features follow docs/model-format.md, "Conditioning features".</summary>
public sealed class ConditioningTrackerTests
{
    const int Rate = 24000, Hop = 480;
    static readonly ConditioningFeature[] All = Enum.GetValues<ConditioningFeature>();

    readonly ConditioningTracker _tracker = new(All, Rate, Hop);
    readonly float[] _row;
    long _frame;

    public ConditioningTrackerTests() => _row = new float[_tracker.Size];

    /// <summary>Completes the next frame with the given (offset in frame, message) events and returns its features by name.</summary>
    Dictionary<ConditioningFeature, float[]> Frame(params (float Offset, MidiMessage Message)[] events)
    {
        _tracker.BeginFrame();
        foreach (var (offset, message) in events) _tracker.Apply(message, (_frame + offset) * Hop, offset);
        _frame++;
        _tracker.CompleteFrame(_frame * Hop, _row);
        var result = new Dictionary<ConditioningFeature, float[]>();
        int at = 0;
        foreach (var f in All) { result[f] = _row.AsSpan(at, ConditioningFeatures.Size(f)).ToArray(); at += ConditioningFeatures.Size(f); }
        return result;
    }

    [Fact]
    public void FeatureVectorIsTheConcatenationOfTheListedFeatures()
    {
        Assert.Equal(6 * 128 + 1, _tracker.Size);
        Assert.Equal(2 * 128 + 1, new ConditioningTracker([ConditioningFeature.NoteOnset, ConditioningFeature.Pedal, ConditioningFeature.NoteHeld], Rate, Hop).Size);
    }

    [Fact]
    public void NoteOnSetsOnsetOffsetVelocityAndAge()
    {
        var f = Frame((0.25f, MidiMessage.NoteOn(0, 60, 127)));
        Assert.Equal(1f, f[ConditioningFeature.NoteOnset][60]);
        Assert.Equal(0.25f, f[ConditioningFeature.OnsetOffset][60]);
        Assert.Equal(1f, f[ConditioningFeature.NoteHeld][60]);
        Assert.Equal(1f, f[ConditioningFeature.NoteSounding][60]);
        Assert.Equal(1f, f[ConditioningFeature.NoteVelocity][60]);
        Assert.Equal(0.75f * Hop / Rate, f[ConditioningFeature.NoteAge][60], 6);
        Assert.Equal(0f, f[ConditioningFeature.NoteOnset][61]);

        var next = Frame();
        Assert.Equal(0f, next[ConditioningFeature.NoteOnset][60]); // onset is one frame only
        Assert.Equal(1f, next[ConditioningFeature.NoteSounding][60]);
        Assert.Equal(1.75f * Hop / Rate, next[ConditioningFeature.NoteAge][60], 6);
    }

    [Fact]
    public void NoteOnWithVelocityZeroIsANoteOff()
    {
        Frame((0f, MidiMessage.NoteOn(0, 60, 80)));
        var f = Frame((0.5f, new MidiMessage(0x90, 60, 0)));
        Assert.Equal(0f, f[ConditioningFeature.NoteSounding][60]);
        Assert.Equal(0f, f[ConditioningFeature.NoteHeld][60]);
        Assert.Equal(0f, f[ConditioningFeature.NoteVelocity][60]);
    }

    [Fact]
    public void ANoteStruckAndReleasedInsideOneFrameStillSounds()
    {
        var f = Frame((0.1f, MidiMessage.NoteOn(0, 70, 64)), (0.6f, MidiMessage.NoteOff(0, 70)));
        Assert.Equal(1f, f[ConditioningFeature.NoteSounding][70]);
        Assert.Equal(1f, f[ConditioningFeature.NoteHeld][70]);
        Assert.Equal(0f, Frame()[ConditioningFeature.NoteSounding][70]);
    }

    [Fact]
    public void SustainPedalKeepsReleasedNotesSoundingUntilItLifts()
    {
        Frame((0f, MidiMessage.NoteOn(0, 60, 100)), (0.5f, MidiMessage.ControlChange(0, 64, 127)));
        var released = Frame((0.5f, MidiMessage.NoteOff(0, 60)));
        Assert.Equal(0f, released[ConditioningFeature.NoteHeld][60]);
        Assert.Equal(1f, released[ConditioningFeature.NoteSounding][60]);
        Assert.Equal(1f, released[ConditioningFeature.Pedal][0]);
        var lifted = Frame((0.5f, MidiMessage.ControlChange(0, 64, 0)));
        Assert.Equal(0f, lifted[ConditioningFeature.NoteSounding][60]);
        Assert.Equal(0f, lifted[ConditioningFeature.Pedal][0]);
    }

    [Fact]
    public void ARepeatedNoteReStrikesWithItsNewVelocity()
    {
        Frame((0f, MidiMessage.NoteOn(0, 60, 100)));
        Frame();
        var again = Frame((0.5f, MidiMessage.NoteOn(0, 60, 40)));
        Assert.Equal(40f / 127, again[ConditioningFeature.NoteOnset][60], 6);
        Assert.Equal(40f / 127, again[ConditioningFeature.NoteVelocity][60], 6);
        Assert.Equal(0.5f * Hop / Rate, again[ConditioningFeature.NoteAge][60], 6);
    }

    [Theory]
    [InlineData(MidiMessage.AllNotesOffController)]
    [InlineData(MidiMessage.AllSoundOffController)]
    public void AllNotesOffAndAllSoundOffReleaseEverythingAndLiftThePedal(int controller)
    {
        Frame((0f, MidiMessage.NoteOn(0, 60, 100)), (0f, MidiMessage.NoteOn(3, 64, 100)), (0f, MidiMessage.ControlChange(0, 64, 127)));
        var f = Frame((0.5f, MidiMessage.ControlChange(0, controller, 0)));
        Assert.DoesNotContain(1f, f[ConditioningFeature.NoteSounding]);
        Assert.Equal(0f, f[ConditioningFeature.Pedal][0]);
    }

    [Fact]
    public void ResetAllControllersLiftsThePedalAndKeepsTheKeysThatAreHeld()
    {
        Frame((0f, MidiMessage.NoteOn(0, 60, 100)), (0f, MidiMessage.NoteOn(0, 64, 100)), (0f, MidiMessage.ControlChange(0, 64, 127)));
        Frame((0.5f, MidiMessage.NoteOff(0, 64)));  // the pedal holds it
        var f = Frame((0.5f, MidiMessage.ControlChange(0, MidiMessage.ResetAllControllersController, 0)));
        Assert.Equal(0f, f[ConditioningFeature.Pedal][0]);
        Assert.Equal(0f, f[ConditioningFeature.NoteSounding][64]);
        Assert.Equal(1f, f[ConditioningFeature.NoteSounding][60]);
    }
}
