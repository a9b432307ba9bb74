// The shim's per-block building blocks, free of the VST3 ABI so they can be
// tested on their own. Everything here is audio-thread safe: fixed storage,
// no allocation, no locks.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engine_link.h"

namespace sostenuto::vst3 {

// Stable bottom-up merge sort of events by stream time, with caller-provided
// scratch of the same size (std::stable_sort may allocate).
inline void stable_sort_events(MidiEvent* events, MidiEvent* scratch, std::size_t count) noexcept {
    MidiEvent* src = events;
    MidiEvent* dst = scratch;
    for (std::size_t width = 1; width < count; width *= 2) {
        for (std::size_t lo = 0; lo < count; lo += 2 * width) {
            const std::size_t mid = std::min(lo + width, count), hi = std::min(lo + 2 * width, count);
            std::size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) dst[o++] = (src[b].stream_time < src[a].stream_time) ? src[b++] : src[a++];
            while (a < mid) dst[o++] = src[a++];
            while (b < hi) dst[o++] = src[b++];
        }
        std::swap(src, dst);
    }
    if (src != events) std::copy(src, src + count, events);
}

// Output gain with the host's automation points applied sample-accurately:
// a piecewise-linear curve (in dB) through the points of this block, starting
// from the value the previous block ended with.
class GainRamp {
public:
    static constexpr std::size_t kMaxPoints = 128;

    void reset(double db) noexcept {
        current_db_ = db;
        count_ = 0;
    }
    void begin_block() noexcept { count_ = 0; }
    // Offsets must be non-decreasing within a block (a VST3 queue is ordered;
    // out-of-order points replace the last one).
    void add_point(std::int32_t offset, double db) noexcept {
        if (count_ > 0 && offset < points_[count_ - 1].offset) offset = points_[count_ - 1].offset;
        if (count_ == kMaxPoints) {
            points_[count_ - 1] = {offset, db};
            return;
        }
        points_[count_++] = {offset, db};
    }
    // A step at the block start (a setState, say), without a ramp.
    void jump(double db) noexcept { current_db_ = db; }
    double current_db() const noexcept { return current_db_; }

    // Multiplies channels[c][0..frames) by the gain curve and moves on to the
    // value at the end of the block.
    void apply(float* const* channels, std::size_t channel_count, std::size_t frames) noexcept {
        if (frames == 0) {
            if (count_ > 0) current_db_ = points_[count_ - 1].db;
            return;
        }
        bool constant = true;
        for (std::size_t k = 0; k < count_; ++k) constant = constant && points_[k].db == current_db_;
        if (constant) {
            const float g = static_cast<float>(std::pow(10.0, current_db_ / 20.0));
            if (g != 1.0f)
                for (std::size_t c = 0; c < channel_count; ++c)
                    for (std::size_t i = 0; i < frames; ++i) channels[c][i] *= g;
            return;
        }
        // Anchor (0, previous value), then the points, then hold the last.
        std::int64_t a_off = 0;
        double a_db = current_db_;
        std::size_t next = 0;
        for (std::size_t i = 0; i < frames; ++i) {
            while (next < count_ && points_[next].offset <= static_cast<std::int64_t>(i)) {
                a_off = points_[next].offset;
                a_db = points_[next].db;
                ++next;
            }
            double db = a_db;
            if (next < count_) {
                const std::int64_t b_off = points_[next].offset;
                db = a_db + (points_[next].db - a_db) * static_cast<double>(static_cast<std::int64_t>(i) - a_off) /
                                static_cast<double>(b_off - a_off);
            }
            const float g = static_cast<float>(std::pow(10.0, db / 20.0));
            for (std::size_t c = 0; c < channel_count; ++c) channels[c][i] *= g;
        }
        current_db_ = points_[count_ - 1].db;
        count_ = 0;
    }

private:
    struct Point {
        std::int64_t offset;
        double db;
    };
    Point points_[kMaxPoints] = {};
    std::size_t count_ = 0;
    double current_db_ = 0.0;
};

// Keeps the output continuous when the engine's audio is missing (realtime
// underrun, engine gone): where a gap starts, the last output value decays
// linearly to zero over `ramp` samples instead of dropping (no click); when
// audio comes back it fades in over `ramp` samples while the decay finishes.
// In between the output is silence.
class GapSmoother {
public:
    static constexpr std::size_t kChannels = 2;

    void reset(std::size_t ramp) noexcept {
        ramp_ = ramp < 1 ? 1 : ramp;
        in_gap_ = false;
        hold_pos_ = ramp_;
        fade_in_pos_ = ramp_;
        for (std::size_t c = 0; c < kChannels; ++c) last_[c] = hold_start_[c] = 0.0f;
    }

    // Frames [0, available) of `channels` hold engine audio; [available,
    // frames) are missing (their content is ignored and overwritten).
    void process(float* const* channels, std::size_t frames, std::size_t available) noexcept {
        for (std::size_t i = 0; i < frames; ++i) {
            const bool have = i < available;
            float a;
            if (have) {
                if (in_gap_) {
                    in_gap_ = false;
                    fade_in_pos_ = 0;
                }
                a = fade_in_pos_ < ramp_ ? static_cast<float>(fade_in_pos_ + 1) / static_cast<float>(ramp_) : 1.0f;
                if (fade_in_pos_ < ramp_) ++fade_in_pos_;
            } else {
                if (!in_gap_) {
                    in_gap_ = true;
                    hold_pos_ = 0;
                    for (std::size_t c = 0; c < kChannels; ++c) hold_start_[c] = last_[c];
                }
                a = 0.0f;
            }
            const float h = hold_pos_ < ramp_ ? 1.0f - static_cast<float>(hold_pos_ + 1) / static_cast<float>(ramp_) : 0.0f;
            if (hold_pos_ < ramp_) ++hold_pos_;
            for (std::size_t c = 0; c < kChannels; ++c) {
                const float x = have ? channels[c][i] : 0.0f;
                const float y = a * x + h * hold_start_[c];
                channels[c][i] = y;
                last_[c] = y;
            }
        }
    }

    bool in_gap() const noexcept { return in_gap_; }

private:
    std::size_t ramp_ = 1;
    bool in_gap_ = false;
    std::size_t hold_pos_ = 1;
    std::size_t fade_in_pos_ = 1;
    float last_[kChannels] = {};
    float hold_start_[kChannels] = {};
};

}  // namespace sostenuto::vst3
