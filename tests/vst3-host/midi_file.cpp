#include "midi_file.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace sostenuto::host {
namespace {

struct Reader {
    const std::vector<uint8_t>& b;
    size_t pos;
    size_t end;
    void need(size_t n) const {
        if (pos + n > end) throw std::runtime_error("MIDI file: unexpected end of data");
    }
    uint8_t u8() {
        need(1);
        return b[pos++];
    }
    uint32_t u16() {
        need(2);
        const uint32_t v = (uint32_t{b[pos]} << 8) | b[pos + 1];
        pos += 2;
        return v;
    }
    uint32_t u32() {
        need(4);
        const uint32_t v = (uint32_t{b[pos]} << 24) | (uint32_t{b[pos + 1]} << 16) | (uint32_t{b[pos + 2]} << 8) | b[pos + 3];
        pos += 4;
        return v;
    }
    uint32_t varlen() {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const uint8_t c = u8();
            v = (v << 7) | (c & 0x7F);
            if ((c & 0x80) == 0) return v;
        }
        throw std::runtime_error("MIDI file: variable-length number longer than 4 bytes");
    }
};

struct TickEvent {
    uint64_t tick;
    int order;  // stable merge across tracks
    bool tempo;
    uint32_t tempo_us;
    uint8_t status, data1, data2;
};

int data_bytes(uint8_t status) {
    const uint8_t kind = status & 0xF0;
    return (kind == 0xC0 || kind == 0xD0) ? 1 : 2;
}

}  // namespace

std::vector<TimedMidi> parse_smf(const std::vector<uint8_t>& bytes) {
    Reader r{bytes, 0, bytes.size()};
    r.need(14);
    if (!(bytes[0] == 'M' && bytes[1] == 'T' && bytes[2] == 'h' && bytes[3] == 'd'))
        throw std::runtime_error("MIDI file: no MThd header");
    r.pos = 4;
    const uint32_t header_length = r.u32();
    if (header_length < 6) throw std::runtime_error("MIDI file: short MThd");
    const uint32_t format = r.u16();
    const uint32_t tracks = r.u16();
    const uint32_t division = r.u16();
    r.pos = 8 + header_length;
    if (format > 2) throw std::runtime_error("MIDI file: unknown format " + std::to_string(format));
    if (division == 0) throw std::runtime_error("MIDI file: division 0");
    const bool smpte = (division & 0x8000) != 0;
    double smpte_tick_seconds = 0;
    if (smpte) {
        const int fps = -static_cast<int8_t>(division >> 8);
        const int per_frame = division & 0xFF;
        if (fps <= 0 || per_frame <= 0) throw std::runtime_error("MIDI file: bad SMPTE division");
        smpte_tick_seconds = 1.0 / ((fps == 29 ? 29.97 : fps) * per_frame);
    }

    std::vector<TickEvent> events;
    int order = 0;
    for (uint32_t t = 0; t < tracks; ++t) {
        r.end = bytes.size();
        r.need(8);
        const bool is_track = bytes[r.pos] == 'M' && bytes[r.pos + 1] == 'T' && bytes[r.pos + 2] == 'r' && bytes[r.pos + 3] == 'k';
        r.pos += 4;
        const uint32_t length = r.u32();
        if (length > bytes.size() - r.pos) throw std::runtime_error("MIDI file: track runs past the end of the file");
        const size_t track_end = r.pos + length;
        if (!is_track) {  // unknown chunk: skip
            r.pos = track_end;
            --t;
            if (r.pos >= bytes.size()) break;
            continue;
        }
        r.end = track_end;
        uint64_t tick = 0;
        uint8_t running = 0;
        while (r.pos < track_end) {
            tick += r.varlen();
            uint8_t status = r.u8();
            if (status == 0xFF) {
                const uint8_t type = r.u8();
                const uint32_t len = r.varlen();
                r.need(len);
                if (type == 0x51 && len == 3) {
                    const uint32_t us = (uint32_t{bytes[r.pos]} << 16) | (uint32_t{bytes[r.pos + 1]} << 8) | bytes[r.pos + 2];
                    events.push_back({tick, order++, true, us, 0, 0, 0});
                }
                r.pos += len;
                if (type == 0x2F) break;
                continue;
            }
            if (status == 0xF0 || status == 0xF7) {
                const uint32_t len = r.varlen();
                r.need(len);
                r.pos += len;
                running = 0;
                continue;
            }
            uint8_t first;
            if (status < 0x80) {
                if (running == 0) throw std::runtime_error("MIDI file: data byte without a running status");
                first = status;
                status = running;
            } else {
                if (status >= 0xF0) throw std::runtime_error("MIDI file: unexpected system message in a track");
                running = status;
                first = r.u8();
            }
            const uint8_t second = data_bytes(status) == 2 ? r.u8() : 0;
            events.push_back({tick, order++, false, 0, status, static_cast<uint8_t>(first & 0x7F),
                              static_cast<uint8_t>(second & 0x7F)});
        }
        r.pos = track_end;
    }
    std::stable_sort(events.begin(), events.end(), [](const TickEvent& a, const TickEvent& b) {
        return a.tick != b.tick ? a.tick < b.tick : a.order < b.order;
    });

    // Tempo map: seconds advance by tick * (tempo / division).
    std::vector<TimedMidi> out;
    double seconds = 0;
    uint64_t last_tick = 0;
    double tempo_us = 500000.0;
    for (const TickEvent& e : events) {
        const uint64_t dt = e.tick - last_tick;
        seconds += smpte ? dt * smpte_tick_seconds : dt * (tempo_us / 1e6) / static_cast<double>(division);
        last_tick = e.tick;
        if (e.tempo) {
            if (format != 2) tempo_us = e.tempo_us;
            continue;
        }
        out.push_back({seconds, e.status, e.data1, e.data2});
    }
    return out;
}

std::vector<TimedMidi> parse_event_list(const std::string& text) {
    std::vector<TimedMidi> out;
    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        const size_t hash = line.find('#');
        if (hash != std::string::npos) line.resize(hash);
        std::istringstream fields(line);
        std::string time_text, status_text;
        int d1 = 0, d2 = 0;
        if (!(fields >> time_text)) continue;
        if (!(fields >> status_text >> d1)) throw std::runtime_error("event list line " + std::to_string(number) + ": expected <seconds> <status> <data1> [data2]");
        fields >> d2;
        const double seconds = std::stod(time_text);
        const unsigned long status = std::stoul(status_text, nullptr, 16);
        if (!(seconds >= 0) || status < 0x80 || status > 0xEF || d1 < 0 || d1 > 127 || d2 < 0 || d2 > 127)
            throw std::runtime_error("event list line " + std::to_string(number) + ": value out of range");
        out.push_back({seconds, static_cast<uint8_t>(status), static_cast<uint8_t>(d1), static_cast<uint8_t>(d2)});
    }
    std::stable_sort(out.begin(), out.end(), [](const TimedMidi& a, const TimedMidi& b) { return a.seconds < b.seconds; });
    return out;
}

std::vector<TimedMidi> read_midi_input(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw std::runtime_error("cannot open " + path);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    auto ends_with = [&](const char* suffix) {
        const std::string s(suffix);
        return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
    };
    if (ends_with(".txt") || ends_with(".events")) return parse_event_list(std::string(bytes.begin(), bytes.end()));
    return parse_smf(bytes);
}

}  // namespace sostenuto::host
