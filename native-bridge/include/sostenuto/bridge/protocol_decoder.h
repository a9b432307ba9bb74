// Decodes one complete frame and validates every length and field.
//
// The decoded message is a view into the frame's bytes (strings and MIDI event
// lists are not copied), so it is valid as long as those bytes are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <variant>

#include "sostenuto/bridge/protocol_error.h"
#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge {

using DecodedMessage = std::variant<HelloMessage, DecodedMidiEventsMessage, ClockAdvanceMessage,
                                    ParameterChangeMessage, TransportMessage, ProcessModeMessage,
                                    GoodbyeMessage, WelcomeMessage, StatusMessage, ErrorMessage>;

struct FrameHeader {
    std::uint32_t payload_size = 0;
    std::uint16_t type = 0;
    std::uint16_t reserved = 0;
};

// Reads the 8-byte header and checks it on its own (size limit, known type,
// reserved = 0), so a stream reader can refuse a bad frame before its payload.
ProtocolError parse_frame_header(const std::uint8_t* header_bytes, FrameHeader& header) noexcept;

struct DecodeResult {
    ProtocolError error = ProtocolError::none;
    std::size_t frame_size = 0;  // bytes of the frame decoded (header + payload)
    MessageType type = MessageType::goodbye;
    DecodedMessage message;
    bool ok() const noexcept { return error == ProtocolError::none; }
};

// Decodes the frame at the start of `bytes`. Bytes after that frame are left
// alone (frame_size says where the next one starts).
DecodeResult decode_frame(const std::uint8_t* bytes, std::size_t size) noexcept;

// Decodes a payload whose header was already parsed (what the frame reader uses).
DecodeResult decode_payload(MessageType type, const std::uint8_t* payload, std::size_t payload_size) noexcept;

}  // namespace sostenuto::bridge
