// The audio-thread side of a connection to the engine, as a front end's
// instrument core sees it: one block at a time, stream times on the front
// end's own clock. EngineSupervisor is the real one; the VST3 shim's tests put
// a scripted engine behind the same interface (plugin/src/engine_link.h).
//
// Threads: state() and counters() from any thread, wait-free. begin_block()
// ... end_block() and everything between from the audio thread, one block at
// a time: no allocation, no locks, no blocking - except read_audio_waiting(),
// which sleeps (offline mode only). Without a live session the senders return
// false and read_audio() gives silence.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge {

enum class EngineState : std::uint8_t {
    stopped,     // before start() and after stop()
    connecting,  // trying to reach an engine: connecting, starting one, handshaking
    running,     // a session is up: audio flows
    down,        // the engine went away, or the last attempt failed; retrying after a delay
};

const char* to_string(EngineState state) noexcept;

// Counters for the log and the UI. Read one by one: not a single snapshot.
struct EngineSupervisorCounters {
    std::uint64_t sessions = 0;            // Welcomes received (the epoch)
    std::uint64_t engine_launches = 0;     // engine processes this supervisor started
    std::uint64_t failed_attempts = 0;     // attempts that did not end in a Welcome
    std::uint64_t sessions_lost = 0;       // sessions the engine ended (crash, error), not our Goodbye
    std::uint64_t ring_replacements = 0;   // rings replaced because an old session's engine did not let go
    std::uint64_t silent_blocks = 0;       // audio blocks without a running session
    std::uint64_t audio_underruns = 0;     // live blocks whose audio was not all in the ring (realtime)
    std::uint64_t messages_dropped = 0;    // frames not sent in a live session (send queue full, engine just gone)
    std::uint64_t engine_underruns = 0;    // the engine's Status, this session
    std::uint64_t engine_late_events = 0;  // the engine's Status, this session
};

// What begin_block() found.
struct EngineBlock {
    bool live = false;           // a session is running: send_*() and read_audio() talk to it
    bool new_session = false;    // the first live block of this epoch: re-send what the new
                                 // engine must know (held notes, pedal, pitch bend, parameters)
    std::uint64_t epoch = 0;     // which session (1, 2, …); 0 before the first
    std::uint64_t epoch_start = 0;            // the front end's stream time that is the session's stream time 0
    std::uint32_t total_latency_samples = 0;  // D of this session (output at stream time s is render time s − start − D)
};

class EngineStream {
public:
    virtual ~EngineStream() = default;

    // ---- any thread ----
    virtual EngineState state() const noexcept = 0;
    virtual EngineSupervisorCounters counters() const noexcept = 0;

    // ---- audio thread (see EngineSupervisor for the full contract) ----
    // Starts a block at the front end's stream time (its own clock, never
    // decreasing); everything below is valid only until end_block().
    virtual EngineBlock begin_block(std::uint64_t stream_time) noexcept = 0;
    virtual void end_block() noexcept = 0;
    // Any number of events: they are split into messages in the stream itself.
    virtual bool send_events(const MidiEvent* events, std::size_t count) noexcept = 0;
    virtual bool send_clock(std::uint64_t stream_time) noexcept = 0;
    virtual bool send_parameter(std::uint64_t stream_time, std::uint32_t parameter_id, float value) noexcept = 0;
    virtual bool send_transport_flush(std::uint64_t stream_time) noexcept = 0;
    // Also remembered without a session: the next session's Hello carries it.
    virtual bool send_process_mode(ProcessMode mode, std::uint64_t stream_time) noexcept = 0;
    // The stream time up to which output is available now (0 without a session).
    virtual std::uint64_t available_until() const noexcept = 0;
    // Fills out[0], out[1] [0, frames) with the output for [stream_time,
    // stream_time + frames) and returns how many leading frames are real
    // output; the rest are zeros. Never waits.
    virtual std::size_t read_audio(std::uint64_t stream_time, float* const* out, std::size_t frames) noexcept = 0;
    // Offline: the same, after sleeping until the block is complete, the
    // session ends, or max_wait passes.
    virtual std::size_t read_audio_waiting(std::uint64_t stream_time, float* const* out, std::size_t frames,
                                           std::chrono::microseconds max_wait) noexcept = 0;
};

// RAII for one audio block: begin_block() in the constructor, end_block() in
// the destructor.
class EngineBlockScope {
public:
    EngineBlockScope(EngineStream& engine, std::uint64_t stream_time) noexcept
        : engine_(engine), block_(engine.begin_block(stream_time)) {}
    ~EngineBlockScope() { engine_.end_block(); }
    EngineBlockScope(const EngineBlockScope&) = delete;
    EngineBlockScope& operator=(const EngineBlockScope&) = delete;
    const EngineBlock& block() const noexcept { return block_; }
    // Leaves the block for a while (an offline wait, during which the session
    // may change) and begins it again at `stream_time`.
    template <typename Wait>
    void leave_and_reenter(std::uint64_t stream_time, Wait&& wait) noexcept {
        engine_.end_block();
        wait(block_);
        block_ = engine_.begin_block(stream_time);
    }

private:
    EngineStream& engine_;
    EngineBlock block_;
};

}  // namespace sostenuto::bridge
