// An EngineLink for tests, shaped like the EngineSupervisor: sessions
// (epochs) that the test starts and ends - an engine that answers, refuses,
// dies and is replaced - with the supervisor's stream-time mapping (a
// session's time 0 is the shim's stream time of its first block). It records
// everything the shim sends, in session time, into storage reserved up front
// (recording never allocates), and serves a known signal from a "ring" whose
// published position the test controls.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine_link.h"

namespace sostenuto::test {

using vst3::EngineBlock;
using vst3::EngineConfig;
using vst3::EngineCounters;
using vst3::EngineEvent;
using vst3::EngineEventHandler;
using vst3::EngineInfo;
using vst3::EngineLink;
using vst3::EngineState;
using vst3::MidiEvent;
using vst3::ProcessMode;

struct Sent {
    enum Kind { events, clock, parameter, flush, mode } kind;
    std::uint64_t time;  // session time
    std::uint8_t status = 0, data1 = 0, data2 = 0;  // events (one record per event)
    std::uint32_t parameter_id = 0;
    float value = 0;
    ProcessMode process_mode = ProcessMode::realtime;
    std::uint32_t message = 0;  // which send call (events of one batch share it)
    std::uint64_t epoch = 0;    // which session
};

// The audio the mock engine "rendered" for render time r, channel c.
inline float mock_signal(std::uint64_t r, int c) {
    const float v = 0.5f * std::sin(0.0123f * static_cast<float>(r % 100000)) + 0.25f;
    return c == 0 ? v : -v;
}

struct MockEngine {
    MockEngine() { sent.reserve(1 << 20); }

    // ---- what start() does and answers ----
    std::atomic<bool> accept{true};
    std::uint32_t total_latency = 1000;  // D of the next session
    std::uint32_t lookahead = 0;
    std::vector<EngineConfig> opens;     // every start()
    int closes = 0;                      // every stop() of a started link
    EngineEventHandler handler;

    // ---- the engine as the link sees it ----
    std::atomic<EngineState> state{EngineState::stopped};
    std::atomic<std::uint64_t> epoch{0};
    std::atomic<std::uint32_t> epoch_latency{0};
    std::atomic<std::uint64_t> failed{0}, lost{0};
    std::atomic<int> pid{0};
    std::string last_error;

    // The engine process is gone but the link has not noticed yet: blocks find
    // no session while the state still says running (until kill()).
    std::atomic<bool> gone{false};

    // Audio is published up to this render time (of the running session).
    std::atomic<std::uint64_t> published{std::numeric_limits<std::uint64_t>::max()};

    std::vector<Sent> sent;
    std::uint32_t messages = 0;

    std::vector<Sent> of_kind(Sent::Kind kind, std::uint64_t in_epoch = 0) const {
        std::vector<Sent> out;
        for (const Sent& s : sent)
            if (s.kind == kind && (in_epoch == 0 || s.epoch == in_epoch)) out.push_back(s);
        return out;
    }

    // ---- the test's controls (any thread but the audio thread) ----
    // A session starts (the engine answered a Hello), with D = total_latency.
    void welcome() {
        const std::uint64_t previous = epoch_latency.load();
        epoch_latency = total_latency;
        pid = 1000 + static_cast<int>(epoch.load());
        epoch.fetch_add(1);
        state = EngineState::running;
        event(EngineState::running, "session", epoch.load() > 1 && previous != total_latency);
    }
    // The engine process dies: the session is lost; the link will try again.
    void kill() {
        gone = false;
        lost.fetch_add(1);
        pid = 0;
        last_error = "the engine closed the connection";
        state = EngineState::down;
        event(EngineState::down, last_error);
    }
    // An attempt to reach or start the engine failed.
    void fail(const std::string& why) {
        failed.fetch_add(1);
        last_error = why;
        state = EngineState::down;
        event(EngineState::down, why + "; retrying in 100 ms");
    }
    void event(EngineState s, const std::string& message, bool latency_changed = false) {
        EngineEvent e;
        e.state = s;
        e.epoch = epoch.load();
        e.total_latency_samples = epoch_latency.load();
        e.latency_changed = latency_changed;
        e.message = message;
        if (handler) handler(e);
    }
};

class MockLink final : public EngineLink {
public:
    explicit MockLink(MockEngine& engine) : e_(engine) {}
    ~MockLink() override { stop(); }

    bool start(const EngineConfig& config, EngineEventHandler on_event, std::string&) override {
        stop();
        started_ = true;
        e_.opens.push_back(config);
        e_.handler = std::move(on_event);
        e_.state = EngineState::connecting;
        if (e_.accept.load())
            e_.welcome();
        else
            e_.fail("mock engine refuses");
        return true;
    }
    void stop() override {
        if (!started_) return;
        started_ = false;
        ++e_.closes;
        e_.state = EngineState::stopped;
        e_.handler = nullptr;
        e_.pid = 0;
    }
    bool wait_for_session(std::chrono::milliseconds) override { return e_.state.load() == EngineState::running; }
    std::optional<EngineInfo> info() const override {
        if (e_.epoch.load() == 0) return std::nullopt;
        EngineInfo info;
        info.total_latency_samples = e_.epoch_latency.load();
        info.lookahead_samples = e_.lookahead;
        info.ring_capacity_frames = 1 << 16;
        info.model_name = "mock";
        info.model_version = "1";
        return info;
    }
    std::string last_error() const override { return e_.last_error; }
    EngineState state() const noexcept override { return e_.state.load(); }
    EngineCounters counters() const noexcept override {
        EngineCounters c;
        c.sessions = e_.epoch.load();
        c.failed_attempts = e_.failed.load();
        c.sessions_lost = e_.lost.load();
        return c;
    }
    int engine_pid() const noexcept override { return e_.pid.load(); }

    EngineBlock begin_block(std::uint64_t stream_time) noexcept override {
        EngineBlock b;
        live_ = e_.state.load() == EngineState::running && !e_.gone.load();
        if (live_ && e_.epoch.load() != epoch_) {
            epoch_ = e_.epoch.load();
            start_ = stream_time;
            latency_ = e_.epoch_latency.load();
            b.new_session = true;
        }
        b.live = live_;
        b.epoch = epoch_;
        b.epoch_start = start_;
        b.total_latency_samples = latency_;
        return b;
    }
    void end_block() noexcept override { live_ = false; }

    bool send_events(const MidiEvent* events, std::size_t count) noexcept override {
        if (!live_) return false;
        const std::uint32_t id = e_.messages++;
        for (std::size_t i = 0; i < count; ++i) {
            Sent s{Sent::events, session(events[i].stream_time)};
            s.status = events[i].status;
            s.data1 = events[i].data1;
            s.data2 = events[i].data2;
            s.message = id;
            s.epoch = epoch_;
            push(s);
        }
        return true;
    }
    bool send_clock(std::uint64_t t) noexcept override { return record({Sent::clock, session(t)}); }
    bool send_parameter(std::uint64_t t, std::uint32_t id, float value) noexcept override {
        Sent s{Sent::parameter, session(t)};
        s.parameter_id = id;
        s.value = value;
        return record(s);
    }
    bool send_transport_flush(std::uint64_t t) noexcept override { return record({Sent::flush, session(t)}); }
    bool send_process_mode(ProcessMode mode, std::uint64_t t) noexcept override {
        Sent s{Sent::mode, session(t)};
        s.process_mode = mode;
        return record(s);
    }
    std::uint64_t available_until() const noexcept override {
        if (!live_) return 0;
        const std::uint64_t w = e_.published.load();
        return w >= std::numeric_limits<std::uint64_t>::max() - start_ - latency_ ? w : start_ + latency_ + w;
    }
    std::size_t read_audio(std::uint64_t stream_time, float* const* out, std::size_t frames) noexcept override {
        std::memset(out[0], 0, frames * sizeof(float));
        std::memset(out[1], 0, frames * sizeof(float));
        if (!live_) return 0;
        const std::uint64_t w = e_.published.load();
        std::size_t valid = 0;
        for (; valid < frames; ++valid) {
            const std::int64_t r = static_cast<std::int64_t>(stream_time + valid) - static_cast<std::int64_t>(start_ + latency_);
            if (r < 0) continue;  // before the session's audio: silence, and real output
            if (static_cast<std::uint64_t>(r) >= w) break;
            out[0][valid] = mock_signal(static_cast<std::uint64_t>(r), 0);
            out[1][valid] = mock_signal(static_cast<std::uint64_t>(r), 1);
        }
        for (std::size_t i = valid; i < frames; ++i) out[0][i] = out[1][i] = 0.0f;
        return valid;
    }
    std::size_t read_audio_waiting(std::uint64_t stream_time, float* const* out, std::size_t frames,
                                   std::chrono::microseconds max_wait) noexcept override {
        const auto deadline = std::chrono::steady_clock::now() + max_wait;
        while (live_ && available_until() < stream_time + frames && e_.state.load() == EngineState::running &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        return read_audio(stream_time, out, frames);
    }

private:
    std::uint64_t session(std::uint64_t t) const noexcept { return t > start_ ? t - start_ : 0; }
    bool record(Sent s) noexcept {
        if (!live_) return false;
        s.message = e_.messages++;
        s.epoch = epoch_;
        push(s);
        return true;
    }
    void push(const Sent& s) noexcept {
        if (e_.sent.size() < e_.sent.capacity()) e_.sent.push_back(s);
    }
    MockEngine& e_;
    bool started_ = false;
    bool live_ = false;
    std::uint64_t epoch_ = 0, start_ = 0;
    std::uint32_t latency_ = 0;
};

}  // namespace sostenuto::test
