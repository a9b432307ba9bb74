// No heap allocation on the audio thread: malloc and operator new are
// replaced for this executable (allocation_counter.cpp) and counted only on
// the test thread, only inside process() calls - through the real bundle
// (without an engine and with the fake engine behind native-bridge) and
// through the shim's code with a mock link (underrun fades, offline waits).
#include <gtest/gtest.h>

#include <signal.h>

#include <functional>
#include <random>
#include <thread>

#include "tests/allocation_counter.h"  // native-bridge/tests
#include "tests/engine_test_support.h"
#include "fake_engine.h"
#include "mock_engine.h"
#include "plugin_host.h"
#include "test_support.h"

extern "C" void* GetPluginFactory();

namespace sostenuto::test {
namespace {

using host::PluginInstance;
using host::PluginModule;

struct Workload {
    int blocks = 2000;
    int32_t max_block = 512;
    bool offline = false;
    bool switch_modes = false;
    bool recording = false;  // record on and off while playing (Auto's path switches)
    // Called before each block, outside the counted region (a test's hook: kill the engine, wait).
    std::function<void(int block, PluginInstance&)> between;
};

// Drives `plugin` through a busy mix of blocks; returns allocations counted inside process().
std::size_t drive(PluginInstance& plugin, const Workload& w) {
    EXPECT_EQ(plugin.setup(48000, w.max_block, w.offline ? V3_OFFLINE : V3_REALTIME), V3_OK);
    EXPECT_EQ(plugin.activate(), V3_OK);
    v3_param_id sustain = 0, bend = 0, notes_off = 0;
    EXPECT_TRUE(plugin.midi_assignment(0, 64, sustain));
    EXPECT_TRUE(plugin.midi_assignment(3, 129, bend));
    EXPECT_TRUE(plugin.midi_assignment(0, 123, notes_off));
    std::vector<float> left(static_cast<size_t>(w.max_block)), right(static_cast<size_t>(w.max_block));
    v3_process_context ctx{};
    ctx.sample_rate = 48000;
    std::mt19937 rng(42);
    int64_t position = 0;
    std::size_t allocations = 0;
    for (int block = 0; block < w.blocks; ++block) {
        const int32_t n = block % 11 == 5 ? 0 : static_cast<int32_t>(1 + rng() % static_cast<uint32_t>(w.max_block));
        auto& events = plugin.input_events();
        auto& params = plugin.input_params();
        events.clear();
        params.clear();
        for (int k = 0; k < 6 && n > 0; ++k) {
            const int32_t offset = static_cast<int32_t>(rng() % static_cast<uint32_t>(n));
            const int16_t pitch = static_cast<int16_t>(40 + rng() % 40);
            events.add(k % 2 ? note_off(0, pitch, 0.3f, offset) : note_on(0, pitch, 0.7f, offset));
        }
        if (n > 0) {
            params.add(0, 0, 0.7);  // gain ramp
            params.add(0, n - 1, block % 2 ? 0.8 : 0.6);
            params.add(1, n / 2, 0.5);  // temperature
            params.add(sustain, n / 3, block % 3 ? 1.0 : 0.0);
            params.add(bend, n / 4, (rng() % 1000) / 1000.0);
            if (block % 97 == 0) params.add(notes_off, 0, 0.0);
        }
        const bool playing = (block / 50) % 2 == 0;
        if (block % 70 == 0) position += 100000;  // a jump
        ctx.state = playing ? V3_PROCESS_CTX_PLAYING : 0;
        if (w.recording && playing && (block / 20) % 2 == 0) ctx.state |= V3_PROCESS_CTX_RECORDING;
        ctx.project_time_in_samples = position;
        PluginInstance::Block b;
        b.frames = n;
        b.process_mode = w.offline ? V3_OFFLINE : (w.switch_modes && block % 200 > 150 ? V3_OFFLINE : V3_REALTIME);
        b.outputs[0] = left.data();
        b.outputs[1] = right.data();
        b.context = &ctx;
        if (w.between) w.between(block, plugin);
        v3_result r;
        {
            bridge::testing::AllocationCountingScope counting;
            r = plugin.process(b);
            allocations += counting.allocations();
        }
        EXPECT_EQ(r, V3_OK);
        if (playing) position += n;
    }
    plugin.deactivate();
    return allocations;
}

TEST(AllocationCounter, SeesAllocationsMadeInsideTheDlopenedBundle) {
    PluginModule module(SOSTENUTO_VST3_BUNDLE);
    PluginInstance plugin(module);
    host::MemoryStream stream;
    stream.heap = false;
    stream.data.reserve(4096);  // the host side allocates nothing below
    std::size_t counted = 0;
    {
        bridge::testing::AllocationCountingScope counting;
        // getState builds its record in std::vectors inside the .so.
        host::vtable_of<v3_component_cpp>(plugin.component())
            ->comp.get_state(plugin.component(), static_cast<v3_bstream**>(stream.as_interface()));
        counted = counting.allocations();
    }
    EXPECT_FALSE(stream.data.empty());
    EXPECT_GE(counted, 2u);
}

TEST(AudioThread, BundleWithoutEngineDoesNotAllocate) {
    ::setenv("SOSTENUTO_ENGINE_SOCKET", "/tmp/sostenuto-tests-no-engine/none.sock", 1);
    never_start_an_engine();
    PluginModule module(SOSTENUTO_VST3_BUNDLE);
    PluginInstance plugin(module);
    Workload w;
    w.switch_modes = true;
    EXPECT_EQ(drive(plugin, w), 0u);
}

TEST(AudioThread, BundleWithTheFakeEngineDoesNotAllocateRealtime) {
    host::FakeEngine engine({});
    ::setenv("SOSTENUTO_ENGINE_SOCKET", engine.socket_path().c_str(), 1);
    never_start_an_engine();
    PluginModule module(SOSTENUTO_VST3_BUNDLE);
    PluginInstance plugin(module);
    Workload w;
    w.switch_modes = true;
    EXPECT_EQ(drive(plugin, w), 0u);
    sostenuto_stats s{};
    ASSERT_TRUE(plugin.stats(s));
    EXPECT_EQ(s.sessions, 1u);
    EXPECT_GT(s.events_sent, 1000u);
}

TEST(AudioThread, BundleWithTheFakeEngineDoesNotAllocateOffline) {
    host::FakeEngine engine({});
    ::setenv("SOSTENUTO_ENGINE_SOCKET", engine.socket_path().c_str(), 1);
    never_start_an_engine();
    PluginModule module(SOSTENUTO_VST3_BUNDLE);
    PluginInstance plugin(module);
    Workload w;
    w.offline = true;
    w.blocks = 600;
    EXPECT_EQ(drive(plugin, w), 0u);
    sostenuto_stats s{};
    ASSERT_TRUE(plugin.stats(s));
    EXPECT_GT(s.offline_waits, 0u);
    EXPECT_EQ(s.offline_timeouts, 0u);
}

// The engine process (native-bridge's fake, started by the plug-in itself) is
// killed mid-stream; the supervisor starts another, and the new session is
// told the held notes and the pedal: none of it allocates on the audio thread.
TEST(AudioThread, BundleThroughAnEngineKillAndRestartDoesNotAllocate) {
    bridge::testing::TemporaryDirectory dir("sostenuto-vst3-alloc");
    const std::string log = dir / "sostenuto-engine.log";
    struct Cleanup {
        std::string log;
        ~Cleanup() {
            for (int pid : bridge::testing::fake_engine_pids(log)) bridge::testing::end_process(pid);
        }
    } cleanup{log};
    bridge::testing::ScopedEnvironment socket("SOSTENUTO_ENGINE_SOCKET", (dir / "sostenuto-engine.sock").c_str());
    bridge::testing::ScopedEnvironment engine("SOSTENUTO_ENGINE", SOSTENUTO_FAKE_ENGINE_PATH);
    PluginModule module(SOSTENUTO_VST3_BUNDLE);
    PluginInstance plugin(module);
    Workload w;
    w.blocks = 1500;
    int killed = 0;
    bool recovered = false;
    w.between = [&](int block, PluginInstance& p) {
        sostenuto_stats s{};
        if (block == 300) {
            ASSERT_TRUE(p.stats(s));
            ASSERT_GT(s.engine_pid, 0) << s.last_error;
            killed = s.engine_pid;
            ::kill(killed, SIGKILL);
        } else if (block > 300 && !recovered) {
            // Paced until the new session plays, so that it does play within the workload.
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            recovered = p.stats(s) && s.session_recoveries > 0;
        }
    };
    EXPECT_EQ(drive(plugin, w), 0u);
    sostenuto_stats s{};
    ASSERT_TRUE(plugin.stats(s));
    EXPECT_TRUE(recovered) << bridge::testing::read_file(log);
    EXPECT_GE(s.sessions, 2u);
    EXPECT_GE(s.engine_launches, 2u);  // by either link (Auto, the default, has two)
    EXPECT_EQ(s.sessions_lost, 1u);
    EXPECT_GT(s.underrun_blocks, 0u);
}

// Auto with its two sessions: every path switch (transport start and stop,
// record on and off, jumps, offline blocks between realtime ones) and the
// live session's mix allocate nothing.
TEST(AudioThread, AutoPathSwitchesDoNotAllocate) {
    MockEngine studio, live;
    studio.total_latency = 4000;
    live.total_latency = 300;
    vst3::engine_link_factory() = [&] { return std::make_unique<MockLink>(studio); };
    vst3::live_engine_link_factory() = [&] { return std::make_unique<MockLink>(live); };
    PluginModule module(GetPluginFactory());
    {
        PluginInstance plugin(module);
        Workload w;
        w.recording = true;
        w.switch_modes = true;
        EXPECT_EQ(drive(plugin, w), 0u);
    }
    vst3::live_engine_link_factory() = nullptr;
    EXPECT_GT(live.of_kind(Sent::events).size(), 1000u) << "the live session was played";
    EXPECT_GT(studio.of_kind(Sent::events).size(), 1000u) << "and the studio one";
}

TEST(AudioThread, UnderrunFadesAndOfflineWaitsDoNotAllocate) {
    MockEngine engine;
    engine.total_latency = 300;
    vst3::engine_link_factory() = [&] { return std::make_unique<MockLink>(engine); };
    vst3::live_engine_link_factory() = nullptr;  // one link: tests that want Auto's live link set it
    PluginModule module(GetPluginFactory());
    {
        PluginInstance plugin(module);
        engine.published = 20000;  // then the "engine" falls behind: underruns, fades
        Workload w;
        w.between = [&](int block, PluginInstance&) {  // and dies, and is replaced (held notes re-sent)
            if (block % 400 == 100) engine.kill();
            if (block % 400 == 150) engine.welcome();
        };
        EXPECT_EQ(drive(plugin, w), 0u);
        sostenuto_stats s{};
        ASSERT_TRUE(plugin.stats(s));
        EXPECT_GT(s.underrun_blocks, 100u);
        EXPECT_GE(s.session_recoveries, 4u);
        EXPECT_GT(s.events_resent, 0u);
    }
    {
        PluginInstance plugin(module);
        engine.published = 0;
        std::atomic<bool> done{false};
        std::thread producer([&] {  // publishes a little at a time: the shim sleeps and polls
            while (!done) {
                engine.published = engine.published.load() + 2048;
                std::this_thread::sleep_for(std::chrono::microseconds(300));
            }
        });
        Workload w;
        w.offline = true;
        w.blocks = 300;
        EXPECT_EQ(drive(plugin, w), 0u);
        done = true;
        producer.join();
        sostenuto_stats s{};
        ASSERT_TRUE(plugin.stats(s));
        EXPECT_GT(s.offline_waits, 0u);
    }
}

}  // namespace
}  // namespace sostenuto::test
