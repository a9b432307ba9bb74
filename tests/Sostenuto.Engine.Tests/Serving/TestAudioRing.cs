using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace Sostenuto.Engine.Tests.Serving;

/// <summary>
/// The plug-in's (consumer's) side of the shared-memory ring, for engine tests: creates the object as
/// native-bridge's SharedAudioRing::create does (mode 0600, header of docs/protocol.md) and reads like
/// its AudioRingConsumer.
/// </summary>
sealed unsafe class TestAudioRing : IDisposable
{
    const int DataOffset = 384;
    readonly MemoryMappedFile _file;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _base;
    readonly string _path;

    public TestAudioRing(int capacity, int channels = 2)
    {
        Name = $"/sostenuto-test-{Guid.NewGuid():N}";
        Capacity = capacity;
        Channels = channels;
        _path = "/dev/shm" + Name;
        long size = DataOffset + (long)channels * capacity * 4;
        using (var f = new FileStream(_path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite, 4096, FileOptions.None))
        {
            File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            f.SetLength(size);
            var header = new byte[32];
            "SOSTRING"u8.CopyTo(header);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), 2);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(12), (uint)channels);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), (uint)capacity);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(20), DataOffset);
            BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(24), (ulong)size);
            f.Write(header);
            f.Position = 136;
            f.Write(BitConverter.GetBytes(ulong.MaxValue)); // no splice in progress
        }
        _file = MemoryMappedFile.CreateFromFile(_path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        _view = _file.CreateViewAccessor(0, size);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    public string Name { get; }
    public int Capacity { get; }
    public int Channels { get; }

    public long Published => (long)Volatile.Read(ref *(ulong*)(_base + 128));

    /// <summary>Whether the last <see cref="Read"/> stopped short at a splice in progress (rather than at the write position).</summary>
    public bool LastReadMetSplice { get; private set; }

    /// <summary>
    /// Reads render times [t, t+n) if published; returns how many were; moves the read position past t+n.
    /// Claims the block first and stops below a splice in progress, as AudioRingConsumer::read does.
    /// </summary>
    public int Read(long t, Span<float> left, Span<float> right)
    {
        int n = left.Length;
        Volatile.Write(ref *(ulong*)(_base + 264), (ulong)(t + n));
        Interlocked.MemoryBarrier();
        ulong splice = Volatile.Read(ref *(ulong*)(_base + 136));
        LastReadMetSplice = splice < (ulong)Published && (long)splice < t + n;
        long published = (long)Math.Min((ulong)Published, splice);
        int available = (int)Math.Clamp(published - t, 0, n);
        for (int ch = 0; ch < 2; ch++)
        {
            var dest = ch == 0 ? left : right;
            var data = new Span<float>(_base + DataOffset + (long)Math.Min(ch, Channels - 1) * Capacity * 4, Capacity);
            for (int i = 0; i < available; i++) dest[i] = data[(int)((t + i) & (Capacity - 1))];
        }
        Volatile.Write(ref *(ulong*)(_base + 256), (ulong)(t + n));
        return available;
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
        File.Delete(_path);
    }
}
