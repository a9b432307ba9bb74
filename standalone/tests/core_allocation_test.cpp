// The standalone's audio path makes no heap allocation and never blocks:
// InstrumentCore's periods (MIDI in, events, clock, ring read, fades, the
// state re-sent to a new engine) counted with the interposed allocator of
// native-bridge/tests/allocation_counter.cpp and the thread's voluntary
// context switches, through an engine kill and relaunch. (The JACK tests run
// the same check inside sostenuto-jack's real process callback.)
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "allocation_counter.h"
#include "engine_test_support.h"
#include "instrument_core.h"
#include "sostenuto/bridge/engine_supervisor.h"

namespace sostenuto::standalone {
namespace {

using namespace std::chrono_literals;
using bridge::testing::AllocationCountingScope;

long voluntary_switches() {
    rusage usage{};
    ::getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_nvcsw;
}

TEST(AudioThread, InstrumentCoreDoesNotAllocateOrBlockThroughAnEngineRelaunch) {
    bridge::testing::TemporaryDirectory dir("sostenuto-jack-allocation-test");
    bridge::EngineSupervisorConfig config;
    config.max_block_size = 128;
    config.compute_slack_samples = 2048;
    config.instance_id = bridge::testing::random_instance_id();
    config.socket_path = dir / "sostenuto-engine.sock";
    config.engine = bridge::testing::fake_engine_command();
    config.launch.extra_arguments = {"--signal", "notes"};
    config.launch.idle_exit_seconds = 10;
    config.min_retry_delay = 20ms;
    bridge::EngineSupervisor supervisor;
    InstrumentCore core(supervisor);
    core.set_gain_db(-3.0);
    std::string error;
    ASSERT_TRUE(supervisor.start(config, error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(10s)) << supervisor.last_error();

    std::atomic<bool> stop{false};
    std::atomic<std::size_t> allocations{0};
    std::atomic<long> switches{0};
    std::atomic<std::uint64_t> periods{0};
    std::thread audio([&] {
        std::vector<float> left(128), right(128);
        const std::uint8_t pedal[] = {0xB0, 64, 127}, bend[] = {0xE0, 3, 70}, pressure[] = {0xD0, 40},
                           sysex[] = {0xF0, 1, 2, 0xF7}, clock[] = {0xF8}, junk[] = {0x40};
        std::uint8_t on[] = {0x90, 60, 100}, off[] = {0x80, 60, 0};
        std::uint64_t n = 0;
        while (!stop.load()) {
            const long before = voluntary_switches();
            std::size_t counted = 0;
            {
                AllocationCountingScope scope;
                core.begin_period(128, n * 128);
                if (n == 0) core.add_midi(0, pedal, sizeof pedal);
                on[1] = off[1] = static_cast<std::uint8_t>(40 + n % 40);
                core.add_midi(3, on, sizeof on);
                core.add_midi(64, bend, sizeof bend);
                core.add_midi(65, pressure, sizeof pressure);
                core.add_midi(66, sysex, sizeof sysex);
                core.add_midi(67, clock, sizeof clock);
                core.add_midi(68, junk, sizeof junk);
                if (n % 2) core.add_midi(100, off, sizeof off);
                core.end_period(left.data(), right.data());
                core.counters();
                counted = scope.allocations();
            }
            switches.fetch_add(voluntary_switches() - before);
            allocations.fetch_add(counted);
            periods.fetch_add(1);
            ++n;
            ::usleep(2000);
        }
    });
    ASSERT_TRUE(bridge::testing::wait_until([&] { return core.counters().sessions_started >= 1 && periods.load() > 100; }, 10s));
    const int engine = supervisor.engine_pid();
    ASSERT_EQ(::kill(engine, SIGKILL), 0);
    ASSERT_TRUE(bridge::testing::wait_until([&] { return core.counters().sessions_started >= 2; }, 15s))
        << supervisor.last_error();
    const std::uint64_t after = periods.load();
    ASSERT_TRUE(bridge::testing::wait_until([&] { return periods.load() > after + 100; }, 10s));
    stop.store(true);
    audio.join();
    const int second = supervisor.engine_pid();
    supervisor.stop();
    bridge::testing::end_process(second);

    EXPECT_EQ(allocations.load(), 0u);
    EXPECT_EQ(switches.load(), 0) << "the audio path blocked";
    const InstrumentCounters c = core.counters();
    EXPECT_GT(c.silent_periods, 0u);
    EXPECT_GT(c.midi_ignored, 0u);
    EXPECT_GT(c.midi_malformed, 0u);
}

}  // namespace
}  // namespace sostenuto::standalone
