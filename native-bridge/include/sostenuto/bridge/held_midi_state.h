// What a new engine session must be told when it starts in the middle of a
// performance (the engine died and another one took over): the MIDI state
// that holds now. One owner for both front ends (the VST3 shim and
// sostenuto-jack); the behaviour is documented in docs/controllers.md.
//
// Fed with every MIDI event the front end sends (or would have sent without
// a session), in order. Per channel it tracks:
//  - the keys that sound, with their velocities: keys that are down, and keys
//    released while the sustain pedal (CC64 >= 64) is down. A new engine gets
//    a note-on for each, and for a pedal-held one its note-off right after,
//    behind the pedal, so the pedal holds it there too (it sounds on, as it
//    did before the restart);
//  - every controller 0 ... 119 last set, the program, pitch bend and
//    channel pressure.
// Mode messages: CC120 (all sound off), CC123 (all notes off) and CC124 ...
// CC127 (omni/mono/poly, which imply all notes off) forget the channel's
// notes; CC121 (reset all controllers) forgets what RP-015 resets (CC1,
// CC11, CC64 ... CC69, bend, pressure; volume, pan, bank and program stay)
// and releases the notes the pedal held. A Transport flush (the host stopped
// or jumped) forgets the notes and the pedal, as the engine does.
//
// Restore order, all at one stream time: per channel the program, the
// controllers, pitch bend and pressure first (the pedal before the notes it
// holds), then the notes of every channel.
//
// Audio-thread safe: fixed storage, no allocation, no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge {

class HeldMidiState {
public:
    static constexpr std::size_t channels = 16;
    static constexpr std::size_t controllers = 120;  // 120 ... 127 are channel mode messages, not state
    // The most events restore() writes: per channel the program, every
    // controller, bend and pressure; then every key as a note-on and a note-off.
    static constexpr std::size_t max_restore_events = channels * (1 + controllers + 1 + 1) + channels * 128 * 2;

    HeldMidiState() noexcept { reset(); }

    void reset() noexcept { std::memset(static_cast<void*>(channel_), 0, sizeof channel_); }

    void apply(const MidiEvent& e) noexcept {
        Channel& c = channel_[e.status & 0x0F];
        const std::uint8_t key = e.data1 & 0x7F;
        switch (e.status & 0xF0) {
            case 0x90:
                if (e.data2 > 0) {
                    c.velocity[key] = e.data2;
                    c.key_down[key] = 1;
                    break;
                }
                [[fallthrough]];  // a note-on of velocity 0 is a note-off
            case 0x80:
                c.key_down[key] = 0;
                if (!c.sustained()) c.velocity[key] = 0;
                break;
            case 0xB0:
                if (e.data1 < controllers) {
                    c.cc[e.data1] = e.data2;
                    c.cc_set[e.data1] = 1;
                    if (e.data1 == sustain_pedal && e.data2 < 64) c.release_unheld();
                } else if (e.data1 == 121) {
                    for (std::uint8_t cc : {1, 11, 64, 65, 66, 67, 68, 69}) c.cc_set[cc] = 0;
                    c.bend_set = c.pressure_set = 0;
                    c.release_unheld();
                } else if (e.data1 == 120 || e.data1 >= 123) {
                    c.forget_notes();
                }
                break;
            case 0xC0:
                c.program = e.data1;
                c.program_set = 1;
                break;
            case 0xD0:
                c.pressure = e.data1;
                c.pressure_set = 1;
                break;
            case 0xE0:
                c.bend_lsb = e.data1;
                c.bend_msb = e.data2;
                c.bend_set = 1;
                break;
            default: break;  // poly pressure: per note and short-lived, not state
        }
    }

    // A Transport flush: the engine forgets its notes and the pedal.
    void flush() noexcept {
        for (Channel& c : channel_) {
            c.forget_notes();
            c.cc_set[sustain_pedal] = 0;
        }
    }

    // Writes the events that restore this state at `time` (see the order
    // above) and returns how many (at most `capacity`).
    std::size_t restore(std::uint64_t time, MidiEvent* out, std::size_t capacity) const noexcept {
        std::size_t n = 0;
        auto put = [&](std::uint8_t status, std::uint8_t d1, std::uint8_t d2) {
            if (n < capacity) out[n++] = MidiEvent{time, status, d1, d2};
        };
        for (std::size_t ch = 0; ch < channels; ++ch) {
            const Channel& c = channel_[ch];
            const auto s = static_cast<std::uint8_t>(ch);
            if (c.program_set) put(0xC0 | s, c.program, 0);
            for (std::size_t cc = 0; cc < controllers; ++cc)
                if (c.cc_set[cc]) put(0xB0 | s, static_cast<std::uint8_t>(cc), c.cc[cc]);
            if (c.bend_set) put(0xE0 | s, c.bend_lsb, c.bend_msb);
            if (c.pressure_set) put(0xD0 | s, c.pressure, 0);
        }
        for (std::size_t ch = 0; ch < channels; ++ch) {
            const Channel& c = channel_[ch];
            const auto s = static_cast<std::uint8_t>(ch);
            for (std::size_t key = 0; key < 128; ++key) {
                if (c.velocity[key] == 0) continue;
                put(0x90 | s, static_cast<std::uint8_t>(key), c.velocity[key]);
                if (!c.key_down[key]) put(0x80 | s, static_cast<std::uint8_t>(key), 64);  // only the pedal holds it
            }
        }
        return n;
    }

    bool sounding(int channel, int key) const noexcept { return channel_[channel & 15].velocity[key & 127] != 0; }
    std::size_t sounding_notes() const noexcept {
        std::size_t n = 0;
        for (const Channel& c : channel_)
            for (std::uint8_t v : c.velocity) n += v != 0;
        return n;
    }

private:
    static constexpr std::uint8_t sustain_pedal = 64;

    struct Channel {
        std::uint8_t velocity[128];  // of a sounding note; 0: silent
        std::uint8_t key_down[128];
        std::uint8_t cc[controllers];
        std::uint8_t cc_set[controllers];
        std::uint8_t program, program_set;
        std::uint8_t pressure, pressure_set;
        std::uint8_t bend_lsb, bend_msb, bend_set;

        bool sustained() const noexcept { return cc_set[sustain_pedal] && cc[sustain_pedal] >= 64; }
        void release_unheld() noexcept {
            if (sustained()) return;
            for (std::size_t key = 0; key < 128; ++key)
                if (!key_down[key]) velocity[key] = 0;
        }
        void forget_notes() noexcept {
            std::memset(velocity, 0, sizeof velocity);
            std::memset(key_down, 0, sizeof key_down);
        }
    };
    Channel channel_[channels];
};

}  // namespace sostenuto::bridge
