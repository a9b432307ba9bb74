// Little-endian loads and stores for the wire format and the shared-memory ring.
//
// The protocol is little-endian by definition (docs/protocol.md), so these go
// byte by byte instead of memcpy-ing host integers: the code is then correct on
// any host, and compilers turn the shifts into single moves on x86 and ARM.
#pragma once

#include <cstdint>
#include <cstring>

namespace sostenuto::bridge::byte_order {

inline void store_u8(std::uint8_t* out, std::uint8_t value) { out[0] = value; }

inline void store_u16(std::uint8_t* out, std::uint16_t value) {
    out[0] = static_cast<std::uint8_t>(value);
    out[1] = static_cast<std::uint8_t>(value >> 8);
}

inline void store_u32(std::uint8_t* out, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

inline void store_u64(std::uint8_t* out, std::uint64_t value) {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

// IEEE 754 binary32, sent as the little-endian bytes of its bit pattern.
inline void store_f32(std::uint8_t* out, float value) {
    std::uint32_t bits;
    static_assert(sizeof bits == sizeof value, "float must be IEEE 754 binary32");
    std::memcpy(&bits, &value, sizeof bits);
    store_u32(out, bits);
}

inline std::uint8_t load_u8(const std::uint8_t* in) { return in[0]; }

inline std::uint16_t load_u16(const std::uint8_t* in) {
    return static_cast<std::uint16_t>(in[0] | (in[1] << 8));
}

inline std::uint32_t load_u32(const std::uint8_t* in) {
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = (value << 8) | in[i];
    return value;
}

inline std::uint64_t load_u64(const std::uint8_t* in) {
    std::uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | in[i];
    return value;
}

inline float load_f32(const std::uint8_t* in) {
    const std::uint32_t bits = load_u32(in);
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

}  // namespace sostenuto::bridge::byte_order
