#include "sostenuto/bridge/instrument_core.h"

#include <time.h>

#include <algorithm>

#include "sostenuto/bridge/latency_policy.h"

namespace sostenuto::bridge {
namespace {

// Stable bottom-up merge sort of events by stream time, with caller-provided
// scratch of the same size (std::stable_sort may allocate).
void stable_sort_events(MidiEvent* events, MidiEvent* scratch, std::size_t count) noexcept {
    MidiEvent* src = events;
    MidiEvent* dst = scratch;
    for (std::size_t width = 1; width < count; width *= 2) {
        for (std::size_t lo = 0; lo < count; lo += 2 * width) {
            const std::size_t mid = std::min(lo + width, count), hi = std::min(lo + 2 * width, count);
            std::size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) dst[o++] = (src[b].stream_time < src[a].stream_time) ? src[b++] : src[a++];
            while (a < mid) dst[o++] = src[a++];
            while (b < hi) dst[o++] = src[b++];
        }
        std::swap(src, dst);
    }
    if (src != events) std::copy(src, src + count, events);
}

void sleep_microseconds(long us) noexcept {
    timespec ts{0, us * 1000L};
    ::nanosleep(&ts, nullptr);
}

std::size_t index_of(EngineParameter id) noexcept {
    const auto i = static_cast<std::size_t>(id);
    return i >= 1 && i <= engine_parameter_count ? i : 0;
}

}  // namespace

InstrumentCore::InstrumentCore(EngineStream& engine, bool fade_in_first_audio)
    : engine_(engine),
      fade_in_first_audio_(fade_in_first_audio),
      events_(new MidiEvent[max_block_events]),
      sort_scratch_(new MidiEvent[max_block_events]),
      restore_(new MidiEvent[HeldMidiState::max_restore_events]),
      scratch_audio_(new float[output_channels * scratch_frames]),
      held_(new HeldMidiState) {
    // Touch what the audio thread writes, so that it never takes a first-write page fault.
    std::fill(events_.get(), events_.get() + max_block_events, MidiEvent{});
    std::fill(sort_scratch_.get(), sort_scratch_.get() + max_block_events, MidiEvent{});
    std::fill(restore_.get(), restore_.get() + HeldMidiState::max_restore_events, MidiEvent{});
    std::fill(scratch_audio_.get(), scratch_audio_.get() + output_channels * scratch_frames, 0.0f);
    for (auto& p : parameter_) p.store(0.0f, std::memory_order_relaxed);
    parameter_[index_of(EngineParameter::temperature)].store(1.0f, std::memory_order_relaxed);
    reset(Stream{});
}

void InstrumentCore::reset(const Stream& stream) noexcept {
    stream_time_ = 0;
    counters_.stream_time.store(0, std::memory_order_relaxed);
    mode_ = stream.mode;
    reported_latency_ = stream.reported_latency;
    had_session_ = false;
    offline_gave_up_ = false;
    engine_unavailable_ = !stream.engine_expected;
    held_->reset();
    for (std::size_t i = 0; i <= engine_parameter_count; ++i) sent_parameter_[i] = parameter_[i].load(std::memory_order_relaxed);
    applied_gain_db_ = gain_db_.load(std::memory_order_relaxed);
    gain_.reset(applied_gain_db_);
    const std::uint32_t ramp = fade_samples_for(stream.sample_rate);
    fade_samples_.store(ramp, std::memory_order_relaxed);
    fade_.reset(ramp, fade_in_first_audio_);
    have_transport_ = flush_pending_ = false;
    event_count_ = change_count_ = 0;
}

// ---- any thread --------------------------------------------------------------------

void InstrumentCore::set_engine_parameter(EngineParameter id, float value) noexcept {
    if (const std::size_t i = index_of(id); i != 0) parameter_[i].store(value, std::memory_order_relaxed);
}

float InstrumentCore::engine_parameter(EngineParameter id) const noexcept {
    return parameter_[index_of(id)].load(std::memory_order_relaxed);
}

void InstrumentCore::set_gain_db(double db) noexcept { gain_db_.store(db, std::memory_order_relaxed); }

void InstrumentCore::set_fade_samples(std::uint32_t samples) noexcept {
    fade_samples_.store(samples < 1 ? 1 : samples, std::memory_order_relaxed);
}

void InstrumentCore::set_offline_wait(std::chrono::milliseconds wait) noexcept {
    offline_wait_ms_.store(wait.count(), std::memory_order_relaxed);
}

void InstrumentCore::panic() noexcept { panic_requested_.store(true, std::memory_order_relaxed); }

InstrumentCounters InstrumentCore::counters() const noexcept {
    const auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    InstrumentCounters c;
    c.blocks = get(counters_.blocks);
    c.zero_frame_blocks = get(counters_.zero_frame_blocks);
    c.stream_time = get(counters_.stream_time);
    c.underrun_blocks = get(counters_.underrun_blocks);
    c.missing_frames = get(counters_.missing_frames);
    c.live_underrun_blocks = get(counters_.live_underrun_blocks);
    c.silent_blocks = get(counters_.silent_blocks);
    c.offline_blocks = get(counters_.offline_blocks);
    c.offline_waits = get(counters_.offline_waits);
    c.offline_timeouts = get(counters_.offline_timeouts);
    c.events_sent = get(counters_.events_sent);
    c.events_unsent = get(counters_.events_unsent);
    c.events_dropped = get(counters_.events_dropped);
    c.events_overflow = get(counters_.events_overflow);
    c.events_resent = get(counters_.events_resent);
    c.transport_flushes = get(counters_.transport_flushes);
    c.process_mode_changes = get(counters_.process_mode_changes);
    c.skipped_frames = get(counters_.skipped_frames);
    c.panics = get(counters_.panics);
    c.sessions_started = counters_.sessions_started.load(std::memory_order_acquire);
    c.session_recoveries = get(counters_.session_recoveries);
    c.session_epoch = get(counters_.session_epoch);
    c.session_start = get(counters_.session_start);
    c.session_start_host = get(counters_.session_start_host);
    c.session_latency = counters_.session_latency.load(std::memory_order_relaxed);
    return c;
}

// ---- audio thread: collecting a block ------------------------------------------------

void InstrumentCore::begin_block(std::uint32_t frames, bool offline, std::uint64_t host_time) noexcept {
    frames_ = frames;
    offline_ = offline;
    host_time_ = host_time;
    event_count_ = change_count_ = 0;
    flush_pending_ = false;
    gain_points_ = false;
    gain_.begin_block();
    if (panic_requested_.exchange(false, std::memory_order_relaxed)) {
        for (std::uint8_t channel = 0; channel < HeldMidiState::channels; ++channel) {
            add_event(0, static_cast<std::uint8_t>(0xB0 | channel), 120, 0);  // all sound off
            add_event(0, static_cast<std::uint8_t>(0xB0 | channel), 121, 0);  // reset all controllers
        }
        counters_.panics.fetch_add(1, std::memory_order_relaxed);
    }
}

void InstrumentCore::skip_frames(std::uint64_t frames) noexcept {
    stream_time_ += frames;
    counters_.stream_time.store(stream_time_, std::memory_order_relaxed);
    counters_.skipped_frames.fetch_add(frames, std::memory_order_relaxed);
}

void InstrumentCore::add_event(std::uint32_t offset, std::uint8_t status, std::uint8_t data1, std::uint8_t data2) noexcept {
    if (event_count_ == max_block_events) {
        counters_.events_overflow.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    const std::uint32_t last = frames_ > 0 ? frames_ - 1 : 0;
    events_[event_count_++] = MidiEvent{stream_time_ + std::min(offset, last), status, data1, data2};
}

void InstrumentCore::add_parameter_change(std::uint32_t offset, EngineParameter id, float value) noexcept {
    if (index_of(id) == 0) return;
    const std::uint32_t last = frames_ > 0 ? frames_ - 1 : 0;
    if (change_count_ == max_parameter_changes) --change_count_;  // the last one wins
    changes_[change_count_++] = ParameterChange{std::min(offset, last), id, value};
}

void InstrumentCore::add_gain_point(std::uint32_t offset, double db) noexcept {
    const std::uint32_t last = frames_ > 0 ? frames_ - 1 : 0;
    gain_.add_point(static_cast<std::int32_t>(std::min(offset, last)), db);
    gain_points_ = true;
    last_gain_point_db_ = db;
}

void InstrumentCore::set_transport(bool playing, std::int64_t position) noexcept {
    if (have_transport_) {
        const bool changed = playing != playing_;
        const bool jumped = playing && playing_ && position != expected_position_;
        if (changed || jumped) flush_pending_ = true;
    }
    have_transport_ = true;
    playing_ = playing;
    expected_position_ = playing ? position + frames_ : position;
}

// ---- audio thread: the block ------------------------------------------------------------

void InstrumentCore::end_block(float* const* out, std::size_t channels) noexcept {
    const std::uint64_t s = stream_time_;
    const std::uint32_t fade = fade_samples_.load(std::memory_order_relaxed);
    if (fade != fade_.ramp()) fade_.reset(fade, fade_in_first_audio_);

    EngineBlockScope scope(engine_, s);
    if (should_wait_for_session(scope.block()))
        scope.leave_and_reenter(s, [&](const EngineBlock& seen) { wait_for_session(seen.epoch); });
    const EngineBlock& block = scope.block();
    const bool live = block.live;
    if (live && block.new_session) begin_session(block);

    // The engine hears of a mode change at this block's start (and the next Hello carries it).
    const ProcessMode mode = offline_ ? ProcessMode::offline : ProcessMode::realtime;
    if (mode != mode_) {
        engine_.send_process_mode(mode, s);
        mode_ = mode;
        offline_gave_up_ = false;
        counters_.process_mode_changes.fetch_add(1, std::memory_order_relaxed);
    }
    if (flush_pending_) {
        engine_.send_transport_flush(s);
        held_->flush();  // the engine forgets its notes and the pedal
        counters_.transport_flushes.fetch_add(1, std::memory_order_relaxed);
    }
    sync_parameters(false);
    for (std::size_t i = 0; i < change_count_; ++i) {
        const ParameterChange& c = changes_[i];
        engine_.send_parameter(s + c.offset, static_cast<std::uint32_t>(c.id), c.value);
        sent_parameter_[index_of(c.id)] = c.value;
        parameter_[index_of(c.id)].store(c.value, std::memory_order_relaxed);
    }
    if (gain_points_) {
        applied_gain_db_ = last_gain_point_db_;
        gain_db_.store(last_gain_point_db_, std::memory_order_relaxed);
    }
    send_events(live);

    if (frames_ == 0) {
        counters_.zero_frame_blocks.fetch_add(1, std::memory_order_relaxed);
        gain_.apply(nullptr, 0, 0);
        return;
    }
    if (live) engine_.send_clock(s + frames_);
    if (!live) counters_.silent_blocks.fetch_add(1, std::memory_order_relaxed);
    if (live && offline_ && !offline_gave_up_) counters_.offline_blocks.fetch_add(1, std::memory_order_relaxed);
    render_block(out, channels, live);
    stream_time_ = s + frames_;
    counters_.stream_time.store(stream_time_, std::memory_order_relaxed);
    counters_.blocks.fetch_add(1, std::memory_order_relaxed);
}

// The first block of a session (the stream's first, or one that took over
// after the engine died): the engine knows nothing yet. Tell it, at the
// block's start, everything that holds now: the engine parameters, then the
// MIDI state.
void InstrumentCore::begin_session(const EngineBlock& block) noexcept {
    if (had_session_) counters_.session_recoveries.fetch_add(1, std::memory_order_relaxed);
    had_session_ = true;
    offline_gave_up_ = false;
    engine_unavailable_ = false;
    sync_parameters(true);
    const std::size_t n = held_->restore(stream_time_, restore_.get(), HeldMidiState::max_restore_events);
    if (n > 0) {
        if (engine_.send_events(restore_.get(), n))
            counters_.events_resent.fetch_add(n, std::memory_order_relaxed);
        else
            counters_.events_dropped.fetch_add(n, std::memory_order_relaxed);
    }
    counters_.session_epoch.store(block.epoch, std::memory_order_relaxed);
    counters_.session_start.store(block.epoch_start, std::memory_order_relaxed);
    counters_.session_start_host.store(host_time_, std::memory_order_relaxed);
    counters_.session_latency.store(block.total_latency_samples, std::memory_order_relaxed);
    counters_.sessions_started.fetch_add(1, std::memory_order_release);
}

// Engine parameters set since the last block (all of them when `send_all`)
// go to the engine at the block's start; the gain steps to its new value.
void InstrumentCore::sync_parameters(bool send_all) noexcept {
    for (std::uint32_t id = 1; id <= engine_parameter_count; ++id) {
        const float v = parameter_[id].load(std::memory_order_relaxed);
        const bool changed = v != sent_parameter_[id];
        sent_parameter_[id] = v;
        if (changed || send_all) engine_.send_parameter(stream_time_, id, v);
    }
    const double db = gain_db_.load(std::memory_order_relaxed);
    if (db != applied_gain_db_) {
        applied_gain_db_ = db;
        gain_.jump(db);
    }
}

void InstrumentCore::send_events(bool live) noexcept {
    if (event_count_ == 0) return;
    // Events a front end added first (its controllers) stay ahead of later
    // ones at the same sample: a pedal before the note-on that shares its time.
    stable_sort_events(events_.get(), sort_scratch_.get(), event_count_);
    // Tracked whether or not a session runs now: a session that starts later is told.
    for (std::size_t i = 0; i < event_count_; ++i) held_->apply(events_[i]);
    if (!live)
        counters_.events_unsent.fetch_add(event_count_, std::memory_order_relaxed);
    else if (engine_.send_events(events_.get(), event_count_))
        counters_.events_sent.fetch_add(event_count_, std::memory_order_relaxed);
    else
        counters_.events_dropped.fetch_add(event_count_, std::memory_order_relaxed);
    event_count_ = 0;
}

bool InstrumentCore::should_wait_for_session(const EngineBlock& block) const noexcept {
    return !block.live && offline_ && frames_ > 0 && !offline_gave_up_ && !engine_unavailable_ &&
           engine_.state() != EngineState::stopped;
}

// Offline, when a block finds no session while one is being set up (the
// engine is starting, being replaced, or has just died and the stream has not
// noticed yet): wait for a session newer than `seen_epoch`, so that a bounce
// does not race ahead in silence. An attempt to reach or start the engine
// that fails ends the wait (and further ones, until a session runs).
void InstrumentCore::wait_for_session(std::uint64_t seen_epoch) noexcept {
    counters_.offline_waits.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t failures = engine_.counters().failed_attempts;
    const auto wait = std::chrono::milliseconds(offline_wait_ms_.load(std::memory_order_relaxed));
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        const EngineState state = engine_.state();
        if (state == EngineState::stopped) return;
        const EngineSupervisorCounters c = engine_.counters();
        if (state == EngineState::running && c.sessions > seen_epoch) return;
        if (c.failed_attempts != failures) {
            engine_unavailable_ = true;
            gave_up(OfflineGaveUp::engine_unavailable);
            return;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            offline_gave_up_ = true;
            counters_.offline_timeouts.fetch_add(1, std::memory_order_relaxed);
            gave_up(OfflineGaveUp::no_session);
            return;
        }
        sleep_microseconds(250);
    }
}

void InstrumentCore::gave_up(OfflineGaveUp what) noexcept {
    if (offline_log_ != nullptr)
        offline_log_(offline_log_context_, what, stream_time_,
                     static_cast<std::uint32_t>(offline_wait_ms_.load(std::memory_order_relaxed)));
}

// Writes out[0..2)[0, frames) for stream times [stream_time_, + frames).
void InstrumentCore::render(float* const* out, std::size_t frames, bool live) noexcept {
    std::size_t valid = 0;
    if (live) {
        if (offline_ && !offline_gave_up_ && engine_.available_until() < stream_time_ + frames) {
            counters_.offline_waits.fetch_add(1, std::memory_order_relaxed);
            const auto t0 = std::chrono::steady_clock::now();
            const auto limit = std::chrono::milliseconds(offline_wait_ms_.load(std::memory_order_relaxed));
            valid = engine_.read_audio_waiting(stream_time_, out, frames, limit);
            if (valid < frames && std::chrono::steady_clock::now() - t0 >= limit) {
                offline_gave_up_ = true;
                counters_.offline_timeouts.fetch_add(1, std::memory_order_relaxed);
                gave_up(OfflineGaveUp::no_audio);
            }
        } else {
            valid = engine_.read_audio(stream_time_, out, frames);
        }
        valid = std::min(valid, frames);
        if (valid < frames) counters_.live_underrun_blocks.fetch_add(1, std::memory_order_relaxed);
    } else {
        // No session: silence. Before the reported latency has passed that is
        // what any session would have played; after it, audio is missing.
        for (std::size_t c = 0; c < output_channels; ++c) std::fill(out[c], out[c] + frames, 0.0f);
        const std::int64_t r0 = static_cast<std::int64_t>(stream_time_) - static_cast<std::int64_t>(reported_latency_);
        valid = r0 < 0 ? static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(frames), -r0)) : 0;
    }
    if (valid < frames) {
        counters_.underrun_blocks.fetch_add(1, std::memory_order_relaxed);
        counters_.missing_frames.fetch_add(frames - valid, std::memory_order_relaxed);
    }
    fade_.process(out, frames, valid);
}

void InstrumentCore::render_block(float* const* out, std::size_t channels, bool live) noexcept {
    const std::size_t n = frames_;
    const std::uint64_t s = stream_time_;
    auto silence_from = [&](std::size_t first) {
        for (std::size_t c = first; c < channels; ++c)
            if (out[c] != nullptr) std::fill(out[c], out[c] + n, 0.0f);
    };
    if (channels >= 2 && out[0] != nullptr && out[1] != nullptr) {
        render(out, n, live);
        silence_from(2);
        gain_.apply(out, 2, n);
    } else {
        // Mono or no output buffers: render through scratch (the engine's
        // audio must be read either way), then mix down to what there is.
        float* scratch[output_channels] = {scratch_audio_.get(), scratch_audio_.get() + scratch_frames};
        float* mono = channels >= 1 ? out[0] : nullptr;
        for (std::size_t done = 0; done < n;) {
            const std::size_t chunk = std::min(scratch_frames, n - done);
            render(scratch, chunk, live);
            stream_time_ += chunk;
            if (mono != nullptr)
                for (std::size_t i = 0; i < chunk; ++i) mono[done + i] = 0.5f * (scratch[0][i] + scratch[1][i]);
            done += chunk;
        }
        silence_from(1);
        gain_.apply(out, mono != nullptr ? 1 : 0, n);
    }
    stream_time_ = s;
}

}  // namespace sostenuto::bridge
