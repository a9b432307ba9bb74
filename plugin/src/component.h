// The audio side of the plug-in: IComponent + IAudioProcessor (+ IConnectionPoint,
// IProcessContextRequirements and the private diagnostics interface).
//
// The VST3 adapter over native-bridge's instrument core (bridge::InstrumentCore,
// which owns what happens per block: the timing model, the MIDI state a new
// engine is told, parameter re-send, the offline waits, the underrun fade and
// the gain). What stays here is VST3's: the interfaces, the host's events and
// parameter queues turned into core calls, and when to start the engine and
// what latency to tell the host. By role:
//   component_abi.cpp     the vtables and queryInterface
//   component_latency.cpp settings, latency (estimate, cache, notify), engine start/stop, the link's events
//   component.cpp         IComponent, IAudioProcessor and process()
//
// Threads: initialize/terminate/setupProcessing/setActive/setState/getState/
// getLatencySamples/notify (and the run-loop timer, when the host has a run
// loop) run on the host's main thread; process() on an audio thread (any one
// at a time); the engine link's events on the link's own thread. The audio
// thread never allocates, locks or blocks, except that an offline (kOffline)
// block waits - bounded - for the engine.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine_link.h"
#include "plugin_state.h"
#include "sostenuto/bridge/instrument_paths.h"
#include "sostenuto/vst3/diagnostics.h"
#include "vst3_abi.h"

namespace sostenuto::vst3 {

struct DiagnosticsVtable {
    v3_funknown unknown;
    int32_t (*get_stats)(void* self, sostenuto_stats* out);
};

class Component final : public RefCounted {
public:
    static constexpr double kReleaseTailSeconds = 2.0;  // getTailSamples: D + this
    static constexpr std::uint64_t kServiceIntervalMs = 100;  // the run-loop timer, when the host has a run loop

    // `live_link`: Auto's live session beside the reported one (null: Auto
    // plays everything on the reported session, as Studio does).
    explicit Component(std::unique_ptr<EngineLink> link, std::unique_ptr<EngineLink> live_link = nullptr);
    ~Component() override;

    v3_result query_interface(const v3_tuid iid, void** obj);
    void* as_component() noexcept { return &component_slot_; }

    // IPluginBase
    v3_result initialize(v3_funknown** context);
    v3_result terminate();
    // IComponent
    v3_result get_controller_class_id(v3_tuid class_id);
    v3_result set_io_mode(int32_t mode);
    int32_t get_bus_count(int32_t media_type, int32_t direction);
    v3_result get_bus_info(int32_t media_type, int32_t direction, int32_t index, v3_bus_info* info);
    v3_result get_routing_info(v3_routing_info* input, v3_routing_info* output);
    v3_result activate_bus(int32_t media_type, int32_t direction, int32_t index, v3_bool state);
    v3_result set_active(v3_bool state);
    v3_result set_state(v3_bstream** stream);
    v3_result get_state(v3_bstream** stream);
    // IAudioProcessor
    v3_result set_bus_arrangements(v3_speaker_arrangement* inputs, int32_t input_count, v3_speaker_arrangement* outputs,
                                   int32_t output_count);
    v3_result get_bus_arrangement(int32_t direction, int32_t index, v3_speaker_arrangement* arrangement);
    v3_result can_process_sample_size(int32_t size);
    uint32_t get_latency_samples();
    v3_result setup_processing(v3_process_setup* setup);
    v3_result set_processing(v3_bool state);
    v3_result process(v3_process_data* data);
    uint32_t get_tail_samples();
    // IConnectionPoint
    v3_result connect(v3_connection_point** other);
    v3_result disconnect(v3_connection_point** other);
    v3_result notify(v3_message** message);
    // IProcessContextRequirements
    uint32_t get_process_context_requirements();
    // Diagnostics
    int32_t get_stats(sostenuto_stats* out);

    // IRunLoop's timer (main thread): delivers what the engine link reported
    // (a latency the host must re-read) to the host.
    void on_timer();

    // For tests: how long an offline block waits for the engine (default 30 s,
    // or SOSTENUTO_OFFLINE_TIMEOUT_MS).
    void set_offline_timeout_ms(std::uint32_t ms) noexcept { core_.set_offline_wait(std::chrono::milliseconds(ms)); }

private:
    struct LatencyKey {
        std::uint32_t sample_rate = 0;
        int latency_mode = 0;
        std::uint32_t lookahead_samples = 0;
        bool operator==(const LatencyKey& o) const noexcept {
            return sample_rate == o.sample_rate && latency_mode == o.latency_mode && lookahead_samples == o.lookahead_samples;
        }
    };

    PluginSettings settings_now() const noexcept;
    void store_settings(const PluginSettings& s) noexcept;
    void publish_settings() noexcept;  // the engine parameters and the gain, to the core
    std::uint32_t sample_rate_or_default() const noexcept;
    LatencyKey latency_key_now() const noexcept;
    std::uint32_t latency_answer() const noexcept;
    std::uint32_t estimated_latency(const LatencyKey& key) const noexcept;
    EngineConfig make_config() const;
    EngineConfig make_live_config(const EngineConfig& reported) const;
    void start_live_link(const EngineConfig& reported);
    void on_live_engine_event(const EngineEvent& event);
    bool start_engine();
    void stop_engine();
    void notify_latency_if_changed();
    void set_error(const std::string& error);
    void register_timer();
    void unregister_timer();

    // the engine link's thread
    void on_engine_event(const EngineEvent& event);

    // audio thread: the host's input, as core calls
    void reset_stream_state();
    void collect_param_changes(v3_param_changes** changes) noexcept;
    void collect_events(v3_event_list** events) noexcept;
    static void log_offline(void* self, bridge::InstrumentCore::OfflineGaveUp what, std::uint64_t stream_time,
                            std::uint32_t wait_ms) noexcept;

    InterfaceSlot<Component, v3_component_cpp> component_slot_;
    InterfaceSlot<Component, v3_audio_processor_cpp> processor_slot_;
    InterfaceSlot<Component, v3_connection_point_cpp> connection_slot_;
    InterfaceSlot<Component, v3_process_context_requirements_cpp> requirements_slot_;
    InterfaceSlot<Component, DiagnosticsVtable> diagnostics_slot_;
    InterfaceSlot<Component, v3_timer_handler_cpp> timer_slot_;

    // ---- control thread ----
    void* host_context_ = nullptr;  // v3_funknown**
    void* peer_ = nullptr;          // v3_connection_point** (a host proxy or our controller)
    void* run_loop_ = nullptr;      // v3_run_loop** (IRunLoop), when the host context offers one
    bool timer_registered_ = false;
    std::unique_ptr<EngineLink> link_;       // the session whose latency the host is told
    std::unique_ptr<EngineLink> live_link_;  // Auto's live session beside it (may be null)
    bridge::InstrumentPaths core_;  // over *link_ (and *live_link_ in Auto)
    bool link_started_ = false;
    bool live_link_started_ = false;
    bool engine_expected_ = false;  // a session runs, or the engine is still starting (no attempt failed)
    EngineConfig link_config_;
    std::uint32_t connect_wait_ms_ = 3000;  // how long activation waits for a session
    bool have_setup_ = false;
    double sample_rate_ = 0.0;
    std::int32_t max_block_ = 0;
    std::int32_t setup_mode_ = V3_REALTIME;
    bool audio_out_active_ = true;
    bool event_in_active_ = true;
    std::uint64_t instance_id_ = 0;
    std::uint32_t last_notified_latency_ = 0xFFFFFFFFu;
    std::string last_logged_connect_error_;
    mutable std::mutex error_mutex_;  // guards the strings below (the link's thread writes them)
    std::string last_error_;
    std::string model_name_;
    std::string last_logged_error_;

    // ---- the latency the host is told (main thread and the link's thread) ----
    mutable std::mutex latency_mutex_;
    bool have_cached_latency_ = false;
    LatencyKey cached_key_;            // the settings a Welcome's D was for
    std::uint32_t cached_latency_ = 0;
    LatencyKey started_key_;           // the settings of the link's current run
    std::atomic<std::int64_t> start_time_ns_{0};  // when the link was started (steady clock), for the log
    std::atomic<std::int64_t> lost_time_ns_{0};   // when the last session was lost (0: none since the last session)
    std::atomic<bool> launch_logged_{false};      // "starting the engine" logged since the last session

    // ---- shared ----
    std::atomic<bool> active_{false};
    std::atomic<bool> session_fresh_{false};  // no process() since the handshake
    std::atomic<double> norm_[4];             // the main parameters, normalised
    std::atomic<std::uint32_t> last_reported_latency_{0};
    std::atomic<bool> latency_reported_{false};

    // ---- counters (any thread reads; the per-block ones are the core's) ----
    struct Counters {
        std::atomic<std::uint64_t> process_calls{0}, latency_change_requests{0};
        std::atomic<std::uint32_t> last_process_mode{0};
    } counters_;
};

}  // namespace sostenuto::vst3
