// MIDI from JACK to the engine: which messages are forwarded, and the MIDI
// state a freshly started engine has to be told (held notes, pedal, pitch
// bend, controllers) so that playing carries on after an engine restart.
//
// Everything here is audio-thread safe: fixed storage, no allocation, no locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::standalone {

using bridge::MidiEvent;

enum class MidiParse : std::uint8_t {
    voice,      // a channel voice message: `out` holds it
    ignored,    // a system message (sysex, clock, active sensing, …): never sent to the engine
    malformed,  // no status byte, too short, or a data byte ≥ 0x80
};

// One JACK MIDI event (JACK delivers one complete message per event, status
// byte first; running status is not used). Channel voice messages
// (0x80 … 0xEF) are forwarded as they are, with two exceptions: a note-on of
// velocity 0 becomes a note-off of velocity 64 (as the plug-in sends it), and
// one-data-byte messages (program change, channel pressure) get data2 = 0.
// Bytes after the first message are not looked at.
inline MidiParse parse_midi(const std::uint8_t* data, std::size_t size, std::uint64_t time, MidiEvent& out) noexcept {
    if (data == nullptr || size == 0 || data[0] < 0x80) return MidiParse::malformed;
    const std::uint8_t status = data[0];
    if (status >= 0xF0) return MidiParse::ignored;
    const std::uint8_t kind = status & 0xF0;
    const std::size_t length = (kind == 0xC0 || kind == 0xD0) ? 2 : 3;
    if (size < length) return MidiParse::malformed;
    const std::uint8_t data1 = data[1];
    const std::uint8_t data2 = length == 3 ? data[2] : 0;
    if (data1 > 0x7F || data2 > 0x7F) return MidiParse::malformed;
    if (kind == 0x90 && data2 == 0) {
        out = MidiEvent{time, static_cast<std::uint8_t>(0x80 | (status & 0x0F)), data1, 64};
    } else {
        out = MidiEvent{time, status, data1, data2};
    }
    return MidiParse::voice;
}

// What has been played so far, per channel, as far as a new engine must know
// it: held keys (with their velocities), controller values (CC 0 … 119),
// pitch bend, channel pressure, program. Keys that sound only because the
// pedal holds them are not re-sent (the pedal is): the restarted engine's
// first sound is the keys under the player's fingers.
class MidiState {
public:
    static constexpr std::size_t channels = 16;
    static constexpr std::size_t controllers = 120;  // 120 … 127 are channel mode messages, not state
    // Per channel: program, every controller, pitch bend, pressure, every key.
    static constexpr std::size_t max_resync_events = channels * (1 + controllers + 1 + 1 + 128);

    MidiState() noexcept { reset(); }

    void reset() noexcept { std::memset(static_cast<void*>(this), 0, sizeof *this); }

    void apply(const MidiEvent& e) noexcept {
        const std::size_t ch = e.status & 0x0F;
        Channel& c = channel_[ch];
        switch (e.status & 0xF0) {
            case 0x80: c.held[e.data1] = 0; break;
            case 0x90: c.held[e.data1] = e.data2; break;  // velocity 0 never gets here (parse_midi)
            case 0xB0:
                if (e.data1 < controllers) {
                    c.cc[e.data1] = e.data2;
                    c.cc_set[e.data1] = 1;
                } else if (e.data1 == 121) {
                    // Reset all controllers (RP-015): these go back to what a fresh engine assumes.
                    for (std::uint8_t cc : {1, 11, 64, 65, 66, 67, 68, 69}) c.cc_set[cc] = 0;
                    c.bend_set = c.pressure_set = 0;
                } else if (e.data1 == 120 || e.data1 >= 123) {
                    // All sound off, all notes off, omni/mono/poly (which imply all notes off).
                    std::memset(c.held, 0, sizeof c.held);
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
            default: break;  // poly pressure: per note and short-lived, not re-sent
        }
    }

    // The events that bring a fresh engine to this state, all stamped `time`,
    // per channel: program, controllers, pitch bend, pressure, then held keys.
    // Returns how many were written (at most `capacity`).
    std::size_t resync(std::uint64_t time, MidiEvent* out, std::size_t capacity) const noexcept {
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
            for (std::size_t key = 0; key < 128; ++key)
                if (c.held[key]) put(0x90 | s, static_cast<std::uint8_t>(key), c.held[key]);
        }
        return n;
    }

    std::size_t held_keys() const noexcept {
        std::size_t n = 0;
        for (const Channel& c : channel_)
            for (std::uint8_t v : c.held) n += v != 0;
        return n;
    }

private:
    struct Channel {
        std::uint8_t held[128];
        std::uint8_t cc[controllers];
        std::uint8_t cc_set[controllers];
        std::uint8_t program, program_set;
        std::uint8_t pressure, pressure_set;
        std::uint8_t bend_lsb, bend_msb, bend_set;
    };
    Channel channel_[channels];
};

}  // namespace sostenuto::standalone
