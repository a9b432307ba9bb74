// How much time a front end asks the engine for, and how much ring it sets
// up for that: one policy for the VST3 shim and sostenuto-jack. The timing
// model (D = L + S) is in docs/design.md; the live-mode reasoning in
// docs/live-mode.md.
#pragma once

#include <cstdint>
#include <optional>
#include <cstddef>

#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge {

// ---- which path renders an event: the Latency Mode choice ---------------------------
//
// The user's choice (the plug-in's Latency Mode parameter, sostenuto-jack's
// --latency-mode, the engine parameter latency_mode's value for the record).
// The numbers are stable: saved states store them (0 and 1 predate Auto).
enum class LatencyChoice : std::uint8_t { live = 0, studio = 1, automatic = 2 };
inline constexpr LatencyChoice default_latency_choice = LatencyChoice::automatic;

// A stored number as a choice: 0, 1, 2; anything else is the default.
constexpr LatencyChoice latency_choice_from(std::uint32_t value) noexcept {
    return value <= 2 ? static_cast<LatencyChoice>(value) : default_latency_choice;
}
const char* to_string(LatencyChoice choice) noexcept;  // "live", "studio", "auto"

// The two ways the engine renders: a live session (L = 0, speculation and
// splices, D = one block + 2 ms) and a studio session (lookahead L, 50 ms of
// slack, equal to `sostenuto render` sample for sample).
enum class RenderPath : std::uint8_t { live = 0, studio = 1 };

// The session the host's latency is reported for: the live one in Live, the
// studio one in Studio and in Auto (so that the host's delay compensation of
// timeline playback is right and never changes behind its back).
constexpr LatencyMode reported_session_mode(LatencyChoice choice) noexcept {
    return choice == LatencyChoice::live ? LatencyMode::live : LatencyMode::studio;
}
// Whether the choice needs a live session beside the reported one: Auto.
constexpr bool needs_live_beside(LatencyChoice choice) noexcept { return choice == LatencyChoice::automatic; }

// What a front end knows of its host at a block: VST3's ProcessContext
// (kPlaying, kRecording) and processMode (kOffline); JACK's transport
// (rolling) and freewheeling.
struct HostTransport {
    bool playing = false;    // VST3 kPlaying; JACK: the transport is rolling (see follow_transport)
    bool recording = false;  // VST3 kRecording; JACK has none
    bool offline = false;    // VST3 kOffline; JACK freewheeling
};

// The path that renders the events of a block - the one rule (docs/live-mode.md):
//   Live: live.  Studio: studio.
//   Auto: offline -> studio (a bounce is always the studio render);
//         playing and not recording -> studio (timeline playback: the events come
//           from the timeline, which the host sends early by the reported latency);
//         otherwise (stopped, or recording) -> live (the events are played now).
constexpr RenderPath path_for(LatencyChoice choice, const HostTransport& host) noexcept {
    switch (choice) {
        case LatencyChoice::live: return RenderPath::live;
        case LatencyChoice::studio: return RenderPath::studio;
        case LatencyChoice::automatic: break;
    }
    if (host.offline) return RenderPath::studio;
    if (host.playing && !host.recording) return RenderPath::studio;
    return RenderPath::live;
}

// Where each MIDI message of a two-path (Auto) instrument goes, so that a
// note ends on the path it started on whatever happens to the transport in
// between. No allocation; one per instrument, on the audio thread.
//   - A note-on goes to the block's path (set_path); the router remembers
//     which path holds the key (per channel).
//   - A note-off, and polyphonic aftertouch, go to every path that holds the
//     key (both, after a re-strike across a transition), else to the block's path.
//   - Every other channel message (controllers - the pedal among them -,
//     program, channel pressure, pitch bend) goes to both paths: both renders
//     hear the same pedal. CC120, CC123 and CC124-127 forget the channel's keys.
class PathRouter {
public:
    struct Route {
        bool live = false;
        bool studio = false;
        bool operator==(const Route& o) const noexcept { return live == o.live && studio == o.studio; }
    };
    void reset() noexcept;
    void set_path(RenderPath path) noexcept { path_ = path; }
    RenderPath path() const noexcept { return path_; }
    // Routes one channel voice message and updates the keys each path holds.
    Route route(std::uint8_t status, std::uint8_t data1, std::uint8_t data2) noexcept;
    // Keys held on a path (note-on seen, note-off not yet).
    bool holds(RenderPath path) const noexcept;
    bool holds(RenderPath path, std::uint8_t channel, std::uint8_t key) const noexcept;

private:
    static constexpr std::size_t words = 16 * 128 / 64;
    std::uint64_t held_[2][words] = {};  // [path][channel * 128 + key]
    std::uint32_t count_[2] = {};
    RenderPath path_ = RenderPath::studio;
    void set(int path, std::size_t bit, bool on) noexcept;
    bool get(int path, std::size_t bit) const noexcept { return (held_[path][bit / 64] >> (bit % 64)) & 1u; }
};

// The compute slack S to ask for at `sample_rate` with host blocks of up to
// `block` frames. Live: one block and 2 ms, the slack the engine needs to
// splice a note in before the block that plays it. Studio: 50 ms. An explicit
// `slack_ms` replaces those; S is never below one block (two in studio mode).
std::uint32_t compute_slack_samples(LatencyMode mode, std::uint32_t sample_rate, std::uint32_t block,
                                    std::optional<double> slack_ms = std::nullopt) noexcept;

// The latency to report before the engine has answered: the requested
// lookahead L plus the slack S.
inline std::uint32_t estimated_latency_samples(std::uint32_t lookahead_samples, std::uint32_t slack_samples) noexcept {
    return lookahead_samples + slack_samples;
}

// The ring the engine renders ahead into: a power of two >= 2^16 frames with
// room for 2·(L + S) + 4 blocks (at most 2^24).
std::uint32_t ring_capacity_for(std::uint32_t latency_samples, std::uint32_t block) noexcept;

// The underrun fade's ramp: 2 ms at `sample_rate`, at least 16 samples.
std::uint32_t fade_samples_for(std::uint32_t sample_rate) noexcept;

}  // namespace sostenuto::bridge
