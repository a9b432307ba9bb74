namespace Sostenuto.Engine.Model;

/// <summary>The per-frame MIDI features a model may ask for (docs/model-format.md, "Conditioning features").</summary>
public enum ConditioningFeature
{
    NoteOnset,
    OnsetOffset,
    NoteHeld,
    NoteSounding,
    NoteVelocity,
    NoteAge,
    Pedal,
}

public static class ConditioningFeatures
{
    public const int PitchCount = 128;

    public static int Size(ConditioningFeature feature) => feature == ConditioningFeature.Pedal ? 1 : PitchCount;

    public static string ManifestName(ConditioningFeature feature) => feature switch
    {
        ConditioningFeature.NoteOnset => "note_onset",
        ConditioningFeature.OnsetOffset => "onset_offset",
        ConditioningFeature.NoteHeld => "note_held",
        ConditioningFeature.NoteSounding => "note_sounding",
        ConditioningFeature.NoteVelocity => "note_velocity",
        ConditioningFeature.NoteAge => "note_age",
        ConditioningFeature.Pedal => "pedal",
        _ => throw new ArgumentOutOfRangeException(nameof(feature)),
    };

    public static bool TryParse(string name, out ConditioningFeature feature)
    {
        foreach (var candidate in Enum.GetValues<ConditioningFeature>())
        {
            if (ManifestName(candidate) == name) { feature = candidate; return true; }
        }
        feature = default;
        return false;
    }
}
