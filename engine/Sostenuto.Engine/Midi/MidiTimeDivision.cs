namespace Sostenuto.Engine.Midi;

/// <summary>
/// The division field of a MIDI file header: either metrical (ticks per quarter note, so tick
/// length follows the tempo) or SMPTE (ticks per frame at a fixed frame rate, tempo ignored).
/// </summary>
public readonly record struct MidiTimeDivision
{
    private MidiTimeDivision(int ticksPerQuarterNote, int smpteFormat, int ticksPerFrame)
    {
        TicksPerQuarterNote = ticksPerQuarterNote;
        SmpteFormat = smpteFormat;
        TicksPerFrame = ticksPerFrame;
    }

    public static MidiTimeDivision Metrical(int ticksPerQuarterNote) => new(ticksPerQuarterNote, 0, 0);

    /// <param name="smpteFormat">24, 25, 29 (30 drop-frame) or 30, as stored in the header.</param>
    public static MidiTimeDivision Smpte(int smpteFormat, int ticksPerFrame) => new(0, smpteFormat, ticksPerFrame);

    /// <summary>Ticks per quarter note; 0 for SMPTE divisions.</summary>
    public int TicksPerQuarterNote { get; }

    /// <summary>24, 25, 29 or 30; 0 for metrical divisions.</summary>
    public int SmpteFormat { get; }

    /// <summary>Ticks per SMPTE frame; 0 for metrical divisions.</summary>
    public int TicksPerFrame { get; }

    public bool IsSmpte => SmpteFormat != 0;

    /// <summary>Real frames per second. Drop-frame "29" runs at 30000/1001 frames per second.</summary>
    public double FramesPerSecond => SmpteFormat == 29 ? 30000.0 / 1001.0 : SmpteFormat;
}
