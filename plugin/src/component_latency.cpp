// The plug-in component's settings and latency: what the engine is started
// with, the latency the host is told (the estimate until the engine has
// answered, then the session's D, cached per settings), the engine link's
// start and stop, its events, and asking the host to re-read a changed latency.
#include <chrono>
#include <cmath>

#include "component.h"
#include "ids.h"
#include "log.h"
#include "message.h"
#include "parameters.h"
#include "sostenuto/bridge/latency_policy.h"

namespace sostenuto::vst3 {

// ---------------------------------------------------------------------------
// settings and latency

PluginSettings Component::settings_now() const noexcept {
    PluginSettings s;
    s.gain_db = normalized_to_plain(kParamGain, norm_[kParamGain].load(std::memory_order_relaxed));
    s.temperature = normalized_to_plain(kParamTemperature, norm_[kParamTemperature].load(std::memory_order_relaxed));
    s.latency_mode = static_cast<int>(normalized_to_latency_choice(norm_[kParamLatencyMode].load(std::memory_order_relaxed)));
    s.lookahead_ms = normalized_to_plain(kParamLookahead, norm_[kParamLookahead].load(std::memory_order_relaxed));
    return s;
}

void Component::store_settings(const PluginSettings& s) noexcept {
    norm_[kParamGain].store(plain_to_normalized(kParamGain, s.gain_db), std::memory_order_relaxed);
    norm_[kParamTemperature].store(plain_to_normalized(kParamTemperature, s.temperature), std::memory_order_relaxed);
    norm_[kParamLatencyMode].store(plain_to_normalized(kParamLatencyMode, s.latency_mode), std::memory_order_relaxed);
    norm_[kParamLookahead].store(plain_to_normalized(kParamLookahead, s.lookahead_ms), std::memory_order_relaxed);
    publish_settings();
}

// The engine parameters (plain values) and the gain, as the core will send
// and apply them from the next block on.
void Component::publish_settings() noexcept {
    core_.set_choice(normalized_to_latency_choice(norm_[kParamLatencyMode].load(std::memory_order_relaxed)));
    for (std::uint32_t id = 0; id < kMainParamCount; ++id) {
        const double plain = normalized_to_plain(id, norm_[id].load(std::memory_order_relaxed));
        if (id == kParamGain)
            core_.set_gain_db(plain);
        else
            core_.set_engine_parameter(static_cast<bridge::EngineParameter>(id), static_cast<float>(plain));
    }
}

std::uint32_t Component::sample_rate_or_default() const noexcept {
    return sample_rate_ > 0 ? static_cast<std::uint32_t>(std::lround(sample_rate_)) : 48000u;
}

Component::LatencyKey Component::latency_key_now() const noexcept {
    const PluginSettings s = settings_now();
    LatencyKey key;
    key.sample_rate = sample_rate_or_default();
    // The reported session's mode: Studio and Auto report the same studio latency.
    key.latency_mode = static_cast<int>(bridge::reported_session_mode(bridge::latency_choice_from(static_cast<std::uint32_t>(s.latency_mode))));
    // Live mode plays with no lookahead (L = 0); the Lookahead parameter is the studio mode's.
    key.lookahead_samples =
        s.latency_mode != 0 ? static_cast<std::uint32_t>(std::lround(s.lookahead_ms * key.sample_rate / 1000.0)) : 0u;
    return key;
}

std::uint32_t Component::estimated_latency(const LatencyKey& key) const noexcept {
    const std::uint32_t block = max_block_ > 0 ? static_cast<std::uint32_t>(max_block_) : 1024u;
    // Before the engine has answered: L + S, with the core's slack policy.
    const LatencyMode mode = key.latency_mode != 0 ? LatencyMode::studio : LatencyMode::live;
    return bridge::estimated_latency_samples(key.lookahead_samples,
                                             bridge::compute_slack_samples(mode, key.sample_rate, block));
}

std::uint32_t Component::latency_answer() const noexcept {
    const LatencyKey key = latency_key_now();
    {
        std::lock_guard<std::mutex> lock(latency_mutex_);
        if (have_cached_latency_ && key == cached_key_) return cached_latency_;
    }
    return estimated_latency(key);
}

EngineConfig Component::make_config() const {
    const LatencyKey key = latency_key_now();
    EngineConfig c;
    c.sample_rate = key.sample_rate;
    c.max_block_size = max_block_ > 0 ? static_cast<std::uint32_t>(max_block_) : 1024u;
    c.process_mode = setup_mode_ == V3_OFFLINE ? ProcessMode::offline : ProcessMode::realtime;
    c.latency_mode = key.latency_mode != 0 ? LatencyMode::studio : LatencyMode::live;
    c.requested_lookahead_samples = key.lookahead_samples;
    c.compute_slack_samples = estimated_latency(key) - key.lookahead_samples;
    c.instance_id = instance_id_;
    return c;
}

// Auto's live session: the reported session's settings in live mode (no
// lookahead, one block and 2 ms of slack), under its own instance id.
EngineConfig Component::make_live_config(const EngineConfig& reported) const {
    EngineConfig c = reported;
    c.process_mode = ProcessMode::realtime;  // it is never driven offline
    c.latency_mode = LatencyMode::live;
    c.requested_lookahead_samples = 0;
    c.compute_slack_samples = bridge::compute_slack_samples(LatencyMode::live, c.sample_rate, c.max_block_size);
    c.instance_id = reported.instance_id ^ 1u;
    return c;
}

// Starts (or keeps, or stops) Auto's live link beside the reported one. It
// does not wait for its session: until it runs, keys played live are tracked
// and told to it when it does (the instrument core's re-send).
void Component::start_live_link(const EngineConfig& reported) {
    const bool wanted = live_link_ != nullptr && bridge::needs_live_beside(normalized_to_latency_choice(
                                                     norm_[kParamLatencyMode].load(std::memory_order_relaxed)));
    if (!wanted) {
        if (live_link_started_) live_link_->stop();
        live_link_started_ = false;
        return;
    }
    std::string error;
    live_link_started_ = live_link_->start(make_live_config(reported),
                                           [this](const EngineEvent& event) { on_live_engine_event(event); }, error);
    if (!live_link_started_) log_message("Auto: no live session (%s); keys played live take the studio path's latency", error.c_str());
}

// The live link's thread: only the log; its latency is never the host's.
void Component::on_live_engine_event(const EngineEvent& event) {
    if (event.state == EngineState::running)
        log_message("Auto: live session %llu beside the studio one, latency %u samples",
                    static_cast<unsigned long long>(event.epoch), event.total_latency_samples);
}

void Component::set_error(const std::string& error) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    last_error_ = error;
}

// Starts the engine link for the current settings (a new session), unless the
// link already runs with them and no block has been processed since (the
// session setupProcessing started is the one setActive uses). Waits up to
// connect_wait_ms_ for the session, so that the first latency the host reads is
// the engine's.
bool Component::start_engine() {
    const EngineConfig config = make_config();
    const bool live_wanted = live_link_ != nullptr && bridge::needs_live_beside(normalized_to_latency_choice(
                                                          norm_[kParamLatencyMode].load(std::memory_order_relaxed)));
    if (link_started_ && session_fresh_.load() && config == link_config_ && live_link_started_ == live_wanted)
        return link_->state() == EngineState::running;
    stop_engine();
    {
        std::lock_guard<std::mutex> lock(latency_mutex_);
        started_key_ = latency_key_now();
    }
    const std::uint64_t failures = link_->counters().failed_attempts;
    const auto t0 = std::chrono::steady_clock::now();
    start_time_ns_.store(t0.time_since_epoch().count());
    std::string error;
    if (!link_->start(config, [this](const EngineEvent& event) { on_engine_event(event); }, error)) {
        engine_expected_ = false;
        set_error(error);
        bool log = false;
        {
            std::lock_guard<std::mutex> lock(error_mutex_);
            log = error != last_logged_error_;
            last_logged_error_ = error;
        }
        if (log) log_message("no engine (%s); the plug-in outputs silence", error.c_str());
        return false;
    }
    link_started_ = true;
    link_config_ = config;
    session_fresh_.store(true);
    bool running = link_->wait_for_session(std::chrono::milliseconds(connect_wait_ms_));
    // Auto's live session after the reported one is up (or given up on), so
    // that the reported link is the one that starts an engine when none runs.
    start_live_link(config);
    if (running) {
        // The session's D, now: on_engine_event() may not have run yet (the link
        // reports the state first), and the host asks for the latency next.
        if (const std::optional<EngineInfo> info = link_->info()) {
            std::lock_guard<std::mutex> lock(latency_mutex_);
            cached_key_ = started_key_;
            cached_latency_ = info->total_latency_samples;
            have_cached_latency_ = true;
        } else {
            running = false;
        }
    }
    engine_expected_ = running || link_->counters().failed_attempts == failures;
    if (!running && engine_expected_) {
        log_message("the engine is not ready after %u ms; the plug-in plays silence until it is (latency %u samples for now)",
                    connect_wait_ms_, latency_answer());
    }
    return running;
}

void Component::stop_engine() {
    if (link_started_) link_->stop();
    link_started_ = false;
    if (live_link_started_) live_link_->stop();
    live_link_started_ = false;
    session_fresh_.store(false);
}

// The link's thread. Never calls into the host: what the host must hear (a
// latency change) waits for the main thread (on_timer, setActive, ...).
void Component::on_engine_event(const EngineEvent& event) {
    switch (event.state) {
        case EngineState::running: {
            const std::optional<EngineInfo> info = link_->info();
            {
                std::lock_guard<std::mutex> lock(latency_mutex_);
                cached_key_ = started_key_;
                cached_latency_ = event.total_latency_samples;
                have_cached_latency_ = true;
            }
            {
                std::lock_guard<std::mutex> lock(error_mutex_);
                last_error_.clear();
                last_logged_error_.clear();
                if (info) model_name_ = info->model_name;
            }
            launch_logged_.store(false);
            // Since the link started, or since the session before was lost.
            const std::int64_t lost = lost_time_ns_.exchange(0);
            const double waited_ms =
                (std::chrono::steady_clock::now().time_since_epoch().count() - (lost != 0 ? lost : start_time_ns_.load())) / 1e6;
            log_message("engine session %llu: model %s %s, latency %u samples (lookahead %u), engine pid %d, %.0f ms after %s%s",
                        static_cast<unsigned long long>(event.epoch), info ? info->model_name.c_str() : "?",
                        info ? info->model_version.c_str() : "", event.total_latency_samples,
                        info ? info->lookahead_samples : 0u, link_->engine_pid(), waited_ms,
                        lost != 0 ? "the last one was lost" : "the link started",
                        event.latency_changed ? "; the latency changed: the host will be asked to restart the plug-in" : "");
            if (info && (info->flags & bridge::welcome_flag_untrained))
                log_message("note: the engine's model is an untrained fixture; it will not sound like an instrument");
            break;
        }
        case EngineState::down: {
            if (event.epoch > 0 && event.message.find("retrying in") == std::string::npos) {
                // A running session ended (failed attempts say "retrying in ... ms").
                lost_time_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count());
            }
            std::string why = link_->last_error();
            if (why.empty()) why = event.message;
            bool log = false;
            {
                std::lock_guard<std::mutex> lock(error_mutex_);
                last_error_ = why;
                log = why != last_logged_error_;
                last_logged_error_ = why;
            }
            if (log) log_message("engine: %s; the plug-in plays silence until a session runs again", event.message.c_str());
            break;
        }
        case EngineState::connecting:
            // Once until a session runs: a link that keeps failing to start the engine retries for ever.
            if (event.message.find("starting") != std::string::npos && !launch_logged_.exchange(true))
                log_message("engine: %s", event.message.c_str());
            break;
        case EngineState::stopped: break;
    }
}

void Component::notify_latency_if_changed() {
    if (!latency_reported_.load()) return;
    const std::uint32_t now = latency_answer();
    const std::uint32_t reported = last_reported_latency_.load();
    if (now == reported || now == last_notified_latency_ || peer_ == nullptr) return;
    void* message = create_message(host_context_, kMessageLatencyChanged);
    message_set_int(message, "samples", now);
    last_notified_latency_ = now;
    counters_.latency_change_requests.fetch_add(1, std::memory_order_relaxed);
    log_message("latency is now %u samples (the host has %u); asking the host to restart the plug-in", now, reported);
    vtable_of<v3_connection_point_cpp>(peer_)->point.notify(peer_, static_cast<v3_message**>(message));
    release_interface(message);
}

void Component::on_timer() { notify_latency_if_changed(); }

void Component::register_timer() {
    if (run_loop_ == nullptr || timer_registered_) return;
    timer_registered_ = vtable_of<v3_run_loop_cpp>(run_loop_)->loop.register_timer(
                            run_loop_, reinterpret_cast<v3_timer_handler**>(&timer_slot_), kServiceIntervalMs) == V3_OK;
}

void Component::unregister_timer() {
    if (run_loop_ == nullptr || !timer_registered_) return;
    timer_registered_ = false;
    vtable_of<v3_run_loop_cpp>(run_loop_)->loop.unregister_timer(run_loop_, reinterpret_cast<v3_timer_handler**>(&timer_slot_));
}

}  // namespace sostenuto::vst3
