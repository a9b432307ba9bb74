#include "log.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "vst3_abi.h"

namespace sostenuto::vst3 {
namespace {

bool logging_enabled() noexcept {
    static const bool enabled = [] {
        const char* v = std::getenv("SOSTENUTO_VST3_LOG");
        return v == nullptr || std::strcmp(v, "0") != 0;
    }();
    return enabled;
}

constexpr char kPrefix[] = "sostenuto-vst3: ";

}  // namespace

void log_message(const char* format, ...) {
    if (!logging_enabled()) return;
    char line[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    std::fprintf(stderr, "%s%s\n", kPrefix, line);
    std::fflush(stderr);
}

void log_unlocked(const char* text, std::uint64_t number, const char* suffix) noexcept {
    if (!logging_enabled()) return;
    char line[512];
    std::size_t n = 0;
    auto append = [&](const char* s) {
        while (s != nullptr && *s != '\0' && n + 2 < sizeof line) line[n++] = *s++;
    };
    append(kPrefix);
    append(text);
    char digits[24];
    int d = 0;
    do {
        digits[d++] = static_cast<char>('0' + number % 10);
        number /= 10;
    } while (number != 0 && d < 24);
    while (d > 0 && n + 2 < sizeof line) line[n++] = digits[--d];
    append(suffix);
    line[n++] = '\n';
    ssize_t ignored = ::write(2, line, n);
    (void)ignored;
}

// ---- small helpers of vst3_abi.h ----

void utf8_to_utf16(const char* text, int16_t* out, std::size_t capacity) noexcept {
    if (capacity == 0) return;
    std::size_t n = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(text != nullptr ? text : "");
    while (*p != 0 && n + 1 < capacity) {
        std::uint32_t cp = *p++;
        if (cp >= 0xF0 && p[0] && p[1] && p[2]) {
            cp = ((cp & 0x07) << 18) | ((p[0] & 0x3F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
            p += 3;
        } else if (cp >= 0xE0 && p[0] && p[1]) {
            cp = ((cp & 0x0F) << 12) | ((p[0] & 0x3F) << 6) | (p[1] & 0x3F);
            p += 2;
        } else if (cp >= 0xC0 && p[0]) {
            cp = ((cp & 0x1F) << 6) | (p[0] & 0x3F);
            p += 1;
        } else if (cp >= 0x80) {
            cp = '?';
        }
        if (cp >= 0x10000) {
            if (n + 2 >= capacity) break;
            cp -= 0x10000;
            out[n++] = static_cast<int16_t>(0xD800 + (cp >> 10));
            out[n++] = static_cast<int16_t>(0xDC00 + (cp & 0x3FF));
        } else {
            out[n++] = static_cast<int16_t>(cp);
        }
    }
    out[n] = 0;
}

std::string utf16_to_utf8(const int16_t* text, std::size_t max_length) {
    std::string out;
    if (text == nullptr) return out;
    for (std::size_t i = 0; i < max_length && text[i] != 0; ++i) {
        std::uint32_t cp = static_cast<std::uint16_t>(text[i]);
        if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < max_length) {
            const std::uint32_t lo = static_cast<std::uint16_t>(text[i + 1]);
            if (lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                ++i;
            }
        }
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    return out;
}

void copy_cstring(char* out, std::size_t capacity, const char* text) noexcept {
    if (capacity == 0) return;
    std::size_t n = 0;
    if (text != nullptr)
        for (; text[n] != '\0' && n + 1 < capacity; ++n) out[n] = text[n];
    out[n] = '\0';
}

}  // namespace sostenuto::vst3
