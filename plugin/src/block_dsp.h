// The shim's per-block building blocks, free of the VST3 ABI so they can be
// tested on their own. Everything here is audio-thread safe: fixed storage,
// no allocation, no locks.
#pragma once

#include "sostenuto/bridge/gap_fade.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>

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

// The underrun fade lives in native-bridge, shared with the JACK standalone.
using GapSmoother = bridge::GapFade;

// What a new engine session must be told when it starts in the middle of an
// activation (the engine died and another one took over): the notes that
// sound, the sustain pedal and the controllers last set. Fed with every MIDI
// event the shim sends (or would have sent without a session), in order.
//
// Notes released while the channel's sustain pedal is down keep sounding and
// are restored as a note-on at once followed by its note-off, so the pedal
// holds them. A Transport flush forgets notes and the pedal (as the engine
// does); CC120/CC123 forget a channel's notes; CC121 resets its controllers.
class HeldMidiState {
public:
    static constexpr int kChannels = 16;
    // Controllers whose last value is restored (the continuous ones the shim maps).
    static constexpr std::uint8_t kTracked[] = {1, 7, 11, 64, 66, 67};
    static constexpr std::size_t kTrackedCount = sizeof(kTracked) / sizeof(kTracked[0]);
    // The most events restore() can write.
    static constexpr std::size_t kMaxRestoreEvents = kChannels * (kTrackedCount + 2) + kChannels * 128 * 2;

    void reset() noexcept {
        for (auto& ch : note_) std::fill(std::begin(ch), std::end(ch), std::uint8_t{0});
        for (auto& ch : key_down_) std::fill(std::begin(ch), std::end(ch), false);
        for (auto& ch : cc_) std::fill(std::begin(ch), std::end(ch), std::int16_t{-1});
        std::fill(std::begin(bend_), std::end(bend_), -1);
        std::fill(std::begin(pressure_), std::end(pressure_), std::int16_t{-1});
    }

    HeldMidiState() noexcept { reset(); }

    void apply(const MidiEvent& e) noexcept {
        const int ch = e.status & 0x0F;
        switch (e.status & 0xF0) {
            case 0x90:
                if (e.data2 > 0) {
                    note_[ch][e.data1 & 0x7F] = e.data2;
                    key_down_[ch][e.data1 & 0x7F] = true;
                    break;
                }
                [[fallthrough]];
            case 0x80:
                key_down_[ch][e.data1 & 0x7F] = false;
                if (!sustain(ch)) note_[ch][e.data1 & 0x7F] = 0;
                break;
            case 0xB0:
                if (e.data1 == 120 || e.data1 == 123) {
                    std::fill(std::begin(note_[ch]), std::end(note_[ch]), std::uint8_t{0});
                    std::fill(std::begin(key_down_[ch]), std::end(key_down_[ch]), false);
                } else if (e.data1 == 121) {
                    std::fill(std::begin(cc_[ch]), std::end(cc_[ch]), std::int16_t{-1});
                    bend_[ch] = -1;
                    pressure_[ch] = -1;
                    release_unheld(ch);
                } else if (const int k = tracked_index(e.data1); k >= 0) {
                    cc_[ch][k] = e.data2;
                    if (e.data1 == 64 && e.data2 < 64) release_unheld(ch);
                }
                break;
            case 0xD0: pressure_[ch] = e.data1; break;
            case 0xE0: bend_[ch] = static_cast<std::int32_t>(e.data1) | (static_cast<std::int32_t>(e.data2) << 7); break;
            default: break;
        }
    }

    void flush() noexcept {
        for (int ch = 0; ch < kChannels; ++ch) {
            std::fill(std::begin(note_[ch]), std::end(note_[ch]), std::uint8_t{0});
            std::fill(std::begin(key_down_[ch]), std::end(key_down_[ch]), false);
            cc_[ch][sustain_index()] = -1;
        }
    }

    // Writes the events that restore this state at `time`: controllers first
    // (a pedal before the notes it holds), then the notes. Returns how many.
    std::size_t restore(std::uint64_t time, MidiEvent* out, std::size_t capacity) const noexcept {
        std::size_t n = 0;
        auto put = [&](std::uint8_t status, std::uint8_t d1, std::uint8_t d2) {
            if (n < capacity) out[n++] = MidiEvent{time, status, d1, d2};
        };
        for (int ch = 0; ch < kChannels; ++ch) {
            const auto c = static_cast<std::uint8_t>(ch);
            for (std::size_t k = 0; k < kTrackedCount; ++k)
                if (cc_[ch][k] >= 0) put(0xB0 | c, kTracked[k], static_cast<std::uint8_t>(cc_[ch][k]));
            if (bend_[ch] >= 0) put(0xE0 | c, static_cast<std::uint8_t>(bend_[ch] & 0x7F), static_cast<std::uint8_t>(bend_[ch] >> 7));
            if (pressure_[ch] >= 0) put(0xD0 | c, static_cast<std::uint8_t>(pressure_[ch]), 0);
        }
        for (int ch = 0; ch < kChannels; ++ch) {
            const auto c = static_cast<std::uint8_t>(ch);
            for (std::uint8_t key = 0; key < 128; ++key) {
                if (note_[ch][key] == 0) continue;
                put(0x90 | c, key, note_[ch][key]);
                if (!key_down_[ch][key]) put(0x80 | c, key, 64);  // released: only the pedal holds it
            }
        }
        return n;
    }

    bool sounding(int channel, int key) const noexcept { return note_[channel & 15][key & 127] != 0; }

private:
    static constexpr int tracked_index(std::uint8_t cc) noexcept {
        for (std::size_t k = 0; k < kTrackedCount; ++k)
            if (kTracked[k] == cc) return static_cast<int>(k);
        return -1;
    }
    static constexpr int sustain_index() noexcept { return tracked_index(64); }
    bool sustain(int ch) const noexcept { return cc_[ch][sustain_index()] >= 64; }
    void release_unheld(int ch) noexcept {
        if (sustain(ch)) return;
        for (int key = 0; key < 128; ++key)
            if (!key_down_[ch][key]) note_[ch][key] = 0;
    }

    std::uint8_t note_[kChannels][128];  // velocity of a sounding note, 0 = silent
    bool key_down_[kChannels][128];
    std::int16_t cc_[kChannels][kTrackedCount];  // -1 = never set
    std::int32_t bend_[kChannels];               // 14 bits, -1 = never set
    std::int16_t pressure_[kChannels];           // channel aftertouch, -1 = never set
};

}  // namespace sostenuto::vst3
