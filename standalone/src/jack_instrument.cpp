#include "jack_instrument.h"

#include <jack/midiport.h>
#include <jack/transport.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#ifdef SOSTENUTO_JACK_AUDIO_CHECKS
#include <sys/resource.h>

#include "allocation_counter.h"
#endif

namespace sostenuto::standalone {

JackInstrument::~JackInstrument() { close(); }

bool JackInstrument::open(const std::string& client_name, const std::string& server_name, std::string& error) {
    jack_status_t status{};
    int flags = JackNoStartServer;
    if (!server_name.empty()) flags |= JackServerName;
    client_ = server_name.empty()
                  ? jack_client_open(client_name.c_str(), static_cast<jack_options_t>(flags), &status)
                  : jack_client_open(client_name.c_str(), static_cast<jack_options_t>(flags), &status, server_name.c_str());
    if (client_ == nullptr) {
        error = "cannot connect to the JACK server";
        if (!server_name.empty()) error += " '" + server_name + "'";
        if (status & JackServerFailed) error += " (is it running? start one with e.g. `jackd -d alsa` or `jackd -d dummy`)";
        if (status & JackNameNotUnique) error += " (the client name is taken)";
        return false;
    }
    sample_rate_.store(jack_get_sample_rate(client_));
    buffer_size_.store(jack_get_buffer_size(client_));
    midi_in_ = jack_port_register(client_, "midi_in", JACK_DEFAULT_MIDI_TYPE, JackPortIsInput | JackPortIsTerminal, 0);
    out_[0] = jack_port_register(client_, "out_L", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput | JackPortIsTerminal, 0);
    out_[1] = jack_port_register(client_, "out_R", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput | JackPortIsTerminal, 0);
    if (midi_in_ == nullptr || out_[0] == nullptr || out_[1] == nullptr) {
        error = "cannot register the JACK ports";
        close();
        return false;
    }
    if (jack_set_process_callback(client_, on_process, this) != 0 ||
        jack_set_latency_callback(client_, on_latency, this) != 0 ||
        jack_set_sample_rate_callback(client_, on_sample_rate, this) != 0 ||
        jack_set_buffer_size_callback(client_, on_buffer_size, this) != 0 ||
        jack_set_xrun_callback(client_, on_xrun, this) != 0 ||
        jack_set_freewheel_callback(client_, on_freewheel, this) != 0) {
        error = "cannot set the JACK callbacks";
        close();
        return false;
    }
    jack_on_info_shutdown(client_, on_shutdown, this);
    return true;
}

bool JackInstrument::activate(std::string& error) {
    if (jack_activate(client_) != 0) {
        error = "cannot activate the JACK client";
        return false;
    }
    active_ = true;
    return true;
}

bool JackInstrument::connect_midi_from(const std::string& source, std::string& error) {
    const int result = jack_connect(client_, source.c_str(), jack_port_name(midi_in_));
    if (result == 0 || result == EEXIST) return true;
    error = "cannot connect " + source + " to " + jack_port_name(midi_in_) + " (no such MIDI output?)";
    return false;
}

bool JackInstrument::connect_audio_to(const std::string& left, const std::string& right, std::string& error) {
    bool ok = true;
    const std::string* targets[2] = {&left, &right};
    for (int c = 0; c < 2; ++c) {
        const int result = jack_connect(client_, jack_port_name(out_[c]), targets[c]->c_str());
        if (result != 0 && result != EEXIST) {
            if (!error.empty()) error += "; ";
            error += "cannot connect " + std::string(jack_port_name(out_[c])) + " to " + *targets[c] + " (no such audio input?)";
            ok = false;
        }
    }
    return ok;
}

void JackInstrument::deactivate() {
    if (client_ != nullptr && active_ && !server_gone_.load()) jack_deactivate(client_);
    active_ = false;
}

void JackInstrument::close() {
    if (client_ == nullptr) return;
    deactivate();
    jack_client_close(client_);
    client_ = nullptr;
    midi_in_ = out_[0] = out_[1] = nullptr;
}

std::string JackInstrument::client_name() const { return client_ ? jack_get_client_name(client_) : ""; }

std::string JackInstrument::server_gone_reason() const {
    if (!server_gone_.load()) return "";
    return server_gone_reason_;
}

AudioThreadChecks JackInstrument::audio_thread_checks() const noexcept {
    AudioThreadChecks checks;
#ifdef SOSTENUTO_JACK_AUDIO_CHECKS
    checks.enabled = true;
#endif
    checks.allocations = allocations_.load(std::memory_order_relaxed);
    checks.context_switches = context_switches_.load(std::memory_order_relaxed);
    return checks;
}

void JackInstrument::set_latency(std::uint32_t samples) {
    if (latency_.exchange(samples) == samples) return;
    if (client_ != nullptr && active_ && !server_gone_.load()) jack_recompute_total_latencies(client_);
}

// ---- callbacks ------------------------------------------------------------------

int JackInstrument::on_process(jack_nframes_t frames, void* self) {
    return static_cast<JackInstrument*>(self)->process(frames);
}

int JackInstrument::process(jack_nframes_t frames) noexcept {
#ifdef SOSTENUTO_JACK_AUDIO_CHECKS
    // Test builds only: count what the callback allocates and how often it blocks
    // (getrusage itself is a system call, made outside the measured stretch).
    rusage before{};
    ::getrusage(RUSAGE_THREAD, &before);
    std::size_t allocations = 0;
    {
        ::sostenuto::bridge::testing::AllocationCountingScope counting;
#endif
    const jack_nframes_t frame_time = jack_last_frame_time(client_);
    if (have_last_frame_ && frame_time != expected_frame_) {
        // Cycles went by without us (an xrun). Up to a second is skipped on the
        // stream clock, which so stays JACK's time: a key keeps sounding D
        // after it is played. (A larger jump is not a skipped cycle; it is
        // counted, and the clock goes on from here.)
        cycle_gaps_.fetch_add(1, std::memory_order_relaxed);
        const auto gap = static_cast<std::int32_t>(frame_time - expected_frame_);
        if (gap > 0 && static_cast<std::uint32_t>(gap) <= sample_rate_.load(std::memory_order_relaxed))
            core_.skip_frames(static_cast<std::uint64_t>(gap));
    }
    have_last_frame_ = true;
    expected_frame_ = frame_time + frames;

    jack_position_t position{};
    const bool rolling = jack_transport_query(client_, &position) == JackTransportRolling;  // RT-safe (jack/transport.h)
    core_.begin_period(frames, frame_time, freewheeling_.load(std::memory_order_relaxed), rolling,
                       static_cast<std::int64_t>(position.frame));
    if (void* midi = jack_port_get_buffer(midi_in_, frames)) {
        const std::uint32_t count = jack_midi_get_event_count(midi);
        for (std::uint32_t i = 0; i < count; ++i) {
            jack_midi_event_t event;
            if (jack_midi_event_get(&event, midi, i) == 0) core_.add_midi(event.time, event.buffer, event.size);
        }
    }
    auto* left = static_cast<float*>(jack_port_get_buffer(out_[0], frames));
    auto* right = static_cast<float*>(jack_port_get_buffer(out_[1], frames));
    core_.end_period(left, right);
#ifdef SOSTENUTO_JACK_AUDIO_CHECKS
        allocations = counting.allocations();
    }
    rusage after{};
    ::getrusage(RUSAGE_THREAD, &after);
    allocations_.fetch_add(allocations, std::memory_order_relaxed);
    context_switches_.fetch_add(static_cast<std::uint64_t>(after.ru_nvcsw - before.ru_nvcsw), std::memory_order_relaxed);
#endif
    return 0;
}

void JackInstrument::on_latency(jack_latency_callback_mode_t mode, void* self_pointer) {
    auto* self = static_cast<JackInstrument*>(self_pointer);
    const std::uint32_t d = self->latency_.load();
    jack_latency_range_t range{};
    if (mode == JackCaptureLatency) {
        // What comes out of out_L/out_R was played into midi_in D frames earlier.
        jack_port_get_latency_range(self->midi_in_, JackCaptureLatency, &range);
        range.min += d;
        range.max += d;
        for (jack_port_t* port : self->out_) jack_port_set_latency_range(port, JackCaptureLatency, &range);
    } else {
        // A note arriving at midi_in reaches the outputs' destinations D frames later.
        jack_latency_range_t left{}, right{};
        jack_port_get_latency_range(self->out_[0], JackPlaybackLatency, &left);
        jack_port_get_latency_range(self->out_[1], JackPlaybackLatency, &right);
        range.min = std::min(left.min, right.min) + d;
        range.max = std::max(left.max, right.max) + d;
        jack_port_set_latency_range(self->midi_in_, JackPlaybackLatency, &range);
    }
}

int JackInstrument::on_sample_rate(jack_nframes_t rate, void* self_pointer) {
    auto* self = static_cast<JackInstrument*>(self_pointer);
    if (self->sample_rate_.exchange(rate) != rate) self->format_changes_.fetch_add(1);
    return 0;
}

int JackInstrument::on_buffer_size(jack_nframes_t frames, void* self_pointer) {
    auto* self = static_cast<JackInstrument*>(self_pointer);
    if (self->buffer_size_.exchange(frames) != frames) self->format_changes_.fetch_add(1);
    return 0;
}

int JackInstrument::on_xrun(void* self) {
    static_cast<JackInstrument*>(self)->xruns_.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

void JackInstrument::on_freewheel(int starting, void* self) {
    static_cast<JackInstrument*>(self)->freewheeling_.store(starting != 0);
}

void JackInstrument::on_shutdown(jack_status_t, const char* reason, void* self_pointer) {
    auto* self = static_cast<JackInstrument*>(self_pointer);
    // May run in a signal-like context: copy, no allocation.
    std::strncpy(self->server_gone_reason_, reason != nullptr ? reason : "", sizeof self->server_gone_reason_ - 1);
    self->server_gone_.store(true);
}

}  // namespace sostenuto::standalone
