// IMessage + IAttributeList, for component <-> controller notifications when
// the host offers no IHostApplication::createInstance for messages.
// Control thread only (allocates).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vst3_abi.h"

namespace sostenuto::vst3 {

class AttributeList final : public RefCounted {
public:
    AttributeList();
    v3_result query_interface(const v3_tuid iid, void** obj);
    void* as_interface() noexcept { return &slot_; }

    v3_result set_int(const char* id, int64_t value);
    v3_result get_int(const char* id, int64_t* value);
    v3_result set_float(const char* id, double value);
    v3_result get_float(const char* id, double* value);
    v3_result set_string(const char* id, const int16_t* text);
    v3_result get_string(const char* id, int16_t* text, uint32_t size_bytes);
    v3_result set_binary(const char* id, const void* data, uint32_t size);
    v3_result get_binary(const char* id, const void** data, uint32_t* size);

private:
    struct Value {
        enum class Kind { integer, real, text, binary } kind = Kind::integer;
        int64_t i = 0;
        double f = 0;
        std::vector<int16_t> s;
        std::vector<uint8_t> b;
    };
    std::map<std::string, Value> values_;
    InterfaceSlot<AttributeList, v3_attribute_list_cpp> slot_;
};

class Message final : public RefCounted {
public:
    Message();
    ~Message() override;
    v3_result query_interface(const v3_tuid iid, void** obj);
    void* as_interface() noexcept { return &slot_; }

    const char* message_id() const noexcept { return id_.c_str(); }
    void set_message_id(const char* id) { id_ = id != nullptr ? id : ""; }
    void* attributes() noexcept { return attributes_->as_interface(); }

private:
    std::string id_;
    AttributeList* attributes_;
    InterfaceSlot<Message, v3_message_cpp> slot_;
};

// A new message (one reference, the caller's): from the host if `host_context`
// offers IHostApplication::createInstance, else our own.
void* create_message(void* host_context, const char* id);

// Convenience accessors on any IMessage.
const char* message_id(void* message);
bool message_get_int(void* message, const char* attribute, int64_t& value);
bool message_get_float(void* message, const char* attribute, double& value);
void message_set_int(void* message, const char* attribute, int64_t value);
void message_set_float(void* message, const char* attribute, double value);

}  // namespace sostenuto::vst3
