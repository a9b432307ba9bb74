// Renders MIDI through a plug-in instance like a DAW rendering a track:
// setupProcessing, activation (handling latency restarts), then process()
// block by block from stream time 0, with MIDI notes as VST3 events and MIDI
// controllers as parameter changes through IMidiMapping (as hosts do).
//
// The result is aligned by the reported latency D: the first D samples of the
// plug-in's output are dropped, so the audio lines up with the MIDI.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "midi_file.h"
#include "plugin_host.h"

namespace sostenuto::host {

struct RenderOptions {
    double sample_rate = 48000.0;
    int32_t block = 128;          // fixed block size (when !varying)
    bool varying = false;         // random sizes in [1, max_block], with some 0-frame calls
    int32_t max_block = 1024;     // setupProcessing's maximum (fixed: block)
    int32_t process_mode = V3_REALTIME;  // ProcessData.processMode of every block
    int32_t setup_mode = -1;      // setupProcessing's mode; -1 = process_mode. (Ardour 7.3: realtime, blocks offline)
    bool paced = false;           // deliver blocks no faster than real time
    double tail_seconds = 2.0;    // rendered after the last event (after the latency)
    uint32_t seed = 1;
    // Set before activation on the controller (setParamNormalized) and sent
    // to the processor in the first block: (parameter id, normalised value).
    std::vector<std::pair<v3_param_id, double>> parameters;
    bool playing = true;          // ProcessContext transport state
    // Counts each process() call's voluntary context switches (getrusage):
    // a call that slept, waited on a lock or blocked in a system call has some.
    bool count_context_switches = false;
    // Called after every process() call with the stream time it reached: a
    // test's hook to act mid-render (kill the engine, pump the UI run loop).
    std::function<void(PluginInstance&, uint64_t stream_time)> after_block;
    // > 0: exactly this many process() calls, whatever the MIDI's length and the
    // tail (benchmarks); events past the last call are not sent.
    int64_t calls = 0;
    // Time an in-process no-op instead of the plug-in's process() (see noop_process).
    bool noop = false;
    // > 0: the process() loop runs SCHED_FIFO at this priority, as a DAW's audio
    // thread does; set after activation, so threads the plug-in started while
    // being set up keep the normal policy (a DAW sets up from its UI thread).
    // Refused by the system -> std::runtime_error.
    int rt_priority = 0;
};

struct RenderResult {
    std::vector<std::vector<float>> audio;  // 2 channels, aligned: sample i <-> MIDI time i / rate
    uint32_t latency = 0;
    uint32_t tail = 0;
    uint64_t stream_frames = 0;
    uint64_t process_calls = 0;
    std::vector<double> process_micros;  // per call
    std::vector<uint64_t> process_stream_times;  // per call: the stream time it started at
    std::vector<uint32_t> process_switches;      // per call, with count_context_switches
    double wall_seconds = 0;
    int restarts_before_render = 0;
    int restart_requests_during_render = 0;
    bool have_stats = false;
    sostenuto_stats stats{};
};

RenderResult render(PluginInstance& plugin, const std::vector<TimedMidi>& midi, const RenderOptions& options);

// p-quantile (0..1) of a sample, nearest-rank.
double quantile(std::vector<double> values, double q);

}  // namespace sostenuto::host
