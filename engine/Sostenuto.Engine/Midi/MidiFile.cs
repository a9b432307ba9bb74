namespace Sostenuto.Engine.Midi;

/// <summary>
/// A Standard MIDI File (format 0 or 1) reduced to what an instrument plays: the channel voice
/// messages of all tracks merged into one list, timed in seconds through the file's tempo map.
/// Meta events other than tempo and end-of-track, sysex and unknown chunks are skipped.
/// </summary>
public sealed class MidiFile
{
    private MidiFile(int format, int trackCount, MidiTimeDivision division,
        TimedMidiMessage[] messages, double durationSeconds)
    {
        Format = format;
        TrackCount = trackCount;
        Division = division;
        Messages = messages;
        DurationSeconds = durationSeconds;
    }

    /// <summary>0 (one multi-channel track) or 1 (simultaneous tracks). Format 2 is rejected.</summary>
    public int Format { get; }

    public int TrackCount { get; }

    public MidiTimeDivision Division { get; }

    /// <summary>
    /// Channel voice messages of all tracks, sorted by time. Equal times keep track order, then
    /// file order. Note-on with velocity 0 appears as note-off (0x80|channel, key, 0).
    /// Overlapping notes of the same key are kept as written.
    /// </summary>
    public IReadOnlyList<TimedMidiMessage> Messages { get; }

    /// <summary>Time of the last event of the longest track, end-of-track included.</summary>
    public double DurationSeconds { get; }

    /// <exception cref="MidiFormatException">The file is not a readable format 0 or 1 MIDI file.</exception>
    /// <exception cref="IO.UnixFileException">Not a regular file, or larger than <see cref="MaxFileBytes"/>.</exception>
    public static MidiFile Read(string path) => Parse(IO.UnixFile.ReadAllBytes(path, MaxFileBytes), Path.GetFileName(path));

    /// <summary>The largest MIDI file read: 64 MiB, hundreds of times the largest real performances.</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <param name="sourceName">Names the data in error messages, usually the file name.</param>
    /// <exception cref="MidiFormatException">The data is not a readable format 0 or 1 MIDI file.</exception>
    public static MidiFile Parse(ReadOnlySpan<byte> data, string sourceName)
    {
        var reader = new MidiByteReader(data, sourceName, 0, data.Length);
        var (format, trackCount, division) = ReadHeader(ref reader);

        var tracks = new List<MidiTrack>(Math.Min(trackCount, 1024));
        while (tracks.Count < trackCount)
        {
            if (reader.AtEnd)
                throw reader.Error(reader.Position, $"header declares {trackCount} tracks but the file ends after {tracks.Count}");
            var (chunkType, chunkStart, chunkEnd) = ReadChunkHeader(ref reader);
            if (chunkType == "MTrk")
            {
                var trackReader = new MidiByteReader(data, sourceName, chunkStart, chunkEnd);
                tracks.Add(MidiTrackParser.Parse(ref trackReader));
            }
            // Unknown chunk types are skipped, as the standard asks readers to do.
            reader.ReadBytes(chunkEnd - chunkStart, $"'{chunkType}' chunk");
        }
        // Bytes after the last declared track are ignored: some writers pad files.

        return Merge(format, division, tracks);
    }

    private static (int Format, int TrackCount, MidiTimeDivision Division) ReadHeader(ref MidiByteReader reader)
    {
        var magic = reader.ReadBytes(Math.Min(4, reader.Remaining), "header chunk type");
        if (!magic.SequenceEqual("MThd"u8))
            throw reader.Error(0, "not a Standard MIDI File (no 'MThd' header chunk)");
        int lengthOffset = reader.Position;
        uint length = reader.ReadUInt32("header chunk length");
        if (length < 6)
            throw reader.Error(lengthOffset, $"header chunk length is {length}, expected at least 6");
        if (length > reader.Remaining)
            throw reader.Error(lengthOffset, $"header chunk declares {length} bytes but only {reader.Remaining} remain");
        int headerEnd = reader.Position + (int)length;

        int formatOffset = reader.Position;
        int format = reader.ReadUInt16("format");
        if (format == 2)
            throw reader.Error(formatOffset, "format 2 (independent sequences) is not supported; convert the file to format 1");
        if (format > 2)
            throw reader.Error(formatOffset, $"unknown format {format}");
        int trackCount = reader.ReadUInt16("track count");

        int divisionOffset = reader.Position;
        ushort rawDivision = reader.ReadUInt16("division");
        MidiTimeDivision division;
        if ((rawDivision & 0x8000) != 0)
        {
            // High byte is the negated frame rate in two's complement, low byte the ticks per frame.
            int smpteFormat = -(sbyte)(rawDivision >> 8);
            int ticksPerFrame = rawDivision & 0xFF;
            if (smpteFormat is not (24 or 25 or 29 or 30) || ticksPerFrame == 0)
                throw reader.Error(divisionOffset, $"invalid SMPTE division 0x{rawDivision:X4}");
            division = MidiTimeDivision.Smpte(smpteFormat, ticksPerFrame);
        }
        else
        {
            if (rawDivision == 0)
                throw reader.Error(divisionOffset, "division of 0 ticks per quarter note");
            division = MidiTimeDivision.Metrical(rawDivision);
        }

        // Longer headers are allowed by the standard for future fields.
        reader.ReadBytes(headerEnd - reader.Position, "header chunk");
        return (format, trackCount, division);
    }

    private static (string Type, int Start, int End) ReadChunkHeader(ref MidiByteReader reader)
    {
        var typeBytes = reader.ReadBytes(4, "chunk type");
        Span<char> typeChars = stackalloc char[4];
        for (int i = 0; i < 4; i++) typeChars[i] = typeBytes[i] is >= 0x20 and < 0x7F ? (char)typeBytes[i] : '?';
        string type = new(typeChars);
        int lengthOffset = reader.Position;
        uint length = reader.ReadUInt32("chunk length");
        if (length > reader.Remaining)
            throw reader.Error(lengthOffset, $"'{type}' chunk declares {length} bytes but only {reader.Remaining} remain");
        return (type, reader.Position, reader.Position + (int)length);
    }

    private static MidiFile Merge(int format, MidiTimeDivision division, List<MidiTrack> tracks)
    {
        // OrderBy is a stable sort, so equal ticks keep track order and then file order.
        var tempoChanges = tracks.SelectMany(t => t.TempoChanges).OrderBy(c => c.Tick).ToList();
        var tempoMap = new MidiTempoMap(division, tempoChanges);
        var messages = tracks
            .SelectMany(t => t.Messages)
            .OrderBy(m => m.Tick)
            .Select(m => new TimedMidiMessage(tempoMap.SecondsAt(m.Tick), m.Tick, m.Message))
            .ToArray();
        long endTick = tracks.Count == 0 ? 0 : tracks.Max(t => t.EndTick);
        return new MidiFile(format, tracks.Count, division, messages, tempoMap.SecondsAt(endTick));
    }
}
