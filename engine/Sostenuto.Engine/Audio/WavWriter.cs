namespace Sostenuto.Engine.Audio;

/// <summary>
/// Writes a WAV file block by block. Samples go to a temporary file next to the target;
/// <see cref="Complete"/> fills in the RIFF and data sizes and renames it over the target, so a
/// reader never sees a half-written file at the target path. Disposing a writer that was not
/// completed (a render that failed half-way) deletes the temporary file and leaves the target as it was.
/// </summary>
public sealed class WavWriter : IDisposable
{
    private const int SamplesPerBlock = 4096;

    private readonly string _path;
    private readonly string _temporaryPath;
    private readonly FileStream _stream;
    private readonly byte[] _block;
    private long _dataBytes;
    private bool _disposed;
    private bool _completed;

    private WavWriter(string path, string temporaryPath, FileStream stream, int sampleRate, int channels, WavSampleFormat format)
    {
        _path = path;
        _temporaryPath = temporaryPath;
        _stream = stream;
        SampleRate = sampleRate;
        Channels = channels;
        Format = format;
        _block = new byte[SamplesPerBlock * WavSampleCodec.BytesPerSample(format)];
    }

    public int SampleRate { get; }
    public int Channels { get; }
    public WavSampleFormat Format { get; }
    public long FramesWritten => _dataBytes / (Channels * WavSampleCodec.BytesPerSample(Format));

    public static WavWriter Create(string path, int sampleRate, int channels, WavSampleFormat format)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRate);
        int bytesPerSample = WavSampleCodec.BytesPerSample(format);
        if (channels <= 0 || channels * bytesPerSample > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(channels), channels, "a frame must fit the 16-bit block-align field");

        string fullPath = Path.GetFullPath(path);
        // Same directory as the target, so the final rename is atomic on one file system.
        string temporaryPath = Path.Combine(Path.GetDirectoryName(fullPath)!,
            $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        FileStream stream;
        try { stream = new FileStream(temporaryPath, FileMode.CreateNew, FileAccess.Write); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The user named the target, not our temporary file: say why the target cannot be written.
            string reason = e switch
            {
                DirectoryNotFoundException => "its folder does not exist",
                UnauthorizedAccessException => "permission denied",
                _ => e.Message.Replace(temporaryPath, fullPath),
            };
            throw new IOException($"cannot write {fullPath}: {reason}", e);
        }
        stream.Write(WavHeader.Build(sampleRate, channels, format, frames: 0));
        return new WavWriter(fullPath, temporaryPath, stream, sampleRate, channels, format);
    }

    /// <param name="interleaved">Whole frames of interleaved samples; see <see cref="WavFile"/> for the conversion.</param>
    public void Write(ReadOnlySpan<float> interleaved)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (interleaved.Length % Channels != 0)
            throw new ArgumentException($"{interleaved.Length} samples are not whole frames of {Channels} channels", nameof(interleaved));
        int bytesPerSample = WavSampleCodec.BytesPerSample(Format);
        if (_dataBytes + (long)interleaved.Length * bytesPerSample > WavHeader.MaxDataBytes(Format))
            throw new IOException($"{_path}: WAV data would exceed the 4 GiB limit of the RIFF format");

        while (!interleaved.IsEmpty)
        {
            var samples = interleaved[..Math.Min(SamplesPerBlock, interleaved.Length)];
            var bytes = _block.AsSpan(0, samples.Length * bytesPerSample);
            WavSampleCodec.Encode(samples, Format, bytes);
            _stream.Write(bytes);
            _dataBytes += bytes.Length;
            interleaved = interleaved[samples.Length..];
        }
    }

    /// <summary>Completes the file: patches the header sizes, flushes and renames it to the target path.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _disposed = true;
        _completed = true;
        try
        {
            // RIFF chunks are padded to an even length.
            if ((_dataBytes & 1) != 0) _stream.WriteByte(0);
            _stream.Position = 0;
            _stream.Write(WavHeader.Build(SampleRate, Channels, Format, FramesWritten));
            _stream.Flush(flushToDisk: true);
            _stream.Dispose();
            File.Move(_temporaryPath, _path, overwrite: true);
        }
        catch
        {
            _stream.Dispose();
            File.Delete(_temporaryPath);
            throw;
        }
    }

    /// <summary>Abandons an uncompleted file: the temporary file goes, the target stays as it was.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_completed) return;
        _stream.Dispose();
        File.Delete(_temporaryPath);
    }
}
