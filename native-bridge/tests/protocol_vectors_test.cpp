// Every committed vector, both ways: a well-formed one decodes to the fields
// its comments list and re-encodes to the same bytes; a malformed one is
// refused with the error it names, by the whole-frame decoder and by the
// incremental reader fed one byte at a time.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "protocol_reencode.h"
#include "protocol_vector.h"
#include "sostenuto/bridge/protocol.h"

namespace sostenuto::bridge {
namespace {

using testing::load_protocol_vector;
using testing::ProtocolVector;
using Fields = std::vector<std::pair<std::string, std::string>>;

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }
std::string hex_byte(std::uint8_t b) {
    char text[8];
    std::snprintf(text, sizeof text, "0x%02x", b);
    return text;
}
std::string number(float value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", static_cast<double>(value));
    return text;
}
std::string name(ProcessMode m) { return m == ProcessMode::realtime ? "realtime" : "offline"; }
std::string name(LatencyMode m) { return m == LatencyMode::live ? "live" : "studio"; }
std::string name(TransportKind) { return "flush"; }

// The decoded fields in the vectors' "# field:" notation.
struct FieldLister {
    Fields operator()(const HelloMessage& m) const {
        return {{"protocol_version", std::to_string(m.protocol_version)},
                {"sample_rate", std::to_string(m.sample_rate)},
                {"max_block_size", std::to_string(m.max_block_size)},
                {"process_mode", name(m.process_mode)},
                {"latency_mode", name(m.latency_mode)},
                {"requested_lookahead_samples", std::to_string(m.requested_lookahead_samples)},
                {"compute_slack_samples", std::to_string(m.compute_slack_samples)},
                {"instance_id", std::to_string(m.instance_id)},
                {"shared_memory_name", quoted(m.shared_memory_name)}};
    }
    Fields operator()(const DecodedMidiEventsMessage& m) const {
        Fields fields{{"count", std::to_string(m.events.size())}};
        for (std::size_t i = 0; i < m.events.size(); ++i) {
            const MidiEvent e = m.events[i];
            fields.emplace_back("event[" + std::to_string(i) + "]", std::to_string(e.stream_time) + " " +
                                                                        hex_byte(e.status) + " " + std::to_string(e.data1) +
                                                                        " " + std::to_string(e.data2));
        }
        return fields;
    }
    Fields operator()(const ClockAdvanceMessage& m) const { return {{"stream_time", std::to_string(m.stream_time)}}; }
    Fields operator()(const ParameterChangeMessage& m) const {
        return {{"stream_time", std::to_string(m.stream_time)},
                {"parameter_id", std::to_string(m.parameter_id)},
                {"value", number(m.value)}};
    }
    Fields operator()(const TransportMessage& m) const {
        return {{"kind", name(m.kind)}, {"stream_time", std::to_string(m.stream_time)}};
    }
    Fields operator()(const ProcessModeMessage& m) const {
        return {{"mode", name(m.mode)}, {"stream_time", std::to_string(m.stream_time)}};
    }
    Fields operator()(const GoodbyeMessage&) const { return {}; }
    Fields operator()(const WelcomeMessage& m) const {
        return {{"protocol_version", std::to_string(m.protocol_version)},
                {"total_latency_samples", std::to_string(m.total_latency_samples)},
                {"lookahead_samples", std::to_string(m.lookahead_samples)},
                {"ring_capacity_frames", std::to_string(m.ring_capacity_frames)},
                {"model_name", quoted(m.model_name)},
                {"model_version", quoted(m.model_version)},
                {"flags", std::to_string(m.flags)}};
    }
    Fields operator()(const StatusMessage& m) const {
        return {{"rendered_until", std::to_string(m.rendered_until)},
                {"underruns", std::to_string(m.underruns)},
                {"late_events", std::to_string(m.late_events)}};
    }
    Fields operator()(const ErrorMessage& m) const {
        return {{"code", std::to_string(m.code)}, {"message", quoted(m.message)}};
    }
};

// Encodes a decoded message again, through the public encoder (protocol_reencode.h).
std::vector<std::uint8_t> re_encode(const DecodedMessage& message) {
    std::vector<std::uint8_t> buffer;
    const EncodeResult result = testing::re_encode(message, buffer);
    EXPECT_TRUE(result.ok()) << to_string(result.error);
    return buffer;
}

class ProtocolVectorTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ProtocolVectorTest, DecodesAndReEncodesOrIsRefused) {
    const ProtocolVector vector = load_protocol_vector(GetParam());
    SCOPED_TRACE(vector.description);
    const DecodeResult decoded = decode_frame(vector.bytes.data(), vector.bytes.size());
    if (vector.expect_ok) {
        ASSERT_TRUE(decoded.ok()) << "refused with " << to_string(decoded.error);
        EXPECT_EQ(decoded.frame_size, vector.bytes.size()) << "one message per file";
        EXPECT_EQ(std::visit(FieldLister{}, decoded.message), vector.fields);
        EXPECT_EQ(re_encode(decoded.message), vector.bytes);
    } else {
        ASSERT_FALSE(decoded.ok()) << "a malformed vector was accepted";
        EXPECT_EQ(to_string(decoded.error), vector.expected_error);
    }
}

TEST_P(ProtocolVectorTest, IncrementalReaderFedOneByteAtATimeAgrees) {
    const ProtocolVector vector = load_protocol_vector(GetParam());
    SCOPED_TRACE(vector.description);
    ProtocolFrameReader reader;
    std::size_t fed = 0;
    for (; fed < vector.bytes.size() && reader.state() == ProtocolFrameReader::State::need_more; ++fed) {
        ASSERT_EQ(reader.push(&vector.bytes[fed], 1), 1u);
    }
    if (vector.expect_ok) {
        ASSERT_EQ(reader.state(), ProtocolFrameReader::State::frame_ready);
        EXPECT_EQ(fed, vector.bytes.size()) << "the frame must complete on its last byte, not before";
        const DecodeResult decoded = reader.decode_ready_frame();
        ASSERT_TRUE(decoded.ok()) << to_string(decoded.error);
        EXPECT_EQ(std::visit(FieldLister{}, decoded.message), vector.fields);
        return;
    }
    if (vector.expected_error == "truncated_frame") {
        // A stream is never "truncated": the reader just waits for more.
        EXPECT_EQ(reader.state(), ProtocolFrameReader::State::need_more);
        return;
    }
    if (reader.state() == ProtocolFrameReader::State::frame_ready) {
        const DecodeResult decoded = reader.decode_ready_frame();
        EXPECT_FALSE(decoded.ok());
        EXPECT_EQ(to_string(decoded.error), vector.expected_error);
    }
    EXPECT_EQ(reader.state(), ProtocolFrameReader::State::failed);
    EXPECT_EQ(to_string(reader.error()), vector.expected_error);
}

INSTANTIATE_TEST_SUITE_P(Vectors, ProtocolVectorTest, ::testing::ValuesIn(testing::protocol_vector_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(ProtocolVectors, CoverEveryMessageTypeAndEveryKindOfMalformation) {
    std::set<MessageType> well_formed_types;
    std::set<std::string> errors;
    for (const std::string& name : testing::protocol_vector_names()) {
        const ProtocolVector vector = load_protocol_vector(name);
        if (vector.expect_ok) {
            well_formed_types.insert(decode_frame(vector.bytes.data(), vector.bytes.size()).type);
        } else {
            errors.insert(vector.expected_error);
        }
    }
    EXPECT_EQ(well_formed_types.size(), 10u);
    for (const char* required : {"truncated_frame", "oversize_payload", "unknown_message_type", "bad_magic",
                                 "unsupported_version", "payload_too_short", "payload_too_long", "invalid_value",
                                 "invalid_utf8", "nonzero_reserved"}) {
        EXPECT_EQ(errors.count(required), 1u) << "no vector for " << required;
    }
}

// The engine's parameter ids: one list (engine_parameters.txt) for the C++
// enum and the C# engine's EngineParameters (EngineParameterVectorTests.cs).
TEST(ProtocolVectors, EngineParametersAreTheSharedList) {
    std::FILE* f = std::fopen((testing::protocol_vectors_directory() + "/engine_parameters.txt").c_str(), "r");
    ASSERT_NE(f, nullptr);
    std::vector<std::pair<std::uint32_t, std::string>> listed;
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
        unsigned id = 0;
        char name[128];
        if (line[0] != '#' && std::sscanf(line, "%u %127s", &id, name) == 2) listed.emplace_back(id, name);
    }
    std::fclose(f);
    const std::vector<std::pair<std::uint32_t, std::string>> declared = {
        {static_cast<std::uint32_t>(EngineParameter::temperature), "temperature"},
        {static_cast<std::uint32_t>(EngineParameter::latency_mode), "latency_mode"},
        {static_cast<std::uint32_t>(EngineParameter::lookahead_ms), "lookahead_ms"},
    };
    EXPECT_EQ(listed, declared);
    EXPECT_EQ(listed.size(), engine_parameter_count);
}

}  // namespace
}  // namespace sostenuto::bridge
