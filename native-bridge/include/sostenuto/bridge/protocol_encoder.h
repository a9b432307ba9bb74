// Encodes one message as a complete frame (header + payload) into a buffer the
// caller owns. No allocation, no exceptions: safe on the audio thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sostenuto/bridge/protocol_error.h"
#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge {

struct EncodeResult {
    std::size_t size = 0;  // bytes written (the whole frame); 0 on error
    ProtocolError error = ProtocolError::none;
    bool ok() const noexcept { return error == ProtocolError::none; }
};

// Each refuses (invalid_value) what the decoder would refuse, so a frame that
// was encoded successfully always decodes, and buffer_too_small if the frame
// does not fit in `capacity` bytes.
EncodeResult encode_message(const HelloMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;
EncodeResult encode_message(const MidiEventsMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;
EncodeResult encode_message(const ClockAdvanceMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;
EncodeResult encode_message(const ParameterChangeMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;
EncodeResult encode_message(const TransportMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;
EncodeResult encode_message(const ProcessModeMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;
EncodeResult encode_message(const GoodbyeMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;
EncodeResult encode_message(const WelcomeMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;
EncodeResult encode_message(const StatusMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;
EncodeResult encode_message(const ErrorMessage& message, std::uint8_t* buffer, std::size_t capacity) noexcept;

// Exact frame sizes, for sizing buffers.
std::size_t encoded_size(const HelloMessage& message) noexcept;
std::size_t encoded_size(const MidiEventsMessage& message) noexcept;
std::size_t encoded_size(const WelcomeMessage& message) noexcept;
std::size_t encoded_size(const ErrorMessage& message) noexcept;

}  // namespace sostenuto::bridge
