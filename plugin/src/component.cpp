#include "component.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ids.h"
#include "log.h"
#include "message.h"
#include "parameters.h"

namespace sostenuto::vst3 {
namespace {

constexpr v3_speaker_arrangement kStereo = V3_SPEAKER_L | V3_SPEAKER_R;

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

}  // namespace

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
    const bridge::InstrumentCounters c = core_.counters();
    if (c.underrun_blocks > 0 && link_->counters().sessions > 0)
        log_message("session ended after %llu samples: %llu underrun blocks (%llu frames missing), %llu offline timeouts",
                    static_cast<unsigned long long>(c.stream_time), static_cast<unsigned long long>(c.underrun_blocks),
                    static_cast<unsigned long long>(c.missing_frames), static_cast<unsigned long long>(c.offline_timeouts));
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
        norm_[kParamLatencyMode].store(
            latency_choice_to_normalized(bridge::latency_choice_from(mode >= 0 ? static_cast<std::uint32_t>(mode) : 99u)),
            std::memory_order_relaxed);
    if (message_get_float(message, "lookaheadMs", lookahead_ms))
        norm_[kParamLookahead].store(plain_to_normalized(kParamLookahead, lookahead_ms), std::memory_order_relaxed);
    publish_settings();
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
    const bridge::InstrumentCounters core = core_.counters();
    s.process_calls = counters_.process_calls.load();
    s.zero_frame_calls = core.zero_frame_blocks;
    s.stream_time = core.stream_time;
    s.underrun_blocks = core.underrun_blocks;
    s.missing_frames = core.missing_frames;
    s.offline_waits = core.offline_waits;
    s.offline_timeouts = core.offline_timeouts;
    s.events_sent = core.events_sent;
    s.events_dropped = core.events_unsent + core.events_dropped + core.events_overflow;  // not sent, for whatever reason
    s.transport_flushes = core.transport_flushes;
    s.process_mode_changes = core.process_mode_changes;
    s.latency_change_requests = counters_.latency_change_requests.load();
    s.engine_state = static_cast<std::uint32_t>(state);
    s.engine_pid = link_->engine_pid();
    // Engines this instance started, by either link (in Auto the live one may
    // be the first to find the engine gone and start the next).
    s.engine_launches = link_counters.engine_launches + (live_link_ ? live_link_->counters().engine_launches : 0u);
    s.sessions_lost = link_counters.sessions_lost;
    s.session_recoveries = core.session_recoveries;
    s.events_resent = core.events_resent;
    // The link records why an attempt failed before it counts the failure and
    // tells on_engine_event(): a caller that saw the failure (an offline block
    // stops waiting at once) reads the link's reason until the event is in.
    const std::string link_error = state != EngineState::running ? link_->last_error() : std::string();
    {
        std::lock_guard<std::mutex> lock(error_mutex_);
        copy_cstring(s.model_name, sizeof s.model_name, model_name_.c_str());
        copy_cstring(s.last_error, sizeof s.last_error, (last_error_.empty() ? link_error : last_error_).c_str());
    }
    const std::size_t n = std::min<std::size_t>(out->struct_size, sizeof s);
    const std::uint32_t caller_size = out->struct_size;
    std::memcpy(out, &s, n);
    out->struct_size = static_cast<std::uint32_t>(std::min<std::size_t>(caller_size, sizeof s));
    return V3_OK;
}

// ---------------------------------------------------------------------------
// Audio thread: the host's input as core calls

void Component::reset_stream_state() {
    bridge::InstrumentCore::Stream stream;
    stream.mode = link_started_ ? link_config_.process_mode
                                : (setup_mode_ == V3_OFFLINE ? ProcessMode::offline : ProcessMode::realtime);
    stream.sample_rate = sample_rate_or_default();
    stream.reported_latency = latency_answer();
    stream.engine_expected = link_started_ && (engine_expected_ || link_->state() == EngineState::running);
    core_.reset(stream, max_block_ > 0 ? static_cast<std::uint32_t>(max_block_) : 1024u);
}

void Component::log_offline(void*, bridge::InstrumentCore::OfflineGaveUp what, std::uint64_t stream_time,
                            std::uint32_t wait_ms) noexcept {
    using Gave = bridge::InstrumentCore::OfflineGaveUp;
    if (what == Gave::engine_unavailable)
        log_unlocked("offline render: the engine could not be reached or restarted; writing silence from stream time ",
                     stream_time, " until a session runs again");
    else
        log_unlocked(what == Gave::no_session ? "offline render: no engine session for "
                                              : "offline render: the engine produced no audio for ",
                     wait_ms, " ms; writing silence for the rest of this pass");
}

// Parameter queues: the main parameters (engine parameters and the gain) at
// their samples, and the hidden MIDI-controller parameters as MIDI events.
void Component::collect_param_changes(v3_param_changes** changes) noexcept {
    if (changes == nullptr) return;
    auto* vt = vtable_of<v3_param_changes_cpp>(changes);
    const int32_t queue_count = vt->changes.get_param_count(changes);
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
            const auto at = static_cast<std::uint32_t>(std::max(offset, 0));  // the core clamps the end
            if (!(value >= 0.0)) value = 0.0;
            if (value > 1.0) value = 1.0;
            if (id < kMainParamCount) {
                norm_[id].store(value, std::memory_order_relaxed);
                const double plain = normalized_to_plain(id, value);
                if (id == kParamGain)
                    core_.add_gain_point(at, plain);
                else
                    core_.add_parameter_change(at, static_cast<bridge::EngineParameter>(id), static_cast<float>(plain));
                continue;
            }
            MidiBytes midi;
            if (midi_for_param(id, value, midi)) core_.add_event(at, midi.status, midi.data1, midi.data2);
        }
    }
}

// Note events as MIDI: float velocities to 7 bits (a note-on at least 1; a
// note-on of velocity 0 is a note-off of 64).
void Component::collect_events(v3_event_list** list) noexcept {
    if (list == nullptr) return;
    auto* vt = vtable_of<v3_event_list_cpp>(list);
    const uint32_t count = vt->list.get_event_count(list);
    auto to7 = [](float v) { return static_cast<std::uint8_t>(std::lround(std::min(std::max(v, 0.0f), 1.0f) * 127.0f)); };
    auto key = [](int16_t pitch) { return static_cast<std::uint8_t>(pitch); };
    auto channel = [](int16_t c) { return static_cast<std::uint8_t>(c & 0x0F); };
    for (uint32_t i = 0; i < count; ++i) {
        v3_event e{};
        if (vt->list.get_event(list, static_cast<int32_t>(i), &e) != V3_OK || e.bus_index != 0) continue;
        const auto at = static_cast<std::uint32_t>(std::max(e.sample_offset, 0));
        switch (e.type) {
            case V3_EVENT_NOTE_ON:
                if (e.note_on.pitch < 0 || e.note_on.pitch > 127) break;
                if (e.note_on.velocity > 0.0f)
                    core_.add_event(at, 0x90 | channel(e.note_on.channel), key(e.note_on.pitch),
                                    std::max<std::uint8_t>(1, to7(e.note_on.velocity)));
                else
                    core_.add_event(at, 0x80 | channel(e.note_on.channel), key(e.note_on.pitch), 64);
                break;
            case V3_EVENT_NOTE_OFF:
                if (e.note_off.pitch < 0 || e.note_off.pitch > 127) break;
                core_.add_event(at, 0x80 | channel(e.note_off.channel), key(e.note_off.pitch), to7(e.note_off.velocity));
                break;
            case V3_EVENT_POLY_PRESSURE:
                if (e.poly_pressure.pitch < 0 || e.poly_pressure.pitch > 127) break;
                core_.add_event(at, 0xA0 | channel(e.poly_pressure.channel), key(e.poly_pressure.pitch),
                                to7(e.poly_pressure.pressure));
                break;
            default: break;  // sysex, note expression, chords: nothing the engine takes
        }
    }
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

    core_.begin_block(static_cast<std::uint32_t>(frames), data->process_mode == V3_OFFLINE);
    if (const v3_process_context* ctx = data->ctx)
        core_.set_transport((ctx->state & V3_PROCESS_CTX_PLAYING) != 0, (ctx->state & V3_PROCESS_CTX_RECORDING) != 0,
                            ctx->project_time_in_samples);
    // Controllers first: at the same sample, a pedal or all-notes-off goes ahead of a note.
    collect_param_changes(data->input_params);
    collect_events(data->input_events);
    core_.end_block(host, static_cast<std::size_t>(host_channels));
    if (frames == 0 || bus == nullptr) return V3_OK;

    std::uint64_t silent = 0;
    for (int32_t c = 0; c < host_channels && c < 64; ++c) {
        bool zero = true;
        if (host[c] != nullptr)
            for (int32_t i = 0; i < frames && zero; ++i) zero = host[c][i] == 0.0f;
        if (zero) silent |= 1ull << c;
    }
    bus->channel_silence_bitset = silent;
    return V3_OK;
}

}  // namespace sostenuto::vst3
