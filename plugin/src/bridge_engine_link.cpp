#include "bridge_engine_link.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include "sostenuto/bridge/runtime_paths.h"

namespace sostenuto::vst3 {
namespace {

std::uint32_t next_power_of_two(std::uint32_t v) {
    std::uint32_t p = 1;
    while (p < v && p < (1u << 31)) p <<= 1;
    return p;
}

std::chrono::milliseconds connect_timeout() {
    if (const char* v = std::getenv("SOSTENUTO_CONNECT_TIMEOUT_MS")) {
        char* end = nullptr;
        const unsigned long ms = std::strtoul(v, &end, 10);
        if (end != v && ms > 0 && ms <= 600000ul) return std::chrono::milliseconds(ms);
    }
    return std::chrono::milliseconds(3000);
}

}  // namespace

BridgeEngineLink::BridgeEngineLink() = default;
BridgeEngineLink::~BridgeEngineLink() { close(); }

bool BridgeEngineLink::ensure_ring(std::uint64_t instance_id, std::uint32_t capacity, std::string& error) {
    // A fresh ring per session: an engine still finishing the previous session
    // keeps writing into the old (unlinked) object, never into this one.
    consumer_.reset();
    ring_.reset();
    const std::string name = bridge::audio_ring_name(instance_id);
    ring_ = bridge::SharedAudioRing::create(name, kRingChannels, capacity, error);
    if (!ring_) {
        // A stale object of ours (a crashed host with the same id) is in the way.
        ::shm_unlink(name.c_str());
        ring_ = bridge::SharedAudioRing::create(name, kRingChannels, capacity, error);
    }
    ring_instance_ = instance_id;
    return ring_ != nullptr;
}

bool BridgeEngineLink::open(const EngineConfig& config, EngineInfo& info, std::string& error) {
    close();
    std::string socket_path;
    if (const char* env = std::getenv("SOSTENUTO_ENGINE_SOCKET"); env != nullptr && *env != '\0') {
        socket_path = env;
    } else {
        auto path = bridge::engine_socket_path(error);
        if (!path) return false;
        socket_path = *path;
    }

    // Room for the engine to work ahead by its slack (and more), never less than 2^16 frames.
    const std::uint64_t ahead = 2ull * (std::uint64_t{config.requested_lookahead_samples} + config.compute_slack_samples) +
                                4ull * config.max_block_size;
    const std::uint32_t capacity = std::max(
        kDefaultRingFrames,
        next_power_of_two(static_cast<std::uint32_t>(std::min<std::uint64_t>(ahead, bridge::audio_ring_layout::max_capacity_frames))));
    if (!ensure_ring(config.instance_id, capacity, error)) return false;
    ring_->reset_positions(0);

    bridge::HelloMessage hello;
    hello.sample_rate = config.sample_rate;
    hello.max_block_size = config.max_block_size;
    hello.process_mode = config.process_mode;
    hello.latency_mode = config.latency_mode;
    hello.requested_lookahead_samples = config.requested_lookahead_samples;
    hello.compute_slack_samples = config.compute_slack_samples;
    hello.instance_id = config.instance_id;
    hello.shared_memory_name = ring_->name();

    auto pipe = std::make_unique<bridge::PipeClient>();
    bridge::PipeConnectResult result = pipe->connect(socket_path, hello, connect_timeout());
    if (!result.ok) {
        error = result.error;
        ring_.reset();
        return false;
    }
    // The Welcome echoes the capacity the engine found in the ring's header.
    if (result.welcome.ring_capacity_frames != ring_->capacity_frames()) {
        error = "the engine sees an audio ring of " + std::to_string(result.welcome.ring_capacity_frames) +
                " frames, not " + std::to_string(ring_->capacity_frames());
        pipe->disconnect();
        ring_.reset();
        return false;
    }
    if (result.welcome.lookahead_samples > result.welcome.total_latency_samples) {
        error = "the engine's Welcome has a lookahead above its total latency";
        pipe->disconnect();
        ring_.reset();
        return false;
    }
    pipe_ = std::move(pipe);
    consumer_ = std::make_unique<bridge::AudioRingConsumer>(*ring_);
    info.total_latency_samples = result.welcome.total_latency_samples;
    info.lookahead_samples = result.welcome.lookahead_samples;
    info.ring_capacity_frames = result.welcome.ring_capacity_frames;
    info.model_name = result.welcome.model_name;
    info.model_version = result.welcome.model_version;
    info.flags = result.welcome.flags;
    return true;
}

void BridgeEngineLink::close() {
    if (pipe_) {
        pipe_->disconnect();
        pipe_.reset();
    }
    consumer_.reset();
    ring_.reset();
}

bool BridgeEngineLink::connected() const noexcept {
    return pipe_ && pipe_->state() == bridge::PipeState::connected;
}

bool BridgeEngineLink::send_events(const MidiEvent* events, std::size_t count) noexcept {
    return pipe_ && pipe_->send(bridge::MidiEventsMessage{events, count});
}

bool BridgeEngineLink::send_clock(std::uint64_t stream_time) noexcept {
    return pipe_ && pipe_->send(bridge::ClockAdvanceMessage{stream_time});
}

bool BridgeEngineLink::send_parameter(std::uint64_t stream_time, std::uint32_t parameter_id, float value) noexcept {
    return pipe_ && pipe_->send(bridge::ParameterChangeMessage{stream_time, parameter_id, value});
}

bool BridgeEngineLink::send_transport_flush(std::uint64_t stream_time) noexcept {
    return pipe_ && pipe_->send(bridge::TransportMessage{bridge::TransportKind::flush, stream_time});
}

bool BridgeEngineLink::send_process_mode(ProcessMode mode, std::uint64_t stream_time) noexcept {
    return pipe_ && pipe_->send(bridge::ProcessModeMessage{mode, stream_time});
}

std::uint64_t BridgeEngineLink::published_until() const noexcept {
    return consumer_ ? consumer_->published_until() : 0;
}

std::size_t BridgeEngineLink::read_audio(std::uint64_t render_time, std::size_t frames, float* const* out) noexcept {
    return consumer_ ? consumer_->read(render_time, out, frames) : 0;
}

}  // namespace sostenuto::vst3
