// MIDI input for the test host: Standard MIDI Files (format 0 and 1, tempo
// map, running status; SMPTE divisions too) or a plain-text event list.
//
// Text event list: one event per line, "<seconds> <status> <data1> <data2>",
// status in hex (e.g. 90, 0x90), data bytes decimal; '#' starts a comment.
//   0.000 90 60 100     # note on C4
//   0.500 b0 64 127     # sustain pedal down
//   1.000 80 60 0
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sostenuto::host {

struct TimedMidi {
    double seconds = 0;
    uint8_t status = 0;
    uint8_t data1 = 0;
    uint8_t data2 = 0;
};

// Channel voice messages only (0x80..0xEF), sorted by time (stable). Throws
// std::runtime_error with a reason for a malformed file.
std::vector<TimedMidi> parse_smf(const std::vector<uint8_t>& bytes);
std::vector<TimedMidi> parse_event_list(const std::string& text);
// By extension: .txt/.events -> event list, anything else -> SMF.
std::vector<TimedMidi> read_midi_input(const std::string& path);

}  // namespace sostenuto::host
