// The front end holds a ClockAdvance back when its block sends nothing else
// (issue #20, docs/idle.md): an idle instance wakes the pipe's thread and the
// engine once per clock interval, not once per block. Counts, not times.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "fake_engine.h"
#include "sostenuto/bridge/engine_supervisor.h"
#include "sostenuto/bridge/runtime_paths.h"

namespace sostenuto::bridge {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t capacity = 1u << 16;
constexpr std::uint32_t block = 128;

struct Session {
    testing::FakeEngine engine;
    EngineSupervisor supervisor;

    Session(std::uint32_t latency, std::uint32_t lookahead, std::uint32_t flags)
        : engine([=](const HelloMessage&) {
              WelcomeMessage welcome;
              welcome.total_latency_samples = latency;
              welcome.lookahead_samples = lookahead;
              welcome.ring_capacity_frames = capacity;
              welcome.model_name = "fake";
              welcome.model_version = "1";
              welcome.flags = flags;
              return testing::encode_to_vector(welcome);
          }) {
        EngineSupervisorConfig config;
        config.sample_rate = 48000;
        config.max_block_size = block;
        config.compute_slack_samples = latency - lookahead;
        config.instance_id = random_instance_id();
        config.ring_capacity_frames = capacity;
        config.socket_path = engine.socket_path();
        std::string error;
        EXPECT_TRUE(supervisor.start(config, error)) << error;
        EXPECT_TRUE(supervisor.wait_until_running(5s)) << supervisor.last_error();
    }

    // `blocks` blocks of 128 frames from stream time 0; a MIDI event in the blocks `with_event` says.
    void run(int blocks, const std::vector<int>& with_event = {}, ProcessMode mode = ProcessMode::realtime) {
        for (int b = 0; b < blocks; ++b) {
            const std::uint64_t s = static_cast<std::uint64_t>(b) * block;
            EngineBlockScope scope(supervisor, s);
            ASSERT_TRUE(scope.block().live);
            if (b == 0 && mode == ProcessMode::offline) supervisor.send_process_mode(mode, s);
            for (int e : with_event) {
                if (e != b) continue;
                const MidiEvent event{s + 5, 0x90, 60, 100};
                supervisor.send_events(&event, 1);
            }
            ASSERT_TRUE(supervisor.send_clock(s + block));
        }
        supervisor.stop();
        EXPECT_TRUE(engine.wait_for_eof());
    }

    std::vector<std::uint64_t> clocks() {
        std::vector<std::uint64_t> result;
        for (const auto& frame : engine.frames()) {
            if (frame.type != MessageType::clock_advance) continue;
            result.push_back(std::get<ClockAdvanceMessage>(decode_frame(frame.bytes.data(), frame.bytes.size()).message).stream_time);
        }
        return result;
    }
};

// Studio: D = L + S = 2400 + 2400; a clock may wait S / 4 = 600 samples, so one
// in five blocks of 128 sends its clock (the first block of a session always does).
TEST(ClockHold, AnIdleStudioSessionSendsAClockEveryQuarterOfItsSlack) {
    Session session(4800, 2400, 0);
    session.run(100);
    const auto clocks = session.clocks();
    EXPECT_EQ(clocks.size(), 20u);
    ASSERT_FALSE(clocks.empty());
    EXPECT_EQ(clocks.front(), block);
    for (std::size_t i = 1; i < clocks.size(); ++i) EXPECT_EQ(clocks[i] - clocks[i - 1], 5u * block);
    EXPECT_EQ(session.supervisor.clocks_held(), 80u);
}

// An engine that renders ahead (Welcome flag bit 1): every 20 ms, even with a
// slack of one block (live: D = S = 128 + 96).
TEST(ClockHold, AnEngineThatRendersAheadHearsTheClockEvery20Ms) {
    Session session(224, 0, welcome_flag_renders_ahead);
    session.run(375);  // one second
    const auto clocks = session.clocks();
    EXPECT_EQ(clocks.size(), 47u);  // the first block, then every 8th (1024 ≥ 960 samples)
    for (std::size_t i = 1; i < clocks.size(); ++i) EXPECT_EQ(clocks[i] - clocks[i - 1], 8u * block);
}

// Without the flag, a live slack of one block holds nothing back (S / 4 < a block).
TEST(ClockHold, AnEngineThatRendersOnlyToTheClockGetsEveryBlocksClockWhenTheSlackIsShort) {
    Session session(224, 0, 0);
    session.run(50);
    EXPECT_EQ(session.clocks().size(), 50u);
}

// A block that sends MIDI sends its clock at once (a note is never delayed), and so does every offline block.
TEST(ClockHold, BlocksWithEventsAndOfflineBlocksSendTheirClockAtOnce) {
    {
        Session session(4800, 2400, 0);
        session.run(40, {7, 8, 23});
        const auto clocks = session.clocks();
        for (std::uint64_t end : {8u * block, 9u * block, 24u * block})
            EXPECT_NE(std::find(clocks.begin(), clocks.end(), end), clocks.end()) << end;
    }
    {
        Session session(4800, 2400, welcome_flag_renders_ahead);
        session.run(40, {}, ProcessMode::offline);
        EXPECT_EQ(session.clocks().size(), 40u);
    }
}

}  // namespace
}  // namespace sostenuto::bridge
