// The messages of the plugin <-> engine pipe, as plain values.
//
// docs/protocol.md is the byte-level definition; this header mirrors its tables.
// Strings are std::string_view and MIDI event lists are views, so neither
// encoding nor decoding ever allocates: the audio thread encodes, and a decoded
// message simply points into the frame it came from (valid while that frame is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sostenuto/bridge/byte_order.h"

namespace sostenuto::bridge {

inline constexpr std::uint16_t protocol_version = 1;
inline constexpr std::size_t frame_header_size = 8;
inline constexpr std::size_t max_payload_size = 64 * 1024;
inline constexpr std::size_t max_frame_size = frame_header_size + max_payload_size;
inline constexpr char hello_magic[4] = {'S', 'O', 'S', 'T'};

enum class MessageType : std::uint16_t {
    // plugin -> engine
    hello = 0x0001,
    midi_events = 0x0002,
    clock_advance = 0x0003,
    parameter_change = 0x0004,
    transport = 0x0005,
    process_mode = 0x0006,
    goodbye = 0x0007,
    // engine -> plugin
    welcome = 0x0101,
    status = 0x0102,
    error = 0x0103,
};

enum class Direction { plugin_to_engine, engine_to_plugin };

// False for any number that is not in the table (an unknown type).
bool is_known_message_type(std::uint16_t type) noexcept;
// Which way a known type travels; engine-bound types are below 0x0100.
Direction direction_of(MessageType type) noexcept;
std::string_view to_string(MessageType type) noexcept;

enum class ProcessMode : std::uint8_t { realtime = 0, offline = 1 };
enum class LatencyMode : std::uint8_t { live = 0, studio = 1 };
enum class TransportKind : std::uint8_t { flush = 0 };

// ParameterChange ids (docs/protocol.md): the engine's parameters, with plain
// values. Mirrored in full by engine/Sostenuto.Engine/Serving/EngineParameters.cs;
// tests/protocol-vectors/engine_parameters.txt holds the shared list. Output
// gain is not among them: the front ends apply it per sample themselves.
enum class EngineParameter : std::uint32_t {
    temperature = 1,   // sampling temperature as a factor of the model's, 0.05 … 2
    latency_mode = 2,  // the choice: live 0, studio 1, auto 2 (bridge::LatencyChoice; for the record: the Hello's mode rules)
    lookahead_ms = 3,  // the requested lookahead in ms (for the record, as above)
};
inline constexpr std::uint32_t engine_parameter_count = 3;  // ids 1 … engine_parameter_count

// ---- plugin -> engine -------------------------------------------------------

struct HelloMessage {
    std::uint16_t protocol_version = bridge::protocol_version;
    std::uint32_t sample_rate = 0;
    std::uint32_t max_block_size = 0;
    ProcessMode process_mode = ProcessMode::realtime;
    LatencyMode latency_mode = LatencyMode::live;
    std::uint32_t requested_lookahead_samples = 0;
    std::uint32_t compute_slack_samples = 0;
    std::uint64_t instance_id = 0;
    std::string_view shared_memory_name;  // as given to shm_open: "/name", no other '/'
};

struct MidiEvent {
    std::uint64_t stream_time = 0;
    std::uint8_t status = 0;
    std::uint8_t data1 = 0;
    std::uint8_t data2 = 0;
};

inline constexpr std::size_t midi_event_wire_size = 12;
inline constexpr std::size_t max_midi_events_per_message =
    (max_payload_size - 2) / midi_event_wire_size;  // 5461

// The events of a decoded MidiEvents message, read straight from its payload.
class MidiEventList {
public:
    MidiEventList() = default;
    MidiEventList(const std::uint8_t* wire_events, std::size_t count) noexcept
        : wire_events_(wire_events), count_(count) {}

    std::size_t size() const noexcept { return count_; }
    MidiEvent operator[](std::size_t index) const noexcept {
        const std::uint8_t* p = wire_events_ + index * midi_event_wire_size;
        return MidiEvent{byte_order::load_u64(p), p[8], p[9], p[10]};
    }

private:
    const std::uint8_t* wire_events_ = nullptr;
    std::size_t count_ = 0;
};

// Encoding takes a plain array (the shim builds one per block, on the stack or
// preallocated); decoding yields a MidiEventList over the payload instead.
struct MidiEventsMessage {
    const MidiEvent* events = nullptr;
    std::size_t count = 0;
};

struct DecodedMidiEventsMessage {
    MidiEventList events;
};

struct ClockAdvanceMessage {
    std::uint64_t stream_time = 0;  // every event before this time has been sent
};

struct ParameterChangeMessage {
    std::uint64_t stream_time = 0;
    std::uint32_t parameter_id = 0;
    float value = 0.0f;
};

struct TransportMessage {
    TransportKind kind = TransportKind::flush;
    std::uint64_t stream_time = 0;
};

struct ProcessModeMessage {
    ProcessMode mode = ProcessMode::realtime;
    std::uint64_t stream_time = 0;
};

struct GoodbyeMessage {};

// ---- engine -> plugin -------------------------------------------------------

inline constexpr std::uint32_t welcome_flag_untrained = 1u << 0;
// The engine renders this (live) session ahead of the read claim by itself, at least
// welcome_renders_ahead_ms past it: the front end need not send a ClockAdvance with
// every block (docs/protocol.md, "ClockAdvance").
inline constexpr std::uint32_t welcome_flag_renders_ahead = 1u << 1;
inline constexpr std::uint32_t clock_interval_renders_ahead_ms = 20;

struct WelcomeMessage {
    std::uint16_t protocol_version = bridge::protocol_version;
    std::uint32_t total_latency_samples = 0;  // lookahead + slack, what the shim reports to the host
    std::uint32_t lookahead_samples = 0;
    std::uint32_t ring_capacity_frames = 0;
    std::string_view model_name;
    std::string_view model_version;
    std::uint32_t flags = 0;
};

struct StatusMessage {
    std::uint64_t rendered_until = 0;  // render time up to which audio is published in the ring
    std::uint32_t underruns = 0;
    std::uint32_t late_events = 0;
};

// Codes of the Error message; docs/protocol.md says which ones close the connection.
enum class EngineErrorCode : std::uint16_t {
    protocol_error = 1,
    unsupported_version = 2,
    audio_ring_unusable = 3,
    model_unavailable = 4,
    overloaded = 5,
    internal = 6,
};

struct ErrorMessage {
    std::uint16_t code = 0;
    std::string_view message;
};

}  // namespace sostenuto::bridge
