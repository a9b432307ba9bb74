#include "sostenuto/bridge/instrument_paths.h"

#include <algorithm>
#include <cmath>

namespace sostenuto::bridge {

InstrumentPaths::InstrumentPaths(EngineStream& reported, EngineStream* live_beside, bool fade_in_first_audio)
    : reported_(reported, fade_in_first_audio),
      live_(live_beside != nullptr ? *live_beside : static_cast<EngineStream&>(no_engine_), true),
      have_live_(live_beside != nullptr),
      live_stream_(live_beside) {
    reset(InstrumentCore::Stream{}, 1024);
}

void InstrumentPaths::reset(const InstrumentCore::Stream& stream, std::uint32_t max_block) {
    reported_.reset(stream);
    InstrumentCore::Stream live = stream;
    live.mode = ProcessMode::realtime;  // the live session never renders offline: it is not driven then
    live.reported_latency = 0;
    live.engine_expected = false;       // and never waited for
    live_.reset(live);
    router_.reset();
    have_path_ = false;
    host_ = HostTransport{};
    live_until_ = 0;
    live_gain_ = 0.0f;
    tail_samples_ = static_cast<std::uint32_t>(std::lround(live_tail_seconds * stream.sample_rate));
    const std::uint32_t frames = std::max<std::uint32_t>(max_block, 1024);
    if (frames != mix_frames_) {
        mix_.reset(new float[2 * static_cast<std::size_t>(frames)]);
        mix_frames_ = frames;
    }
    std::fill(mix_.get(), mix_.get() + 2 * static_cast<std::size_t>(mix_frames_), 0.0f);
}

void InstrumentPaths::set_engine_parameter(EngineParameter id, float value) noexcept {
    reported_.set_engine_parameter(id, value);
    live_.set_engine_parameter(id, value);
}

void InstrumentPaths::set_gain_db(double db) noexcept {
    reported_.set_gain_db(db);
    live_.set_gain_db(db);
}

void InstrumentPaths::set_fade_samples(std::uint32_t samples) noexcept {
    reported_.set_fade_samples(samples);
    live_.set_fade_samples(samples);
}

void InstrumentPaths::set_offline_wait(std::chrono::milliseconds wait) noexcept {
    reported_.set_offline_wait(wait);
    live_.set_offline_wait(wait);
}

void InstrumentPaths::panic() noexcept {
    reported_.panic();
    live_.panic();
}

PathCounters InstrumentPaths::path_counters() const noexcept {
    PathCounters c;
    c.live_note_ons = counters_.live_note_ons.load(std::memory_order_relaxed);
    c.studio_note_ons = counters_.studio_note_ons.load(std::memory_order_relaxed);
    c.live_blocks_mixed = counters_.live_blocks_mixed.load(std::memory_order_relaxed);
    c.path_changes = counters_.path_changes.load(std::memory_order_relaxed);
    return c;
}

// ---- audio thread ------------------------------------------------------------------

void InstrumentPaths::begin_block(std::uint32_t frames, bool offline, std::uint64_t host_time) noexcept {
    frames_ = frames;
    offline_ = offline;
    const LatencyChoice choice = choice_.load(std::memory_order_relaxed);
    auto_ = have_live_ && needs_live_beside(choice);
    host_.offline = offline;
    reported_.begin_block(frames, offline, host_time);
    // Offline, the live session gets a zero-frame block (the MIDI it is
    // given - note-offs of keys it holds - is sent and tracked) and its clock
    // skips the frames at the end: it renders nothing for a bounce.
    if (auto_) live_.begin_block(offline ? 0 : frames, false, host_time);
    set_path(path_for(choice, host_));
}

// The block's path for new note-ons. In Auto, while the live session is not
// running (still starting, or its engine is being replaced), the live path's
// note-ons take the studio path: heard late rather than not at all.
void InstrumentPaths::set_path(RenderPath path) noexcept {
    if (auto_ && path == RenderPath::live && live_stream_->state() != EngineState::running) path = RenderPath::studio;
    if (have_path_ && path != path_) counters_.path_changes.fetch_add(1, std::memory_order_relaxed);
    path_ = path;
    have_path_ = true;
    router_.set_path(path);
    current_path_.store(path, std::memory_order_relaxed);
}

void InstrumentPaths::skip_frames(std::uint64_t frames) noexcept {
    reported_.skip_frames(frames);
    live_.skip_frames(frames);
}

void InstrumentPaths::set_transport(bool playing, bool recording, std::int64_t position) noexcept {
    // The reported session keeps the transport's flushes (a stop or jump
    // releases the timeline's notes); the live one never hears the transport:
    // a key held across a start, a jump or a punch stays where it started.
    reported_.set_transport(playing, position);
    host_.playing = playing;
    host_.recording = recording;
    set_path(path_for(choice_.load(std::memory_order_relaxed), host_));
}

void InstrumentPaths::add_event(std::uint32_t offset, std::uint8_t status, std::uint8_t data1, std::uint8_t data2) noexcept {
    const bool note_on = (status & 0xF0) == 0x90 && data2 != 0;
    if (!auto_) {
        reported_.add_event(offset, status, data1, data2);
        return;
    }
    const PathRouter::Route to = router_.route(status, data1, data2);
    if (to.studio) reported_.add_event(offset, status, data1, data2);
    if (to.live) live_.add_event(offset, status, data1, data2);
    if (note_on) {
        if (to.live) {
            counters_.live_note_ons.fetch_add(1, std::memory_order_relaxed);
        } else {
            counters_.studio_note_ons.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (to.live && !to.studio) live_until_ = reported_.stream_time() + offset + tail_samples_;
}

void InstrumentPaths::add_parameter_change(std::uint32_t offset, EngineParameter id, float value) noexcept {
    reported_.add_parameter_change(offset, id, value);
    if (auto_) live_.add_parameter_change(offset, id, value);
}

void InstrumentPaths::add_gain_point(std::uint32_t offset, double db) noexcept {
    reported_.add_gain_point(offset, db);
    if (auto_) live_.add_gain_point(offset, db);
}

void InstrumentPaths::end_block(float* const* out, std::size_t channels) noexcept {
    const std::uint64_t s = reported_.stream_time();
    reported_.end_block(out, channels);
    if (!auto_) {
        live_.skip_frames(frames_);  // the clocks stay together for a later Auto
        return;
    }
    if (offline_) {
        // Offline: the studio session alone (a bounce is its render). The live
        // session's clock moves on without it; what it had rung out is gone.
        live_.end_block(nullptr, 0);
        live_.skip_frames(frames_);
        live_gain_ = 0.0f;
        return;
    }
    const bool mix_fits = frames_ <= mix_frames_ && channels >= 1 && out[0] != nullptr;
    float* scratch[2] = {mix_.get(), mix_.get() + mix_frames_};
    live_.end_block(mix_fits ? scratch : nullptr, mix_fits ? 2 : 0);
    const bool audible = path_ == RenderPath::live || router_.holds(RenderPath::live) || s + frames_ <= live_until_;
    const float target = audible ? 1.0f : 0.0f;
    const float from = live_gain_;
    live_gain_ = target;
    if (!mix_fits || (from == 0.0f && target == 0.0f) || frames_ == 0) return;
    counters_.live_blocks_mixed.fetch_add(1, std::memory_order_relaxed);
    const float step = (target - from) / static_cast<float>(frames_);
    const bool stereo = channels >= 2 && out[1] != nullptr;
    for (std::uint32_t i = 0; i < frames_; ++i) {
        const float g = from + step * static_cast<float>(i + 1);
        if (stereo) {
            out[0][i] += g * scratch[0][i];
            out[1][i] += g * scratch[1][i];
        } else {
            out[0][i] += g * 0.5f * (scratch[0][i] + scratch[1][i]);
        }
    }
}

}  // namespace sostenuto::bridge
