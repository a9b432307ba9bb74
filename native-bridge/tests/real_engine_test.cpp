// End-to-end tests against the real C# engine (`sostenuto serve`, run as
// `dotnet sostenuto.dll`): the supervisor launches it, handshakes, streams
// MIDI and clock, reads the engine's audio from the ring; then the engine is
// killed with SIGKILL and either the supervisor launches another (no spare)
// or the engine's warm spare takes over, and the stream resumes.
//
// Skipped (with the reason) when the engine is not built:
//   dotnet build Plugin.sln -c Release
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_support.h"
#include "sostenuto/bridge/engine_launcher.h"
#include "sostenuto/bridge/engine_supervisor.h"

namespace sostenuto::bridge {
namespace {

using namespace std::chrono_literals;
using testing::end_process;
using testing::read_file;
using testing::TemporaryDirectory;
using testing::wait_until;

constexpr std::uint32_t block_frames = 512;

struct StreamResult {
    std::size_t blocks = 0;
    std::size_t complete_blocks = 0;  // the whole block was in the ring
    std::size_t non_finite = 0;
    double energy = 0;  // sum of squares over the session's audio (after the latency)
    bool new_session_seen = false;
};

// Streams `blocks` blocks from `stream_time` on, with a note in the first
// blocks, reading as an offline host does (waiting for each block's audio).
StreamResult stream(EngineSupervisor& supervisor, std::uint64_t& stream_time, std::size_t blocks, std::uint8_t key) {
    StreamResult result;
    std::vector<float> left(block_frames), right(block_frames);
    float* out[2] = {left.data(), right.data()};
    for (std::size_t b = 0; b < blocks; ++b) {
        const EngineBlock block = supervisor.begin_block(stream_time);
        if (!block.live) {
            supervisor.end_block();
            break;
        }
        result.new_session_seen = result.new_session_seen || block.new_session;
        if (b == 0) {
            const MidiEvent on[2] = {{stream_time + 10, 0x90, key, 100}, {stream_time + 20, 0x90, static_cast<std::uint8_t>(key + 4), 90}};
            supervisor.send_events(on, 2);
        }
        if (b == blocks / 2) {
            const MidiEvent off[2] = {{stream_time, 0x80, key, 0}, {stream_time, 0x80, static_cast<std::uint8_t>(key + 4), 0}};
            supervisor.send_events(off, 2);
        }
        supervisor.send_clock(stream_time + block_frames);
        const std::size_t valid = supervisor.read_audio_waiting(stream_time, out, block_frames, 30s);
        supervisor.end_block();
        ++result.blocks;
        if (valid == block_frames) ++result.complete_blocks;
        const std::int64_t first_render = static_cast<std::int64_t>(stream_time - block.epoch_start) -
                                          static_cast<std::int64_t>(block.total_latency_samples);
        for (std::size_t i = 0; i < block_frames; ++i) {
            if (!std::isfinite(left[i]) || !std::isfinite(right[i])) ++result.non_finite;
            if (first_render + static_cast<std::int64_t>(i) >= 0) result.energy += double(left[i]) * left[i] + double(right[i]) * right[i];
        }
        stream_time += block_frames;
    }
    return result;
}

// The engine command the plug-in would find when SOSTENUTO_ENGINE names the
// dll; nullopt (and the test skips) when the engine is not built.
std::optional<EngineCommand> real_engine() {
    const std::string dll = SOSTENUTO_ENGINE_DLL;
    struct stat info {};
    if (::stat(dll.c_str(), &info) != 0) return std::nullopt;
    EngineLocatorOptions locator;
    locator.getenv = [&](const char* name) -> const char* {
        return std::string(name) == engine_environment_variable ? dll.c_str() : std::getenv(name);
    };
    const EngineLocation location = locate_engine("", locator);
    EXPECT_TRUE(location.command) << location.error;
    return location.command;
}

// A supervisor's configuration for the real engine on a socket in `dir`
// (the tests differ in the idle exit and whether a spare is kept).
EngineSupervisorConfig real_engine_config(const EngineCommand& engine, const TemporaryDirectory& dir) {
    EngineSupervisorConfig config;
    config.sample_rate = 48000;
    config.max_block_size = block_frames;
    config.compute_slack_samples = 2048;
    config.instance_id = testing::random_instance_id();
    config.socket_path = dir / "sostenuto-engine.sock";
    config.engine = engine;
    config.launch_timeout = 60s;
    config.min_retry_delay = 50ms;
    return config;
}

// Ends every engine process a test played from (they would idle on).
struct EndEngines {
    std::vector<int> pids;
    ~EndEngines() {
        for (int pid : pids) end_process(pid);
    }
};

#define SKIP_WITHOUT_THE_ENGINE(location)                                                                          \
    if (!(location))                                                                                                \
    GTEST_SKIP() << "the C# engine is not built (" << SOSTENUTO_ENGINE_DLL                                          \
                 << " is missing); build it with `dotnet build Plugin.sln -c Release` to run this test"

TEST(RealEngine, LaunchStreamKillAndRecover) {
    const auto location = real_engine();
    SKIP_WITHOUT_THE_ENGINE(location);

    TemporaryDirectory dir("sostenuto-real-engine-test");
    const std::string log_path = dir / "sostenuto-engine.log";
    EndEngines engines;

    EngineSupervisorConfig config = real_engine_config(*location, dir);
    config.launch.idle_exit_seconds = 5;
    config.launch.keep_spare = false;  // the cold relaunch; the spare has its own test below
    EngineSupervisor supervisor;
    std::string error;
    ASSERT_TRUE(supervisor.start(config, error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(90s)) << supervisor.last_error() << "\n" << read_file(log_path);
    engines.pids.push_back(supervisor.engine_pid());
    ASSERT_TRUE(supervisor.welcome());
    std::printf("[ engine ] %s %s, latency %u samples, engine pid %d\n", supervisor.welcome()->model_name.c_str(),
                supervisor.welcome()->model_version.c_str(), supervisor.total_latency_samples(), supervisor.engine_pid());
    EXPECT_GE(supervisor.total_latency_samples(), config.compute_slack_samples);

    std::uint64_t stream_time = 0;
    const StreamResult first = stream(supervisor, stream_time, 100, 60);  // ~1 s
    EXPECT_TRUE(first.new_session_seen);
    EXPECT_EQ(first.blocks, 100u) << supervisor.last_error();
    EXPECT_EQ(first.complete_blocks, first.blocks);
    EXPECT_EQ(first.non_finite, 0u);
    EXPECT_GT(first.energy, 0.0) << "the engine rendered silence for two held notes";

    // Kill it mid-stream.
    const int killed = supervisor.engine_pid();
    ASSERT_EQ(::kill(killed, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return supervisor.state() != EngineState::running; }, 5s));
    // Meanwhile the audio thread plays silence and does not wait.
    {
        std::vector<float> left(block_frames, 1.0f), right(block_frames, 1.0f);
        float* out[2] = {left.data(), right.data()};
        const EngineBlock block = supervisor.begin_block(stream_time);
        EXPECT_FALSE(block.live);
        EXPECT_EQ(supervisor.read_audio(stream_time, out, block_frames), 0u);
        supervisor.end_block();
        EXPECT_EQ(left[0], 0.0f);
        stream_time += block_frames;
    }
    ASSERT_TRUE(wait_until([&] { return supervisor.epoch() >= 2 && supervisor.state() == EngineState::running; }, 90s))
        << supervisor.last_error() << "\n" << read_file(log_path);
    engines.pids.push_back(supervisor.engine_pid());
    EXPECT_NE(supervisor.engine_pid(), killed);

    const StreamResult second = stream(supervisor, stream_time, 100, 64);
    EXPECT_TRUE(second.new_session_seen);
    EXPECT_EQ(second.blocks, 100u) << supervisor.last_error();
    EXPECT_EQ(second.complete_blocks, second.blocks);
    EXPECT_EQ(second.non_finite, 0u);
    EXPECT_GT(second.energy, 0.0);
    std::printf("[ engine ] session 1: %zu blocks, energy %.4g; session 2 (engine pid %d): %zu blocks, energy %.4g\n",
                first.blocks, first.energy, supervisor.engine_pid(), second.blocks, second.energy);

    const EngineSupervisorCounters counters = supervisor.counters();
    EXPECT_EQ(counters.sessions, 2u);
    EXPECT_EQ(counters.sessions_lost, 1u);
    EXPECT_EQ(counters.engine_launches, 2u);
    supervisor.stop();
    EXPECT_TRUE(wait_until([&] { return read_file(log_path).find("closed (goodbye)") != std::string::npos; }, 5s))
        << read_file(log_path);
}

// `serve --spare` (what the plug-in's launcher asks for): a warm second
// engine takes over the socket when the first is killed, so the supervisor
// resumes without launching anything; and an engine that exits on purpose
// takes its spare with it, so nothing serves the socket after it.
TEST(RealEngine, AWarmSpareTakesOverAKilledEngineAndLeavesWithAnEngineThatExits) {
    const auto location = real_engine();
    SKIP_WITHOUT_THE_ENGINE(location);
    TemporaryDirectory dir("sostenuto-real-engine-spare");
    const std::string log_path = dir / "sostenuto-engine.log";
    EndEngines engines;

    EngineSupervisorConfig config = real_engine_config(*location, dir);
    const std::string socket_path = config.socket_path;
    config.launch.idle_exit_seconds = 30;
    EngineSupervisor supervisor;
    std::string error;
    ASSERT_TRUE(supervisor.start(config, error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(90s)) << supervisor.last_error() << "\n" << read_file(log_path);
    const int first = supervisor.engine_pid();
    engines.pids.push_back(first);
    std::uint64_t stream_time = 0;
    EXPECT_EQ(stream(supervisor, stream_time, 50, 60).complete_blocks, 50u);

    const int spare = testing::wait_for_warm_spare(log_path, first, 60s);
    ASSERT_NE(spare, 0) << "no warm spare\n" << read_file(log_path);
    engines.pids.push_back(spare);
    const auto killed_at = std::chrono::steady_clock::now();
    ASSERT_EQ(::kill(first, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return supervisor.epoch() >= 2 && supervisor.state() == EngineState::running; }, 60s))
        << supervisor.last_error() << "\n" << read_file(log_path);
    const double recovery_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killed_at).count();
    EXPECT_EQ(supervisor.engine_pid(), spare) << read_file(log_path);
    EXPECT_EQ(supervisor.counters().engine_launches, 1u) << "the spare took over: nothing to launch";
    const StreamResult after = stream(supervisor, stream_time, 50, 64);
    EXPECT_EQ(after.complete_blocks, 50u) << supervisor.last_error();
    EXPECT_GT(after.energy, 0.0);
    std::printf("[ spare ] engine %d killed; its spare %d in session %.0f ms later (the supervisor's view)\n", first, spare,
                recovery_ms);
    {
        const std::string text = read_file(log_path);
        std::istringstream lines(text.substr(std::min(text.size(), text.find("taking over"))));
        int shown = 0;
        for (std::string line; shown < 4 && std::getline(lines, line); ++shown) std::printf("[ spare ]   log: %s\n", line.c_str());
    }

    // An engine told to stop (SIGTERM) kills its spare before it lets the lock go.
    const int next_spare = testing::wait_for_warm_spare(log_path, spare, 60s);
    ASSERT_NE(next_spare, 0) << "the engine that took over keeps no warm spare\n" << read_file(log_path);
    engines.pids.push_back(next_spare);
    supervisor.stop();
    end_process(spare);
    EXPECT_TRUE(wait_until([&] { return !testing::process_alive(next_spare); }, 5s)) << "the spare outlived its engine";
    std::this_thread::sleep_for(300ms);
    EXPECT_FALSE(probe_engine(socket_path)) << "an engine serves the socket after its engine exited on purpose\n"
                                            << read_file(log_path);
}

}  // namespace
}  // namespace sostenuto::bridge
