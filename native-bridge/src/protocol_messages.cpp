#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge {

bool is_known_message_type(std::uint16_t type) noexcept {
    switch (static_cast<MessageType>(type)) {
        case MessageType::hello:
        case MessageType::midi_events:
        case MessageType::clock_advance:
        case MessageType::parameter_change:
        case MessageType::transport:
        case MessageType::process_mode:
        case MessageType::goodbye:
        case MessageType::welcome:
        case MessageType::status:
        case MessageType::error:
            return true;
    }
    return false;
}

Direction direction_of(MessageType type) noexcept {
    return static_cast<std::uint16_t>(type) < 0x0100 ? Direction::plugin_to_engine
                                                      : Direction::engine_to_plugin;
}

std::string_view to_string(MessageType type) noexcept {
    switch (type) {
        case MessageType::hello: return "Hello";
        case MessageType::midi_events: return "MidiEvents";
        case MessageType::clock_advance: return "ClockAdvance";
        case MessageType::parameter_change: return "ParameterChange";
        case MessageType::transport: return "Transport";
        case MessageType::process_mode: return "ProcessMode";
        case MessageType::goodbye: return "Goodbye";
        case MessageType::welcome: return "Welcome";
        case MessageType::status: return "Status";
        case MessageType::error: return "Error";
    }
    return "Unknown";
}

}  // namespace sostenuto::bridge
