using Sostenuto.Engine.Audio;
using Sostenuto.Engine.Tests.Tools;

namespace Sostenuto.Engine.Tests.Audio;

public class WavWriterTests
{
    [Theory]
    [InlineData(WavSampleFormat.Pcm16)]
    [InlineData(WavSampleFormat.Pcm24)]
    [InlineData(WavSampleFormat.Float32)]
    public void BlockByBlock_GivesTheSameBytesAsOneWrite(WavSampleFormat format)
    {
        using var directory = new TempDirectory();
        float[] samples = WavFileTests.TestSignal(channels: 2, frames: 5000);
        WavFile.Write(directory.File("whole.wav"), 44100, 2, samples, format);

        using (var writer = WavWriter.Create(directory.File("blocks.wav"), 44100, 2, format))
        {
            for (int start = 0; start < samples.Length; start += 2 * 37)
                writer.Write(samples.AsSpan(start, Math.Min(2 * 37, samples.Length - start)));
            Assert.Equal(5000, writer.FramesWritten);
            writer.Complete();
        }

        Assert.Equal(File.ReadAllBytes(directory.File("whole.wav")), File.ReadAllBytes(directory.File("blocks.wav")));
    }

    [Fact]
    public void Target_AppearsOnlyOnComplete_AndNoTemporaryFileRemains()
    {
        using var directory = new TempDirectory();
        string path = directory.File("out.wav");
        File.WriteAllText(path, "previous contents");

        using (var writer = WavWriter.Create(path, 48000, 1, WavSampleFormat.Float32))
        {
            writer.Write([0.1f, 0.2f]);
            Assert.Equal("previous contents", File.ReadAllText(path));
            writer.Complete();
        }

        Assert.Equal([0.1f, 0.2f], WavFile.Read(path).Samples);
        Assert.Equal([path], Directory.GetFiles(directory.Path));
    }

    [Fact]
    public void DisposingWithoutComplete_LeavesTheTargetAsItWas_AndNoTemporaryFile()
    {
        using var directory = new TempDirectory();
        string path = directory.File("out.wav");
        File.WriteAllText(path, "previous contents");
        using (var writer = WavWriter.Create(path, 48000, 1, WavSampleFormat.Float32)) writer.Write([0.1f, 0.2f]);
        Assert.Equal("previous contents", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(directory.Path));
    }

    [Fact]
    public void PartialFrames_AreRejected()
    {
        using var directory = new TempDirectory();
        using var writer = WavWriter.Create(directory.File("x.wav"), 48000, 2, WavSampleFormat.Pcm16);

        Assert.Throws<ArgumentException>(() => writer.Write([0f, 0f, 0f]));
    }
}
