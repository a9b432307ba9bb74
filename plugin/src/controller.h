// The edit controller: IEditController + IMidiMapping + IConnectionPoint.
// Main thread only. No editor view: hosts show their generic parameter UI.
#pragma once

#include <vector>

#include "vst3_abi.h"

namespace sostenuto::vst3 {

class Controller final : public RefCounted {
public:
    Controller();
    ~Controller() override;

    v3_result query_interface(const v3_tuid iid, void** obj);
    void* as_controller() noexcept { return &controller_slot_; }

    // IPluginBase
    v3_result initialize(v3_funknown** context);
    v3_result terminate();
    // IEditController
    v3_result set_component_state(v3_bstream** stream);
    v3_result set_state(v3_bstream** stream);
    v3_result get_state(v3_bstream** stream);
    int32_t get_parameter_count();
    v3_result get_parameter_info(int32_t index, v3_param_info* info);
    v3_result get_parameter_string_for_value(v3_param_id id, double normalized, int16_t* output);
    v3_result get_parameter_value_for_string(v3_param_id id, int16_t* input, double* output);
    double normalised_parameter_to_plain(v3_param_id id, double normalized);
    double plain_parameter_to_normalised(v3_param_id id, double plain);
    double get_parameter_normalised(v3_param_id id);
    v3_result set_parameter_normalised(v3_param_id id, double normalized);
    v3_result set_component_handler(v3_component_handler** handler);
    v3_plugin_view** create_view(const char* name);
    // IMidiMapping
    v3_result get_midi_controller_assignment(int32_t bus, int16_t channel, int16_t controller, v3_param_id* id);
    // IConnectionPoint
    v3_result connect(v3_connection_point** other);
    v3_result disconnect(v3_connection_point** other);
    v3_result notify(v3_message** message);

private:
    int index_of(v3_param_id id) const noexcept;
    void restart(int32_t flags);

    InterfaceSlot<Controller, v3_edit_controller_cpp> controller_slot_;
    InterfaceSlot<Controller, v3_midi_mapping_cpp> midi_mapping_slot_;
    InterfaceSlot<Controller, v3_connection_point_cpp> connection_slot_;

    void* host_context_ = nullptr;  // v3_funknown**
    void* handler_ = nullptr;       // v3_component_handler**
    void* peer_ = nullptr;          // v3_connection_point**
    std::vector<double> values_;    // normalised, by parameter index
};

}  // namespace sostenuto::vst3
