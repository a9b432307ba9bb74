// Small helpers shared by the plug-in's tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "travesty/events.h"

namespace sostenuto::test {

// For tests that must not start an engine process: an explicit SOSTENUTO_ENGINE
// that does not exist leaves the plug-in nothing to start (it never falls back
// to the engine bundled by `make bundle`); it only connects.
inline void never_start_an_engine() { ::setenv("SOSTENUTO_ENGINE", "/nonexistent/sostenuto-tests-start-no-engine", 1); }

inline v3_event note_on(int16_t channel, int16_t pitch, float velocity, int32_t offset) {
    v3_event e{};
    e.bus_index = 0;
    e.sample_offset = offset;
    e.type = V3_EVENT_NOTE_ON;
    e.note_on.channel = channel;
    e.note_on.pitch = pitch;
    e.note_on.velocity = velocity;
    e.note_on.note_id = -1;
    return e;
}

inline v3_event note_off(int16_t channel, int16_t pitch, float velocity, int32_t offset) {
    v3_event e{};
    e.bus_index = 0;
    e.sample_offset = offset;
    e.type = V3_EVENT_NOTE_OFF;
    e.note_off.channel = channel;
    e.note_off.pitch = pitch;
    e.note_off.velocity = velocity;
    e.note_off.note_id = -1;
    return e;
}

inline uint32_t crc32(const uint8_t* data, std::size_t size) {
    uint32_t crc = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < size; ++i) {
        crc ^= data[i];
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

}  // namespace sostenuto::test
