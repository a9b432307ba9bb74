#include "instrument_core.h"

namespace sostenuto::standalone {

// The fade-in of the first audio: the standalone may join a stream that already sounds.
InstrumentCore::InstrumentCore(bridge::EngineStream& engine, bridge::EngineStream* live_beside)
    : core_(engine, live_beside, /*fade_in_first_audio=*/true) {
    core_.reset(bridge::InstrumentCore::Stream{}, 8192);
    set_engine_parameters(1.0f, bridge::LatencyChoice::live, 0.0f);
}

void InstrumentCore::set_engine_parameters(float temperature, bridge::LatencyMode mode, float lookahead_ms) noexcept {
    set_engine_parameters(temperature, mode == bridge::LatencyMode::live ? bridge::LatencyChoice::live : bridge::LatencyChoice::studio,
                          lookahead_ms);
}

void InstrumentCore::set_engine_parameters(float temperature, bridge::LatencyChoice choice, float lookahead_ms) noexcept {
    core_.set_choice(choice);
    follow_transport_.store(choice == bridge::LatencyChoice::automatic, std::memory_order_relaxed);
    core_.set_engine_parameter(bridge::EngineParameter::temperature, temperature);
    core_.set_engine_parameter(bridge::EngineParameter::latency_mode, static_cast<float>(choice));
    core_.set_engine_parameter(bridge::EngineParameter::lookahead_ms, lookahead_ms);
}

InstrumentCounters InstrumentCore::counters() const noexcept {
    const bridge::InstrumentCounters k = core_.counters();
    InstrumentCounters c;
    c.periods = k.blocks;
    c.stream_time = k.stream_time;
    c.midi_events = midi_events_.load(std::memory_order_relaxed);
    c.midi_ignored = midi_ignored_.load(std::memory_order_relaxed);
    c.midi_malformed = midi_malformed_.load(std::memory_order_relaxed);
    c.midi_overflow = k.events_overflow;
    c.midi_unsent = k.events_unsent;
    c.midi_dropped = k.events_dropped;
    c.underrun_periods = k.live_underrun_blocks;
    c.silent_periods = k.silent_blocks;
    c.offline_periods = k.offline_blocks;
    c.offline_timeouts = k.offline_timeouts;
    c.skipped_frames = k.skipped_frames;
    c.panics = k.panics;
    c.sessions_started = k.sessions_started;
    c.session_epoch = k.session_epoch;
    c.session_start = k.session_start;
    c.session_start_host = k.session_start_host;
    c.session_latency = k.session_latency;
    return c;
}

void InstrumentCore::begin_period(std::uint32_t frames, std::uint64_t host_time, bool offline, bool rolling,
                                  std::int64_t transport_frame) noexcept {
    last_offset_ = 0;
    core_.begin_block(frames, offline, host_time);
    // JACK has no record state: the transport rolling is the timeline playing.
    if (follow_transport_.load(std::memory_order_relaxed)) core_.set_transport(rolling, false, transport_frame);
}

void InstrumentCore::add_midi(std::uint32_t offset, const std::uint8_t* data, std::size_t size) noexcept {
    bridge::MidiEvent event;
    switch (parse_midi(data, size, 0, event)) {
        case MidiParse::ignored: midi_ignored_.fetch_add(1, std::memory_order_relaxed); return;
        case MidiParse::malformed: midi_malformed_.fetch_add(1, std::memory_order_relaxed); return;
        case MidiParse::voice: break;
    }
    midi_events_.fetch_add(1, std::memory_order_relaxed);
    if (offset < last_offset_) offset = last_offset_;  // the order they came in
    last_offset_ = offset;
    core_.add_event(offset, event.status, event.data1, event.data2);
}

void InstrumentCore::end_period(float* left, float* right) noexcept {
    float* out[2] = {left, right};
    core_.end_block(out, 2);
}

}  // namespace sostenuto::standalone
