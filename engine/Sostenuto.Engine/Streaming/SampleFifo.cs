namespace Sostenuto.Engine.Streaming;

/// <summary>A fixed-capacity first-in first-out buffer of samples; never grows, never allocates after construction.</summary>
public sealed class SampleFifo
{
    readonly float[] _buffer;
    int _start;

    public SampleFifo(int capacity) => _buffer = new float[capacity];

    public int Count { get; private set; }
    public int Capacity => _buffer.Length;
    public int Free => _buffer.Length - Count;

    public void Write(ReadOnlySpan<float> samples)
    {
        if (samples.Length > Free) throw new InvalidOperationException($"sample FIFO overflow ({samples.Length} > {Free} free)");
        int end = (_start + Count) % _buffer.Length;
        int first = Math.Min(samples.Length, _buffer.Length - end);
        samples[..first].CopyTo(_buffer.AsSpan(end));
        samples[first..].CopyTo(_buffer);
        Count += samples.Length;
    }

    /// <summary>Copies the oldest <paramref name="destination"/>.Length samples out without consuming them.</summary>
    public void Peek(Span<float> destination)
    {
        if (destination.Length > Count) throw new InvalidOperationException("sample FIFO underflow");
        int first = Math.Min(destination.Length, _buffer.Length - _start);
        _buffer.AsSpan(_start, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    public void Discard(int count)
    {
        if (count > Count) throw new InvalidOperationException("sample FIFO underflow");
        _start = (_start + count) % _buffer.Length;
        Count -= count;
    }

    public void Clear()
    {
        _start = 0;
        Count = 0;
    }
}
