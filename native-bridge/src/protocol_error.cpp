#include "sostenuto/bridge/protocol_error.h"

namespace sostenuto::bridge {

std::string_view to_string(ProtocolError error) noexcept {
    switch (error) {
        case ProtocolError::none: return "none";
        case ProtocolError::truncated_frame: return "truncated_frame";
        case ProtocolError::oversize_payload: return "oversize_payload";
        case ProtocolError::unknown_message_type: return "unknown_message_type";
        case ProtocolError::nonzero_reserved: return "nonzero_reserved";
        case ProtocolError::payload_too_short: return "payload_too_short";
        case ProtocolError::payload_too_long: return "payload_too_long";
        case ProtocolError::bad_magic: return "bad_magic";
        case ProtocolError::unsupported_version: return "unsupported_version";
        case ProtocolError::invalid_value: return "invalid_value";
        case ProtocolError::invalid_utf8: return "invalid_utf8";
        case ProtocolError::unexpected_message: return "unexpected_message";
        case ProtocolError::buffer_too_small: return "buffer_too_small";
    }
    return "unknown_error";
}

}  // namespace sostenuto::bridge
