// Encodes a decoded message again through the public encoder: the round trip that the vector tests
// and the protocol fuzzer both check (decode(bytes) then re-encode == bytes).
#pragma once

#include <cstdint>
#include <type_traits>
#include <variant>
#include <vector>

#include "sostenuto/bridge/protocol.h"

namespace sostenuto::bridge::testing {

// Writes the frame into `buffer` (resized to the frame, or emptied on failure) and returns the result.
inline EncodeResult re_encode(const DecodedMessage& message, std::vector<std::uint8_t>& buffer) {
    buffer.assign(max_frame_size, 0);
    const EncodeResult result = std::visit(
        [&](const auto& m) -> EncodeResult {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, DecodedMidiEventsMessage>) {
                std::vector<MidiEvent> events;
                for (std::size_t i = 0; i < m.events.size(); ++i) events.push_back(m.events[i]);
                return encode_message(MidiEventsMessage{events.data(), events.size()}, buffer.data(), buffer.size());
            } else {
                return encode_message(m, buffer.data(), buffer.size());
            }
        },
        message);
    buffer.resize(result.ok() ? result.size : 0);
    return result;
}

}  // namespace sostenuto::bridge::testing
