// The pipe client against an in-test engine over a real Unix socket.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "fake_engine.h"
#include "sostenuto/bridge/pipe_client.h"

namespace sostenuto::bridge {
namespace {

using testing::encode_to_vector;
using testing::FakeEngine;
using testing::ReceivedFrame;

HelloMessage test_hello() {
    HelloMessage hello;
    hello.sample_rate = 48000;
    hello.max_block_size = 256;
    hello.compute_slack_samples = 512;
    hello.requested_lookahead_samples = 1024;
    hello.instance_id = 99;
    hello.shared_memory_name = "/sostenuto-pipe-test";
    return hello;
}

std::vector<std::uint8_t> welcome_for(const HelloMessage& hello) {
    WelcomeMessage welcome;
    welcome.lookahead_samples = hello.requested_lookahead_samples;
    welcome.total_latency_samples = hello.requested_lookahead_samples + hello.compute_slack_samples;
    welcome.ring_capacity_frames = 8192;
    welcome.model_name = "fixture";
    welcome.model_version = "0.1.0";
    welcome.flags = welcome_flag_untrained;
    return encode_to_vector(welcome);
}

TEST(PipeClient, HandshakeStreamAndGoodbye) {
    FakeEngine engine(welcome_for);
    PipeClient client;
    const PipeConnectResult connected = client.connect(engine.socket_path(), test_hello());
    ASSERT_TRUE(connected.ok) << connected.error;
    EXPECT_EQ(connected.welcome.total_latency_samples, 1536u);
    EXPECT_EQ(connected.welcome.lookahead_samples, 1024u);
    EXPECT_EQ(connected.welcome.model_name, "fixture");
    EXPECT_EQ(connected.welcome.flags & welcome_flag_untrained, welcome_flag_untrained);
    EXPECT_EQ(client.state(), PipeState::connected);
    EXPECT_EQ(client.accepted_latency_samples(), 1536u);

    // What the shim does per block: its events, then a clock advance.
    constexpr int blocks = 2000;
    for (int block = 0; block < blocks; ++block) {
        const std::uint64_t start = static_cast<std::uint64_t>(block) * 256;
        const MidiEvent events[2] = {{start + 3, 0x90, 60, 100}, {start + 200, 0x80, 60, 0}};
        ASSERT_TRUE(client.send(MidiEventsMessage{events, 2}));
        ASSERT_TRUE(client.send(ClockAdvanceMessage{start + 256}));
        if (block % 100 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ASSERT_TRUE(client.send(ParameterChangeMessage{blocks * 256, 3, 0.25f}));
    ASSERT_TRUE(client.send(TransportMessage{TransportKind::flush, blocks * 256}));
    ASSERT_TRUE(client.send(ProcessModeMessage{ProcessMode::offline, blocks * 256}));
    client.disconnect();
    EXPECT_EQ(client.state(), PipeState::disconnected);

    ASSERT_TRUE(engine.wait_for([](const std::vector<ReceivedFrame>& f) {
        return !f.empty() && f.back().type == MessageType::goodbye;
    }));
    const std::vector<ReceivedFrame> frames = engine.frames();
    ASSERT_EQ(frames.size(), 1u + 2u * blocks + 3u + 1u);
    EXPECT_EQ(frames.front().type, MessageType::hello);
    std::uint64_t last_clock = 0;
    for (int block = 0; block < blocks; ++block) {
        const ReceivedFrame& events = frames[1 + 2 * block];
        const ReceivedFrame& clock = frames[2 + 2 * block];
        ASSERT_EQ(events.type, MessageType::midi_events);
        ASSERT_EQ(clock.type, MessageType::clock_advance);
        const auto advance = std::get<ClockAdvanceMessage>(decode_frame(clock.bytes.data(), clock.bytes.size()).message);
        ASSERT_EQ(advance.stream_time, last_clock + 256);
        last_clock = advance.stream_time;
    }
    EXPECT_EQ(frames[frames.size() - 4].type, MessageType::parameter_change);
    EXPECT_EQ(frames[frames.size() - 3].type, MessageType::transport);
    EXPECT_EQ(frames[frames.size() - 2].type, MessageType::process_mode);
    EXPECT_EQ(client.dropped_messages(), 0u);
}

TEST(PipeClient, StatusAndErrorFromTheEngineReachTheAtomics) {
    FakeEngine engine(welcome_for);
    PipeClient client;
    ASSERT_TRUE(client.connect(engine.socket_path(), test_hello()).ok);
    engine.send(encode_to_vector(StatusMessage{4096, 3, 1}));
    engine.send(encode_to_vector(ErrorMessage{static_cast<std::uint16_t>(EngineErrorCode::overloaded), "slow"}));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (client.engine_errors_received() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(client.rendered_until(), 4096u);
    EXPECT_EQ(client.engine_underruns(), 3u);
    EXPECT_EQ(client.engine_late_events(), 1u);
    EXPECT_EQ(client.status_messages_received(), 1u);
    EXPECT_EQ(client.last_engine_error_code(), 5);
    EXPECT_EQ(client.last_engine_error_message(), "slow");
    EXPECT_EQ(client.state(), PipeState::connected);
}

TEST(PipeClient, EngineRefusalIsReportedByConnect) {
    FakeEngine engine([](const HelloMessage&) {
        return encode_to_vector(ErrorMessage{static_cast<std::uint16_t>(EngineErrorCode::model_unavailable),
                                             "no model at models/default"});
    });
    PipeClient client;
    const PipeConnectResult result = client.connect(engine.socket_path(), test_hello());
    EXPECT_FALSE(result.ok);
    EXPECT_NE(result.error.find("no model at models/default"), std::string::npos) << result.error;
    EXPECT_EQ(client.state(), PipeState::disconnected);
    EXPECT_FALSE(client.send(ClockAdvanceMessage{0}));
    EXPECT_EQ(client.dropped_messages(), 1u);
}

TEST(PipeClient, ProtocolViolationByTheEngineClosesTheConnection) {
    FakeEngine engine(welcome_for);
    PipeClient client;
    ASSERT_TRUE(client.connect(engine.socket_path(), test_hello()).ok);
    // Engine sends a plugin->engine message: valid bytes, wrong direction.
    engine.send(encode_to_vector(ClockAdvanceMessage{1}));
    EXPECT_TRUE(engine.wait_for_eof()) << "the plug-in must close the connection on a protocol error";
    EXPECT_EQ(client.state(), PipeState::failed);
    EXPECT_EQ(client.protocol_error(), ProtocolError::unexpected_message);
    EXPECT_FALSE(client.send(ClockAdvanceMessage{2}));
    client.disconnect();
}

TEST(PipeClient, MalformedBytesFromTheEngineCloseTheConnection) {
    FakeEngine engine(welcome_for);
    PipeClient client;
    ASSERT_TRUE(client.connect(engine.socket_path(), test_hello()).ok);
    engine.send({0x08, 0x00, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00});  // unknown type 0x0042
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (client.state() == PipeState::connected && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(client.state(), PipeState::failed);
    EXPECT_EQ(client.protocol_error(), ProtocolError::unknown_message_type);
    EXPECT_TRUE(engine.wait_for_eof()) << "the plug-in must close the connection on a protocol error";
}

TEST(PipeClient, EngineGoingAwayIsSeen) {
    FakeEngine engine(welcome_for);
    PipeClient client;
    ASSERT_TRUE(client.connect(engine.socket_path(), test_hello()).ok);
    engine.close_connection();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (client.state() == PipeState::connected && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(client.state(), PipeState::closed_by_engine);
}

TEST(PipeClient, NoEngineListeningFailsFast) {
    PipeClient client;
    const auto start = std::chrono::steady_clock::now();
    const PipeConnectResult result = client.connect("/tmp/sostenuto-no-such-dir/sostenuto-engine.sock", test_hello());
    EXPECT_FALSE(result.ok);
    EXPECT_NE(result.error.find("connecting to"), std::string::npos) << result.error;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(PipeClient, SilentEngineTimesOut) {
    FakeEngine engine([](const HelloMessage&) { return std::vector<std::uint8_t>{}; });
    PipeClient client;
    const PipeConnectResult result = client.connect(engine.socket_path(), test_hello(), std::chrono::milliseconds(100));
    EXPECT_FALSE(result.ok);
    EXPECT_NE(result.error.find("timed out"), std::string::npos) << result.error;
}

}  // namespace
}  // namespace sostenuto::bridge
