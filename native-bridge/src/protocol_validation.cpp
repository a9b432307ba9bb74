#include "protocol_validation.h"

namespace sostenuto::bridge::validation {

bool is_valid_utf8(std::string_view text) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const auto* end = p + text.size();
    while (p < end) {
        const unsigned char lead = *p;
        if (lead < 0x80) {
            ++p;
            continue;
        }
        int continuation;
        std::uint32_t code_point;
        std::uint32_t minimum;
        if ((lead & 0xE0) == 0xC0) {
            continuation = 1, code_point = lead & 0x1F, minimum = 0x80;
        } else if ((lead & 0xF0) == 0xE0) {
            continuation = 2, code_point = lead & 0x0F, minimum = 0x800;
        } else if ((lead & 0xF8) == 0xF0) {
            continuation = 3, code_point = lead & 0x07, minimum = 0x10000;
        } else {
            return false;  // a stray continuation byte, or 0xF8..0xFF
        }
        if (end - p <= continuation) return false;
        for (int i = 1; i <= continuation; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            code_point = (code_point << 6) | (p[i] & 0x3F);
        }
        if (code_point < minimum || code_point > 0x10FFFF) return false;
        if (code_point >= 0xD800 && code_point <= 0xDFFF) return false;
        p += continuation + 1;
    }
    return true;
}

bool is_valid_shared_memory_name(std::string_view name) noexcept {
    if (name.size() < 2 || name.size() > 255 || name[0] != '/') return false;
    for (std::size_t i = 1; i < name.size(); ++i) {
        if (name[i] == '/' || name[i] == '\0') return false;
    }
    return is_valid_utf8(name);
}

bool is_valid_midi_message(std::uint8_t status, std::uint8_t data1, std::uint8_t data2) noexcept {
    return status >= 0x80 && status <= 0xEF && data1 < 0x80 && data2 < 0x80;
}

bool is_valid_process_mode(std::uint8_t mode) noexcept { return mode <= 1; }
bool is_valid_latency_mode(std::uint8_t mode) noexcept { return mode <= 1; }
bool is_valid_transport_kind(std::uint8_t kind) noexcept { return kind == 0; }

}  // namespace sostenuto::bridge::validation
