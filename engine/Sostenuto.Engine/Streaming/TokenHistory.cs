namespace Sostenuto.Engine.Streaming;

/// <summary>
/// The most recent frames of codec tokens, enough to fill a decoder window. Frames before the
/// stream's start read as the codec's silence tokens (docs/model-format.md, "Time").
/// </summary>
public sealed class TokenHistory
{
    readonly int[] _tokens;
    readonly int[] _silence;
    readonly int _codebooks;
    readonly int _capacityFrames;

    public TokenHistory(int codebooks, int capacityFrames, IReadOnlyList<int> silenceTokens)
    {
        _codebooks = codebooks;
        _capacityFrames = capacityFrames;
        _tokens = new int[codebooks * capacityFrames];
        _silence = silenceTokens.ToArray();
    }

    /// <summary>Frames appended so far; the next frame appended is frame <see cref="Count"/>.</summary>
    public long Count { get; private set; }

    public void Append(ReadOnlySpan<int> frameTokens)
    {
        frameTokens.CopyTo(_tokens.AsSpan((int)(Count % _capacityFrames) * _codebooks, _codebooks));
        Count++;
    }

    public int Get(long frame, int codebook)
    {
        if (frame < 0) return _silence[codebook];
        if (frame >= Count || frame < Count - _capacityFrames)
            throw new ArgumentOutOfRangeException(nameof(frame), $"frame {frame} is not kept (have {Math.Max(0, Count - _capacityFrames)}..{Count - 1})");
        return _tokens[(int)(frame % _capacityFrames) * _codebooks + codebook];
    }

    public void Clear() => Count = 0;

    /// <summary>Forgets the frames from <paramref name="count"/> on (a rollback); the frames before stay as they were.</summary>
    public void Truncate(long count)
    {
        if (count > Count || count < 0) throw new ArgumentOutOfRangeException(nameof(count));
        Count = count;
    }
}
