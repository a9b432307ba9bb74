// The plug-in's parameters: the four the user sees and the hidden ones that
// carry MIDI controllers (VST3 delivers CCs, pitch bend and aftertouch to a
// plug-in only as parameter changes, through IMidiMapping).
//
// Parameter ids 1..3 are the engine's parameters (bridge::EngineParameter, the
// ids of the wire protocol's ParameterChange; value = the plain value as
// float); the output gain (id 0) is applied by the instrument core and never
// reaches the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "sostenuto/bridge/latency_policy.h"
#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::vst3 {

enum ParamId : std::uint32_t {
    kParamGain = 0,         // output gain, dB
    kParamTemperature = static_cast<std::uint32_t>(bridge::EngineParameter::temperature),    // sampling temperature
    kParamLatencyMode = static_cast<std::uint32_t>(bridge::EngineParameter::latency_mode),  // a bridge::LatencyChoice
    kParamLookahead = static_cast<std::uint32_t>(bridge::EngineParameter::lookahead_ms),    // requested lookahead, ms
};
inline constexpr std::size_t kMainParamCount = 4;

// The Latency Mode list as a host shows it: Live, Auto, Studio (normalised 0,
// 0.5, 1; Live and Studio keep the normalised values they had before Auto, so
// a host's stored value or automation of them means what it meant). Its plain
// value is the bridge::LatencyChoice number (0 live, 1 studio, 2 auto), the
// number saved states store and the engine parameter carries.
double latency_choice_to_normalized(bridge::LatencyChoice choice) noexcept;
bridge::LatencyChoice normalized_to_latency_choice(double normalized) noexcept;

struct MainParamInfo {
    std::uint32_t id;
    const char* title;
    const char* short_title;
    const char* units;
    double min_plain;
    double max_plain;
    double default_plain;
    std::int32_t step_count;  // 0 = continuous
    bool is_list;
};

const MainParamInfo& main_param(std::size_t index) noexcept;
const MainParamInfo* find_main_param(std::uint32_t id) noexcept;

// MIDI controllers mapped to hidden parameters, by VST3 controller number
// (0..127 = CC, 128 = channel aftertouch, 129 = pitch bend), on all 16 channels
// of event bus 0.
inline constexpr std::int16_t kControllerAftertouch = 128;
inline constexpr std::int16_t kControllerPitchBend = 129;
inline constexpr std::int16_t kMappedControllers[] = {1, 7, 11, 64, 66, 67, 120, 121, 123,
                                                      kControllerAftertouch, kControllerPitchBend};
inline constexpr std::size_t kMappedControllerCount = sizeof(kMappedControllers) / sizeof(kMappedControllers[0]);
inline constexpr int kMidiChannels = 16;
inline constexpr std::uint32_t kMidiParamBase = 0x1000;
inline constexpr std::size_t kMidiParamCount = kMappedControllerCount * kMidiChannels;
inline constexpr std::size_t kParamCount = kMainParamCount + kMidiParamCount;

inline constexpr std::uint32_t midi_param_id(int channel, int controller) noexcept {
    return kMidiParamBase + static_cast<std::uint32_t>(channel) * 256u + static_cast<std::uint32_t>(controller);
}
bool is_mapped_controller(int controller) noexcept;
// True (and channel/controller set) if `id` is one of the hidden MIDI parameters.
bool decode_midi_param(std::uint32_t id, int& channel, int& controller) noexcept;

// Index (0..kParamCount) <-> id, in the order getParameterInfo lists them.
std::optional<std::uint32_t> param_id_at(std::size_t index) noexcept;
bool is_known_param(std::uint32_t id) noexcept;

// Normalised [0, 1] <-> plain, for every parameter (unknown ids: identity).
double normalized_to_plain(std::uint32_t id, double normalized) noexcept;
double plain_to_normalized(std::uint32_t id, double plain) noexcept;
double default_normalized(std::uint32_t id) noexcept;
std::int32_t step_count(std::uint32_t id) noexcept;

// The MIDI message a hidden parameter's normalised value stands for.
// Returns false for ids that are not MIDI parameters.
struct MidiBytes {
    std::uint8_t status = 0;
    std::uint8_t data1 = 0;
    std::uint8_t data2 = 0;
};
bool midi_for_param(std::uint32_t id, double normalized, MidiBytes& out) noexcept;

// Display strings (UTF-8) and parsing.
std::string value_to_string(std::uint32_t id, double normalized);
std::optional<double> string_to_normalized(std::uint32_t id, const std::string& text);

// Parameter titles for getParameterInfo.
struct ParamText {
    std::string title;
    std::string short_title;
    std::string units;
};
ParamText param_text(std::uint32_t id);

// dB -> linear gain.
double db_to_gain(double db) noexcept;

}  // namespace sostenuto::vst3
