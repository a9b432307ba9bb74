// The bundle with an engine *process* it starts itself, through the real
// BridgeEngineLink (native-bridge's EngineSupervisor): killed with SIGKILL in
// the middle of a realtime render, the host keeps going, process() never
// blocks, the silence is counted as underruns, and the audio comes back from
// the engine the supervisor starts in its place, which is told the held notes
// and the pedal.
//
//  - FakeEngineProcess: native-bridge's sostenuto_fake_engine (a process that
//    behaves like `sostenuto serve` where a front end can tell, renders a
//    signal that names each render time, and logs what it receives), as
//    $SOSTENUTO_ENGINE on a private socket.
//  - BundledEngine: the real C# engine inside the bundle (`make bundle`),
//    found by the plug-in from its own path and started on the default socket
//    of a private XDG_RUNTIME_DIR; skipped when the bundle has no engine. Its
//    offline bounce must equal `sostenuto render` sample for sample.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "tests/engine_test_support.h"
#include "tests/fake_engine_signal.h"
#include "midi_file.h"
#include "renderer.h"
#include "wav_file.h"

namespace sostenuto::host {
namespace {

using bridge::testing::end_process;
using bridge::testing::fake_engine_pids;
using bridge::testing::read_file;
using bridge::testing::ScopedEnvironment;
using bridge::testing::TemporaryDirectory;
using bridge::testing::wait_for_warm_spare;
using bridge::testing::wait_until;
using namespace std::chrono_literals;

constexpr double kRate = 48000;
constexpr int32_t kBlock = 256;

bool file_exists(const std::string& path) {
    struct stat info {};
    return ::stat(path.c_str(), &info) == 0;
}

// A minimal format-0 Standard MIDI File: 480 ticks per quarter at 120 bpm (960 ticks a second).
void write_smf(const std::string& path, const std::vector<TimedMidi>& events) {
    std::vector<uint8_t> track = {0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20};  // tempo 500000 us per quarter
    uint64_t last = 0;
    for (const TimedMidi& e : events) {
        const uint64_t tick = static_cast<uint64_t>(std::llround(e.seconds * 960.0));
        uint64_t delta = tick - last;
        last = tick;
        uint8_t vlq[10];
        int n = 0;
        vlq[n++] = delta & 0x7F;
        while (delta >>= 7) vlq[n++] = 0x80 | (delta & 0x7F);
        while (n > 0) track.push_back(vlq[--n]);
        track.push_back(e.status);
        track.push_back(e.data1);
        if ((e.status & 0xF0) != 0xC0 && (e.status & 0xF0) != 0xD0) track.push_back(e.data2);
    }
    for (uint8_t b : {0x00, 0xFF, 0x2F, 0x00}) track.push_back(b);
    std::vector<uint8_t> file = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0x01, 0xE0, 'M', 'T', 'r', 'k'};
    const uint32_t size = static_cast<uint32_t>(track.size());
    for (int shift : {24, 16, 8, 0}) file.push_back(static_cast<uint8_t>(size >> shift));
    file.insert(file.end(), track.begin(), track.end());
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size()));
}

// A held note, the pedal, and a note the pedal holds after its release: what
// a session that takes over must be told.
std::vector<TimedMidi> held_performance(double seconds) {
    return {
        {0.05, 0xB0, 64, 127},  // pedal down
        {0.10, 0x90, 60, 100},  // held to the end
        {0.20, 0x90, 64, 80},
        {0.30, 0x80, 64, 0},    // released: the pedal holds it
        {seconds - 0.5, 0x80, 60, 0},
        {seconds - 0.4, 0xB0, 64, 0},
    };
}

// What a render with a kill in it measured.
struct KillReport {
    int killed_pid = 0;
    std::set<int> engine_pids;   // every engine process the plug-in played from
    size_t kill_call = 0;        // process() calls before the kill
    size_t recovered_call = 0;   // process() calls until a new session had played (0: never)
    std::vector<double> outage_micros;  // process() times from the kill until then
    uint64_t switches = 0;       // voluntary context switches inside all process() calls
    uint64_t underruns_at_kill = 0, underruns_at_recovery = 0;  // the plug-in's count then
    uint64_t launches_at_kill = 0;
};

// Realtime, paced like a sound card: the kill happens in wall-clock time and
// the supervisor has real time to start another engine.
RenderResult render_with_kill(PluginInstance& plugin, const std::vector<TimedMidi>& midi, double kill_at_seconds,
                              KillReport& report) {
    RenderOptions options;
    options.process_mode = V3_REALTIME;
    options.block = kBlock;
    options.paced = true;
    options.tail_seconds = 0.5;
    options.count_context_switches = true;
    const uint64_t kill_at = static_cast<uint64_t>(kill_at_seconds * kRate);
    size_t calls = 0;
    options.after_block = [&](PluginInstance& p, uint64_t stream_time) {
        ++calls;
        sostenuto_stats s{};
        if (!p.stats(s)) return;
        if (s.engine_pid > 0) report.engine_pids.insert(s.engine_pid);
        if (report.killed_pid == 0 && stream_time >= kill_at && s.engine_pid > 0) {
            report.killed_pid = s.engine_pid;
            ::kill(report.killed_pid, SIGKILL);
            report.kill_call = calls;
            report.underruns_at_kill = s.underrun_blocks;
            report.launches_at_kill = s.engine_launches;
        } else if (report.killed_pid != 0 && report.recovered_call == 0 && s.session_recoveries > 0) {
            report.recovered_call = calls;
            report.underruns_at_recovery = s.underrun_blocks;
        }
    };
    RenderResult r = render(plugin, midi, options);
    const size_t end = report.recovered_call ? report.recovered_call : r.process_micros.size();
    if (report.kill_call > 0)
        report.outage_micros.assign(r.process_micros.begin() + static_cast<long>(report.kill_call),
                                    r.process_micros.begin() + static_cast<long>(end));
    for (uint32_t v : r.process_switches) report.switches += v;
    return r;
}

void print_timings(const char* what, const RenderResult& r, const KillReport& k) {
    const size_t longest = static_cast<size_t>(
        std::max_element(r.process_micros.begin(), r.process_micros.end()) - r.process_micros.begin());
    std::printf("[ timing ] %s: the longest call was #%zu (the kill after #%zu, a new session played in #%zu)\n", what,
                longest + 1, k.kill_call, k.recovered_call);
    std::printf("[ timing ] %s: all %llu calls p50 %.1f us, p99 %.1f us, max %.1f us; outage (%zu calls, %.0f ms of stream) "
                "p50 %.1f us, p99 %.1f us, max %.1f us; %llu voluntary context switches in process()\n",
                what, static_cast<unsigned long long>(r.process_calls), quantile(r.process_micros, 0.5),
                quantile(r.process_micros, 0.99), quantile(r.process_micros, 1.0), k.outage_micros.size(),
                1000.0 * static_cast<double>(k.outage_micros.size()) * kBlock / kRate, quantile(k.outage_micros, 0.5),
                quantile(k.outage_micros, 0.99), quantile(k.outage_micros, 1.0),
                static_cast<unsigned long long>(k.switches));
}

// ---------------------------------------------------------------------------

class FakeEngineProcess : public ::testing::Test {
protected:
    void TearDown() override {
        instance.reset();
        module.reset();
        for (int pid : fake_engine_pids(log)) end_process(pid);
    }
    TemporaryDirectory dir{"sostenuto-vst3-engine"};
    const std::string socket = dir / "sostenuto-engine.sock";
    const std::string log = dir / "sostenuto-engine.log";  // the launcher's default: beside the socket
    ScopedEnvironment socket_env{"SOSTENUTO_ENGINE_SOCKET", socket.c_str()};
    ScopedEnvironment engine_env{"SOSTENUTO_ENGINE", SOSTENUTO_FAKE_ENGINE_PATH};
    ScopedEnvironment log_events{"SOSTENUTO_FAKE_ENGINE_LOG_EVENTS", "1"};
    std::unique_ptr<PluginModule> module = std::make_unique<PluginModule>(SOSTENUTO_VST3_BUNDLE);
    std::unique_ptr<PluginInstance> instance = std::make_unique<PluginInstance>(*module);
};

TEST_F(FakeEngineProcess, ThePluginStartsTheEngineItselfWhenNoneRuns) {
    ASSERT_FALSE(file_exists(socket));
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(instance->setup(kRate, kBlock, V3_REALTIME), V3_OK);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    sostenuto_stats s{};
    ASSERT_TRUE(instance->stats(s));
    EXPECT_EQ(s.engine_state, 2u) << s.last_error << "\n" << read_file(log);
    EXPECT_EQ(s.engine_launches, 1u);
    EXPECT_GT(s.engine_pid, 0);
    EXPECT_EQ(instance->latency(), s.engine_latency_samples) << "the engine's latency, known at setupProcessing";
    std::printf("[ engine ] fake engine process started and in session %.1f ms after setupProcessing\n", ms);
    // A second instance connects to the same engine; nothing new is started.
    PluginInstance other(*module);
    ASSERT_EQ(other.setup(kRate, kBlock, V3_REALTIME), V3_OK);
    sostenuto_stats o{};
    ASSERT_TRUE(other.stats(o));
    EXPECT_EQ(o.engine_state, 2u);
    EXPECT_EQ(o.engine_launches, 0u);
    EXPECT_EQ(o.engine_pid, s.engine_pid);
    EXPECT_EQ(fake_engine_pids(log).size(), 1u);
}

TEST_F(FakeEngineProcess, KillDuringARealtimeRenderIsSurvivedAndTheAudioResumes) {
    const double seconds = 4.0;
    KillReport k;
    const RenderResult r = render_with_kill(*instance, held_performance(seconds), 1.0, k);
    print_timings("fake engine killed at 1 s", r, k);
    const sostenuto_stats& s = r.stats;
    ASSERT_NE(k.killed_pid, 0) << "no engine to kill: " << s.last_error << "\n" << read_file(log);
    ASSERT_NE(k.recovered_call, 0u) << "no new session played: " << s.last_error << "\n" << read_file(log);

    // The host kept going, every call stayed short and none blocked.
    const size_t last_event = static_cast<size_t>(std::llround((seconds - 0.4) * kRate));
    EXPECT_EQ(r.audio[0].size(), last_event + 1 + static_cast<size_t>(0.5 * kRate)) << "the whole render happened";
    EXPECT_EQ(k.switches, 0u) << "a process() call slept or blocked";
    EXPECT_LT(quantile(k.outage_micros, 1.0), 20000.0) << "a process() call during the outage took more than 20 ms";
    // The outage is counted, and the plug-in recovered in a new session from a new engine.
    EXPECT_GT(s.underrun_blocks, 0u);
    EXPECT_EQ(s.sessions_lost, 1u);
    EXPECT_EQ(s.session_recoveries, 1u);
    EXPECT_EQ(s.sessions, 2u);
    EXPECT_EQ(s.engine_launches, 2u);  // by either of Auto's two links
    EXPECT_EQ(s.engine_state, 2u);
    EXPECT_NE(s.engine_pid, k.killed_pid);
    EXPECT_EQ(fake_engine_pids(log).size(), 2u) << read_file(log);

    // Before the kill: the first session's signal, render time = stream time - D
    // (exactly, unless the machine was too busy for the engine to keep up).
    const std::vector<float>& left = r.audio[0];
    const size_t killed_at = static_cast<size_t>(r.process_stream_times[k.kill_call - 1]) + kBlock;  // stream time
    if (k.underruns_at_kill == 0) {
        for (size_t i = 0; i + r.latency < killed_at - 2 * kBlock; ++i)
            ASSERT_EQ(left[i], bridge::testing::fake_engine_sample(i, 0)) << "session 1, aligned sample " << i;
    } else {
        std::printf("[ note   ] %llu underruns before the kill (a busy machine): session 1 not compared sample by sample\n",
                    static_cast<unsigned long long>(k.underruns_at_kill));
    }
    // After it: silence, then the second session's signal from its render time 0
    // on (its stream time 0 is a block start), sample for sample.
    size_t resumed = 0;
    for (size_t i = killed_at - r.latency; i + 1 < left.size(); ++i) {
        if (left[i] == bridge::testing::fake_engine_sample(0, 0) && left[i + 1] == bridge::testing::fake_engine_sample(1, 0)) {
            resumed = i;
            break;
        }
    }
    ASSERT_GT(resumed, 0u) << "the audio did not come back";
    EXPECT_EQ(left[resumed - 1], 0.0f) << "silence before the new session's audio";
    const size_t check = std::min<size_t>(left.size() - resumed, static_cast<size_t>(kRate));
    size_t mismatches = 0;
    size_t first_mismatch = check;
    for (size_t i = 0; i < check; ++i) {
        if (left[resumed + i] == bridge::testing::fake_engine_sample(i, 0)) continue;
        if (mismatches++ == 0) first_mismatch = i;
    }
    // Every mismatch must be an underrun's fade (a busy machine); the session's start is exact.
    const uint64_t late_underruns = s.underrun_blocks - k.underruns_at_recovery;
    EXPECT_GE(first_mismatch, static_cast<size_t>(kBlock)) << "the second session's first block is not its render times 0...";
    if (late_underruns == 0)
        EXPECT_EQ(mismatches, 0u) << "the second session's audio is not its render times in order: first at " << first_mismatch;
    else
        std::printf("[ note   ] %llu underruns after the recovery (a busy machine): %zu samples differ, the first %zu are exact\n",
                    static_cast<unsigned long long>(late_underruns), mismatches, first_mismatch);
    std::printf("[ resume ] killed at stream time %.3f s; audio again at %.3f s (%.0f ms of output missing)\n",
                killed_at / kRate, (resumed + r.latency) / kRate, 1000.0 * (resumed + r.latency - killed_at) / kRate);

    // The new engine (the second process in the log) was told, at its session's
    // time 0, the parameters, the pedal and the notes that sound.
    const std::string text = read_file(log);
    const std::string marker = "fake-engine: started pid=";
    const size_t second = text.find(marker, text.find(marker) + 1);
    ASSERT_NE(second, std::string::npos) << text;
    const std::string told = text.substr(second);
    for (const char* line : {": parameter 0 1 1", ": event 0 0xB0 64 127", ": event 0 0x90 60 100", ": event 0 0x90 64 80",
                             ": event 0 0x80 64 64"}) {
        EXPECT_NE(told.find(line), std::string::npos) << line << " missing in\n" << told;
    }
    EXPECT_GE(s.events_resent, 4u);
}

// ---------------------------------------------------------------------------

class BundledEngine : public ::testing::Test {
protected:
    void SetUp() override {
        engine = std::string(SOSTENUTO_VST3_BUNDLE) + "/Contents/Resources/engine/sostenuto";
        if (!file_exists(engine))
            GTEST_SKIP() << "the bundle has no engine (" << engine << " is missing): run `make bundle` to publish the engine, "
                         << "ONNX Runtime and the default model into " << SOSTENUTO_VST3_BUNDLE << " and run this test";
    }
    void TearDown() override {
        for (int pid : pids) end_process(pid);
    }
    std::string engine;
    std::set<int> pids;  // engine processes to end (they would idle for 30 s)
};

TEST_F(BundledEngine, ThePluginStartsItAndABounceEqualsTheEngineRenderAndAKillIsSurvived) {
    TemporaryDirectory runtime("sostenuto-vst3-xdg");
    ScopedEnvironment xdg("XDG_RUNTIME_DIR", runtime.path().c_str());
    ScopedEnvironment no_socket("SOSTENUTO_ENGINE_SOCKET", nullptr);
    ScopedEnvironment no_engine("SOSTENUTO_ENGINE", nullptr);
    const std::string log = runtime / "sostenuto-engine.log";

    // A short performance: chords, velocities and the pedal.
    std::vector<TimedMidi> midi = {
        {0.10, 0x90, 60, 90}, {0.10, 0x90, 64, 80}, {0.10, 0x90, 67, 70}, {0.40, 0xB0, 64, 127},
        {0.60, 0x80, 60, 0},  {0.60, 0x80, 64, 0},  {0.60, 0x80, 67, 0},  {0.75, 0x90, 72, 110},
        {1.00, 0x90, 55, 60}, {1.20, 0x80, 72, 0},  {1.40, 0xB0, 64, 0},  {1.50, 0x80, 55, 0},
        {1.60, 0x90, 62, 100}, {2.10, 0x80, 62, 0},
    };
    const std::string mid = runtime / "performance.mid";
    write_smf(mid, midi);
    midi = read_midi_input(mid);  // exactly what the engine's render reads

    // The plug-in starts the bundled engine itself.
    auto t0 = std::chrono::steady_clock::now();
    PluginModule module(SOSTENUTO_VST3_BUNDLE);
    auto bounce_instance = std::make_unique<PluginInstance>(module);
    ASSERT_EQ(bounce_instance->setup(kRate, 512, V3_OFFLINE), V3_OK);
    const double cold_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    sostenuto_stats s{};
    ASSERT_TRUE(bounce_instance->stats(s));
    if (s.engine_pid > 0) pids.insert(s.engine_pid);
    std::printf("[ engine ] cold start of the bundled engine: setupProcessing returned after %.0f ms, engine %s (pid %d), "
                "latency %u samples\n",
                cold_ms, s.engine_state == 2 ? "in session" : "not ready", s.engine_pid, s.engine_latency_samples);
    EXPECT_EQ(s.engine_launches, 1u) << s.last_error << "\n" << read_file(log);
    EXPECT_TRUE(file_exists(runtime / "sostenuto-engine.sock")) << "the default socket of the runtime directory";

    // Offline bounce (the host drops the reported latency) == `sostenuto render`, sample for sample.
    RenderOptions offline;
    offline.process_mode = V3_OFFLINE;
    offline.block = 512;
    offline.tail_seconds = 1.0;
    t0 = std::chrono::steady_clock::now();
    const RenderResult bounce = render(*bounce_instance, midi, offline);
    const double bounce_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(bounce.have_stats);
    if (bounce.stats.engine_pid > 0) pids.insert(bounce.stats.engine_pid);
    EXPECT_EQ(bounce.stats.sessions, 1u) << bounce.stats.last_error;
    EXPECT_EQ(bounce.stats.underrun_blocks, 0u);
    EXPECT_EQ(bounce.stats.offline_timeouts, 0u);
    bounce_instance.reset();

    // `./sostenuto render` of the checkout when it is built (`make bundle` builds it), else the bundle's own CLI.
    const std::string cli = file_exists(SOSTENUTO_ENGINE_DLL) ? std::string(SOSTENUTO_CLI) : engine;
    const std::string reference = runtime / "reference.wav";
    const std::string command = cli + " render " + mid + " -o " + reference + " --format float --rate 48000 --quiet > " +
                                (runtime / "render.txt") + " 2>&1";
    t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(std::system(command.c_str()), 0) << command << "\n" << read_file(runtime / "render.txt");
    const double render_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint32_t rate = 0;
    const auto expected = read_float_wav(reference, rate);
    ASSERT_EQ(rate, 48000u);
    ASSERT_EQ(expected.size(), 2u);
    const size_t n = std::min(expected[0].size(), bounce.audio[0].size());
    ASSERT_GE(n, static_cast<size_t>(2.2 * kRate)) << "both cover the performance";
    size_t nonzero = 0, first_difference = n;
    for (size_t i = 0; i < n; ++i) {
        nonzero += expected[0][i] != 0.0f;
        if (first_difference == n && (expected[0][i] != bounce.audio[0][i] || expected[1][i] != bounce.audio[1][i]))
            first_difference = i;
    }
    EXPECT_GT(nonzero, static_cast<size_t>(kRate)) << "the engine rendered the performance";
    EXPECT_EQ(first_difference, n) << "the bounce differs from `sostenuto render` at sample " << first_difference << " ("
                                   << bounce.audio[0][std::min(first_difference, n - 1)] << " vs "
                                   << expected[0][std::min(first_difference, n - 1)] << ")";
    std::printf("[ bounce ] %zu samples identical to `%s render` (latency %u; bounce %.2f s, render %.2f s)\n", n,
                cli.c_str(), bounce.latency, bounce_s, render_s);

    // The same bounce, with the engine killed at stream time 1 s: what was
    // rendered before is the render's, the next blocks wait for the engine
    // that takes its place (no timeout), and the held notes sound again. The
    // plug-in's launcher asks for a warm spare (`serve --spare`): once it is
    // warm, it is the engine that takes over, and nothing is launched.
    int spare = wait_for_warm_spare(log, s.engine_pid, 60s);
    ASSERT_NE(spare, 0) << "no warm spare engine\n" << read_file(log);
    pids.insert(spare);
    {
        PluginInstance instance(module);
        RenderOptions options = offline;
        int killed = 0;
        size_t kill_call = 0, calls = 0;
        options.after_block = [&](PluginInstance& p, uint64_t stream_time) {
            ++calls;
            sostenuto_stats st{};
            if (killed == 0 && stream_time >= static_cast<uint64_t>(kRate) && p.stats(st) && st.engine_pid > 0) {
                killed = st.engine_pid;
                ::kill(killed, SIGKILL);
                kill_call = calls;
            } else if (killed != 0 && p.stats(st) && st.engine_pid > 0) {
                pids.insert(st.engine_pid);
            }
        };
        const RenderResult b = render(instance, midi, options);
        ASSERT_NE(killed, 0) << b.stats.last_error;
        const sostenuto_stats& st = b.stats;
        EXPECT_EQ(st.sessions_lost, 1u);
        EXPECT_EQ(st.session_recoveries, 1u) << st.last_error << "\n" << read_file(log);
        EXPECT_EQ(st.engine_launches, 0u) << "the spare took over: nothing to launch";
        EXPECT_EQ(st.engine_pid, spare) << read_file(log);
        EXPECT_EQ(st.offline_timeouts, 0u);
        EXPECT_GE(st.offline_waits, 1u);
        EXPECT_GE(st.events_resent, 4u) << "the pedal and the notes it holds";
        const size_t before_kill = static_cast<size_t>(b.process_stream_times[kill_call - 1]) - b.latency;  // aligned
        for (size_t i = 0; i < before_kill; ++i)
            ASSERT_EQ(b.audio[0][i], expected[0][i]) << "before the kill the bounce is the render; sample " << i;
        double energy = 0;
        for (size_t i = before_kill; i < b.audio[0].size(); ++i) energy += static_cast<double>(b.audio[0][i]) * b.audio[0][i];
        EXPECT_GT(energy, 0.0) << "the notes held at the kill sound again";
        std::printf("[ bounce ] killed at stream time %.3f s: %zu samples before it equal the render; %llu offline waits, "
                    "%llu events re-sent\n",
                    (before_kill + b.latency) / kRate, before_kill, static_cast<unsigned long long>(st.offline_waits),
                    static_cast<unsigned long long>(st.events_resent));
    }

    // A realtime render through the engine that took over; kill it at 1 s,
    // once its own spare is warm.
    const int serving = spare;
    spare = wait_for_warm_spare(log, serving, 60s);
    ASSERT_NE(spare, 0) << "the engine that took over keeps no warm spare\n" << read_file(log);
    pids.insert(spare);
    PluginInstance live(module);
    KillReport k;
    const RenderResult r = render_with_kill(live, held_performance(4.0), 1.0, k);
    pids.insert(k.engine_pids.begin(), k.engine_pids.end());
    print_timings("bundled engine killed at 1 s", r, k);
    ASSERT_NE(k.killed_pid, 0) << r.stats.last_error << "\n" << read_file(log);
    ASSERT_NE(k.recovered_call, 0u) << "no new session played: " << r.stats.last_error << "\n" << read_file(log);
    EXPECT_EQ(k.switches, 0u) << "a process() call slept or blocked";
    EXPECT_EQ(r.stats.sessions_lost, 1u);
    EXPECT_EQ(r.stats.session_recoveries, 1u);
    EXPECT_EQ(k.killed_pid, serving);
    EXPECT_EQ(r.stats.engine_launches, k.launches_at_kill) << "the spare took over: nothing to launch";
    EXPECT_EQ(r.stats.engine_pid, spare) << read_file(log);
    EXPECT_GT(r.stats.underrun_blocks, 0u);
    EXPECT_GE(r.stats.events_resent, 4u);
    // The held note sounds again after the recovery.
    const size_t recovered_at = static_cast<size_t>(r.process_stream_times[k.recovered_call - 1]);
    double energy = 0;
    for (size_t i = recovered_at; i < std::min(r.audio[0].size(), recovered_at + static_cast<size_t>(kRate)); ++i)
        energy += static_cast<double>(r.audio[0][i]) * r.audio[0][i];
    EXPECT_GT(energy, 0.0) << "silence after the recovery";
    std::printf("[ resume ] bundled engine: %.0f ms of stream from the kill to the new session's first block; %llu underrun blocks\n",
                1000.0 * static_cast<double>(r.process_stream_times[k.recovered_call - 1] - r.process_stream_times[k.kill_call - 1]) / kRate,
                static_cast<unsigned long long>(r.stats.underrun_blocks));
}

}  // namespace
}  // namespace sostenuto::host
