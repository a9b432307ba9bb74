// The instrument core: everything a front end does per audio block between
// its host (a VST3 host, a JACK server) and the engine, written once. The VST3
// shim (plugin/) and sostenuto-jack (standalone/) are thin adapters over it:
// they turn their host's events into add_event() calls and hand over their
// output buffers; the core owns the policies.
//
// The timing model (docs/design.md):
//  - The stream clock s counts the frames handed to the host since reset()
//    (construction). It never goes back and keeps counting across engine
//    sessions (the engine stream maps it to each session's clock).
//  - A block's events are stamped s + their frame offset, stable-sorted by
//    time (so events a front end adds first stay first at the same sample),
//    and sent before the block's one ClockAdvance(s + frames).
//  - The block's output is the engine's audio one reported latency D behind.
//    What is missing is faded out (bridge::GapFade, no click) and counted;
//    realtime blocks never wait.
//  - Offline blocks (a bounce, JACK freewheeling) have no deadline: they wait
//    for a session that is being set up and for the engine's audio, bounded by
//    the offline wait. A wait that runs out gives up waiting until the next
//    session or mode change; an attempt to start the engine that fails ends
//    session waits until a session runs.
//  - The first block of every session tells the new engine what holds: the
//    engine parameters, then the MIDI state (bridge::HeldMidiState).
//
// Threads: the setters, counters() and panic() from any thread; reset() from
// a control thread while no block runs; begin_block() ... end_block() from the
// audio thread, one block at a time. The audio side makes no allocation, takes
// no lock and makes no system call other than the engine stream's
// non-blocking wake-up, except the waits of offline blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "sostenuto/bridge/engine_stream.h"
#include "sostenuto/bridge/gain_ramp.h"
#include "sostenuto/bridge/gap_fade.h"
#include "sostenuto/bridge/held_midi_state.h"
#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge {

struct InstrumentCounters {
    std::uint64_t blocks = 0;                // blocks processed (end_block calls)
    std::uint64_t zero_frame_blocks = 0;
    std::uint64_t stream_time = 0;           // s after the last block
    std::uint64_t underrun_blocks = 0;       // blocks with audio missing where it was due (after D without a session)
    std::uint64_t missing_frames = 0;        // those frames
    std::uint64_t live_underrun_blocks = 0;  // blocks of a live session whose audio was not all there
    std::uint64_t silent_blocks = 0;         // blocks without a live session
    std::uint64_t offline_blocks = 0;        // offline blocks of a live session that waited (or could) for the engine
    std::uint64_t offline_waits = 0;         // waits for a session or for audio
    std::uint64_t offline_timeouts = 0;      // waits that ran out
    std::uint64_t events_sent = 0;
    std::uint64_t events_unsent = 0;         // events of blocks without a live session (tracked, not sent)
    std::uint64_t events_dropped = 0;        // events the engine stream refused (send queue full)
    std::uint64_t events_overflow = 0;       // events beyond a block's capacity (dropped)
    std::uint64_t events_resent = 0;         // the MIDI state told to new sessions
    std::uint64_t transport_flushes = 0;
    std::uint64_t process_mode_changes = 0;
    std::uint64_t skipped_frames = 0;        // frames the host skipped (xruns), skipped on the clock
    std::uint64_t panics = 0;
    std::uint64_t sessions_started = 0;      // sessions the audio thread began (each told the state)
    std::uint64_t session_recoveries = 0;    // of those, the ones after an earlier session in this stream
    std::uint64_t session_epoch = 0;         // the last of them
    std::uint64_t session_start = 0;         // its stream time 0, on the stream clock
    std::uint64_t session_start_host = 0;    // the host's frame time of that block (begin_block's host_time)
    std::uint32_t session_latency = 0;       // its D
};

class InstrumentCore {
public:
    static constexpr std::size_t max_block_events = 4096;     // more in one block are dropped and counted
    static constexpr std::size_t max_parameter_changes = 256;  // sample-accurate ones per block
    static constexpr std::size_t output_channels = 2;
    static constexpr std::chrono::milliseconds default_offline_wait{30000};

    // `fade_in_first_audio`: whether the first audio after reset() fades in
    // (sostenuto-jack: it may join a stream that already sounds) or starts at
    // full level (the plug-in: a bounce equals the engine's render from sample 0).
    InstrumentCore(EngineStream& engine, bool fade_in_first_audio);
    InstrumentCore(const InstrumentCore&) = delete;
    InstrumentCore& operator=(const InstrumentCore&) = delete;

    // ---- control thread, while no block runs ----
    struct Stream {
        ProcessMode mode = ProcessMode::realtime;  // the mode the engine was started in
        std::uint32_t sample_rate = 48000;         // for the fade's length
        std::uint32_t reported_latency = 0;        // D the host was told: silence before it is not missing
        bool engine_expected = true;               // false: no engine can come; offline blocks do not wait for one
    };
    // A new stream: clock at 0, no MIDI state, parameters and gain as last set.
    void reset(const Stream& stream) noexcept;

    // ---- any thread ----
    // The value each new session is told, and that a block sends at its
    // start when it changed.
    void set_engine_parameter(EngineParameter id, float value) noexcept;
    float engine_parameter(EngineParameter id) const noexcept;
    void set_gain_db(double db) noexcept;  // a step at the next block's start
    double gain_db() const noexcept { return gain_db_.load(std::memory_order_relaxed); }
    void set_fade_samples(std::uint32_t samples) noexcept;  // taken up at the next block
    void set_offline_wait(std::chrono::milliseconds wait) noexcept;
    // The next block starts with all sound off (CC120) and reset all
    // controllers (CC121) on every channel, ahead of its own MIDI.
    void panic() noexcept;
    InstrumentCounters counters() const noexcept;
    // Called (from the audio thread, offline blocks only) when an offline wait
    // gives up: for the front end's log.
    enum class OfflineGaveUp { no_session, no_audio, engine_unavailable };
    using OfflineLog = void (*)(void* context, OfflineGaveUp what, std::uint64_t stream_time, std::uint32_t wait_ms);
    void set_offline_log(OfflineLog log, void* context) noexcept {
        offline_log_ = log;
        offline_log_context_ = context;
    }

    // ---- audio thread ----
    // `offline`: no deadline (kOffline, JACK freewheeling); `host_time`: the
    // host's own frame counter, for the log only.
    void begin_block(std::uint32_t frames, bool offline, std::uint64_t host_time = 0) noexcept;
    // The host skipped `frames` frames (an xrun): the clock moves on by as
    // much, before the next begin_block().
    void skip_frames(std::uint64_t frames) noexcept;
    // A MIDI channel voice message at `offset` frames into the block (clamped into it).
    void add_event(std::uint32_t offset, std::uint8_t status, std::uint8_t data1, std::uint8_t data2) noexcept;
    // An engine parameter change at `offset` (the host's automation).
    void add_parameter_change(std::uint32_t offset, EngineParameter id, float value) noexcept;
    // A gain automation point at `offset`, in dB.
    void add_gain_point(std::uint32_t offset, double db) noexcept;
    // The host's transport: a start, stop or jump flushes the engine (it
    // forgets its notes and the pedal) at this block's start.
    void set_transport(bool playing, std::int64_t position) noexcept;
    // Sends the block's state, events and clock, and writes its output into
    // out[0 ... channels) (any may be null; one channel gets the mono mix,
    // channels past two get silence).
    void end_block(float* const* out, std::size_t channels) noexcept;
    std::uint64_t stream_time() const noexcept { return stream_time_; }

private:
    struct ParameterChange {
        std::uint32_t offset;
        EngineParameter id;
        float value;
    };
    void begin_session(const EngineBlock& block) noexcept;
    void sync_parameters(bool send_all) noexcept;
    void send_events(bool live) noexcept;
    bool should_wait_for_session(const EngineBlock& block) const noexcept;
    void wait_for_session(std::uint64_t seen_epoch) noexcept;
    void render(float* const* out, std::size_t frames, bool live) noexcept;
    void render_block(float* const* out, std::size_t channels, bool live) noexcept;
    void gave_up(OfflineGaveUp what) noexcept;

    EngineStream& engine_;
    const bool fade_in_first_audio_;

    // Control → audio.
    std::atomic<float> parameter_[engine_parameter_count + 1];  // by id; [0] unused
    std::atomic<double> gain_db_{0.0};
    std::atomic<std::uint32_t> fade_samples_{96};
    std::atomic<std::int64_t> offline_wait_ms_{default_offline_wait.count()};
    std::atomic<bool> panic_requested_{false};
    OfflineLog offline_log_ = nullptr;
    void* offline_log_context_ = nullptr;

    // The audio thread's own (and reset()'s while no block runs).
    std::unique_ptr<MidiEvent[]> events_, sort_scratch_, restore_;
    std::unique_ptr<float[]> scratch_audio_;  // output_channels × scratch_frames, for mono or missing outputs
    static constexpr std::size_t scratch_frames = 1024;
    std::unique_ptr<HeldMidiState> held_;
    ParameterChange changes_[max_parameter_changes] = {};
    std::size_t change_count_ = 0;
    std::size_t event_count_ = 0;
    float sent_parameter_[engine_parameter_count + 1] = {};
    double applied_gain_db_ = 0.0;
    bool gain_points_ = false;
    double last_gain_point_db_ = 0.0;
    GainRamp gain_;
    GapFade fade_;
    std::uint32_t frames_ = 0;
    bool offline_ = false;
    std::uint64_t host_time_ = 0;
    std::uint64_t stream_time_ = 0;
    ProcessMode mode_ = ProcessMode::realtime;  // the mode last sent
    std::uint32_t reported_latency_ = 0;
    bool had_session_ = false;
    bool offline_gave_up_ = false;      // an offline wait ran out: no more until a new session or mode
    bool engine_unavailable_ = false;   // the engine could not be reached or started: offline blocks do not wait for a session
    bool have_transport_ = false, playing_ = false, flush_pending_ = false;
    std::int64_t expected_position_ = 0;

    // Counters (relaxed; written by the audio thread).
    struct AtomicCounters {
        std::atomic<std::uint64_t> blocks{0}, zero_frame_blocks{0}, stream_time{0}, underrun_blocks{0}, missing_frames{0},
            live_underrun_blocks{0}, silent_blocks{0}, offline_blocks{0}, offline_waits{0}, offline_timeouts{0},
            events_sent{0}, events_unsent{0}, events_dropped{0}, events_overflow{0}, events_resent{0},
            transport_flushes{0}, process_mode_changes{0}, skipped_frames{0}, panics{0}, sessions_started{0},
            session_recoveries{0}, session_epoch{0}, session_start{0}, session_start_host{0};
        std::atomic<std::uint32_t> session_latency{0};
    } counters_;
};

}  // namespace sostenuto::bridge
