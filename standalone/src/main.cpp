// sostenuto-jack: Sostenuto as a JACK instrument. MIDI in, stereo out, the
// sample rate and buffer size of the JACK server, and the plug-in's engine
// path (native-bridge's EngineSupervisor): a keyboard plays Sostenuto
// without a DAW. See standalone/README.md.
//
// The main thread is the control thread: it opens the JACK client, starts the
// engine supervisor, and then waits for SIGINT/SIGTERM/SIGHUP (blocked in
// every thread, taken with sigtimedwait; SIGUSR1 is the panic button),
// restarting the engine session when the server's sample rate or buffer size
// changes, reporting the engine's latency to JACK, and printing status lines
// to stderr.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "instrument_core.h"
#include "jack_instrument.h"
#include "options.h"
#include "sostenuto/bridge/engine_locator.h"
#include "sostenuto/bridge/engine_supervisor.h"
#include "sostenuto/bridge/latency_policy.h"
#include "sostenuto/bridge/runtime_paths.h"

using namespace sostenuto;
using namespace sostenuto::standalone;

namespace {

void say(const char* format, ...) __attribute__((format(printf, 1, 2)));
void say(const char* format, ...) {
    char line[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    std::fprintf(stderr, "sostenuto-jack: %s\n", line);
}

// How to start the engine: --engine, else the locator ($SOSTENUTO_ENGINE, else
// engine/ beside us, else the built bundle, the installed bundle, ./sostenuto).
// Every place tried is in the message when none has it.
std::optional<bridge::EngineCommand> find_engine(const Options& options) {
    bridge::EngineLocatorOptions locator;
    if (!options.engine.empty()) {
        locator.getenv = [&](const char* name) -> const char* {
            return std::string(name) == bridge::engine_environment_variable ? options.engine.c_str() : std::getenv(name);
        };
    }
    const std::string self = bridge::module_path_of(reinterpret_cast<const void*>(&find_engine));
    locator.more_places = engine_places_after_beside(self, std::getenv("HOME"));
    const bridge::EngineLocation where = bridge::locate_engine(self, locator);
    if (where.command) {
        say("engine: %s", where.command->describe().c_str());
        return where.command;
    }
    say("%s", where.error.c_str());
    say("without an engine to start, sostenuto-jack only connects to one that is already running");
    return std::nullopt;
}

struct Session {
    std::uint32_t sample_rate = 0;
    std::uint32_t period = 0;
};

bridge::EngineSupervisorConfig make_config(const Options& options, const Session& session, std::uint64_t instance_id,
                                           const std::optional<bridge::EngineCommand>& engine) {
    bridge::EngineSupervisorConfig config;
    config.sample_rate = session.sample_rate;
    config.max_block_size = session.period;
    config.process_mode = bridge::ProcessMode::realtime;
    config.latency_mode = options.latency_mode;
    config.requested_lookahead_samples = requested_lookahead_samples(options, session.sample_rate);
    config.compute_slack_samples = requested_slack_samples(options, session.sample_rate, session.period);
    config.instance_id = instance_id;
    config.ring_channels = 2;
    config.ring_capacity_frames =
        bridge::ring_capacity_for(config.requested_lookahead_samples + config.compute_slack_samples, session.period);
    if (!options.engine_socket.empty()) {
        config.socket_path = options.engine_socket;
    } else if (const char* socket = std::getenv("SOSTENUTO_ENGINE_SOCKET"); socket != nullptr && *socket != '\0') {
        config.socket_path = socket;
    }
    if (options.launch_engine) config.engine = engine;
    config.launch.idle_exit_seconds = options.engine_idle_exit_seconds;
    config.launch.extra_arguments = options.engine_arguments;
    config.on_event = [](const bridge::EngineSupervisorEvent& event) {
        say("engine %s: %s", bridge::to_string(event.state), event.message.c_str());
    };
    return config;
}

void print_status(const bridge::EngineSupervisor& supervisor, const InstrumentCore& core, const JackInstrument& jack) {
    const bridge::EngineSupervisorCounters s = supervisor.counters();
    const InstrumentCounters c = core.counters();
    std::string checks;
    const AudioThreadChecks audio = jack.audio_thread_checks();
    if (audio.enabled) {
        checks = " allocations=" + std::to_string(audio.allocations) +
                 " context_switches=" + std::to_string(audio.context_switches);
    }
    say("status state=%s session=%" PRIu64 " engine_pid=%d latency=%u rate=%u period=%u stream_time=%" PRIu64
        " underruns=%" PRIu64 " silent_periods=%" PRIu64 " freewheel=%d offline_periods=%" PRIu64
        " offline_timeouts=%" PRIu64 " engine_underruns=%" PRIu64 " late_events=%" PRIu64 " xruns=%" PRIu64
        " cycle_gaps=%" PRIu64 " skipped_frames=%" PRIu64 " midi_events=%" PRIu64 " midi_ignored=%" PRIu64
        " midi_malformed=%" PRIu64 " midi_unsent=%" PRIu64 " midi_dropped=%" PRIu64 " messages_dropped=%" PRIu64
        " engine_launches=%" PRIu64 " sessions_lost=%" PRIu64 " panics=%" PRIu64 "%s",
        bridge::to_string(supervisor.state()), supervisor.epoch(), supervisor.engine_pid(), jack.latency(),
        jack.sample_rate(), jack.buffer_size(), c.stream_time, c.underrun_periods, c.silent_periods,
        jack.freewheeling() ? 1 : 0, c.offline_periods, c.offline_timeouts, s.engine_underruns, s.engine_late_events,
        jack.xruns(), jack.cycle_gaps(), c.skipped_frames, c.midi_events, c.midi_ignored, c.midi_malformed,
        c.midi_unsent, c.midi_dropped + c.midi_overflow, s.messages_dropped, s.engine_launches, s.sessions_lost,
        c.panics, checks.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    std::string error;
    if (!parse_options(argc, argv, options, error)) {
        std::fprintf(stderr, "sostenuto-jack: %s\n", error.c_str());
        return 2;
    }
    if (options.help) {
        std::fputs(usage_text().c_str(), stdout);
        return 0;
    }
    std::setvbuf(stderr, nullptr, _IOLBF, 0);

    // Every thread started from here on (JACK's, the supervisor's, the pipe's)
    // inherits this mask: the signals are taken only by sigtimedwait below.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGUSR1);  // panic
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    const std::optional<bridge::EngineCommand> engine = options.launch_engine ? find_engine(options) : std::nullopt;
    const std::uint64_t instance_id = bridge::random_instance_id();

    bridge::EngineSupervisor supervisor;
    // Auto: a live session beside the studio one (bridge::InstrumentPaths).
    const bool auto_mode = bridge::needs_live_beside(options.latency_choice);
    bridge::EngineSupervisor live_supervisor;
    InstrumentCore core(supervisor, auto_mode ? &live_supervisor : nullptr);
    core.set_gain_db(options.gain_db);
    core.set_engine_parameters(static_cast<float>(options.temperature), options.latency_choice,
                               static_cast<float>(options.latency_mode == bridge::LatencyMode::studio ? options.lookahead_ms : 0.0));
    JackInstrument jack(core);
    if (!jack.open(options.client_name, options.server_name, error)) {
        say("%s", error.c_str());
        return 3;
    }

    Session session{jack.sample_rate(), jack.buffer_size()};
    std::uint64_t seen_format_changes = jack.format_changes();
    auto estimate = [&] {
        return bridge::estimated_latency_samples(requested_lookahead_samples(options, session.sample_rate),
                                                 requested_slack_samples(options, session.sample_rate, session.period));
    };
    auto start_session = [&]() {
        core.set_fade_samples(bridge::fade_samples_for(session.sample_rate));
        // Until the engine answers, JACK hears the estimate (after a restart: still the last session's D).
        if (supervisor.total_latency_samples() == 0) jack.set_latency(estimate());
        if (!supervisor.start(make_config(options, session, instance_id, engine), error)) {
            say("cannot start the engine connection: %s", error.c_str());
            return false;
        }
        if (auto_mode) {
            Options live = options;
            live.latency_choice = bridge::LatencyChoice::live;
            live.latency_mode = bridge::LatencyMode::live;
            live.slack_ms.reset();
            bridge::EngineSupervisorConfig config = make_config(live, session, instance_id ^ 1u, engine);
            config.on_event = [](const bridge::EngineSupervisorEvent& event) {
                say("live engine %s: %s", bridge::to_string(event.state), event.message.c_str());
            };
            if (!live_supervisor.start(config, error)) {
                say("cannot start the live engine connection: %s", error.c_str());
                return false;
            }
        }
        return true;
    };
    if (!start_session()) return 1;
    if (!jack.activate(error)) {
        say("%s", error.c_str());
        return 3;
    }
    say("JACK client %s: %u Hz, %u frames per period; ports midi_in, out_L, out_R", jack.client_name().c_str(),
        session.sample_rate, session.period);
    for (const std::string& port : options.connect_midi)
        if (!jack.connect_midi_from(port, error)) say("%s", error.c_str()), error.clear();
    if (options.connect_audio.size() == 2 && !jack.connect_audio_to(options.connect_audio[0], options.connect_audio[1], error)) {
        say("%s", error.c_str());
        error.clear();
    }

    int exit_code = 0;
    std::uint64_t announced_sessions = 0;
    bool freewheeling = false;
    auto next_status = std::chrono::steady_clock::now();
    for (;;) {
        timespec wait{0, 50 * 1000 * 1000};
        siginfo_t info{};
        const int signal_number = sigtimedwait(&signals, &info, &wait);
        if (signal_number == SIGUSR1) {
            core.panic();
            say("SIGUSR1: panic: all sound off and reset all controllers on every channel");
            continue;
        }
        if (signal_number > 0) {
            say("%s: shutting down", strsignal(signal_number));
            break;
        }
        if (jack.server_gone()) {
            say("the JACK server went away (%s): exiting", jack.server_gone_reason().c_str());
            exit_code = 4;
            break;
        }
        // The server's sample rate or buffer size changed: a new session with the engine.
        if (jack.format_changes() != seen_format_changes) {
            seen_format_changes = jack.format_changes();
            const Session now{jack.sample_rate(), jack.buffer_size()};
            if (now.sample_rate != session.sample_rate || now.period != session.period) {
                say("JACK now runs at %u Hz, %u frames per period (was %u Hz, %u): restarting the engine session",
                    now.sample_rate, now.period, session.sample_rate, session.period);
                session = now;
                supervisor.stop();
                live_supervisor.stop();
                if (!start_session()) {
                    exit_code = 1;
                    break;
                }
            }
        }
        // The latency JACK is told: the engine's D once it has answered, the estimate before.
        const std::uint32_t engine_latency = supervisor.total_latency_samples();
        const std::uint32_t latency = engine_latency != 0 ? engine_latency : estimate();
        if (latency != jack.latency()) {
            say("latency %u samples (%.1f ms) reported to JACK", latency, 1000.0 * latency / session.sample_rate);
            jack.set_latency(latency);
        }
        if (jack.freewheeling() != freewheeling) {
            freewheeling = jack.freewheeling();
            say(freewheeling ? "JACK is freewheeling: offline mode, every period waits for the engine"
                             : "JACK stopped freewheeling: realtime mode");
        }
        const InstrumentCounters counters = core.counters();
        if (counters.sessions_started != announced_sessions) {
            announced_sessions = counters.sessions_started;
            say("session %" PRIu64 " audio: stream time %" PRIu64 " (JACK frame %" PRIu64 ") is its start; latency %u",
                counters.session_epoch, counters.session_start, counters.session_start_host, counters.session_latency);
        }
        const auto now = std::chrono::steady_clock::now();
        if (options.status_interval_seconds > 0 && now >= next_status) {
            print_status(supervisor, core, jack);
            next_status = now + std::chrono::microseconds(static_cast<std::int64_t>(options.status_interval_seconds * 1e6));
        }
    }

    // Audio stops first, then the engine session ends with Goodbye, then the client goes.
    jack.deactivate();
    supervisor.stop();
    live_supervisor.stop();
    print_status(supervisor, core, jack);
    jack.close();
    say("bye");
    return exit_code;
}
