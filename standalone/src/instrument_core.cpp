#include "instrument_core.h"

#include <cmath>

namespace sostenuto::standalone {

InstrumentCore::InstrumentCore(bridge::EngineSupervisor& supervisor)
    : supervisor_(supervisor),
      events_(new MidiEvent[max_period_events]),
      resync_(new MidiEvent[MidiState::max_resync_events]),
      state_(new MidiState) {
    // Touch what the audio thread writes, so it never takes a first-write page fault.
    for (std::size_t i = 0; i < max_period_events; ++i) events_[i] = MidiEvent{};
    for (std::size_t i = 0; i < MidiState::max_resync_events; ++i) resync_[i] = MidiEvent{};
    fade_.reset(fade_samples_.load(), /*start_in_gap=*/true);
}

void InstrumentCore::set_gain_db(double db) noexcept {
    gain_.store(static_cast<float>(std::pow(10.0, db / 20.0)), std::memory_order_relaxed);
}

void InstrumentCore::set_engine_parameters(float temperature, bridge::LatencyMode mode, float lookahead_ms) noexcept {
    temperature_.store(temperature, std::memory_order_relaxed);
    latency_mode_.store(static_cast<std::uint8_t>(mode), std::memory_order_relaxed);
    lookahead_ms_.store(lookahead_ms, std::memory_order_relaxed);
}

void InstrumentCore::set_fade_samples(std::uint32_t samples) noexcept {
    fade_samples_.store(samples < 1 ? 1 : samples, std::memory_order_relaxed);
}

void InstrumentCore::set_offline_wait(std::chrono::milliseconds wait) noexcept {
    offline_wait_us_.store(std::chrono::duration_cast<std::chrono::microseconds>(wait).count(), std::memory_order_relaxed);
}

void InstrumentCore::panic() noexcept { panic_requested_.store(true, std::memory_order_relaxed); }

InstrumentCounters InstrumentCore::counters() const noexcept {
    InstrumentCounters c;
    c.periods = periods_.load(std::memory_order_relaxed);
    c.stream_time = stream_time_shared_.load(std::memory_order_relaxed);
    c.midi_events = midi_events_.load(std::memory_order_relaxed);
    c.midi_ignored = midi_ignored_.load(std::memory_order_relaxed);
    c.midi_malformed = midi_malformed_.load(std::memory_order_relaxed);
    c.midi_overflow = midi_overflow_.load(std::memory_order_relaxed);
    c.midi_unsent = midi_unsent_.load(std::memory_order_relaxed);
    c.midi_dropped = midi_dropped_.load(std::memory_order_relaxed);
    c.underrun_periods = underrun_periods_.load(std::memory_order_relaxed);
    c.silent_periods = silent_periods_.load(std::memory_order_relaxed);
    c.offline_periods = offline_periods_.load(std::memory_order_relaxed);
    c.offline_timeouts = offline_timeouts_.load(std::memory_order_relaxed);
    c.skipped_frames = skipped_frames_.load(std::memory_order_relaxed);
    c.panics = panics_.load(std::memory_order_relaxed);
    c.sessions_started = sessions_started_.load(std::memory_order_acquire);
    c.session_epoch = session_epoch_.load(std::memory_order_relaxed);
    c.session_start = session_start_.load(std::memory_order_relaxed);
    c.session_start_host = session_start_host_.load(std::memory_order_relaxed);
    c.session_latency = session_latency_.load(std::memory_order_relaxed);
    return c;
}

// ---- audio thread ----------------------------------------------------------------

void InstrumentCore::begin_period(std::uint32_t frames, std::uint64_t host_time, bool offline) noexcept {
    frames_ = frames;
    host_time_ = host_time;
    offline_ = offline;
    event_count_ = 0;
    if (panic_requested_.exchange(false, std::memory_order_relaxed)) {
        for (std::uint8_t channel = 0; channel < 16; ++channel) {
            const auto status = static_cast<std::uint8_t>(0xB0 | channel);
            events_[event_count_++] = MidiEvent{stream_time_, status, 120, 0};  // all sound off
            events_[event_count_++] = MidiEvent{stream_time_, status, 121, 0};  // reset all controllers
        }
        panics_.fetch_add(1, std::memory_order_relaxed);
    }
}

void InstrumentCore::skip_frames(std::uint64_t frames) noexcept {
    stream_time_ += frames;
    stream_time_shared_.store(stream_time_, std::memory_order_relaxed);
    skipped_frames_.fetch_add(frames, std::memory_order_relaxed);
}

void InstrumentCore::add_midi(std::uint32_t offset, const std::uint8_t* data, std::size_t size) noexcept {
    const std::uint32_t last = frames_ > 0 ? frames_ - 1 : 0;
    std::uint64_t time = stream_time_ + (offset < last ? offset : last);
    if (event_count_ > 0 && time < events_[event_count_ - 1].stream_time) time = events_[event_count_ - 1].stream_time;
    MidiEvent event;
    switch (parse_midi(data, size, time, event)) {
        case MidiParse::ignored: midi_ignored_.fetch_add(1, std::memory_order_relaxed); return;
        case MidiParse::malformed: midi_malformed_.fetch_add(1, std::memory_order_relaxed); return;
        case MidiParse::voice: break;
    }
    midi_events_.fetch_add(1, std::memory_order_relaxed);
    if (event_count_ == max_period_events) {
        midi_overflow_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    events_[event_count_++] = event;
}

void InstrumentCore::end_period(float* left, float* right) noexcept {
    const std::uint64_t s = stream_time_;
    const std::uint32_t n = frames_;
    const std::uint32_t fade = fade_samples_.load(std::memory_order_relaxed);
    if (fade != fade_.ramp()) fade_.reset(fade, /*start_in_gap=*/true);

    bridge::EngineBlockScope scope(supervisor_, s);
    const bridge::EngineBlock& block = scope.block();
    // The engine hears of a mode change at this period's start (and the next Hello carries it).
    const bridge::ProcessMode mode = offline_ ? bridge::ProcessMode::offline : bridge::ProcessMode::realtime;
    if (mode != mode_) {
        supervisor_.send_process_mode(mode, s);
        mode_ = mode;
        gave_up_epoch_ = 0;
    }
    if (block.live && block.new_session) {
        // A new engine knows nothing: parameters first, then where the player is.
        supervisor_.send_parameter(s, parameter_temperature, temperature_.load(std::memory_order_relaxed));
        supervisor_.send_parameter(s, parameter_latency_mode, static_cast<float>(latency_mode_.load(std::memory_order_relaxed)));
        supervisor_.send_parameter(s, parameter_lookahead_ms, lookahead_ms_.load(std::memory_order_relaxed));
        const std::size_t k = state_->resync(s, resync_.get(), MidiState::max_resync_events);
        if (k > 0 && !supervisor_.send_events(resync_.get(), k)) midi_dropped_.fetch_add(k, std::memory_order_relaxed);
        session_epoch_.store(block.epoch, std::memory_order_relaxed);
        session_start_.store(block.epoch_start, std::memory_order_relaxed);
        session_start_host_.store(host_time_, std::memory_order_relaxed);  // epoch_start is s: this period
        session_latency_.store(block.total_latency_samples, std::memory_order_relaxed);
        sessions_started_.fetch_add(1, std::memory_order_release);
    }
    if (event_count_ > 0) {
        if (!block.live)
            midi_unsent_.fetch_add(event_count_, std::memory_order_relaxed);
        else if (!supervisor_.send_events(events_.get(), event_count_))
            midi_dropped_.fetch_add(event_count_, std::memory_order_relaxed);
        for (std::size_t i = 0; i < event_count_; ++i) state_->apply(events_[i]);
        event_count_ = 0;
    }
    if (n == 0) return;
    if (block.live) supervisor_.send_clock(s + n);

    float* out[2] = {left, right};
    std::size_t got = 0;
    if (offline_ && block.live && gave_up_epoch_ != block.epoch) {
        offline_periods_.fetch_add(1, std::memory_order_relaxed);
        got = supervisor_.read_audio_waiting(
            s, out, n, std::chrono::microseconds(offline_wait_us_.load(std::memory_order_relaxed)));
        if (got < n) {
            // The engine did not deliver in time (or went away): stop waiting for this session.
            gave_up_epoch_ = block.epoch;
            offline_timeouts_.fetch_add(1, std::memory_order_relaxed);
        }
    } else {
        got = supervisor_.read_audio(s, out, n);
    }
    if (!block.live) {
        for (float* channel : out)
            for (std::uint32_t i = 0; i < n; ++i) channel[i] = 0.0f;
        silent_periods_.fetch_add(1, std::memory_order_relaxed);
    } else if (got < n)
        underrun_periods_.fetch_add(1, std::memory_order_relaxed);
    fade_.process(out, n, got);

    const float gain = gain_.load(std::memory_order_relaxed);
    if (gain != 1.0f)
        for (float* channel : out)
            for (std::uint32_t i = 0; i < n; ++i) channel[i] *= gain;

    stream_time_ = s + n;
    stream_time_shared_.store(stream_time_, std::memory_order_relaxed);
    periods_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace sostenuto::standalone
