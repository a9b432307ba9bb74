namespace Sostenuto.Engine.Midi;

/// <summary>A channel voice message from a MIDI file with its position as file ticks and as seconds from the start.</summary>
public readonly record struct TimedMidiMessage(double Seconds, long Tick, MidiMessage Message);
