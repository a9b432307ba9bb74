// What the out-of-process fake engine (fake_engine_main.cpp) renders.
//
// `--signal time` (the default): a value that depends only on the render time
// and channel, never 0, so a test can check that the front end read exactly
// the render time it should have.
//
// `--signal notes`: a trivial, exactly predictable instrument, for front ends
// that play notes (the JACK standalone's tests). Every sounding note is a
// cosine at its pitch that starts at its note-on's render time (so its first
// sample is the note's full amplitude); left is the sum of the notes, right
// is fake_note_right_gain times left. A note stops at its note-off, or, while
// the sustain pedal (CC64 ≥ 64) of its channel is down, when the pedal goes
// up (or CC121, reset all controllers, lifts it); CC120 and CC123 stop every
// note of their channel, a Transport flush every note.
#pragma once

#include <cmath>
#include <cstdint>

namespace sostenuto::bridge::testing {

inline float fake_engine_sample(std::uint64_t render_time, std::uint32_t channel) {
    const float value = static_cast<float>(render_time % 1000 + 1) * 0.001f;
    return channel == 0 ? value : -value;
}

inline double fake_note_frequency(int note) { return 440.0 * std::pow(2.0, (note - 69) / 12.0); }
inline double fake_note_amplitude(int velocity) { return 0.1 * velocity / 127.0; }
inline constexpr float fake_note_right_gain = 0.5f;

// One note's contribution to the left channel, `age` samples after its onset.
inline double fake_note_value(int note, int velocity, std::uint64_t age, double sample_rate) {
    constexpr double pi = 3.14159265358979323846;
    return fake_note_amplitude(velocity) *
           std::cos(2.0 * pi * fake_note_frequency(note) * static_cast<double>(age) / sample_rate);
}

}  // namespace sostenuto::bridge::testing
