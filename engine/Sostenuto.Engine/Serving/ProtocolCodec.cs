using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Sostenuto.Engine.Midi;

namespace Sostenuto.Engine.Serving;

/// <summary>
/// Frames and messages of the pipe, byte for byte as docs/protocol.md defines them:
/// an 8-byte little-endian header (u32 payload length, u16 type, u16 reserved = 0), then the payload.
/// Decoding checks every length and range and throws <see cref="ProtocolException"/>; encoding is exact.
/// </summary>
public static class ProtocolCodec
{
    public const ushort ProtocolVersion = 1;
    public const int HeaderSize = 8;
    public const int MaxPayloadSize = 64 * 1024;
    public const int MidiEventWireSize = 12;
    static readonly byte[] HelloMagic = "SOST"u8.ToArray();
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Takes one whole frame off the front of <paramref name="buffer"/> if it is there. Returns false
    /// when more bytes are needed; throws when the header alone shows the frame is bad.
    /// </summary>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, out ProtocolMessage message)
    {
        message = null!;
        if (buffer.Length < HeaderSize) return false;
        Span<byte> header = stackalloc byte[HeaderSize];
        buffer.Slice(0, HeaderSize).CopyTo(header);
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        ushort reserved = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
        CheckHeader(length, type, reserved);
        if (buffer.Length < HeaderSize + length) return false;
        var payload = buffer.Slice(HeaderSize, length);
        message = DecodePayload((MessageType)type, payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray());
        buffer = buffer.Slice(HeaderSize + length);
        return true;
    }

    /// <summary>Decodes exactly one frame that fills <paramref name="frame"/>.</summary>
    public static ProtocolMessage DecodeFrame(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < HeaderSize) throw new ProtocolException(ProtocolError.TruncatedFrame, $"{frame.Length} bytes, a header is {HeaderSize}");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(frame);
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(frame[4..]);
        CheckHeader(length, type, BinaryPrimitives.ReadUInt16LittleEndian(frame[6..]));
        if (frame.Length < HeaderSize + length) throw new ProtocolException(ProtocolError.TruncatedFrame, $"payload of {length} bytes, {frame.Length - HeaderSize} given");
        if (frame.Length > HeaderSize + length) throw new ProtocolException(ProtocolError.PayloadTooLong, "bytes after the frame");
        return DecodePayload((MessageType)type, frame.Slice(HeaderSize, (int)length));
    }

    static void CheckHeader(uint length, ushort type, ushort reserved)
    {
        if (length > MaxPayloadSize) throw new ProtocolException(ProtocolError.OversizePayload, $"payload of {length} bytes (at most {MaxPayloadSize})");
        if (!Enum.IsDefined((MessageType)type)) throw new ProtocolException(ProtocolError.UnknownMessageType, $"type 0x{type:x4}");
        if (reserved != 0) throw new ProtocolException(ProtocolError.NonzeroReserved, $"reserved field is 0x{reserved:x4}");
    }

    static ProtocolMessage DecodePayload(MessageType type, ReadOnlySpan<byte> payload)
    {
        var r = new FieldReader(payload);
        ProtocolMessage message;
        switch (type)
        {
            case MessageType.Hello:
            {
                if (!r.Bytes(4).SequenceEqual(HelloMagic)) throw new ProtocolException(ProtocolError.BadMagic, "Hello does not start with \"SOST\"");
                ushort version = r.U16();
                if (version != ProtocolVersion) throw new ProtocolException(ProtocolError.UnsupportedVersion, $"protocol version {version}, this engine speaks {ProtocolVersion}");
                uint rate = r.U32(), block = r.U32();
                byte process = r.U8(), latency = r.U8();
                uint lookahead = r.U32(), slack = r.U32();
                ulong id = r.U64();
                var shm = r.String();
                r.Finish();
                if (rate == 0 || block == 0 || process > 1 || latency > 1) throw Invalid("Hello: sample rate, block size, process or latency mode out of range");
                if (shm.Length < 2 || shm.Length > 255 || shm[0] != '/' || shm.IndexOf('/', 1) >= 0 || shm.Contains('\0'))
                    throw Invalid($"Hello: {ClientText.Quote(shm)} is not a shared-memory name (\"/name\", no other '/')");
                message = new HelloMessage(version, rate, block, (ProcessMode)process, (LatencyMode)latency, lookahead, slack, id, shm);
                break;
            }
            case MessageType.MidiEvents:
            {
                int count = r.U16();
                var events = new MidiEvent[count];
                long previous = 0;
                for (int i = 0; i < count; i++)
                {
                    ulong time = r.U64();
                    byte status = r.U8(), d1 = r.U8(), d2 = r.U8(), reservedByte = r.U8();
                    if (reservedByte != 0 || status < 0x80 || status > 0xEF || d1 > 0x7F || d2 > 0x7F)
                        throw Invalid($"MidiEvents: event {i} is not a channel voice message (status 0x{status:x2})");
                    if (time > long.MaxValue || (i > 0 && (long)time < previous)) throw Invalid($"MidiEvents: event {i} goes back in time");
                    previous = (long)time;
                    events[i] = new MidiEvent((long)time, new MidiMessage(status, d1, d2));
                }
                r.Finish();
                message = new MidiEventsMessage(events);
                break;
            }
            case MessageType.ClockAdvance:
                message = new ClockAdvanceMessage(r.U64());
                r.Finish();
                break;
            case MessageType.ParameterChange:
            {
                ulong time = r.U64();
                uint id = r.U32();
                float value = r.F32();
                r.Finish();
                if (!float.IsFinite(value)) throw Invalid($"ParameterChange: value {value} is not finite");
                message = new ParameterChangeMessage(time, id, value);
                break;
            }
            case MessageType.Transport:
            {
                byte kind = r.U8();
                ulong time = r.U64();
                r.Finish();
                if (kind != 0) throw Invalid($"Transport: unknown kind {kind}");
                message = new TransportMessage((TransportKind)kind, time);
                break;
            }
            case MessageType.ProcessMode:
            {
                byte mode = r.U8();
                ulong time = r.U64();
                r.Finish();
                if (mode > 1) throw Invalid($"ProcessMode: unknown mode {mode}");
                message = new ProcessModeMessage((ProcessMode)mode, time);
                break;
            }
            case MessageType.Goodbye:
                r.Finish();
                message = new GoodbyeMessage();
                break;
            case MessageType.Welcome:
            {
                ushort version = r.U16();
                if (version != ProtocolVersion) throw new ProtocolException(ProtocolError.UnsupportedVersion, $"protocol version {version}");
                uint total = r.U32(), lookahead = r.U32(), capacity = r.U32();
                string name = r.String(), modelVersion = r.String();
                uint flags = r.U32();
                r.Finish();
                if (lookahead > total) throw Invalid($"Welcome: lookahead {lookahead} above total latency {total}");
                message = new WelcomeMessage(version, total, lookahead, capacity, name, modelVersion, flags);
                break;
            }
            case MessageType.Status:
                message = new StatusMessage(r.U64(), r.U32(), r.U32());
                r.Finish();
                break;
            case MessageType.Error:
            {
                ushort code = r.U16();
                string text = r.String();
                r.Finish();
                message = new ErrorMessage(code, text);
                break;
            }
            default:
                throw new ProtocolException(ProtocolError.UnknownMessageType, $"type 0x{(ushort)type:x4}");
        }
        return message;
    }

    static ProtocolException Invalid(string detail) => new(ProtocolError.InvalidValue, detail);

    /// <summary>Encodes one message as a whole frame.</summary>
    public static byte[] Encode(ProtocolMessage message)
    {
        var w = new ArrayBufferWriter<byte>(64);
        w.Write(new byte[HeaderSize]);
        switch (message)
        {
            case HelloMessage m:
                w.Write(HelloMagic); U16(w, m.ProtocolVersion); U32(w, m.SampleRate); U32(w, m.MaxBlockSize);
                U8(w, (byte)m.ProcessMode); U8(w, (byte)m.LatencyMode); U32(w, m.RequestedLookaheadSamples);
                U32(w, m.ComputeSlackSamples); U64(w, m.InstanceId); Str(w, m.SharedMemoryName);
                break;
            case MidiEventsMessage m:
                U16(w, checked((ushort)m.Events.Count));
                foreach (var e in m.Events) { U64(w, (ulong)e.Time); U8(w, e.Message.Status); U8(w, e.Message.Data1); U8(w, e.Message.Data2); U8(w, 0); }
                break;
            case ClockAdvanceMessage m: U64(w, m.StreamTime); break;
            case ParameterChangeMessage m: U64(w, m.StreamTime); U32(w, m.ParameterId); U32(w, BitConverter.SingleToUInt32Bits(m.Value)); break;
            case TransportMessage m: U8(w, (byte)m.Kind); U64(w, m.StreamTime); break;
            case ProcessModeMessage m: U8(w, (byte)m.Mode); U64(w, m.StreamTime); break;
            case GoodbyeMessage: break;
            case WelcomeMessage m:
                U16(w, m.ProtocolVersion); U32(w, m.TotalLatencySamples); U32(w, m.LookaheadSamples); U32(w, m.RingCapacityFrames);
                Str(w, m.ModelName); Str(w, m.ModelVersion); U32(w, m.Flags);
                break;
            case StatusMessage m: U64(w, m.RenderedUntil); U32(w, m.Underruns); U32(w, m.LateEvents); break;
            case ErrorMessage m: U16(w, m.Code); Str(w, m.Message); break;
            default: throw new ArgumentException($"cannot encode {message.GetType().Name}");
        }
        var frame = w.WrittenSpan.ToArray();
        int payload = frame.Length - HeaderSize;
        if (payload > MaxPayloadSize) throw new ArgumentException($"{message.Type} payload of {payload} bytes exceeds {MaxPayloadSize}");
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payload);
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(4), (ushort)message.Type);
        return frame;
    }

    static void U8(IBufferWriter<byte> w, byte v) => w.Write([v]);
    static void U16(IBufferWriter<byte> w, ushort v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(b, v); w.Write(b); }
    static void U32(IBufferWriter<byte> w, uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); w.Write(b); }
    static void U64(IBufferWriter<byte> w, ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); w.Write(b); }
    static void Str(IBufferWriter<byte> w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        U16(w, checked((ushort)bytes.Length));
        w.Write(bytes);
    }

    /// <summary>Reads fields in order; running past the end is <c>payload_too_short</c>, bytes left over <c>payload_too_long</c>.</summary>
    ref struct FieldReader(ReadOnlySpan<byte> payload)
    {
        readonly ReadOnlySpan<byte> _payload = payload;
        int _at;

        public ReadOnlySpan<byte> Bytes(int n)
        {
            if (_payload.Length - _at < n) throw new ProtocolException(ProtocolError.PayloadTooShort, $"a field runs past the payload's end ({_payload.Length} bytes)");
            var span = _payload.Slice(_at, n);
            _at += n;
            return span;
        }

        public byte U8() => Bytes(1)[0];
        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2));
        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));
        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8));
        public float F32() => BitConverter.UInt32BitsToSingle(U32());

        public string String()
        {
            var bytes = Bytes(U16());
            try { return StrictUtf8.GetString(bytes); }
            catch (DecoderFallbackException) { throw new ProtocolException(ProtocolError.InvalidUtf8, "a string is not well-formed UTF-8"); }
        }

        public readonly void Finish()
        {
            if (_at != _payload.Length) throw new ProtocolException(ProtocolError.PayloadTooLong, $"{_payload.Length - _at} bytes after the last field");
        }
    }
}
