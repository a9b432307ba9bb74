#include "component.h"

#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "ids.h"
#include "log.h"
#include "message.h"
#include "parameters.h"

namespace sostenuto::vst3 {
namespace {

static_assert(sizeof(DiagnosticsVtable) == sizeof(sostenuto_diagnostics_vtable), "diagnostics vtable layout");

constexpr v3_speaker_arrangement kStereo = V3_SPEAKER_L | V3_SPEAKER_R;

const v3_component_cpp* component_vtable() {
    static const v3_component_cpp vtable = [] {
        v3_component_cpp v{};
        UnknownThunks<Component>::fill(v);
        v.base.initialize = [](void* self, v3_funknown** context) { return owner_of<Component>(self)->initialize(context); };
        v.base.terminate = [](void* self) { return owner_of<Component>(self)->terminate(); };
        v.comp.get_controller_class_id = [](void* self, v3_tuid class_id) {
            return owner_of<Component>(self)->get_controller_class_id(class_id);
        };
        v.comp.set_io_mode = [](void* self, int32_t mode) { return owner_of<Component>(self)->set_io_mode(mode); };
        v.comp.get_bus_count = [](void* self, int32_t media, int32_t dir) {
            return owner_of<Component>(self)->get_bus_count(media, dir);
        };
        v.comp.get_bus_info = [](void* self, int32_t media, int32_t dir, int32_t index, v3_bus_info* info) {
            return owner_of<Component>(self)->get_bus_info(media, dir, index, info);
        };
        v.comp.get_routing_info = [](void* self, v3_routing_info* in, v3_routing_info* out) {
            return owner_of<Component>(self)->get_routing_info(in, out);
        };
        v.comp.activate_bus = [](void* self, int32_t media, int32_t dir, int32_t index, v3_bool state) {
            return owner_of<Component>(self)->activate_bus(media, dir, index, state);
        };
        v.comp.set_active = [](void* self, v3_bool state) { return owner_of<Component>(self)->set_active(state); };
        v.comp.set_state = [](void* self, v3_bstream** stream) { return owner_of<Component>(self)->set_state(stream); };
        v.comp.get_state = [](void* self, v3_bstream** stream) { return owner_of<Component>(self)->get_state(stream); };
        return v;
    }();
    return &vtable;
}

const v3_audio_processor_cpp* processor_vtable() {
    static const v3_audio_processor_cpp vtable = [] {
        v3_audio_processor_cpp v{};
        UnknownThunks<Component>::fill(v);
        v.proc.set_bus_arrangements = [](void* self, v3_speaker_arrangement* in, int32_t nin, v3_speaker_arrangement* out,
                                         int32_t nout) {
            return owner_of<Component>(self)->set_bus_arrangements(in, nin, out, nout);
        };
        v.proc.get_bus_arrangement = [](void* self, int32_t dir, int32_t index, v3_speaker_arrangement* arr) {
            return owner_of<Component>(self)->get_bus_arrangement(dir, index, arr);
        };
        v.proc.can_process_sample_size = [](void* self, int32_t size) {
            return owner_of<Component>(self)->can_process_sample_size(size);
        };
        v.proc.get_latency_samples = [](void* self) { return owner_of<Component>(self)->get_latency_samples(); };
        v.proc.setup_processing = [](void* self, v3_process_setup* setup) {
            return owner_of<Component>(self)->setup_processing(setup);
        };
        v.proc.set_processing = [](void* self, v3_bool state) { return owner_of<Component>(self)->set_processing(state); };
        v.proc.process = [](void* self, v3_process_data* data) { return owner_of<Component>(self)->process(data); };
        v.proc.get_tail_samples = [](void* self) { return owner_of<Component>(self)->get_tail_samples(); };
        return v;
    }();
    return &vtable;
}

const v3_connection_point_cpp* connection_vtable() {
    static const v3_connection_point_cpp vtable = [] {
        v3_connection_point_cpp v{};
        UnknownThunks<Component>::fill(v);
        v.point.connect = [](void* self, v3_connection_point** other) { return owner_of<Component>(self)->connect(other); };
        v.point.disconnect = [](void* self, v3_connection_point** other) {
            return owner_of<Component>(self)->disconnect(other);
        };
        v.point.notify = [](void* self, v3_message** message) { return owner_of<Component>(self)->notify(message); };
        return v;
    }();
    return &vtable;
}

const v3_process_context_requirements_cpp* requirements_vtable() {
    static const v3_process_context_requirements_cpp vtable = [] {
        v3_process_context_requirements_cpp v{};
        UnknownThunks<Component>::fill(v);
        v.req.get_process_context_requirements = [](void* self) {
            return owner_of<Component>(self)->get_process_context_requirements();
        };
        return v;
    }();
    return &vtable;
}

const DiagnosticsVtable* diagnostics_vtable() {
    static const DiagnosticsVtable vtable = [] {
        DiagnosticsVtable v{};
        UnknownThunks<Component>::fill(v.unknown);
        v.get_stats = [](void* self, sostenuto_stats* out) { return owner_of<Component>(self)->get_stats(out); };
        return v;
    }();
    return &vtable;
}

const v3_timer_handler_cpp* timer_vtable() {
    static const v3_timer_handler_cpp vtable = [] {
        v3_timer_handler_cpp v{};
        UnknownThunks<Component>::fill(v);
        v.timer.on_timer = [](void* self) { owner_of<Component>(self)->on_timer(); };
        return v;
    }();
    return &vtable;
}

std::uint64_t random_instance_id() {
    std::random_device device;
    std::uint64_t id = (std::uint64_t{device()} << 32) ^ device();
    id ^= static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return id != 0 ? id : 1;
}

std::uint32_t env_ms(const char* name, std::uint32_t fallback) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return fallback;
    char* end = nullptr;
    const unsigned long ms = std::strtoul(v, &end, 10);
    return (end != v && ms <= 24ul * 3600ul * 1000ul) ? static_cast<std::uint32_t>(ms) : fallback;
}

// Reads up to n bytes (fewer only at the end of the stream).
std::size_t read_bytes(v3_bstream** stream, std::uint8_t* out, std::size_t n) {
    auto* vt = vtable_of<v3_bstream_cpp>(stream);
    std::size_t got = 0;
    while (got < n) {
        int32_t read = 0;
        const int32_t want = static_cast<int32_t>(std::min<std::size_t>(n - got, 1 << 20));
        if (vt->stream.read(stream, out + got, want, &read) != V3_OK || read <= 0) break;
        got += static_cast<std::size_t>(std::min(read, want));
    }
    return got;
}

bool write_bytes(v3_bstream** stream, const std::uint8_t* data, std::size_t n) {
    auto* vt = vtable_of<v3_bstream_cpp>(stream);
    std::size_t done = 0;
    while (done < n) {
        int32_t written = 0;
        const int32_t want = static_cast<int32_t>(n - done);
        if (vt->stream.write(stream, const_cast<std::uint8_t*>(data + done), want, &written) != V3_OK || written <= 0)
            return false;
        done += static_cast<std::size_t>(std::min(written, want));
    }
    return true;
}

void sleep_microseconds(long us) noexcept {
    timespec ts{0, us * 1000L};
    ::nanosleep(&ts, nullptr);
}

}  // namespace

Component::Component(std::unique_ptr<EngineLink> link)
    : component_slot_{component_vtable(), this},
      processor_slot_{processor_vtable(), this},
      connection_slot_{connection_vtable(), this},
      requirements_slot_{requirements_vtable(), this},
      diagnostics_slot_{diagnostics_vtable(), this},
      timer_slot_{timer_vtable(), this},
      link_(link ? std::move(link) : std::make_unique<NullEngineLink>()),
      connect_wait_ms_(env_ms("SOSTENUTO_CONNECT_TIMEOUT_MS", 3000)),
      instance_id_(random_instance_id()),
      offline_timeout_ms_(env_ms("SOSTENUTO_OFFLINE_TIMEOUT_MS", 30000)) {
    store_settings(PluginSettings{});
}

Component::~Component() {
    // The link's thread calls on_engine_event(): end it while everything it touches exists.
    stop_engine();
    unregister_timer();
    release_interface(run_loop_);
    release_interface(peer_);
    release_interface(host_context_);
}

v3_result Component::query_interface(const v3_tuid iid, void** obj) {
    if (obj == nullptr) return V3_INVALID_ARG;
    void* found = nullptr;
    if (iid_equal(iid, v3_funknown_iid) || iid_equal(iid, v3_plugin_base_iid) || iid_equal(iid, v3_component_iid))
        found = &component_slot_;
    else if (iid_equal(iid, v3_audio_processor_iid))
        found = &processor_slot_;
    else if (iid_equal(iid, v3_connection_point_iid))
        found = &connection_slot_;
    else if (iid_equal(iid, v3_process_context_requirements_iid))
        found = &requirements_slot_;
    else if (iid_equal(iid, sostenuto_diagnostics_iid))
        found = &diagnostics_slot_;
    else if (iid_equal(iid, v3_timer_handler_iid))
        found = &timer_slot_;
    if (found == nullptr) {
        *obj = nullptr;
        return V3_NO_INTERFACE;
    }
    add_ref();
    *obj = found;
    return V3_OK;
}

// ---------------------------------------------------------------------------
// settings and latency

PluginSettings Component::settings_now() const noexcept {
    PluginSettings s;
    s.gain_db = normalized_to_plain(kParamGain, norm_[kParamGain].load(std::memory_order_relaxed));
    s.temperature = normalized_to_plain(kParamTemperature, norm_[kParamTemperature].load(std::memory_order_relaxed));
    s.latency_mode = normalized_to_plain(kParamLatencyMode, norm_[kParamLatencyMode].load(std::memory_order_relaxed)) >= 0.5;
    s.lookahead_ms = normalized_to_plain(kParamLookahead, norm_[kParamLookahead].load(std::memory_order_relaxed));
    return s;
}

void Component::store_settings(const PluginSettings& s) noexcept {
    norm_[kParamGain].store(plain_to_normalized(kParamGain, s.gain_db), std::memory_order_relaxed);
    norm_[kParamTemperature].store(plain_to_normalized(kParamTemperature, s.temperature), std::memory_order_relaxed);
    norm_[kParamLatencyMode].store(plain_to_normalized(kParamLatencyMode, s.latency_mode), std::memory_order_relaxed);
    norm_[kParamLookahead].store(plain_to_normalized(kParamLookahead, s.lookahead_ms), std::memory_order_relaxed);
}

std::uint32_t Component::sample_rate_or_default() const noexcept {
    return sample_rate_ > 0 ? static_cast<std::uint32_t>(std::lround(sample_rate_)) : 48000u;
}

Component::LatencyKey Component::latency_key_now() const noexcept {
    const PluginSettings s = settings_now();
    LatencyKey key;
    key.sample_rate = sample_rate_or_default();
    key.latency_mode = s.latency_mode;
    // Live mode plays with no lookahead (L = 0); the Lookahead parameter is the studio mode's.
    key.lookahead_samples =
        s.latency_mode != 0 ? static_cast<std::uint32_t>(std::lround(s.lookahead_ms * key.sample_rate / 1000.0)) : 0u;
    return key;
}

std::uint32_t Component::estimated_latency(const LatencyKey& key) const noexcept {
    const std::uint32_t block = max_block_ > 0 ? static_cast<std::uint32_t>(max_block_) : 1024u;
    // Live: one host block and 2 ms, the slack the engine gets to splice a
    // note in before the block that plays it (docs/live-mode.md); the player
    // feels that plus one buffer. Studio (before the engine has answered with
    // its lookahead): 50 ms, and at least two host blocks.
    const std::uint32_t slack =
        key.latency_mode == 0 ? block + key.sample_rate / 500
                              : std::max<std::uint32_t>(2 * block, key.sample_rate / 20);
    return key.lookahead_samples + slack;
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
    if (link_started_ && session_fresh_.load() && config == link_config_) return link_->state() == EngineState::running;
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

// ---------------------------------------------------------------------------
// IPluginBase / IComponent

v3_result Component::initialize(v3_funknown** context) {
    if (host_context_ != nullptr) return V3_FALSE;  // already initialised
    if (context != nullptr) {
        vtable_of<v3_funknown>(context)->ref(context);
        host_context_ = context;
        // Linux hosts may offer their UI thread's run loop here; with it, a latency
        // the engine changes reaches the host even while nothing else calls us.
        run_loop_ = query(context, v3_run_loop_iid);
    }
    return V3_OK;
}

v3_result Component::terminate() {
    if (active_.load()) set_active(0);
    stop_engine();
    unregister_timer();
    release_interface(run_loop_);
    run_loop_ = nullptr;
    release_interface(peer_);
    peer_ = nullptr;
    release_interface(host_context_);
    host_context_ = nullptr;
    return V3_OK;
}

v3_result Component::get_controller_class_id(v3_tuid class_id) {
    if (class_id == nullptr) return V3_INVALID_ARG;
    std::memcpy(class_id, kControllerClassId, sizeof(v3_tuid));
    return V3_OK;
}

v3_result Component::set_io_mode(int32_t) { return V3_NOT_IMPLEMENTED; }

int32_t Component::get_bus_count(int32_t media_type, int32_t direction) {
    if (media_type == V3_AUDIO && direction == V3_OUTPUT) return 1;
    if (media_type == V3_EVENT && direction == V3_INPUT) return 1;
    return 0;
}

v3_result Component::get_bus_info(int32_t media_type, int32_t direction, int32_t index, v3_bus_info* info) {
    if (info == nullptr || index != 0) return V3_INVALID_ARG;
    std::memset(info, 0, sizeof *info);
    if (media_type == V3_AUDIO && direction == V3_OUTPUT) {
        info->media_type = V3_AUDIO;
        info->direction = V3_OUTPUT;
        info->channel_count = 2;
        utf8_to_utf16("Output", info->bus_name, 128);
        info->bus_type = V3_MAIN;
        info->flags = V3_DEFAULT_ACTIVE;
        return V3_OK;
    }
    if (media_type == V3_EVENT && direction == V3_INPUT) {
        info->media_type = V3_EVENT;
        info->direction = V3_INPUT;
        info->channel_count = 16;
        utf8_to_utf16("MIDI In", info->bus_name, 128);
        info->bus_type = V3_MAIN;
        info->flags = V3_DEFAULT_ACTIVE;
        return V3_OK;
    }
    return V3_INVALID_ARG;
}

v3_result Component::get_routing_info(v3_routing_info*, v3_routing_info*) { return V3_NOT_IMPLEMENTED; }

v3_result Component::activate_bus(int32_t media_type, int32_t direction, int32_t index, v3_bool state) {
    if (index != 0) return V3_INVALID_ARG;
    if (media_type == V3_AUDIO && direction == V3_OUTPUT) {
        audio_out_active_ = state != 0;
        return V3_OK;
    }
    if (media_type == V3_EVENT && direction == V3_INPUT) {
        event_in_active_ = state != 0;
        return V3_OK;
    }
    return V3_INVALID_ARG;
}

v3_result Component::set_active(v3_bool state) {
    if (state != 0) {
        if (active_.load()) return V3_OK;
        if (!have_setup_) {
            log_message("setActive(true) before setupProcessing; assuming 48000 Hz, 1024-sample blocks");
            sample_rate_ = 48000.0;
            max_block_ = 1024;
            have_setup_ = true;
        }
        const std::size_t block = static_cast<std::size_t>(max_block_);
        events_.assign(kMaxEventsPerBlock, MidiEvent{});
        scratch_events_.assign(kMaxEventsPerBlock, MidiEvent{});
        for (auto& channel : scratch_audio_) channel.assign(std::max<std::size_t>(block, 256), 0.0f);
        restore_events_.assign(HeldMidiState::kMaxRestoreEvents, MidiEvent{});
        start_engine();
        reset_stream_state();
        active_.store(true, std::memory_order_release);
        register_timer();
        notify_latency_if_changed();
        return V3_OK;
    }
    if (!active_.load()) return V3_OK;
    active_.store(false, std::memory_order_release);
    unregister_timer();
    const std::uint64_t underruns = counters_.underrun_blocks.load();
    if (underruns > 0 && link_->counters().sessions > 0)
        log_message("session ended after %llu samples: %llu underrun blocks (%llu frames missing), %llu offline timeouts",
                    static_cast<unsigned long long>(stream_time_), static_cast<unsigned long long>(underruns),
                    static_cast<unsigned long long>(counters_.missing_frames.load()),
                    static_cast<unsigned long long>(counters_.offline_timeouts.load()));
    stop_engine();
    return V3_OK;
}

v3_result Component::set_state(v3_bstream** stream) {
    if (stream == nullptr) return V3_INVALID_ARG;
    PluginSettings settings;
    StateParse result = StateParse::truncated;
    std::uint8_t header[state_format::header_size];
    const std::size_t got = read_bytes(stream, header, sizeof header);
    if (got == sizeof header) {
        const std::size_t body = state_body_size(header);
        if (body != 0) {
            std::vector<std::uint8_t> record(header, header + sizeof header);
            record.resize(sizeof header + body);
            const std::size_t body_got = read_bytes(stream, record.data() + sizeof header, body);
            result = parse_state(record.data(), sizeof header + body_got, settings);
        } else {
            result = parse_state(header, sizeof header, settings);
        }
    } else {
        result = parse_state(header, got, settings);
    }
    store_settings(settings);
    if (result != StateParse::ok) log_message("state not restored (%s); using defaults", to_string(result));
    notify_latency_if_changed();
    return result == StateParse::ok ? V3_OK : V3_FALSE;
}

v3_result Component::get_state(v3_bstream** stream) {
    if (stream == nullptr) return V3_INVALID_ARG;
    const std::vector<std::uint8_t> record = serialize_state(settings_now());
    return write_bytes(stream, record.data(), record.size()) ? V3_OK : V3_FALSE;
}

// ---------------------------------------------------------------------------
// IAudioProcessor (control side)

v3_result Component::set_bus_arrangements(v3_speaker_arrangement*, int32_t input_count, v3_speaker_arrangement* outputs,
                                          int32_t output_count) {
    if (input_count == 0 && output_count == 1 && outputs != nullptr && outputs[0] == kStereo) return V3_OK;
    return V3_FALSE;
}

v3_result Component::get_bus_arrangement(int32_t direction, int32_t index, v3_speaker_arrangement* arrangement) {
    if (arrangement == nullptr || direction != V3_OUTPUT || index != 0) return V3_INVALID_ARG;
    *arrangement = kStereo;
    return V3_OK;
}

v3_result Component::can_process_sample_size(int32_t size) { return size == V3_SAMPLE_32 ? V3_OK : V3_FALSE; }

uint32_t Component::get_latency_samples() {
    const std::uint32_t answer = latency_answer();
    last_reported_latency_.store(answer);
    latency_reported_.store(true);
    return answer;
}

v3_result Component::setup_processing(v3_process_setup* setup) {
    if (setup == nullptr) return V3_INVALID_ARG;
    if (!(setup->sample_rate >= 1000.0 && setup->sample_rate <= 1.0e6) || setup->max_block_size <= 0 ||
        setup->max_block_size > (1 << 20))
        return V3_INVALID_ARG;
    if (setup->symbolic_sample_size != V3_SAMPLE_32) return V3_FALSE;
    sample_rate_ = setup->sample_rate;
    max_block_ = setup->max_block_size;
    setup_mode_ = setup->process_mode;
    have_setup_ = true;
    // Start the engine link now, so that the latency is the engine's when the
    // host asks. setActive(true) keeps this session if nothing changed meanwhile.
    if (!active_.load()) start_engine();
    notify_latency_if_changed();
    return V3_OK;
}

v3_result Component::set_processing(v3_bool) { return V3_OK; }

uint32_t Component::get_tail_samples() {
    return latency_answer() + static_cast<std::uint32_t>(kReleaseTailSeconds * sample_rate_or_default());
}

// ---------------------------------------------------------------------------
// IConnectionPoint

v3_result Component::connect(v3_connection_point** other) {
    if (other == nullptr) return V3_INVALID_ARG;
    if (peer_ != nullptr) return V3_FALSE;
    vtable_of<v3_funknown>(other)->ref(other);
    peer_ = other;
    return V3_OK;
}

v3_result Component::disconnect(v3_connection_point** other) {
    if (peer_ == nullptr || other != peer_) return V3_INVALID_ARG;
    release_interface(peer_);
    peer_ = nullptr;
    return V3_OK;
}

v3_result Component::notify(v3_message** message) {
    if (message == nullptr) return V3_INVALID_ARG;
    if (std::strcmp(message_id(message), kMessageLatencySettings) != 0) return V3_FALSE;
    std::int64_t mode = 0;
    double lookahead_ms = 0;
    if (message_get_int(message, "mode", mode))
        norm_[kParamLatencyMode].store(mode != 0 ? 1.0 : 0.0, std::memory_order_relaxed);
    if (message_get_float(message, "lookaheadMs", lookahead_ms))
        norm_[kParamLookahead].store(plain_to_normalized(kParamLookahead, lookahead_ms), std::memory_order_relaxed);
    return V3_OK;
}

uint32_t Component::get_process_context_requirements() {
    return V3_PROCESS_CTX_NEED_PROJECT_TIME | V3_PROCESS_CTX_NEED_TRANSPORT_STATE | V3_PROCESS_CTX_NEED_CONTINUOUS_TIME;
}

int32_t Component::get_stats(sostenuto_stats* out) {
    if (out == nullptr || out->struct_size < sizeof(std::uint32_t)) return V3_INVALID_ARG;
    sostenuto_stats s{};
    s.struct_size = sizeof s;
    const EngineState state = link_->state();
    const EngineCounters link_counters = link_->counters();
    const std::optional<EngineInfo> info = link_->info();
    s.engine_connected = state == EngineState::running ? 1u : 0u;
    s.latency_samples = latency_answer();
    s.engine_latency_samples = info ? info->total_latency_samples : 0u;
    s.engine_lookahead_samples = info ? info->lookahead_samples : 0u;
    s.last_process_mode = counters_.last_process_mode.load();
    s.sessions = link_counters.sessions;
    s.failed_connects = link_counters.failed_attempts;
    s.process_calls = counters_.process_calls.load();
    s.zero_frame_calls = counters_.zero_frame_calls.load();
    s.stream_time = counters_.stream_time.load();
    s.underrun_blocks = counters_.underrun_blocks.load();
    s.missing_frames = counters_.missing_frames.load();
    s.offline_waits = counters_.offline_waits.load();
    s.offline_timeouts = counters_.offline_timeouts.load();
    s.events_sent = counters_.events_sent.load();
    s.events_dropped = counters_.events_dropped.load();
    s.transport_flushes = counters_.transport_flushes.load();
    s.process_mode_changes = counters_.process_mode_changes.load();
    s.latency_change_requests = counters_.latency_change_requests.load();
    s.engine_state = static_cast<std::uint32_t>(state);
    s.engine_pid = link_->engine_pid();
    s.engine_launches = link_counters.engine_launches;
    s.sessions_lost = link_counters.sessions_lost;
    s.session_recoveries = counters_.session_recoveries.load();
    s.events_resent = counters_.events_resent.load();
    {
        std::lock_guard<std::mutex> lock(error_mutex_);
        copy_cstring(s.model_name, sizeof s.model_name, model_name_.c_str());
        copy_cstring(s.last_error, sizeof s.last_error, last_error_.c_str());
    }
    const std::size_t n = std::min<std::size_t>(out->struct_size, sizeof s);
    const std::uint32_t caller_size = out->struct_size;
    std::memcpy(out, &s, n);
    out->struct_size = static_cast<std::uint32_t>(std::min<std::size_t>(caller_size, sizeof s));
    return V3_OK;
}

// ---------------------------------------------------------------------------
// Audio thread

void Component::reset_stream_state() {
    stream_time_ = 0;
    counters_.stream_time.store(0);
    session_latency_ = latency_answer();
    current_mode_ = link_started_ ? link_config_.process_mode
                                  : (setup_mode_ == V3_OFFLINE ? ProcessMode::offline : ProcessMode::realtime);
    had_session_ = false;
    offline_timed_out_ = false;
    engine_unavailable_ = !link_started_ || (!engine_expected_ && link_->state() != EngineState::running);
    held_.reset();
    for (std::size_t i = 0; i < kMainParamCount; ++i) local_norm_[i] = norm_[i].load(std::memory_order_relaxed);
    have_prev_ctx_ = false;
    gain_.reset(normalized_to_plain(kParamGain, local_norm_[kParamGain]));
    smoother_.reset(static_cast<std::size_t>(std::max(16.0, std::round(sample_rate_or_default() * 0.002))));
    event_count_ = cc_event_count_ = 0;
}

// The first block of a session (the activation's first, or one that took over
// after the engine died): the engine knows nothing yet. Tell it, at the block's
// start, everything that holds now: the engine parameters, the controllers
// last set (the sustain pedal among them) and the notes that sound.
void Component::begin_session(std::uint64_t stream_time) noexcept {
    if (had_session_) counters_.session_recoveries.fetch_add(1, std::memory_order_relaxed);
    had_session_ = true;
    offline_timed_out_ = false;
    engine_unavailable_ = false;
    sync_engine_params(stream_time, true);
    const std::size_t n = held_.restore(stream_time, restore_events_.data(), restore_events_.size());
    if (n == 0) return;
    if (link_->send_events(restore_events_.data(), n))
        counters_.events_resent.fetch_add(n, std::memory_order_relaxed);
    else
        counters_.events_dropped.fetch_add(n, std::memory_order_relaxed);
}

// Engine parameters the controller or setState changed since the last block
// (all of them when `send_all`) go to the engine at `stream_time`; the gain
// steps to its new value.
void Component::sync_engine_params(std::uint64_t stream_time, bool send_all) noexcept {
    for (std::uint32_t id = 0; id < kMainParamCount; ++id) {
        const double v = norm_[id].load(std::memory_order_relaxed);
        const bool changed = v != local_norm_[id];
        local_norm_[id] = v;
        if (id == kParamGain) {
            if (changed) gain_.jump(normalized_to_plain(id, v));
            continue;
        }
        if (changed || send_all) link_->send_parameter(stream_time, id, static_cast<float>(normalized_to_plain(id, v)));
    }
}

void Component::handle_transport(const v3_process_context* ctx, int32_t frames) noexcept {
    if (ctx == nullptr) return;
    const bool playing = (ctx->state & V3_PROCESS_CTX_PLAYING) != 0;
    const std::int64_t position = ctx->project_time_in_samples;
    if (have_prev_ctx_) {
        const bool changed = playing != prev_playing_;
        const bool jumped = playing && prev_playing_ && position != prev_expected_project_time_;
        if (changed || jumped) {
            link_->send_transport_flush(stream_time_);
            held_.flush();  // the engine forgets its notes and the pedal
            counters_.transport_flushes.fetch_add(1, std::memory_order_relaxed);
        }
    }
    have_prev_ctx_ = true;
    prev_playing_ = playing;
    prev_expected_project_time_ = playing ? position + frames : position;
}

void Component::add_event(std::uint64_t time, std::uint8_t status, std::uint8_t data1, std::uint8_t data2) noexcept {
    if (event_count_ >= events_.size()) {
        counters_.events_dropped.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    events_[event_count_++] = MidiEvent{time, status, data1, data2};
}

void Component::collect_param_changes(v3_param_changes** changes, int32_t frames) noexcept {
    if (changes == nullptr) return;
    auto* vt = vtable_of<v3_param_changes_cpp>(changes);
    const int32_t queue_count = vt->changes.get_param_count(changes);
    const int32_t last_offset = frames > 0 ? frames - 1 : 0;
    for (int32_t q = 0; q < queue_count; ++q) {
        v3_param_value_queue** queue = vt->changes.get_param_data(changes, q);
        if (queue == nullptr) continue;
        auto* qv = vtable_of<v3_param_value_queue_cpp>(queue);
        const v3_param_id id = qv->queue.get_param_id(queue);
        const int32_t points = qv->queue.get_point_count(queue);
        for (int32_t p = 0; p < points; ++p) {
            int32_t offset = 0;
            double value = 0;
            if (qv->queue.get_point(queue, p, &offset, &value) != V3_OK) continue;
            offset = std::min(std::max(offset, 0), last_offset);
            if (!(value >= 0.0)) value = 0.0;
            if (value > 1.0) value = 1.0;
            const std::uint64_t time = stream_time_ + static_cast<std::uint64_t>(offset);
            if (id < kMainParamCount) {
                local_norm_[id] = value;
                norm_[id].store(value, std::memory_order_relaxed);
                const double plain = normalized_to_plain(id, value);
                if (id == kParamGain)
                    gain_.add_point(offset, plain);
                else
                    link_->send_parameter(time, id, static_cast<float>(plain));
                continue;
            }
            MidiBytes midi;
            if (midi_for_param(id, value, midi)) add_event(time, midi.status, midi.data1, midi.data2);
        }
    }
}

void Component::collect_events(v3_event_list** list, int32_t frames) noexcept {
    if (list == nullptr) return;
    auto* vt = vtable_of<v3_event_list_cpp>(list);
    const uint32_t count = vt->list.get_event_count(list);
    const int32_t last_offset = frames > 0 ? frames - 1 : 0;
    for (uint32_t i = 0; i < count; ++i) {
        v3_event e{};
        if (vt->list.get_event(list, static_cast<int32_t>(i), &e) != V3_OK) continue;
        if (e.bus_index != 0) continue;
        const int32_t offset = std::min(std::max(e.sample_offset, 0), last_offset);
        const std::uint64_t time = stream_time_ + static_cast<std::uint64_t>(offset);
        auto to7 = [](float v) { return static_cast<std::uint8_t>(std::lround(std::min(std::max(v, 0.0f), 1.0f) * 127.0f)); };
        switch (e.type) {
            case V3_EVENT_NOTE_ON: {
                if (e.note_on.pitch < 0 || e.note_on.pitch > 127) break;
                const auto channel = static_cast<std::uint8_t>(e.note_on.channel & 0x0F);
                if (e.note_on.velocity > 0.0f) {
                    const std::uint8_t velocity = std::max<std::uint8_t>(1, to7(e.note_on.velocity));
                    add_event(time, 0x90 | channel, static_cast<std::uint8_t>(e.note_on.pitch), velocity);
                } else {
                    add_event(time, 0x80 | channel, static_cast<std::uint8_t>(e.note_on.pitch), 64);
                }
                break;
            }
            case V3_EVENT_NOTE_OFF: {
                if (e.note_off.pitch < 0 || e.note_off.pitch > 127) break;
                const auto channel = static_cast<std::uint8_t>(e.note_off.channel & 0x0F);
                add_event(time, 0x80 | channel, static_cast<std::uint8_t>(e.note_off.pitch), to7(e.note_off.velocity));
                break;
            }
            case V3_EVENT_POLY_PRESSURE: {
                if (e.poly_pressure.pitch < 0 || e.poly_pressure.pitch > 127) break;
                const auto channel = static_cast<std::uint8_t>(e.poly_pressure.channel & 0x0F);
                add_event(time, 0xA0 | channel, static_cast<std::uint8_t>(e.poly_pressure.pitch), to7(e.poly_pressure.pressure));
                break;
            }
            default: break;  // sysex, note expression, chords: nothing the engine takes
        }
    }
}

void Component::send_events() noexcept {
    if (event_count_ == 0) return;
    // Controller-derived events were added first: a stable sort keeps them
    // ahead of notes at the same sample (a pedal or all-notes-off before a
    // note-on that shares its time).
    stable_sort_events(events_.data(), scratch_events_.data(), event_count_);
    // Tracked whether or not a session runs now: a session that starts later is told.
    for (std::size_t i = 0; i < event_count_; ++i) held_.apply(events_[i]);
    std::size_t done = 0;
    while (done < event_count_) {
        const std::size_t n = std::min(event_count_ - done, bridge::max_midi_events_per_message);
        if (link_->send_events(events_.data() + done, n))
            counters_.events_sent.fetch_add(n, std::memory_order_relaxed);
        else
            counters_.events_dropped.fetch_add(n, std::memory_order_relaxed);
        done += n;
    }
    event_count_ = 0;
}

// Offline, when a block finds no session while one is being set up (the
// engine is starting, being replaced, or has just died and the link has not
// noticed yet): wait for a session newer than `seen_epoch` (the last one this
// thread played), so that a bounce does not race ahead in silence. Bounded by
// the offline timeout; an attempt to reach or start the engine that fails
// ends the wait (and further ones, until a session runs).
void Component::wait_for_session(std::uint64_t seen_epoch) noexcept {
    counters_.offline_waits.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t failures = link_->counters().failed_attempts;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(offline_timeout_ms_);
    for (;;) {
        const EngineState state = link_->state();
        if (state == EngineState::stopped) return;
        const EngineCounters c = link_->counters();
        if (state == EngineState::running && c.sessions > seen_epoch) return;
        if (c.failed_attempts != failures) {
            engine_unavailable_ = true;
            log_unlocked("offline render: the engine could not be reached or restarted; writing silence from stream time ",
                         stream_time_, " until a session runs again");
            return;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            offline_timed_out_ = true;
            counters_.offline_timeouts.fetch_add(1, std::memory_order_relaxed);
            log_unlocked("offline render: no engine session for ", offline_timeout_ms_,
                         " ms; writing silence for the rest of this pass");
            return;
        }
        sleep_microseconds(250);
    }
}

void Component::render(float* const* out, std::size_t frames, bool offline, bool live) noexcept {
    std::size_t valid = 0;
    std::size_t expected = frames;  // frames that should have been engine audio
    if (live) {
        if (offline && !offline_timed_out_ && link_->available_until() < stream_time_ + frames) {
            counters_.offline_waits.fetch_add(1, std::memory_order_relaxed);
            const auto t0 = std::chrono::steady_clock::now();
            const auto limit = std::chrono::milliseconds(offline_timeout_ms_);
            valid = link_->read_audio_waiting(stream_time_, out, frames, limit);
            if (valid < frames && std::chrono::steady_clock::now() - t0 >= limit) {
                offline_timed_out_ = true;
                counters_.offline_timeouts.fetch_add(1, std::memory_order_relaxed);
                log_unlocked("offline render: the engine produced no audio for ", offline_timeout_ms_,
                             " ms; writing silence for the rest of this pass");
            }
        } else {
            valid = link_->read_audio(stream_time_, out, frames);
        }
        valid = std::min(valid, frames);
    } else {
        // No session: silence. Before the reported latency has passed that is
        // what any session would have played; after it, audio is missing.
        for (std::size_t c = 0; c < 2; ++c) std::fill(out[c], out[c] + frames, 0.0f);
        const std::int64_t r0 = static_cast<std::int64_t>(stream_time_) - static_cast<std::int64_t>(session_latency_);
        valid = r0 < 0 ? static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(frames), -r0)) : 0;
    }
    if (valid < expected) {
        counters_.underrun_blocks.fetch_add(1, std::memory_order_relaxed);
        counters_.missing_frames.fetch_add(expected - valid, std::memory_order_relaxed);
    }
    smoother_.process(out, frames, valid);
}

v3_result Component::process(v3_process_data* data) {
    if (data == nullptr) return V3_INVALID_ARG;
    counters_.process_calls.fetch_add(1, std::memory_order_relaxed);
    const int32_t frames = data->nframes;
    if (frames < 0) return V3_INVALID_ARG;
    counters_.last_process_mode.store(static_cast<std::uint32_t>(data->process_mode), std::memory_order_relaxed);

    // The host's output channels.
    v3_audio_bus_buffers* bus = (data->num_output_buses > 0 && data->outputs != nullptr) ? &data->outputs[0] : nullptr;
    const int32_t host_channels =
        (bus != nullptr && bus->channel_buffers_32 != nullptr && data->symbolic_sample_size == V3_SAMPLE_32)
            ? std::max(bus->num_channels, 0)
            : 0;
    float* const* host = host_channels > 0 ? bus->channel_buffers_32 : nullptr;

    if (!active_.load(std::memory_order_acquire)) {
        for (int32_t c = 0; c < host_channels; ++c)
            if (host[c] != nullptr) std::fill(host[c], host[c] + frames, 0.0f);
        if (bus != nullptr) bus->channel_silence_bitset = host_channels >= 64 ? ~0ull : ((1ull << host_channels) - 1);
        return V3_OK;
    }
    session_fresh_.store(false, std::memory_order_relaxed);

    const bool offline = data->process_mode == V3_OFFLINE;
    const ProcessMode mode = offline ? ProcessMode::offline : ProcessMode::realtime;
    const std::uint64_t s = stream_time_;

    // One block of the link's session (or of none): the session cannot change under it.
    struct BlockScope {
        EngineLink& link;
        EngineBlock block;
        BlockScope(EngineLink& l, std::uint64_t t) noexcept : link(l), block(l.begin_block(t)) {}
        ~BlockScope() { link.end_block(); }
    } scope(*link_, s);
    if (!scope.block.live && offline && frames > 0 && !offline_timed_out_ && !engine_unavailable_ &&
        link_->state() != EngineState::stopped) {
        // Outside the block while waiting: the link may change the session meanwhile.
        link_->end_block();
        wait_for_session(scope.block.epoch);
        scope.block = link_->begin_block(s);
    }
    const bool live = scope.block.live;
    if (scope.block.new_session) begin_session(s);

    if (mode != current_mode_) {
        link_->send_process_mode(mode, s);  // without a session, the next one's Hello carries it
        current_mode_ = mode;
        counters_.process_mode_changes.fetch_add(1, std::memory_order_relaxed);
    }
    handle_transport(data->ctx, frames);
    sync_engine_params(s, false);

    gain_.begin_block();
    event_count_ = 0;
    collect_param_changes(data->input_params, frames);
    collect_events(data->input_events, frames);
    send_events();

    if (frames == 0) {
        counters_.zero_frame_calls.fetch_add(1, std::memory_order_relaxed);
        gain_.apply(nullptr, 0, 0);
        return V3_OK;
    }
    link_->send_clock(s + static_cast<std::uint64_t>(frames));

    const std::size_t n = static_cast<std::size_t>(frames);
    const bool direct = host_channels >= 2 && host[0] != nullptr && host[1] != nullptr;
    if (direct) {
        render(host, n, offline, live);
        stream_time_ = s + n;
        for (int32_t c = 2; c < host_channels; ++c)
            if (host[c] != nullptr) std::fill(host[c], host[c] + n, 0.0f);
        gain_.apply(host, 2, n);
    } else {
        // Mono or no output buffers: render through scratch (the ring must be
        // read either way), then mix down to what the host gave us.
        const std::size_t chunk_max = scratch_audio_[0].size();
        std::size_t done = 0;
        while (done < n) {
            const std::size_t chunk = std::min(chunk_max, n - done);
            float* scratch[2] = {scratch_audio_[0].data(), scratch_audio_[1].data()};
            render(scratch, chunk, offline, live);
            stream_time_ += chunk;
            if (host_channels >= 1 && host[0] != nullptr)
                for (std::size_t i = 0; i < chunk; ++i) host[0][done + i] = 0.5f * (scratch[0][i] + scratch[1][i]);
            done += chunk;
        }
        stream_time_ = s + n;
        for (int32_t c = 1; c < host_channels; ++c)
            if (host[c] != nullptr) std::fill(host[c], host[c] + n, 0.0f);
        gain_.apply(host, host_channels >= 1 && host[0] != nullptr ? 1 : 0, n);
    }
    counters_.stream_time.store(stream_time_, std::memory_order_relaxed);

    if (bus != nullptr) {
        std::uint64_t silent = 0;
        for (int32_t c = 0; c < host_channels && c < 64; ++c) {
            bool zero = true;
            if (host[c] != nullptr)
                for (std::size_t i = 0; i < n && zero; ++i) zero = host[c][i] == 0.0f;
            if (zero) silent |= 1ull << c;
        }
        bus->channel_silence_bitset = silent;
    }
    return V3_OK;
}

}  // namespace sostenuto::vst3
