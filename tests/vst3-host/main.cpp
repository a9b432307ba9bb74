// sostenuto-test-host: a headless VST3 host for the Sostenuto plug-in (or any
// VST3 instrument): renders a MIDI file through the real bundle and writes a
// float WAV aligned by the plug-in's reported latency.
#include <signal.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "outage_watch.h"
#include "renderer.h"
#include "wav_file.h"

using namespace sostenuto::host;

namespace {

const char* kUsage =
    "usage: sostenuto-test-host --plugin PATH.vst3 --midi IN.mid|IN.txt -o OUT.wav\n"
    "           [--rate HZ] [--block N|varying] [--max-block N] [--mode realtime|offline]\n"
    "           [--setup-mode realtime|offline] [--paced] [--tail SECONDS] [--seed N]\n"
    "           [--gain-db DB] [--temperature T] [--latency-mode live|studio|auto] [--lookahead-ms MS]\n"
    "           [--engine-socket PATH] [--engine PATH] [--kill-engine-at SECONDS] [--kill-engine-every SECONDS]\n"
    "           [--stopped] [--fail-on-underrun] [--require-engine]\n"
    "           [--calls N] [--no-op] [--rt-priority N] [--stats-json FILE]\n"
    "\n"
    "  --block varying    random block sizes in [1, --max-block] (default 1024), with 0-frame calls\n"
    "  --mode offline     every block is kOffline (the plug-in waits for the engine)\n"
    "  --setup-mode       setupProcessing's mode if different (Ardour 7.3: realtime setup, offline blocks)\n"
    "  --paced            deliver blocks no faster than real time (like a sound card)\n"
    "  --engine-socket    sets SOSTENUTO_ENGINE_SOCKET for the plug-in\n"
    "  --engine           sets SOSTENUTO_ENGINE (the engine the plug-in starts when none runs)\n"
    "  --kill-engine-at   SIGKILL the plug-in's engine process at this stream time (seconds), once,\n"
    "                     and report the process() times from the kill until the plug-in recovered\n"
    "  --kill-engine-every  and again this long (of stream) after each recovery; report every\n"
    "                     recovery time (kill to the first block of a new session) and the worst\n"
    "  --calls N          exactly N process() calls whatever the MIDI's length (then --midi and -o\n"
    "                     are optional: no MIDI = no events, no -o = no WAV)\n"
    "  --no-op            time an in-process no-op (zero the outputs) instead of the plug-in's\n"
    "                     process(): the host's own per-call floor (the plug-in is still set up)\n"
    "  --rt-priority N    run the process() loop SCHED_FIFO at priority N (1-99), as DAWs run their\n"
    "                     audio threads (set after activation; an error if the system refuses)\n"
    "  --stats-json FILE  also write the per-call times and the plug-in's counters as JSON\n"
    "  The WAV starts at MIDI time 0: the first <latency> samples of output are dropped.\n";

struct Args {
    std::string plugin, midi, output, engine_socket, engine, stats_json;
    double kill_engine_at = -1;
    double kill_engine_every = 0;  // 0: one kill
    RenderOptions options;
    bool fail_on_underrun = false;
    bool require_engine = false;
    bool have_gain = false, have_temperature = false, have_mode = false, have_lookahead = false;
    double gain_db = 0, temperature = 1, lookahead_ms = 0;
    int latency_mode = 0;
};

int32_t parse_mode(const std::string& v) {
    if (v == "realtime") return V3_REALTIME;
    if (v == "offline") return V3_OFFLINE;
    if (v == "prefetch") return V3_PREFETCH;
    throw std::invalid_argument("mode must be realtime or offline, not '" + v + "'");
}

double number(const std::string& v, const char* what) {
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || !std::isfinite(d)) throw std::invalid_argument(std::string(what) + ": not a number: " + v);
    return d;
}

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
            return argv[++i];
        };
        if (k == "--plugin") a.plugin = value();
        else if (k == "--midi") a.midi = value();
        else if (k == "-o" || k == "--output") a.output = value();
        else if (k == "--rate") a.options.sample_rate = number(value(), "--rate");
        else if (k == "--block") {
            const std::string v = value();
            if (v == "varying") a.options.varying = true;
            else a.options.block = static_cast<int32_t>(number(v, "--block"));
        } else if (k == "--max-block") a.options.max_block = static_cast<int32_t>(number(value(), "--max-block"));
        else if (k == "--mode") a.options.process_mode = parse_mode(value());
        else if (k == "--setup-mode") a.options.setup_mode = parse_mode(value());
        else if (k == "--paced") a.options.paced = true;
        else if (k == "--stopped") a.options.playing = false;
        else if (k == "--tail") a.options.tail_seconds = number(value(), "--tail");
        else if (k == "--seed") a.options.seed = static_cast<uint32_t>(number(value(), "--seed"));
        else if (k == "--gain-db") { a.gain_db = number(value(), "--gain-db"); a.have_gain = true; }
        else if (k == "--temperature") { a.temperature = number(value(), "--temperature"); a.have_temperature = true; }
        else if (k == "--lookahead-ms") { a.lookahead_ms = number(value(), "--lookahead-ms"); a.have_lookahead = true; }
        else if (k == "--latency-mode") {
            const std::string v = value();
            if (v != "live" && v != "studio" && v != "auto")
                throw std::invalid_argument("--latency-mode must be live, studio or auto");
            a.latency_mode = v == "live" ? 0 : (v == "studio" ? 1 : 2);  // the parameter's plain value (bridge::LatencyChoice)
            a.have_mode = true;
        } else if (k == "--engine-socket") a.engine_socket = value();
        else if (k == "--engine") a.engine = value();
        else if (k == "--kill-engine-at") a.kill_engine_at = number(value(), "--kill-engine-at");
        else if (k == "--kill-engine-every") {
            a.kill_engine_every = number(value(), "--kill-engine-every");
            if (!(a.kill_engine_every > 0)) throw std::invalid_argument("--kill-engine-every must be above 0");
        }
        else if (k == "--fail-on-underrun") a.fail_on_underrun = true;
        else if (k == "--require-engine") a.require_engine = true;
        else if (k == "--calls") {
            const double calls = number(value(), "--calls");
            if (!(calls >= 1 && calls <= 1e8) || calls != std::floor(calls)) throw std::invalid_argument("--calls out of range");
            a.options.calls = static_cast<int64_t>(calls);
        } else if (k == "--no-op") a.options.noop = true;
        else if (k == "--rt-priority") {
            const double priority = number(value(), "--rt-priority");
            if (!(priority >= 1 && priority <= 99) || priority != std::floor(priority)) throw std::invalid_argument("--rt-priority must be 1..99");
            a.options.rt_priority = static_cast<int>(priority);
        }
        else if (k == "--stats-json") a.stats_json = value();
        else if (k == "-h" || k == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else throw std::invalid_argument("unknown option " + k);
    }
    if (a.plugin.empty()) throw std::invalid_argument("--plugin is required");
    if (a.options.calls == 0 && (a.midi.empty() || a.output.empty()))
        throw std::invalid_argument("--midi and -o are required (without --calls)");
    if (!(a.options.sample_rate >= 8000 && a.options.sample_rate <= 384000)) throw std::invalid_argument("--rate out of range");
    if (!a.options.varying && (a.options.block < 1 || a.options.block > 65536)) throw std::invalid_argument("--block out of range");
    if (a.options.max_block < 1 || a.options.max_block > 65536) throw std::invalid_argument("--max-block out of range");
    if (a.options.tail_seconds < 0 || a.options.tail_seconds > 600) throw std::invalid_argument("--tail out of range");
    return a;
}

// The controller converts plain values; set them by parameter title so the
// host needs no knowledge of the plug-in's ids.
void add_parameter(PluginInstance& plugin, Args& a, const char* title, double plain) {
    for (const ParamInfo& p : plugin.parameters()) {
        if (p.title != title) continue;
        const double normalized =
            vtable_of<v3_edit_controller_cpp>(plugin.controller())->ctrl.plain_parameter_to_normalised(plugin.controller(), p.id, plain);
        a.options.parameters.emplace_back(p.id, normalized);
        return;
    }
    throw std::runtime_error(std::string("the plug-in has no parameter '") + title + "'");
}

// JSON string contents (paths, model names): quotes, backslashes, control characters.
std::string json_escape(const std::string& text) {
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20) {
            char buffer[8];
            std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
            out += buffer;
        } else {
            out += ch;
        }
    }
    return out;
}

// The numbers of the text report, machine-readable (benchmarks/bridge-overhead).
// Times are per process() call in microseconds; quantiles are nearest-rank.
void write_stats_json(const std::string& path, const Args& a, const PluginModule& module, const RenderResult& r, const OutageWatch& outages) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    const std::vector<double>& t = r.process_micros;
    const double mean = t.empty() ? 0.0 : std::accumulate(t.begin(), t.end(), 0.0) / static_cast<double>(t.size());
    const sostenuto_stats& s = r.stats;
    std::fprintf(f, "{\n");
    std::fprintf(f, "  \"plugin\": \"%s\",\n", json_escape(module.binary_path()).c_str());
    std::fprintf(f, "  \"midi\": \"%s\",\n", json_escape(a.midi).c_str());
    std::fprintf(f, "  \"noop\": %s,\n", a.options.noop ? "true" : "false");
    std::fprintf(f, "  \"mode\": \"%s\",\n", a.options.process_mode == V3_OFFLINE ? "offline" : "realtime");
    std::fprintf(f, "  \"paced\": %s,\n", a.options.paced ? "true" : "false");
    std::fprintf(f, "  \"rt_priority\": %d,\n", a.options.rt_priority);
    std::fprintf(f, "  \"rate\": %.0f,\n", a.options.sample_rate);
    std::fprintf(f, "  \"block\": %d,\n", a.options.varying ? -1 : a.options.block);
    std::fprintf(f, "  \"latency_samples\": %u,\n", r.latency);
    std::fprintf(f, "  \"calls\": %llu,\n", static_cast<unsigned long long>(r.process_calls));
    std::fprintf(f, "  \"stream_frames\": %llu,\n", static_cast<unsigned long long>(r.stream_frames));
    std::fprintf(f, "  \"wall_seconds\": %.6f,\n", r.wall_seconds);
    std::fprintf(f, "  \"process_us\": {\"min\": %.4f, \"mean\": %.4f, \"p50\": %.4f, \"p90\": %.4f, \"p99\": %.4f, "
                 "\"p999\": %.4f, \"max\": %.4f},\n",
                 quantile(t, 0.0), mean, quantile(t, 0.5), quantile(t, 0.9), quantile(t, 0.99), quantile(t, 0.999), quantile(t, 1.0));
    std::fprintf(f, "  \"have_stats\": %s,\n", r.have_stats ? "true" : "false");
    std::fprintf(f, "  \"engine_connected\": %s,\n", r.have_stats && s.sessions > 0 ? "true" : "false");
    std::fprintf(f, "  \"model\": \"%s\",\n", r.have_stats ? json_escape(s.model_name).c_str() : "");
    std::fprintf(f, "  \"underrun_blocks\": %llu,\n", static_cast<unsigned long long>(r.have_stats ? s.underrun_blocks : 0));
    std::fprintf(f, "  \"missing_frames\": %llu,\n", static_cast<unsigned long long>(r.have_stats ? s.missing_frames : 0));
    std::fprintf(f, "  \"events_sent\": %llu,\n", static_cast<unsigned long long>(r.have_stats ? s.events_sent : 0));
    std::fprintf(f, "  \"events_dropped\": %llu,\n", static_cast<unsigned long long>(r.have_stats ? s.events_dropped : 0));
    // Per outage (a lost session until a second after a new one took over): the audio missing, in frames.
    std::fprintf(f, "  \"outage_missing_frames\": [");
    for (size_t i = 0; i < outages.outages().size(); ++i)
        std::fprintf(f, "%s%llu", i ? ", " : "", static_cast<unsigned long long>(outages.outages()[i].missing_frames));
    std::fprintf(f, "],\n");
    size_t recovered = 0;
    for (const Outage& o : outages.outages()) recovered += o.recovered_at != 0;
    std::fprintf(f, "  \"outages_recovered\": %zu,\n", recovered);
    std::fprintf(f, "  \"missing_frames_outside_outages\": %llu,\n", static_cast<unsigned long long>(outages.missing_outside()));
    // The same, by whole seconds since the last session started (the last bin: that many or more).
    std::fprintf(f, "  \"missing_frames_outside_outages_by_second\": [");
    for (size_t k = 0; k < outages.missing_outside_by_second().size(); ++k)
        std::fprintf(f, "%s%llu", k ? ", " : "", static_cast<unsigned long long>(outages.missing_outside_by_second()[k]));
    std::fprintf(f, "]\n");
    std::fprintf(f, "}\n");
    if (std::fclose(f) != 0) throw std::runtime_error("cannot write " + path);
}

}  // namespace

int main(int argc, char** argv) {
    Args args;
    try {
        args = parse(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sostenuto-test-host: %s\n\n%s", e.what(), kUsage);
        return 1;
    }
    try {
        if (!args.engine_socket.empty()) ::setenv("SOSTENUTO_ENGINE_SOCKET", args.engine_socket.c_str(), 1);
        if (!args.engine.empty()) ::setenv("SOSTENUTO_ENGINE", args.engine.c_str(), 1);
        const std::vector<TimedMidi> midi = args.midi.empty() ? std::vector<TimedMidi>{} : read_midi_input(args.midi);
        PluginModule module(args.plugin);
        PluginInstance plugin(module);
        if (args.have_gain) add_parameter(plugin, args, "Output Gain", args.gain_db);
        if (args.have_temperature) add_parameter(plugin, args, "Temperature", args.temperature);
        if (args.have_mode) add_parameter(plugin, args, "Latency Mode", args.latency_mode);
        if (args.have_lookahead) add_parameter(plugin, args, "Lookahead", args.lookahead_ms);

        // --kill-engine-at / --kill-engine-every: per kill, the call after which the engine was killed
        // and the one that had a session again.
        struct Kill {
            size_t kill_call = 0, recovered_call = 0;
            int pid = 0;
        };
        std::vector<Kill> kills;
        // Every outage, whoever caused it (a kill here, or another process killing the shared
        // engine, as soak.sh does): settled one second after a new session took over.
        OutageWatch outages(static_cast<uint64_t>(args.options.sample_rate), static_cast<uint64_t>(args.options.sample_rate));
        if (args.kill_engine_every > 0 && args.kill_engine_at < 0) args.kill_engine_at = args.kill_engine_every;
        const bool killing = args.kill_engine_at >= 0;
        if (killing) {
            args.options.count_context_switches = true;
            kills.reserve(1 + (args.kill_engine_every > 0 ? 4096 : 0));
        }
        {
            size_t calls = 0;
            uint64_t recoveries_before = 0;
            uint64_t kill_at = killing ? static_cast<uint64_t>(std::llround(args.kill_engine_at * args.options.sample_rate)) : UINT64_MAX;
            const uint64_t every = static_cast<uint64_t>(std::llround(args.kill_engine_every * args.options.sample_rate));
            args.options.after_block = [&, kill_at, every](PluginInstance& p, uint64_t stream_time) mutable {
                ++calls;
                sostenuto_stats s{};
                if (!p.stats(s)) return;
                outages.observe(stream_time, s);
                const bool waiting = !kills.empty() && kills.back().recovered_call == 0;
                if (waiting) {
                    if (s.session_recoveries > recoveries_before) {
                        kills.back().recovered_call = calls;
                        kill_at = every == 0 ? UINT64_MAX : stream_time + every;
                    }
                } else if (stream_time >= kill_at && kills.size() < kills.capacity() && s.engine_pid > 0) {
                    recoveries_before = s.session_recoveries;
                    ::kill(s.engine_pid, SIGKILL);
                    kills.push_back(Kill{calls, 0, s.engine_pid});
                }
            };
        }
        const RenderResult r = render(plugin, midi, args.options);
        if (!args.output.empty()) write_float_wav(args.output, static_cast<uint32_t>(std::lround(args.options.sample_rate)), r.audio);
        outages.finish();
        if (!args.stats_json.empty()) write_stats_json(args.stats_json, args, module, r, outages);

        const double rate = args.options.sample_rate;
        float peak = 0;
        for (const auto& ch : r.audio)
            for (float v : ch) peak = std::max(peak, std::fabs(v));
        const double seconds = static_cast<double>(r.stream_frames) / rate;
        const double block_budget_us = 1e6 * (args.options.varying ? args.options.max_block : args.options.block) / rate;
        std::printf("plugin        %s\n", module.binary_path().c_str());
        std::printf("input         %s: %zu events\n", args.midi.empty() ? "(none)" : args.midi.c_str(), midi.size());
        std::printf("render        %.0f Hz, block %s, %s%s%s\n", rate,
                    args.options.varying ? ("varying 0.." + std::to_string(args.options.max_block)).c_str()
                                         : std::to_string(args.options.block).c_str(),
                    args.options.process_mode == V3_OFFLINE ? "offline" : "realtime",
                    args.options.setup_mode >= 0 ? (args.options.setup_mode == V3_OFFLINE ? " (setup offline)" : " (setup realtime)") : "",
                    args.options.paced ? ", paced" : "");
        if (args.options.rt_priority > 0) std::printf("scheduling    SCHED_FIFO %d for the process() loop\n", args.options.rt_priority);
        if (args.options.noop) std::printf("no-op         timed an in-process no-op, not the plug-in's process()\n");
        std::printf("latency       %u samples (%.2f ms), tail %u samples\n", r.latency, 1000.0 * r.latency / rate, r.tail);
        std::printf("process       %llu calls, p50 %.1f us, p99 %.1f us, max %.1f us (budget %.0f us per full block)\n",
                    static_cast<unsigned long long>(r.process_calls), quantile(r.process_micros, 0.5),
                    quantile(r.process_micros, 0.99), quantile(r.process_micros, 1.0), block_budget_us);
        std::printf("time          %.2f s of audio in %.2f s (%.2fx real time)\n", seconds, r.wall_seconds,
                    r.wall_seconds > 0 ? seconds / r.wall_seconds : 0.0);
        if (r.have_stats) {
            const sostenuto_stats& s = r.stats;
            std::printf("engine        %s%s%s\n", s.sessions > 0 ? "connected" : "none",
                        s.model_name[0] ? ", model " : "", s.model_name);
            if (s.sessions == 0 && s.last_error[0]) std::printf("engine error  %s\n", s.last_error);
            std::printf("underruns     %llu blocks, %llu frames missing\n", static_cast<unsigned long long>(s.underrun_blocks),
                        static_cast<unsigned long long>(s.missing_frames));
            std::printf("offline       %llu waits, %llu timeouts\n", static_cast<unsigned long long>(s.offline_waits),
                        static_cast<unsigned long long>(s.offline_timeouts));
            std::printf("events        %llu sent, %llu dropped; %llu transport flushes; %llu mode changes\n",
                        static_cast<unsigned long long>(s.events_sent), static_cast<unsigned long long>(s.events_dropped),
                        static_cast<unsigned long long>(s.transport_flushes),
                        static_cast<unsigned long long>(s.process_mode_changes));
        }
        if (r.have_stats) {
            const sostenuto_stats& s = r.stats;
            std::printf("engine pid    %d; %llu launched by the plug-in, %llu sessions, %llu lost, %llu recovered (%llu events re-sent)\n",
                        s.engine_pid, static_cast<unsigned long long>(s.engine_launches),
                        static_cast<unsigned long long>(s.sessions), static_cast<unsigned long long>(s.sessions_lost),
                        static_cast<unsigned long long>(s.session_recoveries), static_cast<unsigned long long>(s.events_resent));
        }
        if (args.kill_engine_at >= 0) {
            if (kills.empty()) {
                std::printf("kill          no engine process to kill at %.3f s\n", args.kill_engine_at);
            } else {
                const Kill& k = kills.front();
                const size_t end = k.recovered_call ? k.recovered_call : r.process_micros.size();
                std::vector<double> outage(r.process_micros.begin() + static_cast<long>(k.kill_call),
                                           r.process_micros.begin() + static_cast<long>(end));
                uint64_t switches = 0;
                for (uint32_t v : r.process_switches) switches += v;
                std::printf("kill          engine pid %d killed after call %zu (%.3f s); %s after %zu calls (%.3f s of stream)\n",
                            k.pid, k.kill_call, static_cast<double>(r.process_stream_times[k.kill_call - 1]) / rate,
                            k.recovered_call ? "a new session played" : "no new session", end - k.kill_call,
                            k.recovered_call ? static_cast<double>(r.process_stream_times[end - 1] - r.process_stream_times[k.kill_call - 1]) / rate
                                             : 0.0);
                std::printf("outage        process p50 %.1f us, p99 %.1f us, max %.1f us over %zu calls; %llu voluntary context switches in all process() calls\n",
                            quantile(outage, 0.5), quantile(outage, 0.99), quantile(outage, 1.0), outage.size(),
                            static_cast<unsigned long long>(switches));
            }
            if (args.kill_engine_every > 0) {
                // Recovery time: from the block after which the engine was killed to the first block
                // that had a new session, in stream time (wall time when --paced).
                std::vector<double> ms;
                std::string each;
                for (const Kill& k : kills) {
                    if (k.recovered_call == 0) continue;
                    const double v = 1000.0 * static_cast<double>(r.process_stream_times[k.recovered_call - 1] -
                                                                  r.process_stream_times[k.kill_call - 1]) / rate;
                    ms.push_back(v);
                    char one[32];
                    std::snprintf(one, sizeof one, "%s%.0f", each.empty() ? "" : " ", v);
                    each += one;
                }
                std::printf("kills         %zu, %zu recovered; recovery min %.0f ms, median %.0f ms, max %.0f ms\n", kills.size(), ms.size(),
                            quantile(ms, 0.0), quantile(ms, 0.5), quantile(ms, 1.0));
                std::printf("recoveries    %s (ms)\n", each.c_str());
            }
        }
        if (!outages.outages().empty()) {
            // The silence each outage cost (underrun frames from the loss until a second after the
            // new session took over), and underruns anywhere else.
            std::vector<double> gap_ms;
            size_t recovered = 0;
            for (const Outage& o : outages.outages()) {
                gap_ms.push_back(1000.0 * static_cast<double>(o.missing_frames) / rate);
                if (o.recovered_at) ++recovered;
            }
            std::printf("outages       %zu, %zu recovered; audio missing per outage min %.0f ms, median %.0f ms, max %.0f ms; "
                        "%llu frames missing outside outages\n",
                        outages.outages().size(), recovered, quantile(gap_ms, 0.0), quantile(gap_ms, 0.5), quantile(gap_ms, 1.0),
                        static_cast<unsigned long long>(outages.missing_outside()));
        }
        if (outages.missing_outside() > 0) {
            std::printf("outside       frames missing outside outages by second since the last session started:");
            const auto& bins = outages.missing_outside_by_second();
            for (size_t k = 0; k < bins.size(); ++k)
                if (bins[k]) std::printf(" %zu%s s: %llu;", k, k + 1 == bins.size() ? "+" : "", static_cast<unsigned long long>(bins[k]));
            std::printf("\n");
        }
        if (r.restarts_before_render || r.restart_requests_during_render)
            std::printf("restarts      %d handled before the render, %d requested during it (ignored)\n",
                        r.restarts_before_render, r.restart_requests_during_render);
        std::printf("output        %s: %zu frames, peak %.1f dBFS\n", args.output.empty() ? "(not written)" : args.output.c_str(), r.audio[0].size(),
                    peak > 0 ? 20.0 * std::log10(peak) : -INFINITY);

        plugin.deactivate();
        if (args.require_engine && (!r.have_stats || r.stats.sessions == 0)) {
            std::fprintf(stderr, "sostenuto-test-host: no engine session (--require-engine)\n");
            return 3;
        }
        if (args.fail_on_underrun && r.have_stats && r.stats.underrun_blocks > 0) {
            std::fprintf(stderr, "sostenuto-test-host: %llu underruns (--fail-on-underrun)\n",
                         static_cast<unsigned long long>(r.stats.underrun_blocks));
            return 4;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sostenuto-test-host: %s\n", e.what());
        return 2;
    }
}
