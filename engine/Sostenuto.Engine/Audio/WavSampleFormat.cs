namespace Sostenuto.Engine.Audio;

/// <summary>
/// How samples are stored in a WAV file. The first three are what the engine writes; the rest
/// exist so that reading any common WAV file can report what it found (and write it back).
/// </summary>
public enum WavSampleFormat
{
    Pcm16,
    Pcm24,
    Float32,
    /// <summary>Unsigned 8-bit PCM, 128 is silence.</summary>
    Pcm8,
    Pcm32,
    Float64,
}
