// The encoder's refusals and the frame reader on streams of several frames.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "sostenuto/bridge/protocol.h"

namespace sostenuto::bridge {
namespace {

HelloMessage valid_hello() {
    HelloMessage hello;
    hello.sample_rate = 48000;
    hello.max_block_size = 512;
    hello.compute_slack_samples = 256;
    hello.instance_id = 42;
    hello.shared_memory_name = "/sostenuto-test";
    return hello;
}

TEST(ProtocolEncoder, RefusesABufferTooSmallWithoutWritingToIt) {
    std::uint8_t buffer[24] = {};
    const EncodeResult result = encode_message(ParameterChangeMessage{1, 2, 0.5f}, buffer, 23);  // needs 8 + 16
    EXPECT_EQ(result.error, ProtocolError::buffer_too_small);
    EXPECT_EQ(result.size, 0u);
    for (std::uint8_t b : buffer) EXPECT_EQ(b, 0);
    EXPECT_EQ(encode_message(ParameterChangeMessage{1, 2, 0.5f}, buffer, 24).size, 24u);
}

TEST(ProtocolEncoder, RefusesWhatTheDecoderWouldRefuse) {
    std::vector<std::uint8_t> buffer(max_frame_size);
    HelloMessage hello = valid_hello();
    hello.shared_memory_name = "no-leading-slash";
    EXPECT_EQ(encode_message(hello, buffer.data(), buffer.size()).error, ProtocolError::invalid_value);
    hello = valid_hello();
    hello.sample_rate = 0;
    EXPECT_EQ(encode_message(hello, buffer.data(), buffer.size()).error, ProtocolError::invalid_value);
    hello = valid_hello();
    hello.protocol_version = 2;
    EXPECT_EQ(encode_message(hello, buffer.data(), buffer.size()).error, ProtocolError::unsupported_version);

    EXPECT_EQ(encode_message(ParameterChangeMessage{0, 1, NAN}, buffer.data(), buffer.size()).error,
              ProtocolError::invalid_value);
    const MidiEvent system_message{0, 0xF8, 0, 0};
    EXPECT_EQ(encode_message(MidiEventsMessage{&system_message, 1}, buffer.data(), buffer.size()).error,
              ProtocolError::invalid_value);
    WelcomeMessage welcome;
    welcome.total_latency_samples = 10;
    welcome.lookahead_samples = 11;
    EXPECT_EQ(encode_message(welcome, buffer.data(), buffer.size()).error, ProtocolError::invalid_value);
    EXPECT_EQ(encode_message(ErrorMessage{1, "\xff"}, buffer.data(), buffer.size()).error, ProtocolError::invalid_utf8);
}

TEST(ProtocolEncoder, MidiEventsFillAtMostOneMaximumPayload) {
    std::vector<MidiEvent> events(max_midi_events_per_message + 1, MidiEvent{0, 0x90, 60, 1});
    std::vector<std::uint8_t> buffer(max_frame_size);
    const EncodeResult most = encode_message(MidiEventsMessage{events.data(), max_midi_events_per_message},
                                             buffer.data(), buffer.size());
    ASSERT_TRUE(most.ok());
    EXPECT_LE(most.size, max_frame_size);
    const DecodeResult decoded = decode_frame(buffer.data(), most.size);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(std::get<DecodedMidiEventsMessage>(decoded.message).events.size(), max_midi_events_per_message);
    EXPECT_EQ(encode_message(MidiEventsMessage{events.data(), events.size()}, buffer.data(), buffer.size()).error,
              ProtocolError::oversize_payload);
}

TEST(ProtocolEncoder, EncodedSizeIsExact) {
    std::vector<std::uint8_t> buffer(max_frame_size);
    const HelloMessage hello = valid_hello();
    EXPECT_EQ(encode_message(hello, buffer.data(), buffer.size()).size, encoded_size(hello));
    const ErrorMessage error{3, "ring"};
    EXPECT_EQ(encode_message(error, buffer.data(), buffer.size()).size, encoded_size(error));
    EXPECT_TRUE(encode_message(hello, buffer.data(), encoded_size(hello)).ok());
}

// A stream of mixed frames, cut at random places, comes out frame by frame.
TEST(ProtocolFrameReader, ReassemblesAStreamCutAnywhere) {
    std::vector<std::uint8_t> stream;
    std::vector<std::uint8_t> frame(max_frame_size);
    auto append = [&](const EncodeResult& r) {
        ASSERT_TRUE(r.ok());
        stream.insert(stream.end(), frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(r.size));
    };
    const HelloMessage hello = valid_hello();
    append(encode_message(hello, frame.data(), frame.size()));
    std::vector<MidiEvent> events;
    for (std::uint64_t t = 0; t < 300; ++t) events.push_back({t, 0x90, static_cast<std::uint8_t>(t % 128), 64});
    for (std::uint64_t block = 0; block < 50; ++block) {
        append(encode_message(MidiEventsMessage{events.data(), static_cast<std::size_t>(block * 6)}, frame.data(), frame.size()));
        append(encode_message(ClockAdvanceMessage{block * 512}, frame.data(), frame.size()));
    }
    append(encode_message(GoodbyeMessage{}, frame.data(), frame.size()));

    std::mt19937 random(1234);
    for (int round = 0; round < 20; ++round) {
        ProtocolFrameReader reader;
        std::vector<MessageType> types;
        std::size_t offset = 0;
        while (offset < stream.size()) {
            const std::size_t piece = std::min<std::size_t>(stream.size() - offset, 1 + random() % 700);
            std::size_t taken_in_piece = 0;
            while (taken_in_piece < piece) {
                taken_in_piece += reader.push(stream.data() + offset + taken_in_piece, piece - taken_in_piece);
                ASSERT_NE(reader.state(), ProtocolFrameReader::State::failed);
                if (reader.state() == ProtocolFrameReader::State::frame_ready) {
                    const DecodeResult decoded = reader.decode_ready_frame();
                    ASSERT_TRUE(decoded.ok()) << to_string(decoded.error);
                    types.push_back(decoded.type);
                    reader.next_frame();
                }
            }
            offset += piece;
        }
        ASSERT_EQ(types.size(), 1u + 100u + 1u);
        EXPECT_EQ(types.front(), MessageType::hello);
        EXPECT_EQ(types[1], MessageType::midi_events);
        EXPECT_EQ(types[2], MessageType::clock_advance);
        EXPECT_EQ(types.back(), MessageType::goodbye);
        EXPECT_EQ(reader.state(), ProtocolFrameReader::State::need_more);
    }
}

TEST(ProtocolFrameReader, RefusesAnOversizeHeaderWithoutWaitingForThePayload) {
    ProtocolFrameReader reader;
    const std::uint8_t header[8] = {0x00, 0x00, 0x00, 0x10, 0x02, 0x00, 0x00, 0x00};  // 256 MiB
    EXPECT_EQ(reader.push(header, sizeof header), sizeof header);
    EXPECT_EQ(reader.state(), ProtocolFrameReader::State::failed);
    EXPECT_EQ(reader.error(), ProtocolError::oversize_payload);
    // A failed stream takes nothing more, even after next_frame().
    reader.next_frame();
    EXPECT_EQ(reader.push(header, sizeof header), 0u);
    reader.reset();
    EXPECT_EQ(reader.state(), ProtocolFrameReader::State::need_more);
}

TEST(ProtocolFrameReader, StopsTakingBytesAtTheEndOfAFrame) {
    std::uint8_t two_frames[32];
    const std::size_t first = encode_message(ClockAdvanceMessage{1}, two_frames, 16).size;
    const std::size_t second = encode_message(ClockAdvanceMessage{2}, two_frames + first, 16).size;
    ProtocolFrameReader reader;
    EXPECT_EQ(reader.push(two_frames, first + second), first);
    ASSERT_EQ(reader.state(), ProtocolFrameReader::State::frame_ready);
    EXPECT_EQ(std::get<ClockAdvanceMessage>(reader.decode_ready_frame().message).stream_time, 1u);
    reader.next_frame();
    EXPECT_EQ(reader.push(two_frames + first, second), second);
    EXPECT_EQ(std::get<ClockAdvanceMessage>(reader.decode_ready_frame().message).stream_time, 2u);
}

TEST(ProtocolMessages, DirectionsFollowTheTypeNumbers) {
    EXPECT_EQ(direction_of(MessageType::goodbye), Direction::plugin_to_engine);
    EXPECT_EQ(direction_of(MessageType::welcome), Direction::engine_to_plugin);
    EXPECT_FALSE(is_known_message_type(0));
    EXPECT_FALSE(is_known_message_type(0x0104));
}

}  // namespace
}  // namespace sostenuto::bridge
