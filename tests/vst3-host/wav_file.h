// 32-bit float WAV (WAVE_FORMAT_IEEE_FLOAT, with a fact chunk), interleaved.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sostenuto::host {

// channels[c][i]; all channels the same length. Throws std::runtime_error.
void write_float_wav(const std::string& path, uint32_t sample_rate, const std::vector<std::vector<float>>& channels);

// Reads what write_float_wav writes (float 32-bit, any channel count), for tests.
std::vector<std::vector<float>> read_float_wav(const std::string& path, uint32_t& sample_rate);

}  // namespace sostenuto::host
