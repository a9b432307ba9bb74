#include "sostenuto/bridge/engine_supervisor.h"

#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "sostenuto/bridge/runtime_paths.h"

namespace sostenuto::bridge {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One of the few system calls the audio side makes, and only in offline mode.
void sleep_briefly() noexcept {
    timespec pause{0, 100 * 1000};
    ::nanosleep(&pause, nullptr);
}

std::string describe_lost_session(const PipeClient& pipe) {
    std::string why;
    switch (pipe.state()) {
        case PipeState::closed_by_engine: why = "the engine closed the connection"; break;
        case PipeState::failed:
            why = pipe.protocol_error() != ProtocolError::none
                      ? "the engine broke the protocol (" + std::string(to_string(pipe.protocol_error())) + ")"
                      : "the connection to the engine failed";
            break;
        default: why = "the connection to the engine ended"; break;
    }
    if (pipe.engine_pid() > 0) why += " (engine pid " + std::to_string(pipe.engine_pid()) + ")";
    if (pipe.engine_errors_received() > 0) {
        why += "; it said: error " + std::to_string(pipe.last_engine_error_code()) + ": " + pipe.last_engine_error_message();
    }
    return why;
}

}  // namespace

const char* to_string(EngineState state) noexcept {
    switch (state) {
        case EngineState::stopped: return "stopped";
        case EngineState::connecting: return "connecting";
        case EngineState::running: return "running";
        case EngineState::down: return "down";
    }
    return "?";
}

EngineSupervisor::EngineSupervisor() : event_scratch_(new MidiEvent[max_midi_events_per_message]) {}

EngineSupervisor::~EngineSupervisor() {
    stop();
    consumer_.reset();
    ring_.reset();  // unmaps and unlinks
}

// ---- control thread -------------------------------------------------------------

bool EngineSupervisor::start(const EngineSupervisorConfig& config, std::string& error) {
    stop();
    if (config.socket_path.empty()) {
        const auto path = engine_socket_path(error);
        if (!path) return false;
        socket_path_ = *path;
    } else {
        socket_path_ = config.socket_path;
    }
    config_ = config;
    config_.launch.cancel = &stop_requested_;
    const char* every_block = std::getenv("SOSTENUTO_CLOCK_EVERY_BLOCK");
    clock_every_block_ = every_block != nullptr && std::string_view(every_block) == "1";

    // The supervisor's thread is not running and the gate is closed: the ring is ours to change.
    const std::string name = audio_ring_name(config.instance_id);
    if (ring_ && (ring_->name() != name || ring_->channels() != config.ring_channels ||
                  ring_->capacity_frames() != config.ring_capacity_frames)) {
        consumer_.reset();
        ring_.reset();
    }
    if (!ring_ && !replace_ring(error)) return false;

    process_mode_.store(config.process_mode, std::memory_order_relaxed);
    channels_.store(ring_->channels(), std::memory_order_relaxed);
    consecutive_failures_ = 0;
    stop_requested_.store(false, std::memory_order_release);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        state_.store(EngineState::connecting, std::memory_order_release);
    }
    thread_ = std::thread([this] { run(); });
    return true;
}

void EngineSupervisor::stop() {
    if (!thread_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_requested_.store(true, std::memory_order_release);
    }
    changed_.notify_all();
    thread_.join();
}

bool EngineSupervisor::wait_until_running(milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, timeout, [&] {
        const EngineState state = state_.load(std::memory_order_acquire);
        return state == EngineState::running || state == EngineState::stopped;
    });
    return state_.load(std::memory_order_acquire) == EngineState::running;
}

std::string EngineSupervisor::last_error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_error_;
}

std::optional<EngineWelcome> EngineSupervisor::welcome() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return welcome_;
}

EngineSupervisorCounters EngineSupervisor::counters() const noexcept {
    EngineSupervisorCounters c;
    c.sessions = epoch_.load(std::memory_order_relaxed);
    c.engine_launches = launches_.load(std::memory_order_relaxed);
    c.failed_attempts = failed_attempts_.load(std::memory_order_relaxed);
    c.sessions_lost = sessions_lost_.load(std::memory_order_relaxed);
    c.ring_replacements = ring_replacements_.load(std::memory_order_relaxed);
    c.silent_blocks = silent_blocks_.load(std::memory_order_relaxed);
    c.audio_underruns = audio_underruns_.load(std::memory_order_relaxed);
    c.messages_dropped = dropped_.load(std::memory_order_relaxed);
    c.engine_underruns = engine_underruns_.load(std::memory_order_relaxed);
    c.engine_late_events = engine_late_events_.load(std::memory_order_relaxed);
    return c;
}

// ---- the supervisor's thread ------------------------------------------------------

void EngineSupervisor::set_state(EngineState state, std::string message, bool latency_changed) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        state_.store(state, std::memory_order_release);
    }
    changed_.notify_all();
    if (config_.on_event) {
        EngineSupervisorEvent event;
        event.state = state;
        event.epoch = epoch_.load(std::memory_order_acquire);
        event.total_latency_samples = latency_.load(std::memory_order_acquire);
        event.latency_changed = latency_changed;
        event.message = std::move(message);
        config_.on_event(event);
    }
}

void EngineSupervisor::record_error(const std::string& error) {
    std::lock_guard<std::mutex> lock(mutex_);
    last_error_ = error;
}

milliseconds EngineSupervisor::retry_delay() const {
    if (consecutive_failures_ <= 0) return milliseconds(0);
    milliseconds delay = config_.min_retry_delay;
    for (int i = 1; i < consecutive_failures_ && delay < config_.max_retry_delay; ++i) delay *= 2;
    return std::min(delay, config_.max_retry_delay);
}

void EngineSupervisor::sleep_interruptibly(milliseconds delay) {
    if (delay.count() <= 0) return;
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, delay, [&] { return stop_requested(); });
}

void EngineSupervisor::close_gate() {
    gate_open_.store(false, std::memory_order_seq_cst);
    // The audio thread is inside one block at most; blocks are short and never wait
    // (an offline wait sees the closed gate and ends).
    while (audio_busy_.load(std::memory_order_seq_cst)) std::this_thread::sleep_for(std::chrono::microseconds(50));
}

bool EngineSupervisor::replace_ring(std::string& error) {
    consumer_.reset();
    ring_.reset();  // unlinks the name: an engine still mapping the old object keeps writing there, unheard
    const std::string name = audio_ring_name(config_.instance_id);
    ring_ = SharedAudioRing::create(name, config_.ring_channels, config_.ring_capacity_frames, error);
    if (!ring_) {
        // A stale object of ours (a crashed host with the same instance id) is in the way.
        ::shm_unlink(name.c_str());
        ring_ = SharedAudioRing::create(name, config_.ring_channels, config_.ring_capacity_frames, error);
        if (!ring_) return false;
    }
    consumer_ = std::make_unique<AudioRingConsumer>(*ring_);
    ring_clean_ = true;
    return true;
}

bool EngineSupervisor::prepare_ring(std::string& error) {
    if (ring_ && ring_clean_) return true;
    if (ring_) ring_replacements_.fetch_add(1, std::memory_order_relaxed);
    return replace_ring(error);
}

void EngineSupervisor::copy_pipe_counters() {
    engine_underruns_.store(pipe_->engine_underruns(), std::memory_order_relaxed);
    engine_late_events_.store(pipe_->engine_late_events(), std::memory_order_relaxed);
}

bool EngineSupervisor::attempt_session() {
    set_state(EngineState::connecting, "connecting to the engine at " + socket_path_);
    std::string error;
    if (!prepare_ring(error)) {
        record_error(error);
        return false;
    }
    // The gate is closed and no engine writes into the ring: a session starts at render time 0.
    ring_->reset_positions(0);

    HelloMessage hello;
    hello.sample_rate = config_.sample_rate;
    hello.max_block_size = config_.max_block_size;
    hello.process_mode = process_mode_.load(std::memory_order_relaxed);
    hello.latency_mode = config_.latency_mode;
    hello.requested_lookahead_samples = config_.requested_lookahead_samples;
    hello.compute_slack_samples = config_.compute_slack_samples;
    hello.instance_id = config_.instance_id;
    hello.shared_memory_name = ring_->name();

    auto pipe = std::make_unique<PipeClient>(config_.send_queue_bytes);
    PipeConnectResult result = pipe->connect(socket_path_, hello, config_.handshake_timeout);
    if (!result.ok && config_.engine && !stop_requested()) {
        const std::string first_error = result.error;
        set_state(EngineState::connecting, "no engine answered (" + first_error + "); waiting for its spare or starting " +
                                               config_.engine->describe());
        const EngineLaunchResult launched =
            ensure_engine_running(socket_path_, *config_.engine, config_.launch_timeout, config_.launch);
        if (launched.spawned) launches_.fetch_add(1, std::memory_order_relaxed);
        if (launched.ok) {
            // Nothing was written for an unanswered Hello (the engine renders only
            // after a ClockAdvance); reset anyway, so the rule holds by construction.
            ring_->reset_positions(0);
            result = pipe->connect(socket_path_, hello, config_.handshake_timeout);
        } else {
            result.error = first_error + "; starting the engine failed: " + launched.error;
        }
    }
    if (result.ok && result.welcome.ring_capacity_frames != ring_->capacity_frames()) {
        result.ok = false;
        result.error = "the engine sees an audio ring of " + std::to_string(result.welcome.ring_capacity_frames) +
                       " frames, not " + std::to_string(ring_->capacity_frames());
        ring_clean_ = pipe->disconnect(milliseconds(100), config_.close_wait);
    } else if (result.ok && result.welcome.lookahead_samples > result.welcome.total_latency_samples) {
        result.ok = false;
        result.error = "the engine's Welcome has a lookahead above its total latency";
        ring_clean_ = pipe->disconnect(milliseconds(100), config_.close_wait);
    }
    if (!result.ok) {
        record_error(result.error);
        return false;
    }

    // The session. Everything the audio thread reads is in place before the gate opens.
    const std::uint64_t previous_epoch = epoch_.load(std::memory_order_relaxed);
    const std::uint32_t previous_latency = latency_.load(std::memory_order_relaxed);
    const std::uint32_t latency = result.welcome.total_latency_samples;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        welcome_ = result.welcome;
    }
    pipe_ = std::move(pipe);
    ring_clean_ = false;
    engine_pid_.store(pipe_->engine_pid(), std::memory_order_relaxed);
    engine_underruns_.store(0, std::memory_order_relaxed);
    engine_late_events_.store(0, std::memory_order_relaxed);
    latency_.store(latency, std::memory_order_release);
    {
        // How long a ClockAdvance may wait when its block sends nothing else (issue #20: a block
        // per wake-up of the pipe's thread and of the engine is most of what an idle instance
        // costs). A quarter of the slack: the engine still hears of every sample three quarters
        // of its slack before the sample is read, so an engine that renders only up to the clock
        // (studio) keeps its head start. A live engine that renders ahead of the read claim by
        // itself says so in the Welcome: for it, every 20 ms. Offline blocks always send theirs
        // (the front end waits for that block's audio).
        const std::uint32_t slack = latency - std::min(latency, result.welcome.lookahead_samples);
        std::uint32_t interval = slack / 4;
        if (result.welcome.flags & welcome_flag_renders_ahead)
            interval = std::max<std::uint32_t>(interval, config_.sample_rate * clock_interval_renders_ahead_ms / 1000);
        clock_interval_.store(clock_every_block_ ? 0 : interval, std::memory_order_relaxed);
    }
    epoch_.store(previous_epoch + 1, std::memory_order_release);
    gate_open_.store(true, std::memory_order_seq_cst);

    const bool latency_changed = previous_epoch > 0 && previous_latency != latency;
    set_state(EngineState::running,
              "session " + std::to_string(previous_epoch + 1) + " with " + result.welcome.model_name + " " +
                  result.welcome.model_version + " (engine pid " + std::to_string(pipe_->engine_pid()) +
                  "), latency " + std::to_string(latency) + " samples" +
                  (latency_changed ? " (was " + std::to_string(previous_latency) + ")" : ""),
              latency_changed);
    return true;
}

void EngineSupervisor::supervise_session() {
    while (!stop_requested() && pipe_->state() == PipeState::connected) {
        copy_pipe_counters();
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait_for(lock, milliseconds(10), [&] { return stop_requested(); });
    }
    copy_pipe_counters();
    const bool stopping = stop_requested();
    if (!stopping) {
        sessions_lost_.fetch_add(1, std::memory_order_relaxed);
        const std::string why = describe_lost_session(*pipe_);
        record_error(why);
        set_state(EngineState::down, why);
    }
    close_gate();
    engine_pid_.store(0, std::memory_order_relaxed);
    // Stopping: flush what the audio thread queued, then Goodbye. Either way,
    // wait to see the engine let go of the ring before it is reused.
    ring_clean_ = pipe_->disconnect(stopping ? milliseconds(500) : milliseconds(0), config_.close_wait);
    pipe_.reset();
}

void EngineSupervisor::run() {
    while (!stop_requested()) {
        if (!attempt_session()) {
            if (stop_requested()) break;
            ++consecutive_failures_;
            failed_attempts_.fetch_add(1, std::memory_order_relaxed);
            const milliseconds delay = retry_delay();
            set_state(EngineState::down, last_error() + "; retrying in " + std::to_string(delay.count()) + " ms");
            sleep_interruptibly(delay);
            continue;
        }
        const Clock::time_point started = Clock::now();
        supervise_session();
        if (stop_requested()) break;
        consecutive_failures_ = Clock::now() - started >= config_.stable_session ? 0 : consecutive_failures_ + 1;
        sleep_interruptibly(retry_delay());
    }
    set_state(EngineState::stopped, "stopped");
}

// ---- audio thread -----------------------------------------------------------------

EngineBlock EngineSupervisor::begin_block(std::uint64_t stream_time) noexcept {
    if (in_block_) end_block();
    EngineBlock block;
    // The gate: raise busy, then look at open (both seq_cst; see close_gate).
    audio_busy_.store(true, std::memory_order_seq_cst);
    if (!gate_open_.load(std::memory_order_seq_cst)) {
        audio_busy_.store(false, std::memory_order_seq_cst);
        silent_blocks_.fetch_add(1, std::memory_order_relaxed);
        block.epoch = audio_epoch_;
        return block;
    }
    const std::uint64_t epoch = epoch_.load(std::memory_order_acquire);
    bool fresh = false;
    if (epoch != audio_epoch_) {
        // The first block of a new session: its stream time 0 is this block's start.
        audio_epoch_ = epoch;
        audio_epoch_start_ = stream_time;
        audio_latency_ = latency_.load(std::memory_order_acquire);
        audio_clock_interval_ = clock_interval_.load(std::memory_order_relaxed);
        last_clock_sent_ = 0;
        sent_since_clock_ = true;
        fresh = true;
    }
    block.epoch = audio_epoch_;
    block.epoch_start = audio_epoch_start_;
    block.total_latency_samples = audio_latency_;
    if (pipe_->state() != PipeState::connected) {
        // The engine has just gone; the supervisor will close the gate.
        audio_busy_.store(false, std::memory_order_seq_cst);
        silent_blocks_.fetch_add(1, std::memory_order_relaxed);
        return block;
    }
    in_block_ = true;
    live_ = true;
    block.live = true;
    block.new_session = fresh;
    return block;
}

void EngineSupervisor::end_block() noexcept {
    if (!in_block_) return;
    in_block_ = false;
    live_ = false;
    audio_busy_.store(false, std::memory_order_seq_cst);
}

bool EngineSupervisor::send_events(const MidiEvent* events, std::size_t count) noexcept {
    if (!live_) return false;
    if (count > 0) sent_since_clock_ = true;
    bool all_sent = true;
    while (count > 0) {
        const std::size_t n = std::min(count, max_midi_events_per_message);
        for (std::size_t i = 0; i < n; ++i) {
            event_scratch_[i] = events[i];
            const std::uint64_t t = events[i].stream_time;
            event_scratch_[i].stream_time = t > audio_epoch_start_ ? t - audio_epoch_start_ : 0;
        }
        if (!pipe_->send(MidiEventsMessage{event_scratch_.get(), n})) {
            dropped_.fetch_add(1, std::memory_order_relaxed);
            all_sent = false;
        }
        events += n;
        count -= n;
    }
    return all_sent;
}

namespace {
inline std::uint64_t session_time(std::uint64_t stream_time, std::uint64_t epoch_start) noexcept {
    return stream_time > epoch_start ? stream_time - epoch_start : 0;
}
}  // namespace

bool EngineSupervisor::send_clock(std::uint64_t stream_time) noexcept {
    if (!live_) return false;
    const std::uint64_t t = session_time(stream_time, audio_epoch_start_);
    // Held back (the next one carries it): nothing else went out since the last clock, the block
    // is realtime and the last clock is less than the interval old. See clock_interval_.
    if (!sent_since_clock_ && process_mode_.load(std::memory_order_relaxed) == ProcessMode::realtime &&
        t < last_clock_sent_ + audio_clock_interval_) {
        clocks_held_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    if (pipe_->send(ClockAdvanceMessage{t})) {
        last_clock_sent_ = t;
        sent_since_clock_ = false;
        return true;
    }
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

bool EngineSupervisor::send_parameter(std::uint64_t stream_time, std::uint32_t parameter_id, float value) noexcept {
    if (!live_) return false;
    sent_since_clock_ = true;
    if (pipe_->send(ParameterChangeMessage{session_time(stream_time, audio_epoch_start_), parameter_id, value})) return true;
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

bool EngineSupervisor::send_transport_flush(std::uint64_t stream_time) noexcept {
    if (!live_) return false;
    sent_since_clock_ = true;
    if (pipe_->send(TransportMessage{TransportKind::flush, session_time(stream_time, audio_epoch_start_)})) return true;
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

bool EngineSupervisor::send_process_mode(ProcessMode mode, std::uint64_t stream_time) noexcept {
    // Remembered even without a session: the next Hello carries it.
    process_mode_.store(mode, std::memory_order_relaxed);
    if (!live_) return false;
    sent_since_clock_ = true;
    if (pipe_->send(ProcessModeMessage{mode, session_time(stream_time, audio_epoch_start_)})) return true;
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
}

std::uint64_t EngineSupervisor::available_until() const noexcept {
    if (!live_) return 0;
    return audio_epoch_start_ + audio_latency_ + consumer_->published_until();
}

std::size_t EngineSupervisor::read_audio(std::uint64_t stream_time, float* const* out, std::size_t frames) noexcept {
    // Not ring_->channels(): without a live session the supervisor may be replacing the ring.
    const std::uint32_t channels = channels_.load(std::memory_order_relaxed);
    auto zero = [&](std::size_t from, std::size_t to) {
        if (to <= from) return;
        for (std::uint32_t c = 0; c < channels; ++c) std::memset(out[c] + from, 0, (to - from) * sizeof(float));
    };
    if (!live_) {
        zero(0, frames);
        return 0;
    }
    // Render time (in the session) of the block's first frame; negative: before the session's audio begins.
    const std::int64_t since_start = stream_time >= audio_epoch_start_
                                         ? static_cast<std::int64_t>(stream_time - audio_epoch_start_)
                                         : -static_cast<std::int64_t>(audio_epoch_start_ - stream_time);
    const std::int64_t render_time = since_start - static_cast<std::int64_t>(audio_latency_);
    std::size_t lead = 0;
    if (render_time < 0) lead = static_cast<std::size_t>(std::min<std::uint64_t>(frames, static_cast<std::uint64_t>(-render_time)));
    zero(0, lead);
    std::size_t got = 0;
    if (lead < frames) {
        float* shifted[audio_ring_layout::max_channels] = {};
        for (std::uint32_t c = 0; c < channels; ++c) shifted[c] = out[c] + lead;
        got = consumer_->read(static_cast<std::uint64_t>(render_time + static_cast<std::int64_t>(lead)), shifted, frames - lead);
    }
    const std::size_t valid = lead + got;
    zero(valid, frames);
    if (valid < frames) audio_underruns_.fetch_add(1, std::memory_order_relaxed);
    return valid;
}

std::size_t EngineSupervisor::read_audio_waiting(std::uint64_t stream_time, float* const* out, std::size_t frames,
                                                 std::chrono::microseconds max_wait) noexcept {
    if (live_) {
        const Clock::time_point deadline = Clock::now() + max_wait;
        while (available_until() < stream_time + frames) {
            if (!gate_open_.load(std::memory_order_seq_cst) || pipe_->state() != PipeState::connected ||
                stop_requested() || Clock::now() >= deadline) {
                break;
            }
            sleep_briefly();
        }
    }
    return read_audio(stream_time, out, frames);
}

}  // namespace sostenuto::bridge
