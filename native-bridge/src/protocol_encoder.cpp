#include "sostenuto/bridge/protocol_encoder.h"

#include <cmath>

#include "protocol_validation.h"

namespace sostenuto::bridge {
namespace {

using namespace byte_order;

// Writes fields in order after the size was checked against the capacity, so
// the individual stores need no bounds checks of their own.
class FieldWriter {
public:
    explicit FieldWriter(std::uint8_t* out) noexcept : p_(out) {}
    void u8(std::uint8_t v) noexcept { store_u8(p_, v), p_ += 1; }
    void u16(std::uint16_t v) noexcept { store_u16(p_, v), p_ += 2; }
    void u32(std::uint32_t v) noexcept { store_u32(p_, v), p_ += 4; }
    void u64(std::uint64_t v) noexcept { store_u64(p_, v), p_ += 8; }
    void f32(float v) noexcept { store_f32(p_, v), p_ += 4; }
    void bytes(const void* data, std::size_t size) noexcept {
        if (size != 0) std::memcpy(p_, data, size);
        p_ += size;
    }
    void string(std::string_view s) noexcept {
        u16(static_cast<std::uint16_t>(s.size()));
        bytes(s.data(), s.size());
    }

private:
    std::uint8_t* p_;
};

EncodeResult refuse(ProtocolError error) noexcept { return EncodeResult{0, error}; }

// Checks room for the frame, writes the header, and hands back a writer for the payload.
template <typename WritePayload>
EncodeResult write_frame(MessageType type, std::size_t payload_size, std::uint8_t* buffer,
                         std::size_t capacity, WritePayload&& write_payload) noexcept {
    if (payload_size > max_payload_size) return refuse(ProtocolError::oversize_payload);
    const std::size_t frame_size = frame_header_size + payload_size;
    if (buffer == nullptr || capacity < frame_size) return refuse(ProtocolError::buffer_too_small);
    FieldWriter writer(buffer);
    writer.u32(static_cast<std::uint32_t>(payload_size));
    writer.u16(static_cast<std::uint16_t>(type));
    writer.u16(0);  // reserved
    write_payload(writer);
    return EncodeResult{frame_size, ProtocolError::none};
}

bool fits_string(std::string_view s) noexcept { return s.size() <= 0xFFFF; }

constexpr std::size_t hello_fixed_payload = 4 + 2 + 4 + 4 + 1 + 1 + 4 + 4 + 8 + 2;
constexpr std::size_t welcome_fixed_payload = 2 + 4 + 4 + 4 + 2 + 2 + 4;

}  // namespace

std::size_t encoded_size(const HelloMessage& m) noexcept {
    return frame_header_size + hello_fixed_payload + m.shared_memory_name.size();
}
std::size_t encoded_size(const MidiEventsMessage& m) noexcept {
    return frame_header_size + 2 + m.count * midi_event_wire_size;
}
std::size_t encoded_size(const WelcomeMessage& m) noexcept {
    return frame_header_size + welcome_fixed_payload + m.model_name.size() + m.model_version.size();
}
std::size_t encoded_size(const ErrorMessage& m) noexcept {
    return frame_header_size + 4 + m.message.size();
}

EncodeResult encode_message(const HelloMessage& m, std::uint8_t* buffer, std::size_t capacity) noexcept {
    if (m.protocol_version != protocol_version) return refuse(ProtocolError::unsupported_version);
    if (m.sample_rate == 0 || m.max_block_size == 0 ||
        !validation::is_valid_process_mode(static_cast<std::uint8_t>(m.process_mode)) ||
        !validation::is_valid_latency_mode(static_cast<std::uint8_t>(m.latency_mode)) ||
        !validation::is_valid_shared_memory_name(m.shared_memory_name)) {
        return refuse(ProtocolError::invalid_value);
    }
    return write_frame(MessageType::hello, encoded_size(m) - frame_header_size, buffer, capacity,
                       [&](FieldWriter& w) {
                           w.bytes(hello_magic, sizeof hello_magic);
                           w.u16(m.protocol_version);
                           w.u32(m.sample_rate);
                           w.u32(m.max_block_size);
                           w.u8(static_cast<std::uint8_t>(m.process_mode));
                           w.u8(static_cast<std::uint8_t>(m.latency_mode));
                           w.u32(m.requested_lookahead_samples);
                           w.u32(m.compute_slack_samples);
                           w.u64(m.instance_id);
                           w.string(m.shared_memory_name);
                       });
}

EncodeResult encode_message(const MidiEventsMessage& m, std::uint8_t* buffer, std::size_t capacity) noexcept {
    if (m.count > max_midi_events_per_message) return refuse(ProtocolError::oversize_payload);
    if (m.count != 0 && m.events == nullptr) return refuse(ProtocolError::invalid_value);
    for (std::size_t i = 0; i < m.count; ++i) {
        const MidiEvent& e = m.events[i];
        if (!validation::is_valid_midi_message(e.status, e.data1, e.data2)) return refuse(ProtocolError::invalid_value);
        if (i > 0 && e.stream_time < m.events[i - 1].stream_time) return refuse(ProtocolError::invalid_value);
    }
    return write_frame(MessageType::midi_events, encoded_size(m) - frame_header_size, buffer, capacity,
                       [&](FieldWriter& w) {
                           w.u16(static_cast<std::uint16_t>(m.count));
                           for (std::size_t i = 0; i < m.count; ++i) {
                               const MidiEvent& e = m.events[i];
                               w.u64(e.stream_time);
                               w.u8(e.status);
                               w.u8(e.data1);
                               w.u8(e.data2);
                               w.u8(0);  // reserved
                           }
                       });
}

EncodeResult encode_message(const ClockAdvanceMessage& m, std::uint8_t* buffer, std::size_t capacity) noexcept {
    return write_frame(MessageType::clock_advance, 8, buffer, capacity,
                       [&](FieldWriter& w) { w.u64(m.stream_time); });
}

EncodeResult encode_message(const ParameterChangeMessage& m, std::uint8_t* buffer, std::size_t capacity) noexcept {
    if (!std::isfinite(m.value)) return refuse(ProtocolError::invalid_value);
    return write_frame(MessageType::parameter_change, 16, buffer, capacity, [&](FieldWriter& w) {
        w.u64(m.stream_time);
        w.u32(m.parameter_id);
        w.f32(m.value);
    });
}

EncodeResult encode_message(const TransportMessage& m, std::uint8_t* buffer, std::size_t capacity) noexcept {
    if (!validation::is_valid_transport_kind(static_cast<std::uint8_t>(m.kind))) return refuse(ProtocolError::invalid_value);
    return write_frame(MessageType::transport, 9, buffer, capacity, [&](FieldWriter& w) {
        w.u8(static_cast<std::uint8_t>(m.kind));
        w.u64(m.stream_time);
    });
}

EncodeResult encode_message(const ProcessModeMessage& m, std::uint8_t* buffer, std::size_t capacity) noexcept {
    if (!validation::is_valid_process_mode(static_cast<std::uint8_t>(m.mode))) return refuse(ProtocolError::invalid_value);
    return write_frame(MessageType::process_mode, 9, buffer, capacity, [&](FieldWriter& w) {
        w.u8(static_cast<std::uint8_t>(m.mode));
        w.u64(m.stream_time);
    });
}

EncodeResult encode_message(const GoodbyeMessage&, std::uint8_t* buffer, std::size_t capacity) noexcept {
    return write_frame(MessageType::goodbye, 0, buffer, capacity, [](FieldWriter&) {});
}

EncodeResult encode_message(const WelcomeMessage& m, std::uint8_t* buffer, std::size_t capacity) noexcept {
    if (m.protocol_version != protocol_version) return refuse(ProtocolError::unsupported_version);
    if (m.lookahead_samples > m.total_latency_samples) return refuse(ProtocolError::invalid_value);
    if (!fits_string(m.model_name) || !fits_string(m.model_version)) return refuse(ProtocolError::oversize_payload);
    if (!validation::is_valid_utf8(m.model_name) || !validation::is_valid_utf8(m.model_version)) {
        return refuse(ProtocolError::invalid_utf8);
    }
    return write_frame(MessageType::welcome, encoded_size(m) - frame_header_size, buffer, capacity,
                       [&](FieldWriter& w) {
                           w.u16(m.protocol_version);
                           w.u32(m.total_latency_samples);
                           w.u32(m.lookahead_samples);
                           w.u32(m.ring_capacity_frames);
                           w.string(m.model_name);
                           w.string(m.model_version);
                           w.u32(m.flags);
                       });
}

EncodeResult encode_message(const StatusMessage& m, std::uint8_t* buffer, std::size_t capacity) noexcept {
    return write_frame(MessageType::status, 16, buffer, capacity, [&](FieldWriter& w) {
        w.u64(m.rendered_until);
        w.u32(m.underruns);
        w.u32(m.late_events);
    });
}

EncodeResult encode_message(const ErrorMessage& m, std::uint8_t* buffer, std::size_t capacity) noexcept {
    if (!fits_string(m.message)) return refuse(ProtocolError::oversize_payload);
    if (!validation::is_valid_utf8(m.message)) return refuse(ProtocolError::invalid_utf8);
    return write_frame(MessageType::error, encoded_size(m) - frame_header_size, buffer, capacity,
                       [&](FieldWriter& w) {
                           w.u16(m.code);
                           w.string(m.message);
                       });
}

}  // namespace sostenuto::bridge
