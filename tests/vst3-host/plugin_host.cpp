#include "plugin_host.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstring>
#include <stdexcept>

namespace sostenuto::host {
namespace {

bool is_directory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string arch_dir() {
#if defined(__x86_64__)
    return "x86_64-linux";
#elif defined(__aarch64__)
    return "aarch64-linux";
#else
    return "unknown-linux";
#endif
}

std::string cstr(const char* text, std::size_t capacity) { return std::string(text, strnlen(text, capacity)); }

}  // namespace

std::string module_binary_path(const std::string& path) {
    if (!is_directory(path)) return path;
    std::string bundle = path;
    while (!bundle.empty() && bundle.back() == '/') bundle.pop_back();
    std::string name = bundle.substr(bundle.find_last_of('/') + 1);
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".vst3") == 0) name.resize(name.size() - 5);
    return bundle + "/Contents/" + arch_dir() + "/" + name + ".so";
}

// ---------------------------------------------------------------------------

PluginModule::PluginModule(const std::string& path) : binary_(module_binary_path(path)) {
    handle_ = ::dlopen(binary_.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) throw std::runtime_error(std::string("dlopen: ") + ::dlerror());
    using EntryFn = bool (*)(void*);
    using FactoryFn = void* (*)();
    auto entry = reinterpret_cast<EntryFn>(::dlsym(handle_, "ModuleEntry"));
    auto get_factory = reinterpret_cast<FactoryFn>(::dlsym(handle_, "GetPluginFactory"));
    if (get_factory == nullptr) {
        ::dlclose(handle_);
        throw std::runtime_error(binary_ + ": no GetPluginFactory");
    }
    if (entry != nullptr && !entry(handle_)) {
        ::dlclose(handle_);
        throw std::runtime_error(binary_ + ": ModuleEntry failed");
    }
    factory_ = get_factory();
    if (factory_ == nullptr) throw std::runtime_error(binary_ + ": GetPluginFactory returned null");
}

PluginModule::PluginModule(void* factory) : binary_("(in process)"), factory_(factory) {
    if (factory_ == nullptr) throw std::runtime_error("no factory");
}

PluginModule::~PluginModule() {
    release(factory_);
    if (handle_ == nullptr) return;
    using ExitFn = bool (*)();
    if (auto exit_fn = reinterpret_cast<ExitFn>(::dlsym(handle_, "ModuleExit"))) exit_fn();
    ::dlclose(handle_);
}

v3_factory_info PluginModule::factory_info() const {
    v3_factory_info info{};
    vtable_of<v3_plugin_factory_cpp>(factory_)->v1.get_factory_info(factory_, &info);
    return info;
}

std::vector<ClassInfo> PluginModule::classes() const {
    std::vector<ClassInfo> out;
    auto* vt = vtable_of<v3_plugin_factory_cpp>(factory_);
    void* factory2 = query(factory_, v3_plugin_factory_2_iid);
    const int32_t n = vt->v1.num_classes(factory_);
    for (int32_t i = 0; i < n; ++i) {
        ClassInfo c{};
        if (factory2 != nullptr) {
            v3_class_info_2 info{};
            if (vtable_of<v3_plugin_factory_cpp>(factory2)->v2.get_class_info_2(factory2, i, &info) != V3_OK) continue;
            std::memcpy(c.cid, info.class_id, 16);
            c.category = cstr(info.category, sizeof info.category);
            c.name = cstr(info.name, sizeof info.name);
            c.sub_categories = cstr(info.sub_categories, sizeof info.sub_categories);
            c.vendor = cstr(info.vendor, sizeof info.vendor);
            c.version = cstr(info.version, sizeof info.version);
            c.sdk_version = cstr(info.sdk_version, sizeof info.sdk_version);
        } else {
            v3_class_info info{};
            if (vt->v1.get_class_info(factory_, i, &info) != V3_OK) continue;
            std::memcpy(c.cid, info.class_id, 16);
            c.category = cstr(info.category, sizeof info.category);
            c.name = cstr(info.name, sizeof info.name);
        }
        out.push_back(c);
    }
    release(factory2);
    return out;
}

// ---------------------------------------------------------------------------

PluginInstance::PluginInstance(PluginModule& module)
    : module_(module),
      application_(std::make_unique<HostApplication>()),
      handler_(std::make_unique<ComponentHandler>()),
      input_params_(std::make_unique<ParameterChanges>()),
      output_params_(std::make_unique<ParameterChanges>()),
      input_events_(std::make_unique<EventList>()),
      output_events_(std::make_unique<EventList>()) {
    application_->heap = false;
    handler_->heap = false;
    input_params_->heap = output_params_->heap = false;
    input_events_->heap = output_events_->heap = false;

    const ClassInfo* audio = nullptr;
    const std::vector<ClassInfo> classes = module.classes();
    for (const ClassInfo& c : classes)
        if (c.category == "Audio Module Class") {
            audio = &c;
            break;
        }
    if (audio == nullptr) throw std::runtime_error("the module has no Audio Module Class");

    void* factory = module.factory();
    auto* fvt = vtable_of<v3_plugin_factory_cpp>(factory);
    if (fvt->v1.create_instance(factory, audio->cid, v3_component_iid, &component_) != V3_OK || component_ == nullptr)
        throw std::runtime_error("createInstance(IComponent) failed");
    auto* cvt = vtable_of<v3_component_cpp>(component_);
    if (cvt->base.initialize(component_, static_cast<v3_funknown**>(application_->as_interface())) != V3_OK)
        throw std::runtime_error("IComponent::initialize failed");
    processor_ = query(component_, v3_audio_processor_iid);
    if (processor_ == nullptr) throw std::runtime_error("the component has no IAudioProcessor");

    controller_ = query(component_, v3_edit_controller_iid);
    controller_is_component_ = controller_ != nullptr;
    if (controller_ == nullptr) {
        v3_tuid controller_cid{};
        if (cvt->comp.get_controller_class_id(component_, controller_cid) == V3_OK) {
            if (fvt->v1.create_instance(factory, controller_cid, v3_edit_controller_iid, &controller_) != V3_OK)
                controller_ = nullptr;
            if (controller_ != nullptr &&
                vtable_of<v3_edit_controller_cpp>(controller_)->base.initialize(
                    controller_, static_cast<v3_funknown**>(application_->as_interface())) != V3_OK)
                throw std::runtime_error("IEditController::initialize failed");
        }
    }
    if (controller_ == nullptr) throw std::runtime_error("no edit controller");
    vtable_of<v3_edit_controller_cpp>(controller_)
        ->ctrl.set_component_handler(controller_, static_cast<v3_component_handler**>(handler_->as_interface()));
    midi_mapping_ = query(controller_, v3_midi_mapping_iid);

    // Connect the two halves directly (as the SDK's hosting examples do).
    if (!controller_is_component_) {
        component_cp_ = query(component_, v3_connection_point_iid);
        controller_cp_ = query(controller_, v3_connection_point_iid);
        if (component_cp_ != nullptr && controller_cp_ != nullptr) {
            vtable_of<v3_connection_point_cpp>(component_cp_)
                ->point.connect(component_cp_, static_cast<v3_connection_point**>(controller_cp_));
            vtable_of<v3_connection_point_cpp>(controller_cp_)
                ->point.connect(controller_cp_, static_cast<v3_connection_point**>(component_cp_));
        }
    }
    // Sync the controller with the component's (default) state.
    const std::vector<uint8_t> state = save_component_state();
    MemoryStream stream(state);
    stream.heap = false;
    vtable_of<v3_edit_controller_cpp>(controller_)
        ->ctrl.set_component_state(controller_, static_cast<v3_bstream**>(stream.as_interface()));
}

PluginInstance::~PluginInstance() {
    if (active_) deactivate();
    if (component_cp_ != nullptr && controller_cp_ != nullptr) {
        vtable_of<v3_connection_point_cpp>(component_cp_)
            ->point.disconnect(component_cp_, static_cast<v3_connection_point**>(controller_cp_));
        vtable_of<v3_connection_point_cpp>(controller_cp_)
            ->point.disconnect(controller_cp_, static_cast<v3_connection_point**>(component_cp_));
    }
    release(component_cp_);
    release(controller_cp_);
    release(midi_mapping_);
    if (controller_ != nullptr) {
        vtable_of<v3_edit_controller_cpp>(controller_)->ctrl.set_component_handler(controller_, nullptr);
        if (!controller_is_component_) vtable_of<v3_edit_controller_cpp>(controller_)->base.terminate(controller_);
        release(controller_);
    }
    release(processor_);
    if (component_ != nullptr) {
        vtable_of<v3_component_cpp>(component_)->base.terminate(component_);
        release(component_);
    }
}

std::vector<ParamInfo> PluginInstance::parameters() const {
    std::vector<ParamInfo> out;
    auto* vt = vtable_of<v3_edit_controller_cpp>(controller_);
    const int32_t n = vt->ctrl.get_parameter_count(controller_);
    for (int32_t i = 0; i < n; ++i) {
        v3_param_info info{};
        if (vt->ctrl.get_parameter_info(controller_, i, &info) != V3_OK) continue;
        out.push_back({info.param_id, utf16_to_utf8(info.title, 128), utf16_to_utf8(info.units, 128), info.step_count,
                       info.default_normalised_value, info.flags});
    }
    return out;
}

bool PluginInstance::midi_assignment(int16_t channel, int16_t controller, v3_param_id& id) const {
    if (midi_mapping_ == nullptr) return false;
    return vtable_of<v3_midi_mapping_cpp>(midi_mapping_)
               ->map.get_midi_controller_assignment(midi_mapping_, 0, channel, controller, &id) == V3_OK;
}

v3_result PluginInstance::setup(double sample_rate, int32_t max_block, int32_t process_mode) {
    auto* cvt = vtable_of<v3_component_cpp>(component_);
    auto* pvt = vtable_of<v3_audio_processor_cpp>(processor_);
    v3_speaker_arrangement out = V3_SPEAKER_L | V3_SPEAKER_R;
    pvt->proc.set_bus_arrangements(processor_, nullptr, 0, &out, 1);
    for (int32_t i = 0; i < cvt->comp.get_bus_count(component_, V3_AUDIO, V3_OUTPUT); ++i)
        cvt->comp.activate_bus(component_, V3_AUDIO, V3_OUTPUT, i, 1);
    for (int32_t i = 0; i < cvt->comp.get_bus_count(component_, V3_EVENT, V3_INPUT); ++i)
        cvt->comp.activate_bus(component_, V3_EVENT, V3_INPUT, i, 1);
    v3_process_setup setup{process_mode, V3_SAMPLE_32, max_block, sample_rate};
    return pvt->proc.setup_processing(processor_, &setup);
}

v3_result PluginInstance::activate() {
    if (active_) return V3_OK;
    const v3_result r = vtable_of<v3_component_cpp>(component_)->comp.set_active(component_, 1);
    if (r != V3_OK) return r;
    vtable_of<v3_audio_processor_cpp>(processor_)->proc.set_processing(processor_, 1);
    active_ = true;
    return V3_OK;
}

v3_result PluginInstance::deactivate() {
    if (!active_) return V3_OK;
    vtable_of<v3_audio_processor_cpp>(processor_)->proc.set_processing(processor_, 0);
    const v3_result r = vtable_of<v3_component_cpp>(component_)->comp.set_active(component_, 0);
    active_ = false;
    return r;
}

int PluginInstance::handle_restarts() {
    int handled = 0;
    for (int guard = 0; guard < 8; ++guard) {
        const int32_t flags = handler_->pending_restart_flags.exchange(0);
        if (flags == 0) break;
        ++handled;
        if (flags & (V3_RESTART_LATENCY_CHANGED | V3_RESTART_RELOAD_COMPONENT | V3_RESTART_IO_CHANGED)) {
            const bool was_active = active_;
            deactivate();
            (void)latency();
            if (was_active) activate();
        }
    }
    return handled;
}

uint32_t PluginInstance::latency() const {
    return vtable_of<v3_audio_processor_cpp>(processor_)->proc.get_latency_samples(processor_);
}

uint32_t PluginInstance::tail() const {
    return vtable_of<v3_audio_processor_cpp>(processor_)->proc.get_tail_samples(processor_);
}

std::vector<uint8_t> PluginInstance::save_component_state() const {
    MemoryStream stream;
    stream.heap = false;
    vtable_of<v3_component_cpp>(component_)->comp.get_state(component_, static_cast<v3_bstream**>(stream.as_interface()));
    return stream.data;
}

v3_result PluginInstance::load_component_state(const std::vector<uint8_t>& bytes, int32_t max_read_chunk) {
    MemoryStream a(bytes), b(bytes);
    a.heap = b.heap = false;
    a.max_read_chunk = b.max_read_chunk = max_read_chunk;
    const v3_result r =
        vtable_of<v3_component_cpp>(component_)->comp.set_state(component_, static_cast<v3_bstream**>(a.as_interface()));
    vtable_of<v3_edit_controller_cpp>(controller_)
        ->ctrl.set_component_state(controller_, static_cast<v3_bstream**>(b.as_interface()));
    return r;
}

bool PluginInstance::stats(sostenuto_stats& out) const {
    void* diagnostics = query(component_, sostenuto_diagnostics_iid);
    if (diagnostics == nullptr) return false;
    out = sostenuto_stats{};
    out.struct_size = sizeof out;
    const bool ok = (*static_cast<sostenuto_diagnostics_vtable**>(diagnostics))->get_stats(diagnostics, &out) == 0;
    release(diagnostics);
    return ok;
}

v3_result PluginInstance::process(const Block& block) {
    v3_audio_bus_buffers outputs{};
    outputs.num_channels = block.output_channels;
    outputs.channel_silence_bitset = 0;
    outputs.channel_buffers_32 = const_cast<float**>(block.outputs);
    v3_process_data data{};
    data.process_mode = block.process_mode;
    data.symbolic_sample_size = V3_SAMPLE_32;
    data.nframes = block.frames;
    data.num_input_buses = 0;
    data.num_output_buses = block.no_output_bus ? 0 : 1;
    data.inputs = nullptr;
    data.outputs = block.no_output_bus ? nullptr : &outputs;
    data.input_params = static_cast<v3_param_changes**>(input_params_->as_interface());
    data.output_params = static_cast<v3_param_changes**>(output_params_->as_interface());
    data.input_events = static_cast<v3_event_list**>(input_events_->as_interface());
    data.output_events = static_cast<v3_event_list**>(output_events_->as_interface());
    data.ctx = block.context;
    const v3_result r = process_override_ != nullptr ? process_override_(processor_, &data)
                                                     : vtable_of<v3_audio_processor_cpp>(processor_)->proc.process(processor_, &data);
    last_silence_flags_ = outputs.channel_silence_bitset;
    return r;
}

}  // namespace sostenuto::host
