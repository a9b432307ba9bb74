// sostenuto-jack's command line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sostenuto/bridge/latency_policy.h"
#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::standalone {

struct Options {
    std::string client_name = "sostenuto";
    std::string server_name;                 // empty: $JACK_DEFAULT_SERVER, else the default server
    std::vector<std::string> connect_midi;   // MIDI output ports to connect to our input
    std::vector<std::string> connect_audio;  // empty, or exactly two ports: left, right
    std::string engine_socket;               // empty: $SOSTENUTO_ENGINE_SOCKET, else the runtime directory's
    std::string engine;                      // empty: $SOSTENUTO_ENGINE, else engine/ beside the program, else the bundles
    bool launch_engine = true;               // --no-launch: only connect
    std::vector<std::string> engine_arguments;  // --engine-arg, for an engine this program starts
    double engine_idle_exit_seconds = 30.0;
    bridge::LatencyMode latency_mode = bridge::LatencyMode::live;  // the session JACK's latency is for
    bridge::LatencyChoice latency_choice = bridge::LatencyChoice::live;  // auto: a live session beside a studio one
    double lookahead_ms = 0.0;               // studio mode; live always asks for 0
    std::optional<double> slack_ms;          // default: live 10 ms, studio 50 ms (at least one / two periods)
    double gain_db = 0.0;
    double temperature = 1.0;
    double status_interval_seconds = 5.0;    // 0: state changes only
    bool help = false;
};

// Parses argv[1 …]. False with `error` (one line) on a bad command line.
bool parse_options(int argc, const char* const* argv, Options& options, std::string& error);

std::string usage_text();

// Where sostenuto-jack looks for the engine after $SOSTENUTO_ENGINE (or
// --engine) and engine/ beside itself, as the plug-in finds the one in its
// bundle: the built bundle (Sostenuto.vst3 one level above the program's
// directory: build/Sostenuto.vst3 for build/standalone/sostenuto-jack), the
// installed bundle ($HOME/.vst3/Sostenuto.vst3), then ./sostenuto.
std::vector<std::string> engine_places_after_beside(const std::string& program_path, const char* home);

// The lookahead and the compute slack to ask the engine for at `sample_rate`
// with periods of `period` (the slack policy is bridge::compute_slack_samples).
std::uint32_t requested_lookahead_samples(const Options& options, std::uint32_t sample_rate);
std::uint32_t requested_slack_samples(const Options& options, std::uint32_t sample_rate, std::uint32_t period);

}  // namespace sostenuto::standalone
