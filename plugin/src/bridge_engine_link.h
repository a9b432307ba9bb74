// EngineLink over native-bridge's EngineSupervisor: one per component, for
// the component's lifetime. The supervisor owns the instance's shared-memory
// audio ring (`/sostenuto-<uid>-<instance id>`, 2 channels, unlinked when the
// link is destroyed), its connection to `sostenuto serve`, and the engine
// process: it starts the engine bundled with the plug-in when none listens,
// and after an engine death starts another and opens a new session.
//
// Where the engine listens: $SOSTENUTO_ENGINE_SOCKET if set, else
// <runtime dir>/sostenuto-engine.sock. What it starts: $SOSTENUTO_ENGINE if
// set, else `<bundle>/Contents/Resources/engine/sostenuto` found from this
// module's own path (bridge::locate_engine). Without either, it only connects
// to an engine started some other way. The engine is started as
// `<engine> serve --socket PATH --idle-exit 30`.
#pragma once

#include <mutex>
#include <optional>

#include "engine_link.h"
#include "sostenuto/bridge/engine_supervisor.h"

namespace sostenuto::vst3 {

class BridgeEngineLink final : public EngineLink {
public:
    // --idle-exit of an engine this link starts.
    static constexpr double kEngineIdleExitSeconds = 30.0;

    BridgeEngineLink();
    ~BridgeEngineLink() override;

    bool start(const EngineConfig& config, EngineEventHandler on_event, std::string& error) override;
    void stop() override;
    bool wait_for_session(std::chrono::milliseconds timeout) override;
    std::optional<EngineInfo> info() const override;
    std::string last_error() const override;

    EngineState state() const noexcept override { return supervisor_.state(); }
    EngineCounters counters() const noexcept override { return supervisor_.counters(); }
    int engine_pid() const noexcept override { return supervisor_.engine_pid(); }

    EngineBlock begin_block(std::uint64_t stream_time) noexcept override { return supervisor_.begin_block(stream_time); }
    void end_block() noexcept override { supervisor_.end_block(); }
    bool send_events(const MidiEvent* events, std::size_t count) noexcept override {
        return supervisor_.send_events(events, count);
    }
    bool send_clock(std::uint64_t stream_time) noexcept override { return supervisor_.send_clock(stream_time); }
    bool send_parameter(std::uint64_t stream_time, std::uint32_t parameter_id, float value) noexcept override {
        return supervisor_.send_parameter(stream_time, parameter_id, value);
    }
    bool send_transport_flush(std::uint64_t stream_time) noexcept override {
        return supervisor_.send_transport_flush(stream_time);
    }
    bool send_process_mode(ProcessMode mode, std::uint64_t stream_time) noexcept override {
        return supervisor_.send_process_mode(mode, stream_time);
    }
    std::uint64_t available_until() const noexcept override { return supervisor_.available_until(); }
    std::size_t read_audio(std::uint64_t stream_time, float* const* out, std::size_t frames) noexcept override {
        return supervisor_.read_audio(stream_time, out, frames);
    }
    std::size_t read_audio_waiting(std::uint64_t stream_time, float* const* out, std::size_t frames,
                                   std::chrono::microseconds max_wait) noexcept override {
        return supervisor_.read_audio_waiting(stream_time, out, frames, max_wait);
    }

private:
    // Finds the engine program once (from this module's path or $SOSTENUTO_ENGINE).
    void locate_once();

    bool located_ = false;
    std::optional<bridge::EngineCommand> engine_;
    bridge::EngineSupervisor supervisor_;
};

}  // namespace sostenuto::vst3
