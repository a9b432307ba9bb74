// EngineLink over native-bridge: the Unix socket to `sostenuto serve`
// (PipeClient) and the instance's shared-memory audio ring.
//
// Where: $SOSTENUTO_ENGINE_SOCKET if set, else bridge::engine_socket_path()
// (<runtime dir>/sostenuto-engine.sock). The ring is created by this side,
// named bridge::audio_ring_name(instance id), 2 channels, and unlinked on close.
// Handshake timeout: 3 s, or $SOSTENUTO_CONNECT_TIMEOUT_MS.
#pragma once

#include <memory>

#include "engine_link.h"
#include "sostenuto/bridge/audio_ring.h"
#include "sostenuto/bridge/pipe_client.h"

namespace sostenuto::vst3 {

class BridgeEngineLink final : public EngineLink {
public:
    // The ring's capacity unless the engine asks for more (a power of two).
    static constexpr std::uint32_t kDefaultRingFrames = 1u << 16;

    BridgeEngineLink();
    ~BridgeEngineLink() override;

    bool open(const EngineConfig& config, EngineInfo& info, std::string& error) override;
    void close() override;
    bool connected() const noexcept override;

    bool send_events(const MidiEvent* events, std::size_t count) noexcept override;
    bool send_clock(std::uint64_t stream_time) noexcept override;
    bool send_parameter(std::uint64_t stream_time, std::uint32_t parameter_id, float value) noexcept override;
    bool send_transport_flush(std::uint64_t stream_time) noexcept override;
    bool send_process_mode(ProcessMode mode, std::uint64_t stream_time) noexcept override;
    std::uint64_t published_until() const noexcept override;
    std::size_t read_audio(std::uint64_t render_time, std::size_t frames, float* const* out) noexcept override;

private:
    bool ensure_ring(std::uint64_t instance_id, std::uint32_t capacity, std::string& error);

    std::unique_ptr<bridge::PipeClient> pipe_;
    std::unique_ptr<bridge::SharedAudioRing> ring_;
    std::unique_ptr<bridge::AudioRingConsumer> consumer_;
    std::uint64_t ring_instance_ = 0;
};

}  // namespace sostenuto::vst3
