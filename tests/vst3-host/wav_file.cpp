#include "wav_file.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace sostenuto::host {
namespace {

void put16(std::vector<uint8_t>& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void tag(std::vector<uint8_t>& b, const char* t) { b.insert(b.end(), t, t + 4); }
uint32_t get32(const uint8_t* p) { return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24; }
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

}  // namespace

void write_float_wav(const std::string& path, uint32_t sample_rate, const std::vector<std::vector<float>>& channels) {
    const uint16_t n_channels = static_cast<uint16_t>(channels.size());
    const uint32_t frames = channels.empty() ? 0 : static_cast<uint32_t>(channels[0].size());
    const uint32_t data_bytes = frames * n_channels * 4u;
    std::vector<uint8_t> b;
    b.reserve(64 + data_bytes);
    tag(b, "RIFF");
    put32(b, 4 + (8 + 18) + (8 + 4) + (8 + data_bytes));
    tag(b, "WAVE");
    tag(b, "fmt ");
    put32(b, 18);
    put16(b, 3);  // WAVE_FORMAT_IEEE_FLOAT
    put16(b, n_channels);
    put32(b, sample_rate);
    put32(b, sample_rate * n_channels * 4u);
    put16(b, static_cast<uint16_t>(n_channels * 4u));
    put16(b, 32);
    put16(b, 0);  // cbSize
    tag(b, "fact");
    put32(b, 4);
    put32(b, frames);
    tag(b, "data");
    put32(b, data_bytes);
    for (uint32_t i = 0; i < frames; ++i)
        for (uint16_t c = 0; c < n_channels; ++c) {
            uint32_t v;
            std::memcpy(&v, &channels[c][i], 4);
            put32(b, v);
        }
    std::ofstream out(path, std::ios::binary);
    if (!out) throw std::runtime_error("cannot write " + path);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) throw std::runtime_error("error writing " + path);
}

std::vector<std::vector<float>> read_float_wav(const std::string& path, uint32_t& sample_rate) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) != 0 || std::memcmp(b.data() + 8, "WAVE", 4) != 0)
        throw std::runtime_error(path + ": not a WAV file");
    size_t pos = 12;
    uint16_t channels = 0, bits = 0, format = 0;
    while (pos + 8 <= b.size()) {
        const uint32_t size = get32(&b[pos + 4]);
        if (std::memcmp(&b[pos], "fmt ", 4) == 0 && size >= 16) {
            format = get16(&b[pos + 8]);
            channels = get16(&b[pos + 10]);
            sample_rate = get32(&b[pos + 12]);
            bits = get16(&b[pos + 22]);
        } else if (std::memcmp(&b[pos], "data", 4) == 0) {
            if (format != 3 || bits != 32 || channels == 0) throw std::runtime_error(path + ": not 32-bit float");
            const size_t frames = std::min<size_t>(size, b.size() - pos - 8) / (4u * channels);
            std::vector<std::vector<float>> out(channels, std::vector<float>(frames));
            for (size_t i = 0; i < frames; ++i)
                for (uint16_t c = 0; c < channels; ++c) std::memcpy(&out[c][i], &b[pos + 8 + (i * channels + c) * 4], 4);
            return out;
        }
        pos += 8 + size + (size & 1);
    }
    throw std::runtime_error(path + ": no data chunk");
}

}  // namespace sostenuto::host
