#include "plugin_state.h"

#include <cmath>
#include <cstring>

#include "parameters.h"

namespace sostenuto::vst3 {
namespace {

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_f64(std::vector<std::uint8_t>& out, double d) {
    std::uint64_t v;
    std::memcpy(&v, &d, sizeof v);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
std::uint32_t get_u32(const std::uint8_t* p) noexcept {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}
double get_f64(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
}

double sane(double value, std::uint32_t id) noexcept {
    const MainParamInfo* p = find_main_param(id);
    if (!std::isfinite(value)) return p->default_plain;
    if (value < p->min_plain) return p->min_plain;
    if (value > p->max_plain) return p->max_plain;
    return value;
}

}  // namespace

std::uint32_t crc32(const std::uint8_t* data, std::size_t size) noexcept {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < size; ++i) {
        crc ^= data[i];
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

PluginSettings sanitized(const PluginSettings& s) noexcept {
    PluginSettings out;
    out.gain_db = sane(s.gain_db, kParamGain);
    out.temperature = sane(s.temperature, kParamTemperature);
    out.latency_mode = s.latency_mode >= 0 ? static_cast<int>(bridge::latency_choice_from(static_cast<std::uint32_t>(s.latency_mode)))
                                           : static_cast<int>(bridge::default_latency_choice);
    out.lookahead_ms = sane(s.lookahead_ms, kParamLookahead);
    return out;
}

std::vector<std::uint8_t> serialize_state(const PluginSettings& settings) {
    std::vector<std::uint8_t> payload;
    put_f64(payload, settings.gain_db);
    put_f64(payload, settings.temperature);
    put_u32(payload, static_cast<std::uint32_t>(settings.latency_mode));
    put_f64(payload, settings.lookahead_ms);

    // Reserved up front: the blob is small and its size known, and growing a 4-byte vector here made
    // GCC 12 warn (-Warray-bounds, a false positive inside std::vector's reallocation).
    std::vector<std::uint8_t> out;
    out.reserve(16 + payload.size() + 4);
    out.insert(out.end(), state_format::magic, state_format::magic + 4);
    out.insert(out.end(), state_format::kind, state_format::kind + 4);
    put_u32(out, state_format::version);
    put_u32(out, static_cast<std::uint32_t>(payload.size()));
    out.insert(out.end(), payload.begin(), payload.end());
    put_u32(out, crc32(payload.data(), payload.size()));
    return out;
}

std::size_t state_body_size(const std::uint8_t* header) noexcept {
    if (std::memcmp(header, state_format::magic, 4) != 0 || std::memcmp(header + 4, state_format::kind, 4) != 0) return 0;
    if (get_u32(header + 8) == 0) return 0;
    const std::uint32_t payload = get_u32(header + 12);
    if (payload < state_format::payload_size_v1 || payload > state_format::max_payload) return 0;
    return payload + 4u;
}

StateParse parse_state(const std::uint8_t* data, std::size_t size, PluginSettings& out) noexcept {
    out = PluginSettings{};
    if (data == nullptr || size < state_format::header_size) return size < 8 ? StateParse::bad_magic : StateParse::truncated;
    if (std::memcmp(data, state_format::magic, 4) != 0 || std::memcmp(data + 4, state_format::kind, 4) != 0)
        return StateParse::bad_magic;
    if (get_u32(data + 8) == 0) return StateParse::bad_version;
    const std::uint32_t payload_size = get_u32(data + 12);
    if (payload_size < state_format::payload_size_v1 || payload_size > state_format::max_payload) return StateParse::bad_size;
    if (size < state_format::header_size + payload_size + 4u) return StateParse::truncated;
    const std::uint8_t* payload = data + state_format::header_size;
    if (crc32(payload, payload_size) != get_u32(payload + payload_size)) return StateParse::bad_crc;

    PluginSettings s;
    s.gain_db = get_f64(payload + 0);
    s.temperature = get_f64(payload + 8);
    s.latency_mode = static_cast<int>(bridge::latency_choice_from(get_u32(payload + 16)));
    s.lookahead_ms = get_f64(payload + 20);
    out = sanitized(s);
    return StateParse::ok;
}

const char* to_string(StateParse result) noexcept {
    switch (result) {
        case StateParse::ok: return "ok";
        case StateParse::bad_magic: return "not a Sostenuto state (bad magic)";
        case StateParse::bad_version: return "unsupported state version";
        case StateParse::bad_size: return "implausible state size";
        case StateParse::truncated: return "truncated state";
        case StateParse::bad_crc: return "state checksum mismatch";
    }
    return "?";
}

}  // namespace sostenuto::vst3
