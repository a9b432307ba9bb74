// Reads the shared example vectors in tests/protocol-vectors/*.hex.
//
// Format (docs/protocol.md, "Example vectors"): lines starting with '#' are
// comments; "# expect: ok" or "# expect: error NAME" and "# field: NAME = VALUE"
// are the comments the tests read; every other line is hex byte pairs
// separated by spaces.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sostenuto::bridge::testing {

struct ProtocolVector {
    std::string name;         // file name without .hex
    std::string description;  // the first comment line
    bool expect_ok = false;
    std::string expected_error;  // the NAME of "# expect: error NAME"
    std::vector<std::pair<std::string, std::string>> fields;
    std::vector<std::uint8_t> bytes;
};

std::string protocol_vectors_directory();
std::vector<std::string> protocol_vector_names();  // sorted
ProtocolVector load_protocol_vector(const std::string& name);

}  // namespace sostenuto::bridge::testing
