// The standalone's audio path, free of JACK so it can be tested on its own:
// the plug-in's timing model over EngineSupervisor.
//
//  - The stream clock s counts the frames handed to the audio server since
//    the core was created (JACK: since activation); it never goes back and
//    keeps counting across engine sessions (the supervisor maps it to each
//    session's time). Periods the server skipped (an xrun) are skipped on the
//    clock too (skip_frames), so that s stays the server's time and the
//    latency from a key to its sound stays D, however many xruns there were.
//  - A period's MIDI events are stamped s + their frame offset and sent
//    before the period's one ClockAdvance(s + frames).
//  - The period's output is the engine's audio one reported latency D behind
//    (EngineSupervisor::read_audio: render time s − epoch start − D). What is
//    missing is faded out (no click) and the period counted as an underrun;
//    nothing ever waits.
//  - The first period of every session re-sends the engine parameters and
//    the MIDI state (held keys, pedal, pitch bend, controllers) at its s.
//  - Offline periods (JACK freewheeling: an export, no deadline) are the one
//    exception to "never waits": like the plug-in's kOffline they wait for the
//    engine's audio (ProcessMode offline is sent), so nothing is missing. A
//    wait that times out gives up waiting until the session or mode changes.
//
// Threads: the setters and counters() from any thread; begin_period(),
// add_midi() and end_period() from the audio thread, one period at a time.
// The audio side makes no allocation, takes no lock and makes no system call
// (but the bridge's non-blocking eventfd wake-up).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "midi_input.h"
#include "output_fade.h"
#include "sostenuto/bridge/engine_supervisor.h"

namespace sostenuto::standalone {

// The engine's parameters (docs/protocol.md, ParameterChange).
inline constexpr std::uint32_t parameter_temperature = 1;
inline constexpr std::uint32_t parameter_latency_mode = 2;
inline constexpr std::uint32_t parameter_lookahead_ms = 3;

struct InstrumentCounters {
    std::uint64_t periods = 0;
    std::uint64_t stream_time = 0;         // frames processed since activation
    std::uint64_t midi_events = 0;         // channel voice messages received
    std::uint64_t midi_ignored = 0;        // system messages (sysex, clock, …): not for the engine
    std::uint64_t midi_malformed = 0;      // no status byte, too short, bad data byte
    std::uint64_t midi_overflow = 0;       // events beyond a period's capacity (dropped)
    std::uint64_t midi_unsent = 0;         // events that arrived while no engine session ran
    std::uint64_t midi_dropped = 0;        // events the pipe's send queue refused
    std::uint64_t underrun_periods = 0;    // live periods whose audio was not all there (faded)
    std::uint64_t silent_periods = 0;      // periods without a running engine session
    std::uint64_t offline_periods = 0;     // periods processed offline (freewheeling), waiting for the engine
    std::uint64_t offline_timeouts = 0;    // offline waits that ran out
    std::uint64_t skipped_frames = 0;      // frames the server did not give us (xruns), skipped on the clock
    std::uint64_t panics = 0;              // panic() requests the audio thread has carried out
    std::uint64_t sessions_started = 0;    // sessions the audio thread has begun (each re-sent the state)
    std::uint64_t session_epoch = 0;       // the last of them
    std::uint64_t session_start = 0;       // its stream time 0, in the stream clock
    std::uint64_t session_start_host = 0;  // the host's frame time of that period (JACK: jack_last_frame_time)
    std::uint32_t session_latency = 0;     // its D
};

class InstrumentCore {
public:
    // Events one period can carry; more are dropped and counted.
    static constexpr std::size_t max_period_events = 4096;

    explicit InstrumentCore(bridge::EngineSupervisor& supervisor);
    InstrumentCore(const InstrumentCore&) = delete;
    InstrumentCore& operator=(const InstrumentCore&) = delete;

    // ---- any thread ----
    void set_gain_db(double db) noexcept;
    // Sent at the start of every session (ParameterChange ids 1 … 3).
    void set_engine_parameters(float temperature, bridge::LatencyMode mode, float lookahead_ms) noexcept;
    // The length of the underrun fade (2 ms at the server's rate); taken up
    // by the audio thread at its next period.
    void set_fade_samples(std::uint32_t samples) noexcept;
    // How long one offline period may wait for the engine (default 10 s).
    void set_offline_wait(std::chrono::milliseconds wait) noexcept;
    InstrumentCounters counters() const noexcept;
    // The panic button (SIGUSR1): the next period starts with all sound off
    // (CC 120) and reset all controllers (CC 121) on every channel, ahead of
    // its own MIDI: whatever sounds fades out within the engine's 10 ms, the
    // pedal is up, and the state a new engine would be told is empty.
    void panic() noexcept;

    // ---- audio thread ----
    // `host_time`: the host's own frame counter for this period (for the log
    // only); `offline`: no deadline (JACK freewheeling), wait for the engine.
    void begin_period(std::uint32_t frames, std::uint64_t host_time = 0, bool offline = false) noexcept;
    // The server did not call us for `frames` frames (an xrun): the stream
    // clock moves on by as much, before the next begin_period().
    void skip_frames(std::uint64_t frames) noexcept;
    // A raw MIDI message at `offset` frames into the period (clamped into it).
    // Offsets should not decrease (JACK's do not); a smaller one is raised to
    // the previous, so the engine sees the order they came in.
    void add_midi(std::uint32_t offset, const std::uint8_t* data, std::size_t size) noexcept;
    // Sends the period's events and clock, and writes its output.
    void end_period(float* left, float* right) noexcept;

private:
    bridge::EngineSupervisor& supervisor_;

    // Control → audio.
    std::atomic<float> gain_{1.0f};
    std::atomic<float> temperature_{1.0f};
    std::atomic<std::uint8_t> latency_mode_{0};
    std::atomic<float> lookahead_ms_{0.0f};
    std::atomic<std::uint32_t> fade_samples_{96};
    std::atomic<std::int64_t> offline_wait_us_{10 * 1000 * 1000};
    std::atomic<bool> panic_requested_{false};

    // The audio thread's own.
    std::unique_ptr<MidiEvent[]> events_;
    std::unique_ptr<MidiEvent[]> resync_;
    std::unique_ptr<MidiState> state_;
    std::size_t event_count_ = 0;
    std::uint32_t frames_ = 0;
    std::uint64_t host_time_ = 0;
    std::uint64_t stream_time_ = 0;
    bool offline_ = false;                    // this period's
    bridge::ProcessMode mode_ = bridge::ProcessMode::realtime;  // the mode last sent
    std::uint64_t gave_up_epoch_ = 0;         // an offline wait timed out in this session: do not wait again
    OutputFade fade_;

    // Counters (relaxed; written by the audio thread).
    std::atomic<std::uint64_t> periods_{0}, stream_time_shared_{0}, midi_events_{0}, midi_ignored_{0},
        midi_malformed_{0}, midi_overflow_{0}, midi_unsent_{0}, midi_dropped_{0}, underrun_periods_{0},
        silent_periods_{0}, offline_periods_{0}, offline_timeouts_{0}, skipped_frames_{0}, panics_{0}, sessions_started_{0}, session_epoch_{0}, session_start_{0}, session_start_host_{0};
    std::atomic<std::uint32_t> session_latency_{0};
};

}  // namespace sostenuto::standalone
