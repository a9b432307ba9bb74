namespace Sostenuto.Engine.Midi;

/// <summary>
/// A MIDI channel voice message (status byte plus up to two data bytes).
/// System messages never reach the engine: files skip them, the plug-in drops them.
/// </summary>
public readonly record struct MidiMessage(byte Status, byte Data1, byte Data2)
{
    public const int SustainPedalController = 64;
    public const int AllSoundOffController = 120;
    public const int ResetAllControllersController = 121;
    public const int AllNotesOffController = 123;

    public int Kind => Status & 0xF0;
    public int Channel => Status & 0x0F;

    /// <summary>Note-on with non-zero velocity. Note-on with velocity 0 is a note-off, as the MIDI standard says.</summary>
    public bool IsNoteOn => Kind == 0x90 && Data2 > 0;
    public bool IsNoteOff => Kind == 0x80 || (Kind == 0x90 && Data2 == 0);
    public bool IsControlChange => Kind == 0xB0;

    public static MidiMessage NoteOn(int channel, int key, int velocity) =>
        new((byte)(0x90 | (channel & 0x0F)), (byte)(key & 0x7F), (byte)(velocity & 0x7F));

    public static MidiMessage NoteOff(int channel, int key, int velocity = 0) =>
        new((byte)(0x80 | (channel & 0x0F)), (byte)(key & 0x7F), (byte)(velocity & 0x7F));

    public static MidiMessage ControlChange(int channel, int controller, int value) =>
        new((byte)(0xB0 | (channel & 0x0F)), (byte)(controller & 0x7F), (byte)(value & 0x7F));
}

/// <summary>A MIDI message stamped with a time in the host's samples (the stream clock of DESIGN.md).</summary>
public readonly record struct MidiEvent(long Time, MidiMessage Message);
