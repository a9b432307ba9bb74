// Seeded mutation fuzzing of the C++ protocol decoder and frame reader over
// the shared vectors (issue 19): whatever the bytes, decoding returns a named
// error or a message that re-encodes to exactly the bytes it came from, and
// the incremental reader agrees with the whole-frame decoder.
#include <gtest/gtest.h>

#include <algorithm>

#include "fuzz_support.h"
#include "protocol_reencode.h"
#include "protocol_vector.h"
#include "sostenuto/bridge/protocol.h"

namespace sostenuto::bridge {
namespace {

TEST(ProtocolFuzz, DecoderAndReaderRefuseOnlyWithNamedErrorsAndRoundTrip) {
    std::vector<std::vector<std::uint8_t>> corpus;
    for (const auto& name : testing::protocol_vector_names()) corpus.push_back(testing::load_protocol_vector(name).bytes);
    sostenuto::testing::Mutator mutator(sostenuto::testing::fuzz_seed(), corpus);
    ProtocolFrameReader reader;
    sostenuto::testing::run_fuzz("protocol-decoder", 2000000, [&](std::uint64_t i) {
        const std::vector<std::uint8_t> input = mutator.next();
        const DecodeResult decoded = decode_frame(input.data(), input.size());
        if (decoded.ok()) {
            ASSERT_LE(decoded.frame_size, input.size()) << "input " << i << ": " << sostenuto::testing::hex(input);
            std::vector<std::uint8_t> encoded;
            const bool encoded_ok = testing::re_encode(decoded.message, encoded).ok();
            ASSERT_TRUE(encoded_ok) << "input " << i << " decoded but does not encode: " << sostenuto::testing::hex(input);
            ASSERT_TRUE(std::equal(encoded.begin(), encoded.end(), input.begin(), input.begin() + static_cast<long>(decoded.frame_size)) &&
                        encoded.size() == decoded.frame_size)
                << "input " << i << " re-encodes differently: " << sostenuto::testing::hex(input);
        } else {
            ASSERT_NE(to_string(decoded.error), std::string()) << "input " << i;
        }
        // The stream reader, fed the same bytes in random pieces, sees the same first frame.
        reader.reset();
        std::size_t at = 0;
        while (at < input.size() && reader.state() == ProtocolFrameReader::State::need_more)
            at += reader.push(input.data() + at, std::min(input.size() - at, 1 + mutator.below(64)));
        if (reader.state() == ProtocolFrameReader::State::frame_ready) {
            const DecodeResult streamed = reader.decode_ready_frame();
            ASSERT_EQ(streamed.error, decoded.error) << "input " << i << ": " << sostenuto::testing::hex(input);
        } else if (reader.state() == ProtocolFrameReader::State::failed) {
            ASSERT_FALSE(decoded.ok()) << "input " << i << ": the reader refused what decodes: " << sostenuto::testing::hex(input);
        }
    });
}

}  // namespace
}  // namespace sostenuto::bridge
