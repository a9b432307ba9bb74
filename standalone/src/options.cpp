#include "options.h"

#include "sostenuto/bridge/latency_policy.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace sostenuto::standalone {
namespace {

bool parse_number(const std::string& text, double low, double high, double& out) {
    if (text.empty()) return false;
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(text.c_str(), &end);
    if (errno != 0 || end == nullptr || *end != '\0' || !std::isfinite(value) || value < low || value > high) return false;
    out = value;
    return true;
}

}  // namespace

std::string usage_text() {
    return R"(usage: sostenuto-jack [options]

A JACK instrument: one MIDI input (midi_in), two audio outputs (out_L, out_R),
sound from the Sostenuto engine (started on demand, restarted if it dies).

JACK:
  --name NAME                 client name (default sostenuto)
  --server NAME               JACK server (default: $JACK_DEFAULT_SERVER, else the default)
  --connect-midi PORT         connect this MIDI output to midi_in (repeatable),
                              e.g. a2j:"Keystation [20] (capture): Keystation MIDI 1"
  --connect-audio LEFT,RIGHT  connect out_L and out_R to these inputs,
                              e.g. system:playback_1,system:playback_2
Engine:
  --engine-socket PATH        its socket (default: $SOSTENUTO_ENGINE_SOCKET, else
                              sostenuto-engine.sock in the per-user runtime directory)
  --engine PATH               the engine to start when none listens: the `sostenuto`
                              program or sostenuto.dll (default: $SOSTENUTO_ENGINE, else
                              engine/ beside this program, else the engine in the built
                              bundle ../Sostenuto.vst3, else in ~/.vst3/Sostenuto.vst3,
                              else ./sostenuto)
  --engine-arg ARG            one more argument for an engine this program starts
                              (repeatable), e.g. --engine-arg --model --engine-arg DIR
  --engine-idle-exit SECONDS  a started engine exits this long after its last client (default 30; 0 never)
  --no-launch                 never start an engine, only connect to a running one
Sound:
  --latency-mode live|studio|auto
                              live (default): no lookahead, small slack; studio: lookahead, more
                              slack; auto: both sessions, the studio one's latency told to JACK;
                              MIDI takes the studio path while the JACK transport rolls (a MIDI
                              player on the transport), the live path when it is stopped
  --lookahead-ms MS           studio mode's lookahead request (default 0: the model's own)
  --slack-ms MS               compute slack to ask for (default: live a period + 2, studio 50; at
                              least one period, two in studio)
  --gain-db DB                output gain, -96 … +24 (default 0)
  --temperature X             sampling temperature as a factor of the model's, 0.05 … 2 (default 1)
Other:
  --status-interval SECONDS   status line on stderr this often (default 5; 0: changes only)
  --help
)";
}

bool parse_options(int argc, const char* const* argv, Options& options, std::string& error) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        std::string value;
        auto need_value = [&]() {
            if (i + 1 >= argc) {
                error = arg + " needs a value";
                return false;
            }
            value = argv[++i];
            return true;
        };
        auto number = [&](double low, double high, double& out) {
            if (!need_value()) return false;
            if (!parse_number(value, low, high, out)) {
                error = arg + ": '" + value + "' is not a number in " + std::to_string(low) + " … " + std::to_string(high);
                return false;
            }
            return true;
        };
        if (arg == "--help" || arg == "-h") {
            options.help = true;
        } else if (arg == "--name") {
            if (!need_value()) return false;
            if (value.empty()) return error = "--name must not be empty", false;
            options.client_name = value;
        } else if (arg == "--server") {
            if (!need_value()) return false;
            options.server_name = value;
        } else if (arg == "--connect-midi") {
            if (!need_value()) return false;
            if (value.empty()) return error = "--connect-midi needs a port name", false;
            options.connect_midi.push_back(value);
        } else if (arg == "--connect-audio") {
            if (!need_value()) return false;
            const auto comma = value.find(',');
            if (comma == std::string::npos || comma == 0 || comma + 1 == value.size() ||
                value.find(',', comma + 1) != std::string::npos) {
                error = "--connect-audio needs two ports, LEFT,RIGHT (got '" + value + "')";
                return false;
            }
            options.connect_audio = {value.substr(0, comma), value.substr(comma + 1)};
        } else if (arg == "--engine-socket") {
            if (!need_value()) return false;
            options.engine_socket = value;
        } else if (arg == "--engine") {
            if (!need_value()) return false;
            options.engine = value;
        } else if (arg == "--engine-arg") {
            if (!need_value()) return false;
            options.engine_arguments.push_back(value);
        } else if (arg == "--engine-idle-exit") {
            if (!number(0, 86400, options.engine_idle_exit_seconds)) return false;
        } else if (arg == "--no-launch") {
            options.launch_engine = false;
        } else if (arg == "--latency-mode") {
            if (!need_value()) return false;
            if (value == "live") options.latency_choice = bridge::LatencyChoice::live;
            else if (value == "studio") options.latency_choice = bridge::LatencyChoice::studio;
            else if (value == "auto") options.latency_choice = bridge::LatencyChoice::automatic;
            else return error = "--latency-mode is live, studio or auto (got '" + value + "')", false;
            options.latency_mode = bridge::reported_session_mode(options.latency_choice);
        } else if (arg == "--lookahead-ms") {
            if (!number(0, 1000, options.lookahead_ms)) return false;
        } else if (arg == "--slack-ms") {
            double slack = 0;
            if (!number(0, 2000, slack)) return false;
            options.slack_ms = slack;
        } else if (arg == "--gain-db") {
            if (!number(-96, 24, options.gain_db)) return false;
        } else if (arg == "--temperature") {
            if (!number(0.05, 2, options.temperature)) return false;
        } else if (arg == "--status-interval") {
            if (!number(0, 3600, options.status_interval_seconds)) return false;
        } else {
            error = "unknown option '" + arg + "' (--help lists them)";
            return false;
        }
    }
    return true;
}

std::vector<std::string> engine_places_after_beside(const std::string& program_path, const char* home) {
    std::vector<std::string> places;
    const auto slash = program_path.find_last_of('/');
    if (slash != std::string::npos) {
        const std::string directory = program_path.substr(0, slash);
        const auto up = directory.find_last_of('/');
        places.push_back((up == std::string::npos ? std::string(".") : directory.substr(0, up)) + "/Sostenuto.vst3");
    }
    if (home != nullptr && *home != '\0') places.push_back(std::string(home) + "/.vst3/Sostenuto.vst3");
    places.push_back("./sostenuto");
    return places;
}

std::uint32_t requested_lookahead_samples(const Options& options, std::uint32_t sample_rate) {
    if (options.latency_mode == bridge::LatencyMode::live) return 0;
    return static_cast<std::uint32_t>(std::lround(options.lookahead_ms * sample_rate / 1000.0));
}

std::uint32_t requested_slack_samples(const Options& options, std::uint32_t sample_rate, std::uint32_t period) {
    return bridge::compute_slack_samples(options.latency_mode, sample_rate, period, options.slack_ms);
}

}  // namespace sostenuto::standalone
