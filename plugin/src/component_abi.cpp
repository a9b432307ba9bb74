// The plug-in component's ABI: one vtable per interface (each entry a thunk
// to the Component member of the same name), the constructor that binds them,
// and queryInterface.
#include <chrono>
#include <cstdlib>

#include "component.h"
#include "ids.h"
#include "parameters.h"
#include "sostenuto/bridge/runtime_paths.h"

namespace sostenuto::vst3 {
namespace {

static_assert(sizeof(DiagnosticsVtable) == sizeof(sostenuto_diagnostics_vtable), "diagnostics vtable layout");

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

std::uint32_t env_ms(const char* name, std::uint32_t fallback) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return fallback;
    char* end = nullptr;
    const unsigned long ms = std::strtoul(v, &end, 10);
    return (end != v && ms <= 24ul * 3600ul * 1000ul) ? static_cast<std::uint32_t>(ms) : fallback;
}

}  // namespace

Component::Component(std::unique_ptr<EngineLink> link, std::unique_ptr<EngineLink> live_link)
    : component_slot_{component_vtable(), this},
      processor_slot_{processor_vtable(), this},
      connection_slot_{connection_vtable(), this},
      requirements_slot_{requirements_vtable(), this},
      diagnostics_slot_{diagnostics_vtable(), this},
      timer_slot_{timer_vtable(), this},
      link_(link ? std::move(link) : std::make_unique<NullEngineLink>()),
      live_link_(std::move(live_link)),
      core_(*link_, live_link_.get(), /*fade_in_first_audio=*/false) {  // a bounce equals the engine's render from sample 0
    core_.set_offline_wait(std::chrono::milliseconds(env_ms("SOSTENUTO_OFFLINE_TIMEOUT_MS", 30000)));
    core_.set_offline_log(&Component::log_offline, this);
    connect_wait_ms_ = env_ms("SOSTENUTO_CONNECT_TIMEOUT_MS", 3000);
    instance_id_ = bridge::random_instance_id();
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


}  // namespace sostenuto::vst3
