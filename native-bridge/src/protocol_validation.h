// Field rules shared by the encoder and the decoder, so that whatever the
// encoder produces the decoder accepts, and the other way round.
#pragma once

#include <cstdint>
#include <string_view>

#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge::validation {

// Well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text) noexcept;

// A POSIX shared-memory object name: '/', then 1..254 bytes without '/' or NUL.
// The engine opens exactly this name, so it must not be able to name a path.
bool is_valid_shared_memory_name(std::string_view name) noexcept;

// A channel voice message (status 0x80..0xEF) with 7-bit data bytes.
bool is_valid_midi_message(std::uint8_t status, std::uint8_t data1, std::uint8_t data2) noexcept;

bool is_valid_process_mode(std::uint8_t mode) noexcept;
bool is_valid_latency_mode(std::uint8_t mode) noexcept;
bool is_valid_transport_kind(std::uint8_t kind) noexcept;

}  // namespace sostenuto::bridge::validation
