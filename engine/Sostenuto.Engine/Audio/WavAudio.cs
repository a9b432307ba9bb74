namespace Sostenuto.Engine.Audio;

/// <summary>Decoded WAV audio: interleaved samples, nominally in [-1, 1], and the format they were stored in.</summary>
public sealed record WavAudio(int SampleRate, int Channels, WavSampleFormat Format, float[] Samples)
{
    public int FrameCount => Samples.Length / Channels;
    public double DurationSeconds => (double)FrameCount / SampleRate;
}
