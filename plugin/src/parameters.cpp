#include "parameters.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace sostenuto::vst3 {
namespace {

constexpr MainParamInfo kMainParams[kMainParamCount] = {
    {kParamGain, "Output Gain", "Gain", "dB", -60.0, 12.0, 0.0, 0, false},
    {kParamTemperature, "Temperature", "Temp", "x model", 0.05, 2.0, 1.0, 0, false},  // a factor of the model's own temperature
    {kParamLatencyMode, "Latency Mode", "Latency", "", 0.0, 2.0, 2.0, 2, true},  // Live, Auto, Studio; Auto by default (plain: the choice number)
    {kParamLookahead, "Lookahead", "Lookahd", "ms", 0.0, 1000.0, 0.0, 0, false},
};

const char* controller_name(int controller) noexcept {
    switch (controller) {
        case 1: return "Mod Wheel";
        case 7: return "Volume";
        case 11: return "Expression";
        case 64: return "Sustain";
        case 66: return "Sostenuto";
        case 67: return "Soft Pedal";
        case 120: return "All Sound Off";
        case 121: return "Reset Controllers";
        case 123: return "All Notes Off";
        case kControllerAftertouch: return "Aftertouch";
        case kControllerPitchBend: return "Pitch Bend";
        default: return "?";
    }
}

double clamp01(double v) noexcept {
    if (!(v >= 0.0)) return 0.0;  // also NaN
    return v > 1.0 ? 1.0 : v;
}

int midi_max(int controller) noexcept { return controller == kControllerPitchBend ? 16383 : 127; }

std::string trim_lower(const std::string& text) {
    std::size_t b = 0, e = text.size();
    while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
    std::string out = text.substr(b, e - b);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

const MainParamInfo& main_param(std::size_t index) noexcept { return kMainParams[index < kMainParamCount ? index : 0]; }

const MainParamInfo* find_main_param(std::uint32_t id) noexcept {
    for (const MainParamInfo& p : kMainParams)
        if (p.id == id) return &p;
    return nullptr;
}

bool is_mapped_controller(int controller) noexcept {
    for (std::int16_t c : kMappedControllers)
        if (c == controller) return true;
    return false;
}

bool decode_midi_param(std::uint32_t id, int& channel, int& controller) noexcept {
    if (id < kMidiParamBase) return false;
    const std::uint32_t rel = id - kMidiParamBase;
    const std::uint32_t ch = rel / 256u, cc = rel % 256u;
    if (ch >= static_cast<std::uint32_t>(kMidiChannels) || !is_mapped_controller(static_cast<int>(cc))) return false;
    channel = static_cast<int>(ch);
    controller = static_cast<int>(cc);
    return true;
}

std::optional<std::uint32_t> param_id_at(std::size_t index) noexcept {
    if (index < kMainParamCount) return kMainParams[index].id;
    index -= kMainParamCount;
    if (index >= kMidiParamCount) return std::nullopt;
    const int channel = static_cast<int>(index / kMappedControllerCount);
    const int controller = kMappedControllers[index % kMappedControllerCount];
    return midi_param_id(channel, controller);
}

bool is_known_param(std::uint32_t id) noexcept {
    int ch, cc;
    return find_main_param(id) != nullptr || decode_midi_param(id, ch, cc);
}

double latency_choice_to_normalized(bridge::LatencyChoice choice) noexcept {
    switch (choice) {
        case bridge::LatencyChoice::live: return 0.0;
        case bridge::LatencyChoice::automatic: return 0.5;
        case bridge::LatencyChoice::studio: return 1.0;
    }
    return 0.5;
}

bridge::LatencyChoice normalized_to_latency_choice(double normalized) noexcept {
    const double index = std::round(clamp01(normalized) * 2.0);
    return index == 0.0 ? bridge::LatencyChoice::live
                        : (index == 1.0 ? bridge::LatencyChoice::automatic : bridge::LatencyChoice::studio);
}

double normalized_to_plain(std::uint32_t id, double normalized) noexcept {
    const double n = clamp01(normalized);
    if (id == kParamLatencyMode) return static_cast<double>(normalized_to_latency_choice(n));
    if (const MainParamInfo* p = find_main_param(id)) {
        if (p->step_count > 0) return p->min_plain + std::round(n * p->step_count) * (p->max_plain - p->min_plain) / p->step_count;
        return p->min_plain + n * (p->max_plain - p->min_plain);
    }
    int ch, cc;
    if (decode_midi_param(id, ch, cc)) return std::round(n * midi_max(cc));
    return normalized;
}

double plain_to_normalized(std::uint32_t id, double plain) noexcept {
    if (id == kParamLatencyMode)
        return latency_choice_to_normalized(
            bridge::latency_choice_from(plain >= 0.0 && plain <= 2.0 ? static_cast<std::uint32_t>(std::lround(plain)) : 99u));
    if (const MainParamInfo* p = find_main_param(id)) {
        double n = (plain - p->min_plain) / (p->max_plain - p->min_plain);
        n = clamp01(n);
        if (p->step_count > 0) n = std::round(n * p->step_count) / p->step_count;
        return n;
    }
    int ch, cc;
    if (decode_midi_param(id, ch, cc)) return clamp01(plain / midi_max(cc));
    return plain;
}

double default_normalized(std::uint32_t id) noexcept {
    if (const MainParamInfo* p = find_main_param(id)) return plain_to_normalized(id, p->default_plain);
    int ch, cc;
    if (decode_midi_param(id, ch, cc) && cc == kControllerPitchBend) return 8192.0 / 16383.0;
    return 0.0;
}

std::int32_t step_count(std::uint32_t id) noexcept {
    if (const MainParamInfo* p = find_main_param(id)) return p->step_count;
    int ch, cc;
    if (decode_midi_param(id, ch, cc)) return midi_max(cc);
    return 0;
}

bool midi_for_param(std::uint32_t id, double normalized, MidiBytes& out) noexcept {
    int channel, controller;
    if (!decode_midi_param(id, channel, controller)) return false;
    const double n = clamp01(normalized);
    if (controller == kControllerPitchBend) {
        const int value = static_cast<int>(std::lround(n * 16383.0));
        out = {static_cast<std::uint8_t>(0xE0 | channel), static_cast<std::uint8_t>(value & 0x7F),
               static_cast<std::uint8_t>((value >> 7) & 0x7F)};
    } else if (controller == kControllerAftertouch) {
        out = {static_cast<std::uint8_t>(0xD0 | channel), static_cast<std::uint8_t>(std::lround(n * 127.0) & 0x7F), 0};
    } else {
        out = {static_cast<std::uint8_t>(0xB0 | channel), static_cast<std::uint8_t>(controller),
               static_cast<std::uint8_t>(std::lround(n * 127.0) & 0x7F)};
    }
    return true;
}

std::string value_to_string(std::uint32_t id, double normalized) {
    const double plain = normalized_to_plain(id, normalized);
    char text[64];
    switch (id) {
        case kParamGain: std::snprintf(text, sizeof text, "%.1f", plain); break;
        case kParamTemperature: std::snprintf(text, sizeof text, "%.2f", plain); break;
        case kParamLatencyMode:
            switch (bridge::latency_choice_from(static_cast<std::uint32_t>(plain))) {
                case bridge::LatencyChoice::live: return "Live";
                case bridge::LatencyChoice::studio: return "Studio";
                case bridge::LatencyChoice::automatic: return "Auto";
            }
            return "Auto";
        case kParamLookahead: std::snprintf(text, sizeof text, "%.0f", plain); break;
        default: std::snprintf(text, sizeof text, "%.0f", plain); break;
    }
    return text;
}

std::optional<double> string_to_normalized(std::uint32_t id, const std::string& text) {
    if (!is_known_param(id)) return std::nullopt;
    const std::string t = trim_lower(text);
    if (id == kParamLatencyMode) {
        if (t == "live") return 0.0;
        if (t == "studio") return 1.0;
        if (t == "auto") return 0.5;
    }
    if (t.empty()) return std::nullopt;
    char* end = nullptr;
    const double plain = std::strtod(t.c_str(), &end);
    if (end == t.c_str() || !std::isfinite(plain)) return std::nullopt;
    // Allow a trailing unit ("-6 dB", "20 ms").
    while (*end != '\0' && std::isspace(static_cast<unsigned char>(*end))) ++end;
    const std::string rest(end);
    if (!rest.empty() && rest != "db" && rest != "ms") return std::nullopt;
    return plain_to_normalized(id, plain);
}

ParamText param_text(std::uint32_t id) {
    if (const MainParamInfo* p = find_main_param(id)) return {p->title, p->short_title, p->units};
    int channel, controller;
    if (decode_midi_param(id, channel, controller)) {
        // "MIDI CC " in the title: hosts such as Ardour hide such parameters from automation lists.
        char title[96], short_title[32];
        if (controller < 128) {
            std::snprintf(title, sizeof title, "MIDI CC %d %s (Ch %d)", controller, controller_name(controller), channel + 1);
            std::snprintf(short_title, sizeof short_title, "CC%d Ch%d", controller, channel + 1);
        } else {
            std::snprintf(title, sizeof title, "MIDI CC %s (Ch %d)", controller_name(controller), channel + 1);
            std::snprintf(short_title, sizeof short_title, "%s Ch%d", controller == kControllerPitchBend ? "PB" : "AT",
                          channel + 1);
        }
        return {title, short_title, ""};
    }
    return {};
}

double db_to_gain(double db) noexcept { return std::pow(10.0, db / 20.0); }

}  // namespace sostenuto::vst3
