#include "sostenuto/bridge/protocol_decoder.h"

#include <cmath>
#include <type_traits>

#include "protocol_validation.h"

namespace sostenuto::bridge {
namespace {

// Decoding is noexcept: every alternative is a trivially copyable view, so
// storing one in the variant cannot throw.
template <typename... Alternatives>
constexpr bool all_trivially_copyable(const std::variant<Alternatives...>*) {
    return (std::is_trivially_copyable_v<Alternatives> && ...);
}
static_assert(all_trivially_copyable(static_cast<const DecodedMessage*>(nullptr)),
              "decoded messages must stay views (no owning members)");

using namespace byte_order;

// Reads fields in order and checks each against the payload's end. The first
// overrun is sticky: later reads return zeros and the result is
// payload_too_short, so the per-message code reads straight through and checks once.
class FieldReader {
public:
    FieldReader(const std::uint8_t* data, std::size_t size) noexcept : p_(data), end_(data + size) {}

    std::uint8_t u8() noexcept { return take(1) ? load_u8(p_ - 1) : 0; }
    std::uint16_t u16() noexcept { return take(2) ? load_u16(p_ - 2) : 0; }
    std::uint32_t u32() noexcept { return take(4) ? load_u32(p_ - 4) : 0; }
    std::uint64_t u64() noexcept { return take(8) ? load_u64(p_ - 8) : 0; }
    float f32() noexcept { return take(4) ? load_f32(p_ - 4) : 0.0f; }
    const std::uint8_t* bytes(std::size_t size) noexcept { return take(size) ? p_ - size : nullptr; }
    std::string_view string() noexcept {
        const std::uint16_t size = u16();
        const std::uint8_t* data = bytes(size);
        return data ? std::string_view(reinterpret_cast<const char*>(data), size) : std::string_view();
    }

    bool overran() const noexcept { return overran_; }
    std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }

    // payload_too_short if a read ran past the end, payload_too_long if bytes are left over.
    ProtocolError finish() const noexcept {
        if (overran_) return ProtocolError::payload_too_short;
        if (p_ != end_) return ProtocolError::payload_too_long;
        return ProtocolError::none;
    }

private:
    bool take(std::size_t size) noexcept {
        if (overran_ || remaining() < size) {
            overran_ = true;
            return false;
        }
        p_ += size;
        return true;
    }

    const std::uint8_t* p_;
    const std::uint8_t* end_;
    bool overran_ = false;
};

DecodeResult failure(ProtocolError error) noexcept {
    DecodeResult result;
    result.error = error;
    return result;
}

template <typename Message>
DecodeResult success(MessageType type, Message message) noexcept {
    DecodeResult result;
    result.type = type;
    result.message = message;
    return result;
}

DecodeResult decode_hello(FieldReader& r) noexcept {
    // Magic and version come first and are checked first: they are the part of
    // Hello that stays the same in every future version of the protocol.
    const std::uint8_t* magic = r.bytes(4);
    if (magic == nullptr) return failure(ProtocolError::payload_too_short);
    if (std::memcmp(magic, hello_magic, 4) != 0) return failure(ProtocolError::bad_magic);
    HelloMessage m;
    m.protocol_version = r.u16();
    if (r.overran()) return failure(ProtocolError::payload_too_short);
    if (m.protocol_version != protocol_version) return failure(ProtocolError::unsupported_version);
    m.sample_rate = r.u32();
    m.max_block_size = r.u32();
    const std::uint8_t process_mode = r.u8();
    const std::uint8_t latency_mode = r.u8();
    m.requested_lookahead_samples = r.u32();
    m.compute_slack_samples = r.u32();
    m.instance_id = r.u64();
    m.shared_memory_name = r.string();
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    if (m.sample_rate == 0 || m.max_block_size == 0 || !validation::is_valid_process_mode(process_mode) ||
        !validation::is_valid_latency_mode(latency_mode)) {
        return failure(ProtocolError::invalid_value);
    }
    if (!validation::is_valid_utf8(m.shared_memory_name)) return failure(ProtocolError::invalid_utf8);
    if (!validation::is_valid_shared_memory_name(m.shared_memory_name)) return failure(ProtocolError::invalid_value);
    m.process_mode = static_cast<ProcessMode>(process_mode);
    m.latency_mode = static_cast<LatencyMode>(latency_mode);
    return success(MessageType::hello, m);
}

DecodeResult decode_midi_events(FieldReader& r) noexcept {
    const std::uint16_t count = r.u16();
    const std::uint8_t* events = r.bytes(std::size_t{count} * midi_event_wire_size);
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    const MidiEventList list(events, count);
    for (std::size_t i = 0; i < count; ++i) {
        const MidiEvent event = list[i];
        const std::uint8_t reserved = events[i * midi_event_wire_size + 11];
        if (reserved != 0 || !validation::is_valid_midi_message(event.status, event.data1, event.data2)) {
            return failure(ProtocolError::invalid_value);
        }
        if (i > 0 && event.stream_time < list[i - 1].stream_time) return failure(ProtocolError::invalid_value);
    }
    return success(MessageType::midi_events, DecodedMidiEventsMessage{list});
}

DecodeResult decode_clock_advance(FieldReader& r) noexcept {
    ClockAdvanceMessage m;
    m.stream_time = r.u64();
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    return success(MessageType::clock_advance, m);
}

DecodeResult decode_parameter_change(FieldReader& r) noexcept {
    ParameterChangeMessage m;
    m.stream_time = r.u64();
    m.parameter_id = r.u32();
    m.value = r.f32();
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    if (!std::isfinite(m.value)) return failure(ProtocolError::invalid_value);
    return success(MessageType::parameter_change, m);
}

DecodeResult decode_transport(FieldReader& r) noexcept {
    const std::uint8_t kind = r.u8();
    TransportMessage m;
    m.stream_time = r.u64();
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    if (!validation::is_valid_transport_kind(kind)) return failure(ProtocolError::invalid_value);
    m.kind = static_cast<TransportKind>(kind);
    return success(MessageType::transport, m);
}

DecodeResult decode_process_mode(FieldReader& r) noexcept {
    const std::uint8_t mode = r.u8();
    ProcessModeMessage m;
    m.stream_time = r.u64();
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    if (!validation::is_valid_process_mode(mode)) return failure(ProtocolError::invalid_value);
    m.mode = static_cast<ProcessMode>(mode);
    return success(MessageType::process_mode, m);
}

DecodeResult decode_goodbye(FieldReader& r) noexcept {
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    return success(MessageType::goodbye, GoodbyeMessage{});
}

DecodeResult decode_welcome(FieldReader& r) noexcept {
    WelcomeMessage m;
    m.protocol_version = r.u16();
    if (r.overran()) return failure(ProtocolError::payload_too_short);
    if (m.protocol_version != protocol_version) return failure(ProtocolError::unsupported_version);
    m.total_latency_samples = r.u32();
    m.lookahead_samples = r.u32();
    m.ring_capacity_frames = r.u32();
    m.model_name = r.string();
    m.model_version = r.string();
    m.flags = r.u32();
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    if (m.lookahead_samples > m.total_latency_samples) return failure(ProtocolError::invalid_value);
    if (!validation::is_valid_utf8(m.model_name) || !validation::is_valid_utf8(m.model_version)) {
        return failure(ProtocolError::invalid_utf8);
    }
    return success(MessageType::welcome, m);
}

DecodeResult decode_status(FieldReader& r) noexcept {
    StatusMessage m;
    m.rendered_until = r.u64();
    m.underruns = r.u32();
    m.late_events = r.u32();
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    return success(MessageType::status, m);
}

DecodeResult decode_error(FieldReader& r) noexcept {
    ErrorMessage m;
    m.code = r.u16();
    m.message = r.string();
    if (const ProtocolError e = r.finish(); e != ProtocolError::none) return failure(e);
    if (!validation::is_valid_utf8(m.message)) return failure(ProtocolError::invalid_utf8);
    return success(MessageType::error, m);
}

}  // namespace

ProtocolError parse_frame_header(const std::uint8_t* header_bytes, FrameHeader& header) noexcept {
    header.payload_size = load_u32(header_bytes);
    header.type = load_u16(header_bytes + 4);
    header.reserved = load_u16(header_bytes + 6);
    if (header.payload_size > max_payload_size) return ProtocolError::oversize_payload;
    if (!is_known_message_type(header.type)) return ProtocolError::unknown_message_type;
    if (header.reserved != 0) return ProtocolError::nonzero_reserved;
    return ProtocolError::none;
}

DecodeResult decode_payload(MessageType type, const std::uint8_t* payload, std::size_t payload_size) noexcept {
    if (payload_size > max_payload_size) return failure(ProtocolError::oversize_payload);
    FieldReader reader(payload, payload_size);
    switch (type) {
        case MessageType::hello: return decode_hello(reader);
        case MessageType::midi_events: return decode_midi_events(reader);
        case MessageType::clock_advance: return decode_clock_advance(reader);
        case MessageType::parameter_change: return decode_parameter_change(reader);
        case MessageType::transport: return decode_transport(reader);
        case MessageType::process_mode: return decode_process_mode(reader);
        case MessageType::goodbye: return decode_goodbye(reader);
        case MessageType::welcome: return decode_welcome(reader);
        case MessageType::status: return decode_status(reader);
        case MessageType::error: return decode_error(reader);
    }
    return failure(ProtocolError::unknown_message_type);
}

DecodeResult decode_frame(const std::uint8_t* bytes, std::size_t size) noexcept {
    if (bytes == nullptr || size < frame_header_size) return failure(ProtocolError::truncated_frame);
    FrameHeader header;
    if (const ProtocolError e = parse_frame_header(bytes, header); e != ProtocolError::none) return failure(e);
    if (size - frame_header_size < header.payload_size) return failure(ProtocolError::truncated_frame);
    DecodeResult result =
        decode_payload(static_cast<MessageType>(header.type), bytes + frame_header_size, header.payload_size);
    if (result.ok()) result.frame_size = frame_header_size + header.payload_size;
    return result;
}

}  // namespace sostenuto::bridge
