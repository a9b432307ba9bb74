// Seeded mutation fuzzing of the plug-in's saved-state reader (issue 19): a
// DAW hands setState whatever bytes a project file holds. Whatever they are,
// parse_state either accepts them with every setting finite and in range (and
// what it accepted saves and loads back the same), or refuses them and leaves
// the defaults. Half the mutants get their CRC fixed up, so the fields behind
// it are fuzzed too, not only the checksum.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "fuzz_support.h"
#include "plugin_state.h"

namespace sostenuto::vst3 {
namespace {

TEST(StateFuzz, ParseStateGivesSaneSettingsOrTheDefaults) {
    PluginSettings custom;
    custom.gain_db = -6.5;
    custom.temperature = 0.7;
    custom.latency_mode = 0;
    custom.lookahead_ms = 12.0;
    std::vector<std::vector<std::uint8_t>> corpus = {serialize_state(PluginSettings{}), serialize_state(custom)};
    sostenuto::testing::Mutator mutator(sostenuto::testing::fuzz_seed(), corpus);
    const PluginSettings defaults{};
    sostenuto::testing::run_fuzz("plugin-state", 1000000, [&](std::uint64_t i) {
        std::vector<std::uint8_t> input = mutator.next();
        if (i % 2 == 1 && input.size() >= state_format::header_size + 4) {
            // Fix the CRC up where the (possibly mutated) header says the payload ends.
            std::uint32_t n = 0;
            std::memcpy(&n, &input[12], 4);
            if (n <= input.size() - state_format::header_size - 4) {
                const std::uint32_t crc = crc32(input.data() + state_format::header_size, n);
                for (int k = 0; k < 4; ++k) input[state_format::header_size + n + k] = static_cast<std::uint8_t>(crc >> (8 * k));
            }
        }
        PluginSettings out;
        out.gain_db = 123;  // parse_state must overwrite it either way
        const StateParse result = parse_state(input.data(), input.size(), out);
        if (result != StateParse::ok) {
            ASSERT_EQ(out, defaults) << "input " << i << ": refused but not the defaults: " << sostenuto::testing::hex(input);
            return;
        }
        ASSERT_TRUE(std::isfinite(out.gain_db) && std::isfinite(out.temperature) && std::isfinite(out.lookahead_ms))
            << "input " << i << ": " << sostenuto::testing::hex(input);
        ASSERT_TRUE(out.latency_mode >= 0 && out.latency_mode <= 2) << "input " << i << ": latency mode " << out.latency_mode;
        const std::vector<std::uint8_t> saved = serialize_state(out);
        PluginSettings again;
        ASSERT_EQ(parse_state(saved.data(), saved.size(), again), StateParse::ok) << "input " << i;
        ASSERT_EQ(again, out) << "input " << i << ": " << sostenuto::testing::hex(input);
    });
}

}  // namespace
}  // namespace sostenuto::vst3
