// How much time a front end asks the engine for, and how much ring it sets
// up for that: one policy for the VST3 shim and sostenuto-jack. The timing
// model (D = L + S) is in docs/design.md; the live-mode reasoning in
// docs/live-mode.md.
#pragma once

#include <cstdint>
#include <optional>

#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge {

// The compute slack S to ask for at `sample_rate` with host blocks of up to
// `block` frames. Live: one block and 2 ms, the slack the engine needs to
// splice a note in before the block that plays it. Studio: 50 ms. An explicit
// `slack_ms` replaces those; S is never below one block (two in studio mode).
std::uint32_t compute_slack_samples(LatencyMode mode, std::uint32_t sample_rate, std::uint32_t block,
                                    std::optional<double> slack_ms = std::nullopt) noexcept;

// The latency to report before the engine has answered: the requested
// lookahead L plus the slack S.
inline std::uint32_t estimated_latency_samples(std::uint32_t lookahead_samples, std::uint32_t slack_samples) noexcept {
    return lookahead_samples + slack_samples;
}

// The ring the engine renders ahead into: a power of two >= 2^16 frames with
// room for 2·(L + S) + 4 blocks (at most 2^24).
std::uint32_t ring_capacity_for(std::uint32_t latency_samples, std::uint32_t block) noexcept;

// The underrun fade's ramp: 2 ms at `sample_rate`, at least 16 samples.
std::uint32_t fade_samples_for(std::uint32_t sample_rate) noexcept;

}  // namespace sostenuto::bridge
