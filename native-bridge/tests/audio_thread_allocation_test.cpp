// The audio thread's paths make no heap allocation: PipeClient::send for every
// message it sends, the ring consumer's read, and EngineSupervisor's audio
// side, also while the engine is killed and a new session starts.
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include <signal.h>

#include <atomic>
#include <thread>

#include "allocation_counter.h"
#include "engine_test_support.h"
#include "fake_engine.h"
#include "sostenuto/bridge/audio_ring.h"
#include "sostenuto/bridge/engine_supervisor.h"
#include "sostenuto/bridge/pipe_client.h"

namespace sostenuto::bridge {
namespace {

using testing::AllocationCountingScope;

// Keeps the optimiser from proving an allocation unused and removing it.
void keep(void* pointer) { asm volatile("" : : "g"(pointer) : "memory"); }

TEST(AllocationCounter, SeesAnAllocationInScopeOnly) {
    std::vector<int>* outside = new std::vector<int>(10);  // not counted: no scope
    AllocationCountingScope scope;
    EXPECT_EQ(scope.allocations(), 0u);
    std::string* text = new std::string(100, 'x');  // the string and its buffer
    void* raw = std::malloc(16);
    keep(text);
    keep(raw);
    EXPECT_EQ(scope.allocations(), 3u);
    std::free(raw);
    delete text;
    delete outside;
}

TEST(AudioThread, PipeClientSendPathDoesNotAllocate) {
    testing::FakeEngine engine([](const HelloMessage&) {
        WelcomeMessage welcome;
        welcome.total_latency_samples = 512;
        welcome.ring_capacity_frames = 8192;
        return testing::encode_to_vector(welcome);
    });
    PipeClient client;
    HelloMessage hello;
    hello.sample_rate = 48000;
    hello.max_block_size = 128;
    hello.compute_slack_samples = 512;
    hello.shared_memory_name = "/sostenuto-allocation-test";
    ASSERT_TRUE(client.connect(engine.socket_path(), hello).ok);

    MidiEvent events[64];
    std::size_t allocations = 0;
    {
        AllocationCountingScope scope;
        for (std::uint64_t block = 0; block < 2000; ++block) {
            const std::uint64_t start = block * 128;
            for (std::size_t i = 0; i < 64; ++i) events[i] = {start + i, 0x90, static_cast<std::uint8_t>(i), 100};
            client.send(MidiEventsMessage{events, 64});
            client.send(ParameterChangeMessage{start + 5, 1, 0.5f});
            if (block == 1000) client.send(TransportMessage{TransportKind::flush, start});
            if (block == 1500) client.send(ProcessModeMessage{ProcessMode::offline, start});
            client.send(ClockAdvanceMessage{start + 128});
            if (block % 50 == 0) ::usleep(100);  // let the I/O thread sleep, so wake-ups happen too
        }
        allocations = scope.allocations();
    }
    EXPECT_EQ(allocations, 0u);
    EXPECT_EQ(client.state(), PipeState::connected);
    client.disconnect();
    EXPECT_TRUE(engine.wait_for([](const auto& frames) {
        return !frames.empty() && frames.back().type == MessageType::goodbye;
    }));
    EXPECT_EQ(engine.frames().size(), 1u + 2000u * 3u + 2u + 1u - client.dropped_messages());
}

TEST(AudioThread, RingReadDoesNotAllocate) {
    std::string error;
    auto ring = SharedAudioRing::create("/sostenuto-allocation-test-" + std::to_string(::getpid()), 2, 1024, error);
    ASSERT_TRUE(ring) << error;
    AudioRingProducer producer(*ring);
    AudioRingConsumer consumer(*ring);
    std::vector<float> left(600, 0.5f), right(600, -0.5f);
    const float* in[2] = {left.data(), right.data()};
    float* out[2] = {left.data(), right.data()};
    std::size_t allocations = 0;
    {
        AllocationCountingScope scope;
        std::uint64_t render_time = 0;
        for (int block = 0; block < 1000; ++block) {
            producer.write(in, 256);
            consumer.read(render_time, out, 256);
            render_time += 256;
        }
        allocations = scope.allocations();
    }
    EXPECT_EQ(allocations, 0u);
}

TEST(AudioThread, EngineSupervisorAudioSideDoesNotAllocateThroughARelaunch) {
    using namespace std::chrono_literals;
    testing::TemporaryDirectory dir;
    EngineSupervisorConfig config;
    config.max_block_size = 256;
    config.compute_slack_samples = 512;
    config.instance_id = testing::random_instance_id();
    config.ring_capacity_frames = 1u << 14;
    config.socket_path = dir / "sostenuto-engine.sock";
    config.engine = testing::fake_engine_command();
    config.launch.idle_exit_seconds = 10;
    config.min_retry_delay = 20ms;
    EngineSupervisor supervisor;
    std::string error;
    ASSERT_TRUE(supervisor.start(config, error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(10s)) << supervisor.last_error();

    std::atomic<bool> stop{false};
    std::atomic<std::size_t> allocations{0};
    std::atomic<std::uint64_t> live_blocks{0};
    std::thread audio([&] {
        std::vector<float> left(256), right(256);
        float* out[2] = {left.data(), right.data()};
        MidiEvent events[8];
        std::uint64_t stream_time = 0;
        AllocationCountingScope scope;
        while (!stop.load()) {
            const EngineBlock block = supervisor.begin_block(stream_time);
            for (std::size_t i = 0; i < 8; ++i) events[i] = {stream_time + i, 0x90, static_cast<std::uint8_t>(60 + i), 90};
            supervisor.send_events(events, 8);
            supervisor.send_parameter(stream_time, 1, 0.25f);
            if (block.new_session) supervisor.send_transport_flush(stream_time);
            supervisor.send_clock(stream_time + 256);
            supervisor.read_audio(stream_time, out, 256);
            supervisor.available_until();
            supervisor.state();
            supervisor.counters();
            supervisor.end_block();
            if (block.live) live_blocks.fetch_add(1);
            stream_time += 256;
            allocations.store(scope.allocations());
            ::usleep(1000);
        }
    });
    ASSERT_TRUE(testing::wait_until([&] { return live_blocks.load() > 50; }, 10s));
    const int engine = supervisor.engine_pid();
    ASSERT_EQ(::kill(engine, SIGKILL), 0);
    ASSERT_TRUE(testing::wait_until([&] { return supervisor.epoch() >= 2 && supervisor.state() == EngineState::running; }, 15s))
        << supervisor.last_error();
    const std::uint64_t before = live_blocks.load();
    EXPECT_TRUE(testing::wait_until([&] { return live_blocks.load() > before + 50; }, 10s));
    stop.store(true);
    audio.join();
    EXPECT_EQ(allocations.load(), 0u);
    const int second = supervisor.engine_pid();
    supervisor.stop();
    testing::end_process(second);
}

}  // namespace
}  // namespace sostenuto::bridge
