// Everything the VST3 shim knows about the engine, behind one small interface.
//
// Two sides with different rules:
//  - open()/close() run off the audio thread (setupProcessing, setActive,
//    terminate). They may block (bounded by a timeout), allocate and log.
//  - send_*(), published_until() and read_audio() run on the audio thread:
//    no allocation, no locks, no blocking. They fail quietly (return false / 0)
//    when there is no engine.
//
// BridgeEngineLink (bridge_engine_link.h) is the real one: native-bridge's
// PipeClient + SharedAudioRing. Tests substitute their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::vst3 {

using bridge::LatencyMode;
using bridge::MidiEvent;
using bridge::ProcessMode;

inline constexpr std::uint32_t kRingChannels = 2;

struct EngineConfig {
    std::uint32_t sample_rate = 0;
    std::uint32_t max_block_size = 0;
    ProcessMode process_mode = ProcessMode::realtime;
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

class EngineLink {
public:
    virtual ~EngineLink() = default;

    // ---- control thread ----
    // Connects and handshakes (a new session: stream time starts at 0, the
    // ring's positions are reset). Closes any previous session first.
    virtual bool open(const EngineConfig& config, EngineInfo& info, std::string& error) = 0;
    // Ends the session (Goodbye). Safe to call when not open.
    virtual void close() = 0;

    // ---- any thread ----
    // The session is up (handshake done and the engine has not gone away).
    virtual bool connected() const noexcept = 0;

    // ---- audio thread ----
    virtual bool send_events(const MidiEvent* events, std::size_t count) noexcept = 0;
    virtual bool send_clock(std::uint64_t stream_time) noexcept = 0;
    virtual bool send_parameter(std::uint64_t stream_time, std::uint32_t parameter_id, float value) noexcept = 0;
    virtual bool send_transport_flush(std::uint64_t stream_time) noexcept = 0;
    virtual bool send_process_mode(ProcessMode mode, std::uint64_t stream_time) noexcept = 0;
    // Render time up to which audio is in the ring (0 without a ring).
    virtual std::uint64_t published_until() const noexcept = 0;
    // Copies the published prefix of [render_time, render_time + frames) into
    // out[0], out[1] and returns its length; the reader then moves past
    // render_time + frames either way.
    virtual std::size_t read_audio(std::uint64_t render_time, std::size_t frames, float* const* out) noexcept = 0;
};

// A link to nothing: the plug-in outputs silence.
class NullEngineLink final : public EngineLink {
public:
    bool open(const EngineConfig&, EngineInfo&, std::string& error) override {
        error = "built without an engine link";
        return false;
    }
    void close() override {}
    bool connected() const noexcept override { return false; }
    bool send_events(const MidiEvent*, std::size_t) noexcept override { return false; }
    bool send_clock(std::uint64_t) noexcept override { return false; }
    bool send_parameter(std::uint64_t, std::uint32_t, float) noexcept override { return false; }
    bool send_transport_flush(std::uint64_t) noexcept override { return false; }
    bool send_process_mode(ProcessMode, std::uint64_t) noexcept override { return false; }
    std::uint64_t published_until() const noexcept override { return 0; }
    std::size_t read_audio(std::uint64_t, std::size_t, float* const*) noexcept override { return 0; }
};

using EngineLinkFactory = std::function<std::unique_ptr<EngineLink>()>;

// The link every new component gets: BridgeEngineLink when the bridge is
// built in, else NullEngineLink. Tests that link the shim's code directly may
// replace it (before creating components).
EngineLinkFactory& engine_link_factory();

}  // namespace sostenuto::vst3
