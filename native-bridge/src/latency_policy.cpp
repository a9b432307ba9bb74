#include "sostenuto/bridge/latency_policy.h"

#include <algorithm>
#include <cmath>

#include "sostenuto/bridge/audio_ring.h"

namespace sostenuto::bridge {

std::uint32_t compute_slack_samples(LatencyMode mode, std::uint32_t sample_rate, std::uint32_t block,
                                    std::optional<double> slack_ms) noexcept {
    const bool live = mode == LatencyMode::live;
    if (live && !slack_ms) return block + sample_rate / 500;
    const double ms = slack_ms ? *slack_ms : 50.0;
    const auto slack = static_cast<std::uint32_t>(std::lround(ms * sample_rate / 1000.0));
    return std::max<std::uint32_t>(slack, live ? block : 2 * block);
}

std::uint32_t ring_capacity_for(std::uint32_t latency_samples, std::uint32_t block) noexcept {
    const std::uint64_t need = 2ull * latency_samples + 4ull * block;
    std::uint64_t capacity = 1u << 16;
    while (capacity < need && capacity < audio_ring_layout::max_capacity_frames) capacity <<= 1;
    return static_cast<std::uint32_t>(capacity);
}

std::uint32_t fade_samples_for(std::uint32_t sample_rate) noexcept {
    return static_cast<std::uint32_t>(std::max(16.0, std::round(sample_rate * 0.002)));
}

}  // namespace sostenuto::bridge
