// Keeps a front end's output continuous when the engine's audio is missing (a
// realtime underrun, the engine gone): where a gap starts, the last output
// value decays linearly to zero over `ramp` samples instead of dropping (no
// click); when audio comes back it fades in over `ramp` samples while the
// decay finishes. In between the output is silence. Stereo, audio-thread safe
// (no allocation, no locks), shared by the VST3 shim and the JACK standalone.
#pragma once

#include <cstddef>

namespace sostenuto::bridge {

class GapFade {
public:
    static constexpr std::size_t channels = 2;

    // `start_in_gap`: whether the first audio after the reset fades in. The
    // plug-in says no (a bounce must equal the engine's render from sample 0);
    // the standalone says yes (it may join a stream that is already sounding).
    void reset(std::size_t ramp, bool start_in_gap = false) noexcept {
        ramp_ = ramp < 1 ? 1 : ramp;
        in_gap_ = start_in_gap;
        hold_pos_ = ramp_;
        fade_in_pos_ = ramp_;
        for (std::size_t c = 0; c < channels; ++c) last_[c] = hold_start_[c] = 0.0f;
    }

    std::size_t ramp() const noexcept { return ramp_; }
    bool in_gap() const noexcept { return in_gap_; }

    // Frames [0, available) of `out` hold engine audio; [available, frames)
    // are missing (their content is ignored and overwritten).
    void process(float* const* out, std::size_t frames, std::size_t available) noexcept {
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
                    for (std::size_t c = 0; c < channels; ++c) hold_start_[c] = last_[c];
                }
                a = 0.0f;
            }
            const float h = hold_pos_ < ramp_ ? 1.0f - static_cast<float>(hold_pos_ + 1) / static_cast<float>(ramp_) : 0.0f;
            if (hold_pos_ < ramp_) ++hold_pos_;
            for (std::size_t c = 0; c < channels; ++c) {
                const float x = have ? out[c][i] : 0.0f;
                const float y = a * x + h * hold_start_[c];
                out[c][i] = y;
                last_[c] = y;
            }
        }
    }

private:
    std::size_t ramp_ = 1;
    bool in_gap_ = false;
    std::size_t hold_pos_ = 1;
    std::size_t fade_in_pos_ = 1;
    float last_[channels] = {};
    float hold_start_[channels] = {};
};

}  // namespace sostenuto::bridge
