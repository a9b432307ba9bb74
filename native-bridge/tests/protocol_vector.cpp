#include "protocol_vector.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sostenuto::bridge::testing {
namespace {

std::string trim(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r");
    if (begin == std::string::npos) return "";
    const auto end = s.find_last_not_of(" \t\r");
    return s.substr(begin, end - begin + 1);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

std::string protocol_vectors_directory() { return SOSTENUTO_PROTOCOL_VECTORS_DIR; }

std::vector<std::string> protocol_vector_names() {
    std::vector<std::string> names;
    DIR* dir = ::opendir(protocol_vectors_directory().c_str());
    if (dir == nullptr) throw std::runtime_error("cannot open " + protocol_vectors_directory());
    while (const dirent* entry = ::readdir(dir)) {
        const std::string file = entry->d_name;
        if (file.size() > 4 && file.compare(file.size() - 4, 4, ".hex") == 0) names.push_back(file.substr(0, file.size() - 4));
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

ProtocolVector load_protocol_vector(const std::string& name) {
    const std::string path = protocol_vectors_directory() + "/" + name + ".hex";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    ProtocolVector vector;
    vector.name = name;
    bool expect_seen = false;
    std::string line;
    while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty()) continue;
        if (line[0] == '#') {
            const std::string comment = trim(line.substr(1));
            if (vector.description.empty()) {
                vector.description = comment;
            } else if (starts_with(comment, "expect:")) {
                const std::string expect = trim(comment.substr(7));
                expect_seen = true;
                if (expect == "ok") {
                    vector.expect_ok = true;
                } else if (starts_with(expect, "error ")) {
                    vector.expected_error = trim(expect.substr(6));
                } else {
                    throw std::runtime_error(path + ": bad expect line: " + line);
                }
            } else if (starts_with(comment, "field:")) {
                const std::string field = comment.substr(6);
                const auto equals = field.find('=');
                if (equals == std::string::npos) throw std::runtime_error(path + ": bad field line: " + line);
                vector.fields.emplace_back(trim(field.substr(0, equals)), trim(field.substr(equals + 1)));
            }
            continue;
        }
        std::istringstream hex(line);
        std::string byte;
        while (hex >> byte) {
            if (byte.size() != 2 || !std::all_of(byte.begin(), byte.end(), ::isxdigit)) {
                throw std::runtime_error(path + ": not a hex byte: " + byte);
            }
            vector.bytes.push_back(static_cast<std::uint8_t>(std::stoul(byte, nullptr, 16)));
        }
    }
    if (!expect_seen) throw std::runtime_error(path + ": no '# expect:' line");
    return vector;
}

}  // namespace sostenuto::bridge::testing
