// The JACK side of sostenuto-jack: the client, its ports and callbacks.
//
// Ports: midi_in (MIDI), out_L and out_R (audio). The process callback hands
// the period's MIDI and output buffers to InstrumentCore; the other callbacks
// only store what they learn in atomics for the control thread (main.cpp),
// which restarts the engine session when the sample rate or buffer size
// changes and recomputes the latencies when the engine's D changes.
//
// Freewheeling (JACK runs the graph as fast as it can, for an export): the
// periods are processed in offline mode, waiting for the engine, as the
// plug-in does for a bounce.
//
// Latency (JACK's latency API): the outputs' capture latency is midi_in's
// capture latency + D, and midi_in's playback latency is the outputs'
// playback latency + D (a note played at frame t sounds at t + D).
#pragma once

#include <jack/jack.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "instrument_core.h"

namespace sostenuto::standalone {

struct AudioThreadChecks {
    bool enabled = false;              // built with SOSTENUTO_JACK_AUDIO_CHECKS
    std::uint64_t allocations = 0;     // heap allocations inside the process callback
    std::uint64_t context_switches = 0;  // voluntary context switches inside it (it blocked)
};

class JackInstrument {
public:
    explicit JackInstrument(InstrumentCore& core) : core_(core) {}
    ~JackInstrument();
    JackInstrument(const JackInstrument&) = delete;
    JackInstrument& operator=(const JackInstrument&) = delete;

    // Opens the client (never starting a server) and registers ports and callbacks.
    bool open(const std::string& client_name, const std::string& server_name, std::string& error);
    bool activate(std::string& error);
    // Connects `source` → midi_in; false with the reason.
    bool connect_midi_from(const std::string& source, std::string& error);
    // Connects out_L → left and out_R → right.
    bool connect_audio_to(const std::string& left, const std::string& right, std::string& error);
    void deactivate();
    void close();

    std::string client_name() const;
    std::uint32_t sample_rate() const noexcept { return sample_rate_.load(); }
    std::uint32_t buffer_size() const noexcept { return buffer_size_.load(); }
    // Bumped by the sample-rate and buffer-size callbacks (whatever the value).
    std::uint64_t format_changes() const noexcept { return format_changes_.load(); }
    std::uint64_t xruns() const noexcept { return xruns_.load(std::memory_order_relaxed); }
    // Periods whose frame time did not follow the previous one's (cycles were
    // skipped; up to a second of them is skipped on the stream clock too).
    std::uint64_t cycle_gaps() const noexcept { return cycle_gaps_.load(std::memory_order_relaxed); }
    bool server_gone() const noexcept { return server_gone_.load(); }
    // JACK is freewheeling (an export): periods wait for the engine (offline mode).
    bool freewheeling() const noexcept { return freewheeling_.load(); }
    std::string server_gone_reason() const;
    AudioThreadChecks audio_thread_checks() const noexcept;

    // The latency D reported on the ports; asks JACK to recompute when it changed.
    void set_latency(std::uint32_t samples);
    std::uint32_t latency() const noexcept { return latency_.load(); }

private:
    static int on_process(jack_nframes_t frames, void* self);
    static void on_latency(jack_latency_callback_mode_t mode, void* self);
    static int on_sample_rate(jack_nframes_t rate, void* self);
    static int on_buffer_size(jack_nframes_t frames, void* self);
    static int on_xrun(void* self);
    static void on_freewheel(int starting, void* self);
    static void on_shutdown(jack_status_t code, const char* reason, void* self);
    int process(jack_nframes_t frames) noexcept;

    InstrumentCore& core_;
    jack_client_t* client_ = nullptr;
    jack_port_t* midi_in_ = nullptr;
    jack_port_t* out_[2] = {nullptr, nullptr};
    bool active_ = false;

    std::atomic<std::uint32_t> sample_rate_{0}, buffer_size_{0}, latency_{0};
    std::atomic<std::uint64_t> format_changes_{0}, xruns_{0}, cycle_gaps_{0};
    std::atomic<bool> server_gone_{false};
    std::atomic<bool> freewheeling_{false};
    char server_gone_reason_[256] = {};

    // The process thread's own.
    bool have_last_frame_ = false;
    jack_nframes_t expected_frame_ = 0;
    std::atomic<std::uint64_t> allocations_{0}, context_switches_{0};
};

}  // namespace sostenuto::standalone
