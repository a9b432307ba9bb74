// Loads a VST3 module (a .vst3 bundle or its .so) with dlopen and drives one
// instance through the ABI the way a DAW does: factory, component +
// controller, connection points, state sync, bus setup, setupProcessing,
// activation, process, restart requests, teardown.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "host_objects.h"
#include "sostenuto/vst3/diagnostics.h"

namespace sostenuto::host {

struct ClassInfo {
    uint8_t cid[16];
    std::string category;
    std::string name;
    std::string sub_categories;
    std::string vendor;
    std::string version;
    std::string sdk_version;
};

struct ParamInfo {
    v3_param_id id;
    std::string title;
    std::string units;
    int32_t step_count;
    double default_normalized;
    int32_t flags;
};

// The .so inside a bundle path (or the path itself if it is a file).
std::string module_binary_path(const std::string& path);

class PluginModule {
public:
    // Throws std::runtime_error with the reason on failure.
    explicit PluginModule(const std::string& path);
    // A factory already in this process (a test that links the plug-in's code);
    // takes over one reference.
    explicit PluginModule(void* factory);
    ~PluginModule();
    PluginModule(const PluginModule&) = delete;
    PluginModule& operator=(const PluginModule&) = delete;

    void* factory() const { return factory_; }  // IPluginFactory (v1)
    std::vector<ClassInfo> classes() const;
    v3_factory_info factory_info() const;
    const std::string& binary_path() const { return binary_; }

private:
    std::string binary_;
    void* handle_ = nullptr;
    void* factory_ = nullptr;
};

class PluginInstance {
public:
    // Creates the first "Audio Module Class" of the module, its controller,
    // connects them and syncs the controller to the component's state.
    explicit PluginInstance(PluginModule& module);
    ~PluginInstance();
    PluginInstance(const PluginInstance&) = delete;
    PluginInstance& operator=(const PluginInstance&) = delete;

    void* component() const { return component_; }    // IComponent
    void* processor() const { return processor_; }    // IAudioProcessor
    void* controller() const { return controller_; }  // IEditController
    void* midi_mapping() const { return midi_mapping_; }
    ComponentHandler& handler() { return *handler_; }
    HostApplication& application() { return *application_; }

    std::vector<ParamInfo> parameters() const;
    // IMidiMapping: the parameter for a controller (0..127, 128 aftertouch, 129 pitch bend), if any.
    bool midi_assignment(int16_t channel, int16_t controller, v3_param_id& id) const;

    // setBusArrangements(stereo out), activate the buses, setupProcessing.
    v3_result setup(double sample_rate, int32_t max_block, int32_t process_mode);
    v3_result activate();    // setActive(true) + setProcessing(true)
    v3_result deactivate();  // setProcessing(false) + setActive(false)
    bool active() const { return active_; }
    // Handles pending restartComponent(kLatencyChanged/...) like a DAW:
    // deactivate, re-read latency, reactivate. Returns how many it handled.
    int handle_restarts();
    uint32_t latency() const;
    uint32_t tail() const;

    std::vector<uint8_t> save_component_state() const;
    v3_result load_component_state(const std::vector<uint8_t>& bytes, int32_t max_read_chunk = 0);

    // Diagnostics (the plug-in's private interface), if it has them.
    bool stats(sostenuto_stats& out) const;

    // One process call. `outputs` are the output channels (2); `frames` may be 0.
    struct Block {
        int32_t frames = 0;
        int32_t process_mode = 0;  // V3_REALTIME / V3_OFFLINE
        float* outputs[2] = {nullptr, nullptr};
        int32_t output_channels = 2;
        v3_process_context* context = nullptr;
        bool no_output_bus = false;
    };
    v3_result process(const Block& block);
    // Calls `fn` instead of the plug-in's IAudioProcessor::process (with the
    // same ProcessData, through a pointer as the vtable would): the test
    // host's --no-op baseline. nullptr restores the plug-in's.
    using ProcessFn = v3_result (*)(void* processor, v3_process_data* data);
    void set_process_override(ProcessFn fn) { process_override_ = fn; }
    ParameterChanges& input_params() { return *input_params_; }
    ParameterChanges& output_params() { return *output_params_; }
    EventList& input_events() { return *input_events_; }
    uint64_t last_silence_flags() const { return last_silence_flags_; }

private:
    PluginModule& module_;
    std::unique_ptr<HostApplication> application_;
    std::unique_ptr<ComponentHandler> handler_;
    std::unique_ptr<ParameterChanges> input_params_, output_params_;
    std::unique_ptr<EventList> input_events_, output_events_;
    void* component_ = nullptr;
    void* processor_ = nullptr;
    void* controller_ = nullptr;
    void* midi_mapping_ = nullptr;
    void* component_cp_ = nullptr;
    void* controller_cp_ = nullptr;
    bool controller_is_component_ = false;
    bool active_ = false;
    uint64_t last_silence_flags_ = 0;
    ProcessFn process_override_ = nullptr;
};

}  // namespace sostenuto::host
