// MIDI from JACK to the engine: which messages are forwarded. (What a new
// engine is told after a restart is the instrument core's: bridge::HeldMidiState.)
//
// Audio-thread safe: no allocation, no locks.
#pragma once

#include <cstddef>
#include <cstdint>

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

}  // namespace sostenuto::standalone
