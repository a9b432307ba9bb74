// An EngineLink for tests: records everything the shim sends (into storage
// reserved up front, so recording never allocates) and serves a known signal
// from a "ring" whose published position the test controls.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "engine_link.h"

namespace sostenuto::test {

using vst3::EngineConfig;
using vst3::EngineInfo;
using vst3::EngineLink;
using vst3::MidiEvent;
using vst3::ProcessMode;

struct Sent {
    enum Kind { events, clock, parameter, flush, mode } kind;
    std::uint64_t time;
    std::uint8_t status = 0, data1 = 0, data2 = 0;  // events (one record per event)
    std::uint32_t parameter_id = 0;
    float value = 0;
    ProcessMode process_mode = ProcessMode::realtime;
    std::uint32_t message = 0;  // which send call (events of one batch share it)
};

// The audio the mock engine "rendered" for render time r, channel c.
inline float mock_signal(std::uint64_t r, int c) {
    const float v = 0.5f * std::sin(0.0123f * static_cast<float>(r % 100000)) + 0.25f;
    return c == 0 ? v : -v;
}

struct MockEngine {
    MockEngine() { sent.reserve(1 << 20); }

    // What open() does and answers.
    std::atomic<bool> accept{true};
    std::uint32_t total_latency = 1000;
    std::uint32_t lookahead = 0;
    std::vector<EngineConfig> opens;
    int closes = 0;
    std::atomic<bool> connected{false};

    // Audio is published up to this render time.
    std::atomic<std::uint64_t> published{std::numeric_limits<std::uint64_t>::max()};
    std::atomic<std::uint64_t> read_position{0};

    std::vector<Sent> sent;
    std::uint32_t messages = 0;

    std::vector<Sent> of_kind(Sent::Kind kind) const {
        std::vector<Sent> out;
        for (const Sent& s : sent)
            if (s.kind == kind) out.push_back(s);
        return out;
    }
};

class MockLink final : public EngineLink {
public:
    explicit MockLink(MockEngine& engine) : e_(engine) {}

    bool open(const EngineConfig& config, EngineInfo& info, std::string& error) override {
        e_.opens.push_back(config);
        if (!e_.accept.load()) {
            error = "mock engine refuses";
            return false;
        }
        info.total_latency_samples = e_.total_latency;
        info.lookahead_samples = e_.lookahead;
        info.ring_capacity_frames = 1 << 16;
        info.model_name = "mock";
        info.model_version = "1";
        e_.connected = true;
        e_.read_position = 0;
        return true;
    }
    void close() override {
        if (e_.connected.exchange(false)) ++e_.closes;
    }
    bool connected() const noexcept override { return e_.connected.load(); }

    bool send_events(const MidiEvent* events, std::size_t count) noexcept override {
        if (!e_.connected) return false;
        const std::uint32_t id = e_.messages++;
        for (std::size_t i = 0; i < count; ++i) {
            Sent s{Sent::events, events[i].stream_time};
            s.status = events[i].status;
            s.data1 = events[i].data1;
            s.data2 = events[i].data2;
            s.message = id;
            push(s);
        }
        return true;
    }
    bool send_clock(std::uint64_t t) noexcept override { return record({Sent::clock, t}); }
    bool send_parameter(std::uint64_t t, std::uint32_t id, float value) noexcept override {
        Sent s{Sent::parameter, t};
        s.parameter_id = id;
        s.value = value;
        return record(s);
    }
    bool send_transport_flush(std::uint64_t t) noexcept override { return record({Sent::flush, t}); }
    bool send_process_mode(ProcessMode mode, std::uint64_t t) noexcept override {
        Sent s{Sent::mode, t};
        s.process_mode = mode;
        return record(s);
    }
    std::uint64_t published_until() const noexcept override { return e_.published.load(); }
    std::size_t read_audio(std::uint64_t r, std::size_t frames, float* const* out) noexcept override {
        if (r < e_.read_position.load()) return 0;
        const std::uint64_t w = e_.published.load();
        const std::size_t got = w <= r ? 0 : static_cast<std::size_t>(std::min<std::uint64_t>(frames, w - r));
        for (std::size_t i = 0; i < got; ++i) {
            out[0][i] = mock_signal(r + i, 0);
            out[1][i] = mock_signal(r + i, 1);
        }
        e_.read_position = r + frames;
        return got;
    }

private:
    bool record(Sent s) noexcept {
        if (!e_.connected) return false;
        s.message = e_.messages++;
        push(s);
        return true;
    }
    void push(const Sent& s) noexcept {
        if (e_.sent.size() < e_.sent.capacity()) e_.sent.push_back(s);
    }
    MockEngine& e_;
};

}  // namespace sostenuto::test
