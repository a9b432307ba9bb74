// What the out-of-process fake engine (fake_engine_main.cpp) renders: a value
// that depends only on the render time and channel, never 0, so a test can
// check that the front end read exactly the render time it should have.
#pragma once

#include <cstdint>

namespace sostenuto::bridge::testing {

inline float fake_engine_sample(std::uint64_t render_time, std::uint32_t channel) {
    const float value = static_cast<float>(render_time % 1000 + 1) * 0.001f;
    return channel == 0 ? value : -value;
}

}  // namespace sostenuto::bridge::testing
