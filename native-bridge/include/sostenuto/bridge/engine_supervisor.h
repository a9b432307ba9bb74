// The connection to the engine, kept alive: one front-end instance's audio
// ring, its sessions with the engine, and the engine process itself.
//
// A background thread owns the lifecycle:
//
//   connecting ── Welcome ──▶ running ── engine closes / dies ──▶ down
//       ▲  (connect; if nothing listens,                          │
//       │   start the engine and connect                          │ wait (back-off)
//       │   with back-off; Hello/Welcome)                         │
//       └─────────────────────────────────────────────────────────┘
//
// Every Welcome starts a new *epoch* (a session: protocol stream time 0, ring
// positions 0). The front end keeps one stream clock of its own, counting
// from its activation; the supervisor maps it to the session's stream time by
// subtracting the epoch's start, which is the front end's stream time of the
// first block the audio thread processed in that epoch. Until a session is
// running the audio thread sends nothing and reads silence.
//
// The audio thread and the supervisor meet in a two-flag gate (Dekker-style,
// seq_cst atomics): the audio thread raises `busy` for the length of one block
// and then checks `open`; the supervisor lowers `open` and then waits for
// `busy` to drop before it touches anything the audio thread uses (the pipe,
// the ring's positions, the ring itself). So the audio thread never waits, and
// never reads a ring that is being reset or replaced: a block either sees the
// whole session or none of it.
//
// The ring's positions are reset before each Hello, and only once no engine
// can still write into the ring for an earlier session: the engine unmaps a
// session's ring before it closes the connection, so the supervisor waits (up
// to close_wait) to see the engine's end close. If it does not see that (a
// hung engine), it replaces the ring with a fresh shared-memory object of the
// same name, so a late write from the old session lands in the old, unlinked
// object.
//
// Threads:
//  - start(), stop(), wait_until_running(), last_error(), welcome(): a control
//    thread (not the audio thread): they block, allocate and lock.
//  - state(), epoch(), total_latency_samples(), engine_pid(), counters(): any
//    thread, wait-free (atomics).
//  - begin_block() … end_block() and everything between: the audio thread,
//    one thread at a time. Wait-free and allocation-free, with no locks and no
//    system calls other than the pipe's non-blocking eventfd wake-up — except
//    read_audio_waiting(), which sleeps (offline mode only).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "sostenuto/bridge/audio_ring.h"
#include "sostenuto/bridge/engine_launcher.h"
#include "sostenuto/bridge/engine_locator.h"
#include "sostenuto/bridge/engine_stream.h"
#include "sostenuto/bridge/pipe_client.h"
#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::bridge {

struct EngineSupervisorEvent {
    EngineState state = EngineState::stopped;
    std::uint64_t epoch = 0;                  // the session that is running (or was last)
    std::uint32_t total_latency_samples = 0;  // its D
    bool latency_changed = false;             // running: D differs from the previous session's
    std::string message;                      // what happened, for the log and the user
};

struct EngineSupervisorConfig {
    // ---- the Hello of every session ----
    std::uint32_t sample_rate = 48000;
    std::uint32_t max_block_size = 512;
    // The first session's process mode; later sessions use the mode last sent
    // with send_process_mode().
    ProcessMode process_mode = ProcessMode::realtime;
    LatencyMode latency_mode = LatencyMode::live;
    std::uint32_t requested_lookahead_samples = 0;
    std::uint32_t compute_slack_samples = 0;
    std::uint64_t instance_id = 0;  // random per instance, stable across its sessions; names the ring

    // ---- the audio ring (created by start(), kept across stop()/start() if it still fits) ----
    std::uint32_t ring_channels = 2;
    std::uint32_t ring_capacity_frames = 1u << 16;  // a power of two, 16 … 2^24

    // ---- the engine ----
    std::string socket_path;              // empty: engine_socket_path()
    std::optional<EngineCommand> engine;  // how to start it; empty: never start one, only (re)connect
    LaunchOptions launch;                 // --idle-exit, log, extra arguments (`cancel` is set by the supervisor)
    std::chrono::milliseconds launch_timeout{30000};  // starting an engine until it listens (model load included)
    std::chrono::milliseconds handshake_timeout{2000};  // Hello until Welcome
    // Delay before retrying after a failed attempt or a lost session: the first
    // retry after a session that lasted stable_session is immediate; then
    // min_retry_delay, doubling up to max_retry_delay.
    std::chrono::milliseconds min_retry_delay{100};
    std::chrono::milliseconds max_retry_delay{5000};
    // A session that played this long was not a crash loop (an engine that dies
    // on what it is sent dies when the held notes are replayed to it, within
    // milliseconds): the engine is started again at once.
    std::chrono::milliseconds stable_session{1000};
    // After a session: how long to wait for the engine to close its end
    // before the ring is replaced rather than reused.
    std::chrono::milliseconds close_wait{500};
    std::size_t send_queue_bytes = 256 * 1024;

    // Called on the supervisor's thread at every state change. Keep it short;
    // it must not call start() or stop() (they join that thread).
    std::function<void(const EngineSupervisorEvent&)> on_event;
};

class EngineSupervisor final : public EngineStream {
public:
    EngineSupervisor();
    // stop(), then unmaps and unlinks the ring.
    ~EngineSupervisor() override;
    EngineSupervisor(const EngineSupervisor&) = delete;
    EngineSupervisor& operator=(const EngineSupervisor&) = delete;

    // ---- control thread ----

    // Creates (or keeps) the ring and starts the supervisor's thread, which
    // connects (starting the engine if needed) in the background: returns at
    // once. Stops a previous run first. False (and why) when the ring or the
    // socket path cannot be had.
    bool start(const EngineSupervisorConfig& config, std::string& error);
    // Ends the session with Goodbye and joins the thread (bounded by the
    // handshake timeout when an attempt is under way). The audio thread must
    // be outside begin_block()/end_block() or get there on its own (an
    // offline wait ends early). The ring is kept for the next start().
    void stop();
    // Waits until a session is running (true), the supervisor is stopped, or
    // the timeout passes.
    bool wait_until_running(std::chrono::milliseconds timeout) const;
    // Why the last attempt or session failed ("" if none has).
    std::string last_error() const;
    // The current (or last) session's Welcome.
    std::optional<EngineWelcome> welcome() const;

    // ---- any thread ----
    EngineState state() const noexcept override { return state_.load(std::memory_order_acquire); }
    std::uint64_t epoch() const noexcept { return epoch_.load(std::memory_order_acquire); }
    // D of the running (or last) session; 0 before the first Welcome.
    std::uint32_t total_latency_samples() const noexcept { return latency_.load(std::memory_order_acquire); }
    // The engine process of the running session (SO_PEERCRED); 0 when none.
    int engine_pid() const noexcept { return engine_pid_.load(std::memory_order_relaxed); }
    EngineSupervisorCounters counters() const noexcept override;
    // ClockAdvances held back because the next one would carry them (see send_clock()).
    std::uint64_t clocks_held() const noexcept { return clocks_held_.load(std::memory_order_relaxed); }

    // ---- audio thread ----

    // Starts a block at the front end's stream time `stream_time` (its own
    // clock: samples since activation, never decreasing). Everything below is
    // valid only between begin_block() and end_block(). Never waits.
    EngineBlock begin_block(std::uint64_t stream_time) noexcept override;
    // Ends the block: the supervisor may now change the session.
    void end_block() noexcept override;

    // Stream times are the front end's; they are mapped to the session's. All
    // return false without a live session (not counted: silent_blocks says
    // that), and false plus a counted drop when the frame does not fit the
    // send queue. Events may be any number: they go in frames of up to 5461.
    bool send_events(const MidiEvent* events, std::size_t count) noexcept override;
    bool send_clock(std::uint64_t stream_time) noexcept override;
    bool send_parameter(std::uint64_t stream_time, std::uint32_t parameter_id, float value) noexcept override;
    bool send_transport_flush(std::uint64_t stream_time) noexcept override;
    bool send_process_mode(ProcessMode mode, std::uint64_t stream_time) noexcept override;

    // Fills out[c][0 … frames) for c < ring channels with the output for the
    // front end's stream times [stream_time, stream_time + frames): render
    // times before the session's 0 are silence, then what the engine has
    // published. Returns how many leading frames are real output; the rest is
    // zeros (an underrun when live, counted): fade over them. Without a live
    // session: all zeros, returns 0. Never waits. (Before the first start()
    // the channel count is unknown and `out` is left alone.)
    std::size_t read_audio(std::uint64_t stream_time, float* const* out, std::size_t frames) noexcept override;
    // Offline mode: like read_audio(), but first sleeps (in steps of 100 µs)
    // until the engine has published the whole block, the session ends, stop()
    // is called, or max_wait passes.
    std::size_t read_audio_waiting(std::uint64_t stream_time, float* const* out, std::size_t frames,
                                   std::chrono::microseconds max_wait) noexcept override;
    // The front end's stream time up to which output is available now (0 without a live session).
    std::uint64_t available_until() const noexcept override;

private:
    void run();
    bool attempt_session();  // connect, maybe launch, handshake; true: session running
    void supervise_session();
    bool prepare_ring(std::string& error);
    bool replace_ring(std::string& error);
    void close_gate();
    void set_state(EngineState state, std::string message, bool latency_changed = false);
    void record_error(const std::string& error);
    std::chrono::milliseconds retry_delay() const;
    void sleep_interruptibly(std::chrono::milliseconds delay);
    void copy_pipe_counters();
    bool stop_requested() const noexcept { return stop_requested_.load(std::memory_order_acquire); }

    // Set by start(), read by the supervisor's thread.
    EngineSupervisorConfig config_;
    std::string socket_path_;

    // Owned by the supervisor's thread while it runs; used by the audio
    // thread only between begin_block() and end_block() with the gate open.
    std::unique_ptr<SharedAudioRing> ring_;
    std::unique_ptr<AudioRingConsumer> consumer_;
    std::unique_ptr<PipeClient> pipe_;
    bool ring_clean_ = true;  // no engine may still write into the ring for an earlier session
    std::unique_ptr<MidiEvent[]> event_scratch_;  // the audio thread's, for mapping event times

    // The gate (see the top of this file). seq_cst, always.
    std::atomic<bool> gate_open_{false};
    std::atomic<bool> audio_busy_{false};

    // Published before the gate opens.
    std::atomic<std::uint64_t> epoch_{0};
    std::atomic<std::uint32_t> latency_{0};
    // Session samples a ClockAdvance may be held back when a block sends nothing else
    // (0: one with every block). See send_clock().
    std::atomic<std::uint32_t> clock_interval_{0};
    bool clock_every_block_ = false;  // SOSTENUTO_CLOCK_EVERY_BLOCK=1 (benchmarks/cost compares)
    std::atomic<ProcessMode> process_mode_{ProcessMode::realtime};
    std::atomic<std::uint32_t> channels_{0};  // the ring's, for zero-filling without touching the ring

    // The audio thread's own.
    bool in_block_ = false;
    bool live_ = false;
    std::uint64_t audio_epoch_ = 0;
    std::uint64_t audio_epoch_start_ = 0;
    std::uint32_t audio_latency_ = 0;
    std::uint32_t audio_clock_interval_ = 0;
    std::uint64_t last_clock_sent_ = 0;   // session time of the last ClockAdvance sent
    bool sent_since_clock_ = true;        // a frame went out since then: the next clock goes at once

    std::atomic<EngineState> state_{EngineState::stopped};
    std::atomic<int> engine_pid_{0};
    std::atomic<bool> stop_requested_{false};
    std::thread thread_;

    // Counters.
    std::atomic<std::uint64_t> launches_{0}, failed_attempts_{0}, sessions_lost_{0}, ring_replacements_{0};
    std::atomic<std::uint64_t> silent_blocks_{0}, audio_underruns_{0}, dropped_{0}, clocks_held_{0};
    std::atomic<std::uint64_t> engine_underruns_{0}, engine_late_events_{0};

    // Retry policy, the supervisor's thread only.
    int consecutive_failures_ = 0;

    mutable std::mutex mutex_;  // guards the fields below and the waits
    mutable std::condition_variable changed_;
    std::string last_error_;
    std::optional<EngineWelcome> welcome_;
};

}  // namespace sostenuto::bridge
