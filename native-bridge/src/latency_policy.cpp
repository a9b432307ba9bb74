#include "sostenuto/bridge/latency_policy.h"

#include <algorithm>
#include <cmath>

#include "sostenuto/bridge/audio_ring.h"

namespace sostenuto::bridge {

const char* to_string(LatencyChoice choice) noexcept {
    switch (choice) {
        case LatencyChoice::live: return "live";
        case LatencyChoice::studio: return "studio";
        case LatencyChoice::automatic: return "auto";
    }
    return "?";
}

void PathRouter::reset() noexcept {
    for (auto& path : held_)
        for (auto& w : path) w = 0;
    count_[0] = count_[1] = 0;
}

void PathRouter::set(int path, std::size_t bit, bool on) noexcept {
    const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
    std::uint64_t& w = held_[path][bit / 64];
    if (((w & mask) != 0) == on) return;
    w ^= mask;
    if (on) ++count_[path]; else --count_[path];
}

bool PathRouter::holds(RenderPath path) const noexcept { return count_[static_cast<int>(path)] != 0; }

bool PathRouter::holds(RenderPath path, std::uint8_t channel, std::uint8_t key) const noexcept {
    return get(static_cast<int>(path), (channel & 0x0Fu) * 128u + (key & 0x7Fu));
}

PathRouter::Route PathRouter::route(std::uint8_t status, std::uint8_t data1, std::uint8_t data2) noexcept {
    const int kind = status & 0xF0;
    const std::size_t channel = status & 0x0Fu;
    const std::size_t bit = channel * 128u + (data1 & 0x7Fu);
    const int here = static_cast<int>(path_);
    Route to_here;
    (path_ == RenderPath::live ? to_here.live : to_here.studio) = true;
    const bool is_off = kind == 0x80 || (kind == 0x90 && data2 == 0);
    if (kind == 0x90 && !is_off) {
        set(here, bit, true);
        return to_here;
    }
    if (is_off || kind == 0xA0) {
        Route r{get(0, bit), get(1, bit)};
        if (is_off) {
            set(0, bit, false);
            set(1, bit, false);
        }
        return (r.live || r.studio) ? r : to_here;
    }
    if (kind == 0xB0 && (data1 == 120 || data1 == 123 || data1 >= 124))
        for (int p = 0; p < 2; ++p)
            for (std::size_t k = 0; k < 128; ++k) set(p, channel * 128u + k, false);
    return Route{true, true};
}

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
