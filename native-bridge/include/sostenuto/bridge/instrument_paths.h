// Auto latency: the instrument over one or two engine sessions. Both front
// ends (the VST3 shim, sostenuto-jack) drive this, not InstrumentCore
// directly: they feed it their host's state (playing, recording, offline)
// and MIDI; which path renders what is decided here, by latency_policy.h's
// path_for() and PathRouter, and nowhere else (docs/live-mode.md, "Auto").
//
//  - Live and Studio: one session (the reported one) renders everything;
//    this is InstrumentCore unchanged.
//  - Auto: the reported session is a studio one (the host compensates its
//    D_studio), and a live session runs beside it. Each block's note-ons go
//    to the path path_for() gives (studio while the timeline plays, live when
//    the transport is stopped or recording; offline always studio); a note
//    ends on the path it started on. The output is the studio session's audio
//    (stream time s plays render time s - D_studio) plus the live session's
//    (render time s - D_live): a key played into a stopped host sounds after
//    D_live, not D_studio, while the latency the host is told stays D_studio.
//  - While the live session is not running (starting, or its engine being
//    replaced), the live path's note-ons take the studio path: late, not lost.
//  - The live session's output is mixed while its path is the block's path,
//    while it holds keys, and for live_tail_seconds after its last note, and
//    faded in and out over a block; not during offline blocks (the live
//    session is not driven at all then: its clock skips them). So timeline
//    playback and a bounce are the studio session's audio alone.
//
// Threads: as InstrumentCore's. reset() allocates (the mix buffer) and runs
// on a control thread while no block runs; the audio side allocates nothing,
// takes no lock and never blocks (offline blocks wait, as the core's do).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "sostenuto/bridge/instrument_core.h"
#include "sostenuto/bridge/latency_policy.h"

namespace sostenuto::bridge {

struct PathCounters {
    std::uint64_t live_note_ons = 0;     // note-ons routed to the live path
    std::uint64_t studio_note_ons = 0;   // note-ons routed to the studio path
    std::uint64_t live_blocks_mixed = 0; // blocks whose output has the live session's audio in it
    std::uint64_t path_changes = 0;      // blocks whose path differs from the block before (Auto)
};

class InstrumentPaths {
public:
    static constexpr double live_tail_seconds = 4.0;

    // `reported`: the session the host's latency is reported for (live in
    // Live, studio in Studio and Auto). `live_beside`: Auto's live session
    // (null: no Auto; Auto then plays everything on the reported session).
    InstrumentPaths(EngineStream& reported, EngineStream* live_beside, bool fade_in_first_audio);
    InstrumentPaths(const InstrumentPaths&) = delete;
    InstrumentPaths& operator=(const InstrumentPaths&) = delete;

    // ---- control thread, while no block runs ----
    // A new stream for both sessions; `max_block`: the largest block to mix
    // (larger ones play the reported session alone).
    void reset(const InstrumentCore::Stream& stream, std::uint32_t max_block);

    // ---- any thread ----
    void set_choice(LatencyChoice choice) noexcept { choice_.store(choice, std::memory_order_relaxed); }
    LatencyChoice choice() const noexcept { return choice_.load(std::memory_order_relaxed); }
    void set_engine_parameter(EngineParameter id, float value) noexcept;
    float engine_parameter(EngineParameter id) const noexcept { return reported_.engine_parameter(id); }
    void set_gain_db(double db) noexcept;
    void set_fade_samples(std::uint32_t samples) noexcept;
    void set_offline_wait(std::chrono::milliseconds wait) noexcept;
    void panic() noexcept;
    void set_offline_log(InstrumentCore::OfflineLog log, void* context) noexcept { reported_.set_offline_log(log, context); }
    InstrumentCounters counters() const noexcept { return reported_.counters(); }
    InstrumentCounters live_beside_counters() const noexcept { return live_.counters(); }
    PathCounters path_counters() const noexcept;
    // The path the last block's note-ons took (for tests and the status line).
    RenderPath current_path() const noexcept { return current_path_.load(std::memory_order_relaxed); }

    // ---- audio thread ----
    void begin_block(std::uint32_t frames, bool offline, std::uint64_t host_time = 0) noexcept;
    void skip_frames(std::uint64_t frames) noexcept;
    // The host's transport for this block, before its events. `recording`:
    // VST3 kRecording (JACK: false). A block without a call keeps the last state.
    void set_transport(bool playing, bool recording, std::int64_t position) noexcept;
    void add_event(std::uint32_t offset, std::uint8_t status, std::uint8_t data1, std::uint8_t data2) noexcept;
    void add_parameter_change(std::uint32_t offset, EngineParameter id, float value) noexcept;
    void add_gain_point(std::uint32_t offset, double db) noexcept;
    void end_block(float* const* out, std::size_t channels) noexcept;
    std::uint64_t stream_time() const noexcept { return reported_.stream_time(); }

private:
    // The live core's stream when there is no live session beside: no session, ever.
    struct NoEngine final : EngineStream {
        EngineState state() const noexcept override { return EngineState::stopped; }
        EngineSupervisorCounters counters() const noexcept override { return {}; }
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

    NoEngine no_engine_;
    InstrumentCore reported_;
    InstrumentCore live_;   // over live_beside (or the reported stream, unused, when there is none)
    const bool have_live_;
    EngineStream* const live_stream_;  // live_beside, or null
    void set_path(RenderPath path) noexcept;
    std::atomic<LatencyChoice> choice_{default_latency_choice};
    std::atomic<RenderPath> current_path_{RenderPath::studio};
    PathRouter router_;

    // The audio thread's.
    bool auto_ = false;         // this block: two paths
    bool offline_ = false;
    std::uint32_t frames_ = 0;
    HostTransport host_;
    RenderPath path_ = RenderPath::studio;
    bool have_path_ = false;
    std::uint64_t live_until_ = 0;   // stream time until which the live path stays mixed
    std::uint32_t tail_samples_ = 192000;
    float live_gain_ = 0.0f;         // the live mix's gain at the end of the last block
    std::unique_ptr<float[]> mix_;   // 2 × mix_frames_
    std::uint32_t mix_frames_ = 0;

    struct {
        std::atomic<std::uint64_t> live_note_ons{0}, studio_note_ons{0}, live_blocks_mixed{0}, path_changes{0};
    } counters_;
};

}  // namespace sostenuto::bridge
