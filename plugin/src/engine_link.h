// Everything the VST3 shim knows about the engine, behind one small interface.
//
// The link keeps a connection to the engine alive by itself (native-bridge's
// EngineSupervisor does it for BridgeEngineLink): start() returns at once and
// a thread of the link's connects, starts the engine when none runs, and after
// an engine death starts another and opens a new *session* (epoch). The shim
// keeps one stream clock per activation and passes it everywhere; the link maps
// it to each session's own clock.
//
// Three sides with different rules:
//  - start()/stop()/wait_for_session()/info()/last_error(): a control thread
//    (setupProcessing, setActive, terminate). They may block, allocate, lock.
//  - state()/counters()/engine_pid(): any thread, wait-free.
//  - begin_block() ... end_block() and everything between (bridge::EngineStream):
//    the audio thread, through the instrument core. No allocation, no locks,
//    no blocking (read_audio_waiting() sleeps, for offline blocks only).
//    Without a running session they return false / 0.
// The event handler given to start() runs on the link's own thread: it must
// not call into the host, and must not call start() or stop().
//
// BridgeEngineLink (bridge_engine_link.h) is the real one. Tests substitute their own.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "sostenuto/bridge/engine_stream.h"
#include "sostenuto/bridge/engine_supervisor.h"
#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::vst3 {

using bridge::LatencyMode;
using bridge::MidiEvent;
using bridge::ProcessMode;
using EngineState = bridge::EngineState;                 // stopped, connecting, running, down
using EngineEvent = bridge::EngineSupervisorEvent;       // a state change, with the session's D
using EngineCounters = bridge::EngineSupervisorCounters;  // sessions, launches, failures, ...
using EngineBlock = bridge::EngineBlock;                 // what begin_block() found

inline constexpr std::uint32_t kRingChannels = 2;

struct EngineConfig {
    std::uint32_t sample_rate = 0;
    std::uint32_t max_block_size = 0;
    ProcessMode process_mode = ProcessMode::realtime;  // the first session's; later ones use the last sent
    LatencyMode latency_mode = LatencyMode::live;
    std::uint32_t requested_lookahead_samples = 0;
    std::uint32_t compute_slack_samples = 0;  // the shim's suggestion; the engine decides
    std::uint64_t instance_id = 0;

    bool operator==(const EngineConfig& o) const noexcept {
        return sample_rate == o.sample_rate && max_block_size == o.max_block_size && process_mode == o.process_mode &&
               latency_mode == o.latency_mode && requested_lookahead_samples == o.requested_lookahead_samples &&
               compute_slack_samples == o.compute_slack_samples && instance_id == o.instance_id;
    }
    bool operator!=(const EngineConfig& o) const noexcept { return !(*this == o); }
};

// What the engine answered (its Welcome).
struct EngineInfo {
    std::uint32_t total_latency_samples = 0;  // D = L + S: what the shim reports to the host
    std::uint32_t lookahead_samples = 0;      // L
    std::uint32_t ring_capacity_frames = 0;
    std::string model_name;
    std::string model_version;
    std::uint32_t flags = 0;
};

using EngineEventHandler = std::function<void(const EngineEvent&)>;

// The audio-thread side (begin_block() ... end_block(), the senders, the
// reads) and state()/counters() are the engine stream's (bridge::EngineStream),
// which the instrument core drives.
class EngineLink : public bridge::EngineStream {
public:
    // ---- control thread ----
    // Ends any previous run, then starts connecting in the background (starting
    // the engine if it can): returns at once. False (and why) only when it
    // cannot even try (no ring, no socket path).
    virtual bool start(const EngineConfig& config, EngineEventHandler on_event, std::string& error) = 0;
    // Goodbye, and the link's thread ends. Safe to call when not started.
    virtual void stop() = 0;
    // Waits until a session runs (true), or an attempt to reach or start the
    // engine failed after this call began, or the timeout passed (false).
    virtual bool wait_for_session(std::chrono::milliseconds timeout) = 0;
    // The running (or last) session's Welcome.
    virtual std::optional<EngineInfo> info() const = 0;
    // Why the last attempt or session failed ("" if none has).
    virtual std::string last_error() const = 0;

    // ---- any thread (besides the engine stream's state() and counters()) ----
    virtual int engine_pid() const noexcept = 0;  // the running session's engine process, 0 if none
};

// A link to nothing: the plug-in outputs silence.
class NullEngineLink final : public EngineLink {
public:
    bool start(const EngineConfig&, EngineEventHandler, std::string& error) override {
        error = "built without an engine link";
        return false;
    }
    void stop() override {}
    bool wait_for_session(std::chrono::milliseconds) override { return false; }
    std::optional<EngineInfo> info() const override { return std::nullopt; }
    std::string last_error() const override { return "built without an engine link"; }
    EngineState state() const noexcept override { return EngineState::stopped; }
    EngineCounters counters() const noexcept override { return {}; }
    int engine_pid() const noexcept override { return 0; }
    EngineBlock begin_block(std::uint64_t) noexcept override { return {}; }
    void end_block() noexcept override {}
    bool send_events(const MidiEvent*, std::size_t) noexcept override { return false; }
    bool send_clock(std::uint64_t) noexcept override { return false; }
    bool send_parameter(std::uint64_t, std::uint32_t, float) noexcept override { return false; }
    bool send_transport_flush(std::uint64_t) noexcept override { return false; }
    bool send_process_mode(ProcessMode, std::uint64_t) noexcept override { return false; }
    std::uint64_t available_until() const noexcept override { return 0; }
    std::size_t read_audio(std::uint64_t, float* const*, std::size_t) noexcept override { return 0; }
    std::size_t read_audio_waiting(std::uint64_t, float* const*, std::size_t, std::chrono::microseconds) noexcept override {
        return 0;
    }
};

using EngineLinkFactory = std::function<std::unique_ptr<EngineLink>()>;

// The link every new component gets: BridgeEngineLink when the bridge is
// built in, else NullEngineLink. Tests that link the shim's code directly may
// replace it (before creating components).
EngineLinkFactory& engine_link_factory();
// Auto's live link beside it (bridge::InstrumentPaths). Tests that replace
// engine_link_factory() set this too, or empty it (no live link: Auto plays
// everything on the one link, as Studio does).
EngineLinkFactory& live_engine_link_factory();

}  // namespace sostenuto::vst3
