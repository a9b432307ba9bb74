#include "renderer.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <pthread.h>
#include <sched.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

namespace sostenuto::host {
namespace {

struct SampleEvent {
    int64_t sample;
    TimedMidi midi;
};

// Controllers a VST3 host turns into parameters (IMidiMapping), by MIDI status.
bool controller_of(const TimedMidi& m, int16_t& controller, double& value) {
    switch (m.status & 0xF0) {
        case 0xB0:
            controller = m.data1;
            value = m.data2 / 127.0;
            return true;
        case 0xD0:
            controller = 128;  // kAfterTouch
            value = m.data1 / 127.0;
            return true;
        case 0xE0:
            controller = 129;  // kPitchBend
            value = ((m.data2 << 7) | m.data1) / 16383.0;
            return true;
        default: return false;
    }
}

uint32_t next_random(uint32_t& state) {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
}

// The --no-op baseline's process(): the least any instrument must do - zero its
// outputs and flag them silent - and nothing else. It is called exactly where
// the plug-in's would be (PluginInstance::process, same ProcessData, through a
// function pointer as through the vtable), so its time is the test host's own
// per-call floor: the timer, the ProcessData, one indirect call, 2 x n stores.
// The no-op shim bundle (SostenutoNoop.vst3) is the baseline that isolates the
// bridge; this one shows what the shim itself adds on top of the host.
v3_result noop_process(void*, v3_process_data* data) {
    if (data == nullptr) return V3_INVALID_ARG;
    if (data->num_output_buses > 0 && data->outputs != nullptr) {
        v3_audio_bus_buffers& bus = data->outputs[0];
        for (int32_t c = 0; c < bus.num_channels; ++c)
            if (bus.channel_buffers_32 != nullptr && bus.channel_buffers_32[c] != nullptr)
                std::fill(bus.channel_buffers_32[c], bus.channel_buffers_32[c] + data->nframes, 0.0f);
        bus.channel_silence_bitset = bus.num_channels >= 64 ? ~0ull : ((1ull << bus.num_channels) - 1);
    }
    return V3_OK;
}

}  // namespace

double quantile(std::vector<double> values, double q) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

RenderResult render(PluginInstance& plugin, const std::vector<TimedMidi>& midi, const RenderOptions& options) {
    RenderResult result;
    const double rate = options.sample_rate;
    const int32_t max_block = options.varying ? options.max_block : options.block;
    if (max_block <= 0) throw std::runtime_error("block size must be > 0");

    // Settings first, as a user would set them before playing.
    auto* controller = vtable_of<v3_edit_controller_cpp>(plugin.controller());
    for (const auto& [id, value] : options.parameters) controller->ctrl.set_parameter_normalised(plugin.controller(), id, value);

    const int32_t setup_mode = options.setup_mode >= 0 ? options.setup_mode : options.process_mode;
    if (plugin.setup(rate, max_block, setup_mode) != V3_OK) throw std::runtime_error("setupProcessing refused");
    plugin.handler().pending_restart_flags.exchange(0);  // not active yet: nothing to restart
    if (plugin.activate() != V3_OK) throw std::runtime_error("setActive(true) failed");
    result.restarts_before_render = plugin.handle_restarts();
    result.latency = plugin.latency();
    result.tail = plugin.tail();
    const int64_t latency = result.latency;

    // Events on the sample grid; controllers mapped once, as a host caches them.
    std::vector<SampleEvent> events;
    events.reserve(midi.size());
    int64_t last_sample = 0;
    for (const TimedMidi& m : midi) {
        const int64_t sample = std::llround(m.seconds * rate);
        events.push_back({sample, m});
        last_sample = std::max(last_sample, sample);
    }
    v3_param_id mapping[16][130];
    bool mapped[16][130];
    for (int ch = 0; ch < 16; ++ch)
        for (int cc = 0; cc < 130; ++cc) mapped[ch][cc] = plugin.midi_assignment(static_cast<int16_t>(ch), static_cast<int16_t>(cc), mapping[ch][cc]);

    int64_t content = (midi.empty() ? 0 : last_sample + 1) + std::llround(options.tail_seconds * rate);
    int64_t total = content + latency;
    if (options.calls > 0) {
        // At most calls x max_block frames; the loop stops after the calls.
        total = options.calls * static_cast<int64_t>(max_block);
        content = std::max<int64_t>(0, total - latency);
    }
    std::vector<std::vector<float>> stream(2, std::vector<float>(static_cast<size_t>(total) + static_cast<size_t>(max_block), 0.0f));
    result.process_micros.reserve(options.calls > 0 ? static_cast<size_t>(options.calls)
                                                    : static_cast<size_t>(total / std::max(1, options.varying ? 1 : max_block)) + 1024);
    result.process_stream_times.reserve(result.process_micros.capacity());
    if (options.count_context_switches) result.process_switches.reserve(result.process_micros.capacity());
    struct OverrideGuard {
        PluginInstance& plugin;
        ~OverrideGuard() { plugin.set_process_override(nullptr); }
    } override_guard{plugin};
    plugin.set_process_override(options.noop ? &noop_process : nullptr);

    v3_process_context context{};
    context.sample_rate = rate;
    context.bpm = 120.0;
    context.time_sig_numerator = 4;
    context.time_sig_denom = 4;

    // The calling thread's policy for the loop only (restored on the way out).
    struct SchedulingGuard {
        bool changed = false;
        int policy = SCHED_OTHER;
        sched_param param{};
        explicit SchedulingGuard(int priority) {
            if (priority <= 0) return;
            pthread_getschedparam(pthread_self(), &policy, &param);
            sched_param fifo{};
            fifo.sched_priority = priority;
            if (const int error = pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo); error != 0)
                throw std::runtime_error("SCHED_FIFO priority " + std::to_string(priority) + " refused: " + std::strerror(error));
            changed = true;
        }
        ~SchedulingGuard() {
            if (changed) pthread_setschedparam(pthread_self(), policy, &param);
        }
    } scheduling_guard(options.rt_priority);

    uint32_t random = options.seed * 2654435761u + 12345u;
    size_t next_event = 0;
    int64_t s = 0;
    bool first = true;
    const auto start = std::chrono::steady_clock::now();
    while (options.calls > 0 ? result.process_calls < static_cast<uint64_t>(options.calls) : s < total) {
        int32_t n = max_block;
        if (options.varying) {
            n = (next_random(random) % 8 == 0) ? 0 : static_cast<int32_t>(1 + next_random(random) % static_cast<uint32_t>(max_block));
            if (first) n = std::max(n, 1);
        }
        if (options.calls <= 0) n = static_cast<int32_t>(std::min<int64_t>(n, total - s));

        ParameterChanges& params = plugin.input_params();
        EventList& list = plugin.input_events();
        params.clear();
        list.clear();
        if (first) {
            for (const auto& [id, value] : options.parameters) params.add(id, 0, value);
        }
        // A 0-frame call carries nothing but what is due at s (here: nothing new).
        while (n > 0 && next_event < events.size() && events[next_event].sample < s + n) {
            const SampleEvent& e = events[next_event++];
            const int32_t offset = static_cast<int32_t>(std::max<int64_t>(0, e.sample - s));
            const uint8_t kind = e.midi.status & 0xF0;
            const int16_t channel = e.midi.status & 0x0F;
            v3_event ev{};
            ev.bus_index = 0;
            ev.sample_offset = offset;
            if (kind == 0x90 && e.midi.data2 > 0) {
                ev.type = V3_EVENT_NOTE_ON;
                ev.note_on.channel = channel;
                ev.note_on.pitch = e.midi.data1;
                ev.note_on.velocity = e.midi.data2 / 127.0f;
                ev.note_on.note_id = -1;
                list.add(ev);
            } else if (kind == 0x80 || kind == 0x90) {
                ev.type = V3_EVENT_NOTE_OFF;
                ev.note_off.channel = channel;
                ev.note_off.pitch = e.midi.data1;
                ev.note_off.velocity = kind == 0x80 ? e.midi.data2 / 127.0f : 0.0f;
                ev.note_off.note_id = -1;
                list.add(ev);
            } else if (kind == 0xA0) {
                ev.type = V3_EVENT_POLY_PRESSURE;
                ev.poly_pressure.channel = channel;
                ev.poly_pressure.pitch = e.midi.data1;
                ev.poly_pressure.pressure = e.midi.data2 / 127.0f;
                ev.poly_pressure.note_id = -1;
                list.add(ev);
            } else {
                int16_t cc;
                double value;
                if (controller_of(e.midi, cc, value) && mapped[channel][cc]) params.add(mapping[channel][cc], offset, value);
            }
        }

        context.state = V3_PROCESS_CTX_PROJECT_TIME_VALID | V3_PROCESS_CTX_TEMPO_VALID | V3_PROCESS_CTX_TIME_SIG_VALID |
                        V3_PROCESS_CTX_CONT_TIME_VALID | V3_PROCESS_CTX_SYSTEM_TIME_VALID |
                        (options.playing ? V3_PROCESS_CTX_PLAYING : 0);
        context.project_time_in_samples = s;
        context.continuous_time_in_samples = s;
        context.project_time_quarters = (s / rate) * (context.bpm / 60.0);
        context.system_time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch()).count();

        PluginInstance::Block block;
        block.frames = n;
        block.process_mode = options.process_mode;
        block.outputs[0] = stream[0].data() + s;
        block.outputs[1] = stream[1].data() + s;
        block.context = &context;
        rusage usage_before{}, usage_after{};
        if (options.count_context_switches) ::getrusage(RUSAGE_THREAD, &usage_before);
        const auto t0 = std::chrono::steady_clock::now();
        const v3_result r = plugin.process(block);
        const auto t1 = std::chrono::steady_clock::now();
        if (options.count_context_switches) {
            ::getrusage(RUSAGE_THREAD, &usage_after);
            result.process_switches.push_back(static_cast<uint32_t>(usage_after.ru_nvcsw - usage_before.ru_nvcsw));
        }
        if (r != V3_OK) throw std::runtime_error("process() failed with " + std::to_string(r));
        result.process_micros.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        result.process_stream_times.push_back(static_cast<uint64_t>(s));
        ++result.process_calls;
        s += n;
        first = false;
        if (options.after_block) options.after_block(plugin, static_cast<uint64_t>(s));
        if (plugin.handler().pending_restart_flags.exchange(0) != 0) ++result.restart_requests_during_render;
        if (options.paced) {
            const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                         std::chrono::duration<double>(static_cast<double>(s) / rate));
            std::this_thread::sleep_until(due);
        }
    }
    result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.stream_frames = static_cast<uint64_t>(s);
    content = std::min<int64_t>(content, std::max<int64_t>(0, s - latency));
    result.have_stats = plugin.stats(result.stats);

    result.audio.assign(2, std::vector<float>(static_cast<size_t>(content)));
    for (int c = 0; c < 2; ++c)
        std::copy(stream[c].begin() + latency, stream[c].begin() + latency + content, result.audio[c].begin());
    return result;
}

}  // namespace sostenuto::host
