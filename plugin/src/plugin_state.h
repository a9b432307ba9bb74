// The component's saved state: a small versioned binary record.
//
//   offset size
//   0      4    magic "SOST"
//   4      4    kind  "cmp1" (component state)
//   8      4    u32 version (little-endian), currently 1
//   12     4    u32 payload size N (bytes), at most kMaxPayload
//   16     N    payload; version 1 is 28 bytes:
//                 f64 output gain (dB), f64 temperature, u32 latency mode (0 live, 1 studio,
//                 2 auto: bridge::LatencyChoice; a number it does not know reads as auto), f64 lookahead (ms)
//   16+N   4    u32 CRC-32 (IEEE) of the payload
//
// Later versions only append payload fields, so any reader takes the fields it
// knows from a newer state and leaves the rest at their defaults. Anything that
// does not parse - wrong magic, truncated, bad CRC, version 0 - yields the
// defaults; single out-of-range or non-finite values fall back to their default
// (non-finite) or are clamped (out of range).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sostenuto/bridge/latency_policy.h"

namespace sostenuto::vst3 {

struct PluginSettings {
    double gain_db = 0.0;
    double temperature = 1.0;
    // A bridge::LatencyChoice number: 0 live, 1 studio, 2 auto (the default:
    // played keys on the live path, the timeline and bounces on the studio
    // path). States saved before Auto existed hold 0 or 1 and load unchanged.
    int latency_mode = static_cast<int>(bridge::default_latency_choice);
    double lookahead_ms = 0.0;

    bool operator==(const PluginSettings& o) const noexcept {
        return gain_db == o.gain_db && temperature == o.temperature && latency_mode == o.latency_mode &&
               lookahead_ms == o.lookahead_ms;
    }
    bool operator!=(const PluginSettings& o) const noexcept { return !(*this == o); }
};

namespace state_format {
inline constexpr std::uint8_t magic[4] = {'S', 'O', 'S', 'T'};
inline constexpr std::uint8_t kind[4] = {'c', 'm', 'p', '1'};
inline constexpr std::uint32_t version = 1;
inline constexpr std::size_t header_size = 16;
inline constexpr std::size_t payload_size_v1 = 28;
inline constexpr std::size_t max_payload = 4096;
}  // namespace state_format

std::vector<std::uint8_t> serialize_state(const PluginSettings& settings);

enum class StateParse { ok, bad_magic, bad_version, bad_size, truncated, bad_crc };

// Parses a complete record. On any failure `out` is set to the defaults.
StateParse parse_state(const std::uint8_t* data, std::size_t size, PluginSettings& out) noexcept;

// Header fields, for a stream reader that reads the header first and then
// knows how many more bytes belong to the record (payload + CRC). Returns 0 if
// the header is not a valid one.
std::size_t state_body_size(const std::uint8_t* header) noexcept;

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) noexcept;

const char* to_string(StateParse result) noexcept;

// Clamps/defaults every field to its valid range (what parse_state does to each value).
PluginSettings sanitized(const PluginSettings& settings) noexcept;

}  // namespace sostenuto::vst3
