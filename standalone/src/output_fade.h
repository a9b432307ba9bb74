// Keeps the output continuous when the engine's audio is missing (an
// underrun, the engine gone): where a gap starts, the last output value
// decays linearly to zero over `ramp` samples instead of dropping (no click);
// when audio returns it fades in over `ramp` samples. The same behaviour as
// the plug-in's GapSmoother (plugin/src/block_dsp.h). Audio-thread safe.
#pragma once

#include <cstddef>

namespace sostenuto::standalone {

class OutputFade {
public:
    static constexpr std::size_t channels = 2;

    void reset(std::size_t ramp) noexcept {
        ramp_ = ramp < 1 ? 1 : ramp;
        in_gap_ = true;  // nothing played yet: the first audio fades in
        hold_pos_ = ramp_;
        fade_in_pos_ = ramp_;
        for (std::size_t c = 0; c < channels; ++c) last_[c] = hold_start_[c] = 0.0f;
    }
    std::size_t ramp() const noexcept { return ramp_; }

    // Frames [0, available) of `out` are engine audio; [available, frames)
    // are missing (overwritten here).
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
    bool in_gap_ = true;
    std::size_t hold_pos_ = 1;
    std::size_t fade_in_pos_ = 1;
    float last_[channels] = {};
    float hold_start_[channels] = {};
};

}  // namespace sostenuto::standalone
