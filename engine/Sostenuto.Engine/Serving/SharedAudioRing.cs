using Sostenuto.Engine.Diagnostics;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// The engine's (producer's) side of the shared-memory audio ring that a plug-in instance created
/// (docs/protocol.md, "The audio ring"; native-bridge/include/sostenuto/bridge/audio_ring.h is the
/// C++ twin). Render time t lives in slot t mod capacity; the producer writes audio for [w, w+n) and
/// then publishes w+n with release ordering; the consumer publishes how far it has read.
/// <see cref="Splice"/> replaces audio the consumer has not claimed yet (live mode's rollback): the
/// consumer claims each block before it copies it, the producer announces a splice before it reads
/// the claim, both sequentially consistent, so one of them always sees the other and no read is torn.
/// </summary>
public sealed unsafe class SharedAudioRing : IDisposable
{
    static readonly byte[] Magic = "SOSTRING"u8.ToArray();
    const uint Version = 2;
    const int WritePositionOffset = 128, SpliceStartOffset = 136, ReadPositionOffset = 256, ReadClaimOffset = 264, DataOffset = 384;
    const ulong NoSplice = ulong.MaxValue;

    readonly MemoryMappedFile _file;
    readonly MemoryMappedViewAccessor _view;
    readonly byte* _base;

    SharedAudioRing(MemoryMappedFile file, MemoryMappedViewAccessor view, byte* basePointer, string name, int channels, int capacity)
    {
        _file = file;
        _view = view;
        _base = basePointer;
        Name = name;
        Channels = channels;
        CapacityFrames = capacity;
        _spliceScratch = Enumerable.Range(0, channels).Select(_ => new float[Math.Min(capacity, 8192)]).ToArray();
    }

    public string Name { get; }
    public int Channels { get; }
    public int CapacityFrames { get; }

    /// <summary>Maps the ring a plug-in created under <paramref name="name"/> ("/name") and checks its header, size and mode.</summary>
    public static SharedAudioRing Open(string name)
    {
        var shown = ClientText.Quote(name); // the client's string: escaped and capped wherever it is quoted
        var path = "/dev/shm" + name;
        // Checked on the open handle, as docs/protocol.md says: not a link, a regular file, owned by this user, mode 0600.
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        long size;
        try { (handle, size) = IO.UnixFile.OpenOwnPrivateFile(path); }
        catch (IO.UnixFileException e) { throw new IOException($"audio ring {shown}: {e.Reason}"); }
        MemoryMappedFile file;
        try
        {
            if (size < DataOffset) throw new IOException($"audio ring {shown}: {size} bytes, smaller than its header");
            var stream = new FileStream(handle, FileAccess.ReadWrite);
            file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
        var view = file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        pointer += view.PointerOffset;
        try
        {
            var header = new ReadOnlySpan<byte>(pointer, DataOffset);
            if (!header[..8].SequenceEqual(Magic)) throw new IOException($"audio ring {shown}: bad magic");
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            if (version != Version) throw new IOException($"audio ring {shown}: layout version {version}, expected {Version}");
            uint channels = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
            uint capacity = BinaryPrimitives.ReadUInt32LittleEndian(header[16..]);
            uint dataOffset = BinaryPrimitives.ReadUInt32LittleEndian(header[20..]);
            ulong totalSize = BinaryPrimitives.ReadUInt64LittleEndian(header[24..]);
            if (channels is < 1 or > 64 || capacity < 16 || capacity > (1u << 24) || (capacity & (capacity - 1)) != 0 || dataOffset != DataOffset)
                throw new IOException($"audio ring {shown}: header out of range ({channels} channels, {capacity} frames)");
            ulong expected = DataOffset + (ulong)channels * capacity * sizeof(float);
            if (totalSize != expected || (ulong)size < expected) throw new IOException($"audio ring {shown}: size {size} does not fit its header ({expected})");
            return new SharedAudioRing(file, view, pointer, name, (int)channels, (int)capacity);
        }
        catch
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            file.Dispose();
            throw;
        }
    }

    ref ulong WritePositionRef => ref Unsafe.AsRef<ulong>(_base + WritePositionOffset);
    ref ulong ReadPositionRef => ref Unsafe.AsRef<ulong>(_base + ReadPositionOffset);
    ref ulong SpliceStartRef => ref Unsafe.AsRef<ulong>(_base + SpliceStartOffset);
    ref ulong ReadClaimRef => ref Unsafe.AsRef<ulong>(_base + ReadClaimOffset);

    /// <summary>The render time up to which audio is published.</summary>
    public long WritePosition => (long)Volatile.Read(ref WritePositionRef);

    /// <summary>How far the consumer has read (it moves past underruns too).</summary>
    public long ReadPosition => (long)Volatile.Read(ref ReadPositionRef);

    /// <summary>The end of the block the consumer is reading or about to read: a splice never starts below it.</summary>
    public long ReadClaim => (long)Volatile.Read(ref ReadClaimRef);

    /// <summary>Whether no splice is in progress (as the plug-in leaves the ring before a session).</summary>
    public bool SpliceIdle => Volatile.Read(ref SpliceStartRef) == NoSplice;

    /// <summary>Frames that can be written without overwriting audio the consumer has not read.</summary>
    public int WritableFrames => (int)Math.Max(0, CapacityFrames - (WritePosition - ReadPosition));

    /// <summary>
    /// Writes the stereo block for render times [WritePosition, WritePosition + n) and publishes it.
    /// The caller checks <see cref="WritableFrames"/> first.
    /// </summary>
    public void Write(ReadOnlySpan<float> left, ReadOnlySpan<float> right)
    {
        long t = EngineProfile.Start();
        long w = WritePosition;
        int n = left.Length;
        if (n > WritableFrames) throw new InvalidOperationException($"audio ring overflow: {n} frames, {WritableFrames} writable");
        for (int channel = 0; channel < Channels; channel++)
        {
            var source = channel == 0 || Channels == 1 ? left : right;
            var data = new Span<float>(_base + DataOffset + (long)channel * CapacityFrames * sizeof(float), CapacityFrames);
            int slot = (int)(w & (CapacityFrames - 1));
            int first = Math.Min(n, CapacityFrames - slot);
            source[..first].CopyTo(data[slot..]);
            source[first..].CopyTo(data);
        }
        Volatile.Write(ref WritePositionRef, (ulong)(w + n)); // release: the samples are visible before the position
        EngineProfile.Stop(EngineProfile.Section.Ring, t);
    }

    /// <summary>
    /// Replaces the published audio from render time <paramref name="from"/> on with the new block,
    /// cross-fading linearly from the old audio over the first <paramref name="crossFade"/> frames, and
    /// moves the write position to the block's end (down as well as up: what lay beyond was rendered on a
    /// future that did not happen). Slots the consumer has claimed are never touched: the splice starts at
    /// max(from, claim + <paramref name="claimMargin"/>) and the new audio before that is dropped. Returns that start.
    /// </summary>
    /// <remarks>
    /// A consumer that claims its next block while a splice is in progress stops short at the splice
    /// (an underrun). A margin of one block above the claim, taken when the splice is announced, means
    /// the consumer must claim twice inside the announced window to meet it; and the window is kept to a few copies: the cross-faded samples are
    /// computed before the announcement, and the method is compiled fully optimised from its first call
    /// (no tier-0 code, no on-stack replacement in the middle of a splice).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public long Splice(long from, ReadOnlySpan<float> left, ReadOnlySpan<float> right, int crossFade, int claimMargin)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(claimMargin);
        long t = EngineProfile.Start();
        long oldWrite = WritePosition;
        // Never announce below what the reader has already claimed (it may be copying that block now and
        // would stop short at the announcement); with a margin, not even where its next claim ends.
        long announced = Math.Max(from, ReadClaim + claimMargin);
        long end = Math.Min(from + left.Length, ReadPosition + CapacityFrames);
        int count = (int)Math.Max(0, end - announced);
        if (_spliceScratch[0].Length < count) GrowSpliceScratch(count);
        PrepareSplice(from, announced, count, left, right, crossFade, oldWrite);

        // Announce, full fence, then read the claim: the store-load order that plain release/acquire lacks.
        Volatile.Write(ref SpliceStartRef, (ulong)announced);
        Interlocked.MemoryBarrier();
        long claim = ReadClaim;
        long start = Math.Max(announced, claim);
        // The reader claimed more between the two reads (rare): fade from where it stopped instead.
        if (start > announced && start < end) PrepareSplice(from, start, (int)(end - start), left, right, crossFade, oldWrite);
        if (start < end)
        {
            int n = (int)(end - start), slot = (int)(start & (CapacityFrames - 1));
            int first = Math.Min(n, CapacityFrames - slot);
            for (int channel = 0; channel < Channels; channel++)
            {
                var data = new Span<float>(_base + DataOffset + (long)channel * CapacityFrames * sizeof(float), CapacityFrames);
                var prepared = _spliceScratch[channel].AsSpan(0, n);
                prepared[..first].CopyTo(data[slot..]);
                prepared[first..].CopyTo(data);
            }
        }
        Volatile.Write(ref WritePositionRef, (ulong)Math.Max(start, end)); // release: samples before position
        Volatile.Write(ref SpliceStartRef, NoSplice);
        EngineProfile.Stop(EngineProfile.Section.Ring, t);
        return start;
    }

    float[][] _spliceScratch; // grows only for a splice longer than any so far

    // Its own method: a lambda in Splice would capture its locals, and C# allocates the capture on every call.
    void GrowSpliceScratch(int count) => _spliceScratch = Enumerable.Range(0, Channels).Select(_ => new float[Math.Max(count, 8192)]).ToArray();

    /// <summary>Computes what the slots from <paramref name="start"/> on will hold: old audio faded into the new, then the new.</summary>
    void PrepareSplice(long from, long start, int count, ReadOnlySpan<float> left, ReadOnlySpan<float> right, int crossFade, long oldWrite)
    {
        if (count <= 0) return; // the reader has claimed all of the new audio
        int fade = (int)Math.Min(Math.Min(crossFade, Math.Max(0, oldWrite - start)), count);
        int mask = CapacityFrames - 1;
        for (int channel = 0; channel < Channels; channel++)
        {
            var source = (channel == 0 || Channels == 1 ? left : right).Slice((int)(start - from), count);
            var prepared = _spliceScratch[channel].AsSpan(0, count);
            float* data = (float*)(_base + DataOffset + (long)channel * CapacityFrames * sizeof(float));
            for (int i = 0; i < fade; i++)
            {
                float old = data[(int)((start + i) & mask)];
                prepared[i] = old + (source[i] - old) * ((i + 0.5f) / fade);
            }
            source[fade..].CopyTo(prepared[fade..]);
        }
    }

    /// <summary>Moves the write position to <paramref name="renderTime"/> without writing (audio for times the consumer has passed).</summary>
    public void SkipTo(long renderTime)
    {
        if (renderTime > WritePosition) Volatile.Write(ref WritePositionRef, (ulong)renderTime);
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}
