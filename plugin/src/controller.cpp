#include "controller.h"

#include <cmath>
#include <cstring>

#include "ids.h"
#include "log.h"
#include "message.h"
#include "parameters.h"
#include "plugin_state.h"

namespace sostenuto::vst3 {
namespace {

const v3_edit_controller_cpp* controller_vtable() {
    static const v3_edit_controller_cpp vtable = [] {
        v3_edit_controller_cpp v{};
        UnknownThunks<Controller>::fill(v);
        v.base.initialize = [](void* self, v3_funknown** context) { return owner_of<Controller>(self)->initialize(context); };
        v.base.terminate = [](void* self) { return owner_of<Controller>(self)->terminate(); };
        v.ctrl.set_component_state = [](void* self, v3_bstream** s) { return owner_of<Controller>(self)->set_component_state(s); };
        v.ctrl.set_state = [](void* self, v3_bstream** s) { return owner_of<Controller>(self)->set_state(s); };
        v.ctrl.get_state = [](void* self, v3_bstream** s) { return owner_of<Controller>(self)->get_state(s); };
        v.ctrl.get_parameter_count = [](void* self) { return owner_of<Controller>(self)->get_parameter_count(); };
        v.ctrl.get_parameter_info = [](void* self, int32_t index, v3_param_info* info) {
            return owner_of<Controller>(self)->get_parameter_info(index, info);
        };
        v.ctrl.get_parameter_string_for_value = [](void* self, v3_param_id id, double normalized, v3_str_128 output) {
            return owner_of<Controller>(self)->get_parameter_string_for_value(id, normalized, output);
        };
        v.ctrl.get_parameter_value_for_string = [](void* self, v3_param_id id, int16_t* input, double* output) {
            return owner_of<Controller>(self)->get_parameter_value_for_string(id, input, output);
        };
        v.ctrl.normalised_parameter_to_plain = [](void* self, v3_param_id id, double normalized) {
            return owner_of<Controller>(self)->normalised_parameter_to_plain(id, normalized);
        };
        v.ctrl.plain_parameter_to_normalised = [](void* self, v3_param_id id, double plain) {
            return owner_of<Controller>(self)->plain_parameter_to_normalised(id, plain);
        };
        v.ctrl.get_parameter_normalised = [](void* self, v3_param_id id) {
            return owner_of<Controller>(self)->get_parameter_normalised(id);
        };
        v.ctrl.set_parameter_normalised = [](void* self, v3_param_id id, double normalized) {
            return owner_of<Controller>(self)->set_parameter_normalised(id, normalized);
        };
        v.ctrl.set_component_handler = [](void* self, v3_component_handler** handler) {
            return owner_of<Controller>(self)->set_component_handler(handler);
        };
        v.ctrl.create_view = [](void* self, const char* name) { return owner_of<Controller>(self)->create_view(name); };
        return v;
    }();
    return &vtable;
}

const v3_midi_mapping_cpp* midi_mapping_vtable() {
    static const v3_midi_mapping_cpp vtable = [] {
        v3_midi_mapping_cpp v{};
        UnknownThunks<Controller>::fill(v);
        v.map.get_midi_controller_assignment = [](void* self, int32_t bus, int16_t channel, int16_t cc, v3_param_id* id) {
            return owner_of<Controller>(self)->get_midi_controller_assignment(bus, channel, cc, id);
        };
        return v;
    }();
    return &vtable;
}

const v3_connection_point_cpp* connection_vtable() {
    static const v3_connection_point_cpp vtable = [] {
        v3_connection_point_cpp v{};
        UnknownThunks<Controller>::fill(v);
        v.point.connect = [](void* self, v3_connection_point** other) { return owner_of<Controller>(self)->connect(other); };
        v.point.disconnect = [](void* self, v3_connection_point** other) {
            return owner_of<Controller>(self)->disconnect(other);
        };
        v.point.notify = [](void* self, v3_message** message) { return owner_of<Controller>(self)->notify(message); };
        return v;
    }();
    return &vtable;
}

std::size_t read_bytes(v3_bstream** stream, std::uint8_t* out, std::size_t n) {
    auto* vt = vtable_of<v3_bstream_cpp>(stream);
    std::size_t got = 0;
    while (got < n) {
        int32_t read = 0;
        const auto want = static_cast<int32_t>(n - got);
        if (vt->stream.read(stream, out + got, want, &read) != V3_OK || read <= 0) break;
        got += static_cast<std::size_t>(std::min(read, want));
    }
    return got;
}

}  // namespace

Controller::Controller()
    : controller_slot_{controller_vtable(), this},
      midi_mapping_slot_{midi_mapping_vtable(), this},
      connection_slot_{connection_vtable(), this},
      values_(kParamCount) {
    for (std::size_t i = 0; i < kParamCount; ++i) values_[i] = default_normalized(*param_id_at(i));
}

Controller::~Controller() {
    release_interface(handler_);
    release_interface(peer_);
    release_interface(host_context_);
}

v3_result Controller::query_interface(const v3_tuid iid, void** obj) {
    if (obj == nullptr) return V3_INVALID_ARG;
    void* found = nullptr;
    if (iid_equal(iid, v3_funknown_iid) || iid_equal(iid, v3_plugin_base_iid) || iid_equal(iid, v3_edit_controller_iid))
        found = &controller_slot_;
    else if (iid_equal(iid, v3_midi_mapping_iid))
        found = &midi_mapping_slot_;
    else if (iid_equal(iid, v3_connection_point_iid))
        found = &connection_slot_;
    if (found == nullptr) {
        *obj = nullptr;
        return V3_NO_INTERFACE;
    }
    add_ref();
    *obj = found;
    return V3_OK;
}

int Controller::index_of(v3_param_id id) const noexcept {
    if (find_main_param(id) != nullptr) return static_cast<int>(id);  // ids 0..3 are their indexes
    int channel, controller;
    if (!decode_midi_param(id, channel, controller)) return -1;
    for (std::size_t k = 0; k < kMappedControllerCount; ++k)
        if (kMappedControllers[k] == controller)
            return static_cast<int>(kMainParamCount + static_cast<std::size_t>(channel) * kMappedControllerCount + k);
    return -1;
}

void Controller::restart(int32_t flags) {
    if (handler_ != nullptr) vtable_of<v3_component_handler_cpp>(handler_)->handler.restart_component(handler_, flags);
}

v3_result Controller::initialize(v3_funknown** context) {
    if (host_context_ != nullptr) return V3_FALSE;
    if (context != nullptr) {
        vtable_of<v3_funknown>(context)->ref(context);
        host_context_ = context;
    }
    return V3_OK;
}

v3_result Controller::terminate() {
    release_interface(handler_);
    handler_ = nullptr;
    release_interface(peer_);
    peer_ = nullptr;
    release_interface(host_context_);
    host_context_ = nullptr;
    return V3_OK;
}

v3_result Controller::set_component_state(v3_bstream** stream) {
    if (stream == nullptr) return V3_INVALID_ARG;
    std::uint8_t header[state_format::header_size];
    const std::size_t got = read_bytes(stream, header, sizeof header);
    std::vector<std::uint8_t> record(header, header + got);
    if (got == sizeof header) {
        if (const std::size_t body = state_body_size(header)) {
            record.resize(sizeof header + body);
            record.resize(sizeof header + read_bytes(stream, record.data() + sizeof header, body));
        }
    }
    PluginSettings s;
    const StateParse result = parse_state(record.data(), record.size(), s);
    values_[kParamGain] = plain_to_normalized(kParamGain, s.gain_db);
    values_[kParamTemperature] = plain_to_normalized(kParamTemperature, s.temperature);
    values_[kParamLatencyMode] = plain_to_normalized(kParamLatencyMode, s.latency_mode);
    values_[kParamLookahead] = plain_to_normalized(kParamLookahead, s.lookahead_ms);
    return result == StateParse::ok ? V3_OK : V3_FALSE;
}

// The controller keeps no state of its own: everything lives in the component's.
v3_result Controller::set_state(v3_bstream**) { return V3_OK; }
v3_result Controller::get_state(v3_bstream**) { return V3_OK; }

int32_t Controller::get_parameter_count() { return static_cast<int32_t>(kParamCount); }

v3_result Controller::get_parameter_info(int32_t index, v3_param_info* info) {
    if (info == nullptr || index < 0) return V3_INVALID_ARG;
    const auto id = param_id_at(static_cast<std::size_t>(index));
    if (!id) return V3_INVALID_ARG;
    std::memset(info, 0, sizeof *info);
    info->param_id = *id;
    const ParamText text = param_text(*id);
    utf8_to_utf16(text.title.c_str(), info->title, 128);
    utf8_to_utf16(text.short_title.c_str(), info->short_title, 128);
    utf8_to_utf16(text.units.c_str(), info->units, 128);
    info->step_count = step_count(*id);
    info->default_normalised_value = default_normalized(*id);
    info->unit_id = 0;  // root unit
    if (const MainParamInfo* p = find_main_param(*id))
        info->flags = V3_PARAM_CAN_AUTOMATE | (p->is_list ? V3_PARAM_IS_LIST : 0);
    else
        info->flags = V3_PARAM_CAN_AUTOMATE | V3_PARAM_IS_HIDDEN;
    return V3_OK;
}

v3_result Controller::get_parameter_string_for_value(v3_param_id id, double normalized, int16_t* output) {
    if (output == nullptr || !is_known_param(id)) return V3_INVALID_ARG;
    utf8_to_utf16(value_to_string(id, normalized).c_str(), output, 128);
    return V3_OK;
}

v3_result Controller::get_parameter_value_for_string(v3_param_id id, int16_t* input, double* output) {
    if (input == nullptr || output == nullptr) return V3_INVALID_ARG;
    const auto value = string_to_normalized(id, utf16_to_utf8(input, 128));
    if (!value) return V3_FALSE;
    *output = *value;
    return V3_OK;
}

double Controller::normalised_parameter_to_plain(v3_param_id id, double normalized) { return normalized_to_plain(id, normalized); }
double Controller::plain_parameter_to_normalised(v3_param_id id, double plain) { return plain_to_normalized(id, plain); }

double Controller::get_parameter_normalised(v3_param_id id) {
    const int index = index_of(id);
    return index >= 0 ? values_[static_cast<std::size_t>(index)] : 0.0;
}

v3_result Controller::set_parameter_normalised(v3_param_id id, double normalized) {
    const int index = index_of(id);
    if (index < 0) return V3_INVALID_ARG;
    if (!(normalized >= 0.0)) normalized = 0.0;
    if (normalized > 1.0) normalized = 1.0;
    const std::int32_t steps = step_count(id);
    if (steps > 0 && find_main_param(id) != nullptr) normalized = std::round(normalized * steps) / steps;
    const double old = values_[static_cast<std::size_t>(index)];
    values_[static_cast<std::size_t>(index)] = normalized;
    if ((id == kParamLatencyMode || id == kParamLookahead) && old != normalized) {
        // The latency depends on these: tell the component first (the host may
        // not pass the change to the processor before it re-activates it),
        // then ask the host to re-read the latency.
        if (peer_ != nullptr) {
            void* message = create_message(host_context_, kMessageLatencySettings);
            message_set_int(message, "mode", static_cast<std::int64_t>(normalized_to_latency_choice(values_[kParamLatencyMode])));
            message_set_float(message, "lookaheadMs", normalized_to_plain(kParamLookahead, values_[kParamLookahead]));
            vtable_of<v3_connection_point_cpp>(peer_)->point.notify(peer_, static_cast<v3_message**>(message));
            release_interface(message);
        }
        restart(V3_RESTART_LATENCY_CHANGED);
    }
    return V3_OK;
}

v3_result Controller::set_component_handler(v3_component_handler** handler) {
    if (handler == handler_) return V3_OK;
    release_interface(handler_);
    handler_ = handler;
    if (handler != nullptr) vtable_of<v3_funknown>(handler)->ref(handler);
    return V3_OK;
}

v3_plugin_view** Controller::create_view(const char*) { return nullptr; }

v3_result Controller::get_midi_controller_assignment(int32_t bus, int16_t channel, int16_t controller, v3_param_id* id) {
    if (id == nullptr) return V3_INVALID_ARG;
    if (bus != 0 || channel < 0 || channel >= kMidiChannels || !is_mapped_controller(controller)) return V3_FALSE;
    *id = midi_param_id(channel, controller);
    return V3_OK;
}

v3_result Controller::connect(v3_connection_point** other) {
    if (other == nullptr) return V3_INVALID_ARG;
    if (peer_ != nullptr) return V3_FALSE;
    vtable_of<v3_funknown>(other)->ref(other);
    peer_ = other;
    return V3_OK;
}

v3_result Controller::disconnect(v3_connection_point** other) {
    if (peer_ == nullptr || other != peer_) return V3_INVALID_ARG;
    release_interface(peer_);
    peer_ = nullptr;
    return V3_OK;
}

v3_result Controller::notify(v3_message** message) {
    if (message == nullptr) return V3_INVALID_ARG;
    if (std::strcmp(message_id(message), kMessageLatencyChanged) != 0) return V3_FALSE;
    restart(V3_RESTART_LATENCY_CHANGED);
    return V3_OK;
}

}  // namespace sostenuto::vst3
