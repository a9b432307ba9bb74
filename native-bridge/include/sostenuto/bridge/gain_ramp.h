// The output gain of a front end, in dB, with automation points applied
// sample-accurately (the VST3 host's; sostenuto-jack only sets a constant).
// Audio-thread safe: fixed storage, no allocation, no locks.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace sostenuto::bridge {

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

}  // namespace sostenuto::bridge
