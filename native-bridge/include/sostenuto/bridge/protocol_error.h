// Why a frame was refused (decoding) or could not be produced (encoding).
//
// The names returned by to_string() are part of the contract: the shared test
// vectors (tests/protocol-vectors/*.hex) name the error a malformed frame must
// produce with them, and the C# engine's tests read the same names.
#pragma once

#include <string_view>

namespace sostenuto::bridge {

enum class ProtocolError {
    none = 0,
    // Framing (the 8-byte header).
    truncated_frame,       // fewer bytes than the header, or than the header's length, were given
    oversize_payload,      // payload length above max_payload_size
    unknown_message_type,  // the type is not one of docs/protocol.md's table
    nonzero_reserved,      // the header's reserved field is not 0
    // Payload.
    payload_too_short,    // a field (or a string, or an event) runs past the payload's end
    payload_too_long,     // bytes are left after the last field
    bad_magic,            // Hello does not start with "SOST"
    unsupported_version,  // Hello or Welcome names a protocol version other than 1
    invalid_value,        // a field is outside its documented range
    invalid_utf8,         // a string is not well-formed UTF-8
    // Sequence (checked by the receiver of a stream, not by the frame decoder).
    unexpected_message,  // a valid message that is not allowed here (wrong direction or wrong time)
    // Encoding.
    buffer_too_small,  // the caller's buffer cannot hold the frame
};

// Stable snake_case name, e.g. "bad_magic".
std::string_view to_string(ProtocolError error) noexcept;

}  // namespace sostenuto::bridge
