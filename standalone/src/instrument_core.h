// The standalone's audio path, free of JACK so it can be tested on its own:
// raw JACK MIDI into native-bridge's instrument core (bridge::InstrumentCore,
// which owns the timing model, the state re-sent to a new engine, the offline
// waits, the underrun fade and the gain) over EngineSupervisor.
//
// What is JACK's and so stays here:
//  - The stream clock counts the frames handed to the audio server since the
//    core was created (JACK: since activation). Periods the server skipped (an
//    xrun) are skipped on the clock too (skip_frames), so that it stays the
//    server's time and the latency from a key to its sound stays D.
//  - JACK delivers raw MIDI, one message per event, in order: system
//    messages are counted and dropped, broken ones counted, and a smaller
//    offset than the one before is raised to it, so the engine sees the
//    order they came in.
//  - Freewheeling (an export) is the core's offline mode.
//
// Threads: the setters and counters() from any thread; begin_period(),
// add_midi() and end_period() from the audio thread, one period at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "midi_input.h"
#include "sostenuto/bridge/engine_stream.h"
#include "sostenuto/bridge/instrument_paths.h"

namespace sostenuto::standalone {

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
    // `engine`: the session whose latency JACK is told (EngineSupervisor, or a
    // test's stream); `live_beside`: Auto's live session (null: no Auto).
    explicit InstrumentCore(bridge::EngineStream& engine, bridge::EngineStream* live_beside = nullptr);
    InstrumentCore(const InstrumentCore&) = delete;
    InstrumentCore& operator=(const InstrumentCore&) = delete;

    // ---- any thread ----
    void set_gain_db(double db) noexcept { core_.set_gain_db(db); }
    // Sent at the start of every session.
    void set_engine_parameters(float temperature, bridge::LatencyMode mode, float lookahead_ms) noexcept;
    // The choice (live, studio, auto), also the engine parameter's value. In
    // Auto the JACK transport decides the path (begin_period's `rolling`).
    void set_engine_parameters(float temperature, bridge::LatencyChoice choice, float lookahead_ms) noexcept;
    bridge::RenderPath current_path() const noexcept { return core_.current_path(); }
    bridge::PathCounters path_counters() const noexcept { return core_.path_counters(); }
    // The length of the underrun fade (2 ms at the server's rate); taken up
    // by the audio thread at its next period.
    void set_fade_samples(std::uint32_t samples) noexcept { core_.set_fade_samples(samples); }
    // How long one offline period may wait for the engine (default: the core's).
    void set_offline_wait(std::chrono::milliseconds wait) noexcept { core_.set_offline_wait(wait); }
    InstrumentCounters counters() const noexcept;
    // The panic button (SIGUSR1): the next period starts with all sound off
    // (CC 120) and reset all controllers (CC 121) on every channel, ahead of
    // its own MIDI: whatever sounds fades out within the engine's 10 ms, the
    // pedal is up, and the state a new engine would be told is empty.
    void panic() noexcept { core_.panic(); }

    // ---- audio thread ----
    // `host_time`: the host's own frame counter for this period (for the log
    // only); `offline`: no deadline (JACK freewheeling), wait for the engine.
    // `rolling`, `transport_frame`: the JACK transport (jack_transport_query);
    // only Auto follows it (a rolling transport is a MIDI player's timeline:
    // the studio path; stopped: a keyboard, the live path).
    void begin_period(std::uint32_t frames, std::uint64_t host_time = 0, bool offline = false, bool rolling = false,
                      std::int64_t transport_frame = 0) noexcept;
    // The server did not call us for `frames` frames (an xrun): the stream
    // clock moves on by as much, before the next begin_period().
    void skip_frames(std::uint64_t frames) noexcept { core_.skip_frames(frames); }
    // A raw MIDI message at `offset` frames into the period (clamped into it).
    void add_midi(std::uint32_t offset, const std::uint8_t* data, std::size_t size) noexcept;
    // Sends the period's events and clock, and writes its output.
    void end_period(float* left, float* right) noexcept;

private:
    bridge::InstrumentPaths core_;
    std::atomic<bool> follow_transport_{false};
    std::uint32_t last_offset_ = 0;  // the period's latest MIDI offset so far
    std::atomic<std::uint64_t> midi_events_{0}, midi_ignored_{0}, midi_malformed_{0};
};

}  // namespace sostenuto::standalone
