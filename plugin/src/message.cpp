#include "message.h"

namespace sostenuto::vst3 {
namespace {

const v3_attribute_list_cpp* attribute_list_vtable() {
    static const v3_attribute_list_cpp vtable = [] {
        v3_attribute_list_cpp v{};
        UnknownThunks<AttributeList>::fill(v);
        v.attrlist.set_int = [](void* self, const char* id, int64_t value) { return owner_of<AttributeList>(self)->set_int(id, value); };
        v.attrlist.get_int = [](void* self, const char* id, int64_t* value) { return owner_of<AttributeList>(self)->get_int(id, value); };
        v.attrlist.set_float = [](void* self, const char* id, double value) { return owner_of<AttributeList>(self)->set_float(id, value); };
        v.attrlist.get_float = [](void* self, const char* id, double* value) { return owner_of<AttributeList>(self)->get_float(id, value); };
        v.attrlist.set_string = [](void* self, const char* id, const int16_t* s) { return owner_of<AttributeList>(self)->set_string(id, s); };
        v.attrlist.get_string = [](void* self, const char* id, int16_t* s, uint32_t size) {
            return owner_of<AttributeList>(self)->get_string(id, s, size);
        };
        v.attrlist.set_binary = [](void* self, const char* id, const void* data, uint32_t size) {
            return owner_of<AttributeList>(self)->set_binary(id, data, size);
        };
        v.attrlist.get_binary = [](void* self, const char* id, const void** data, uint32_t* size) {
            return owner_of<AttributeList>(self)->get_binary(id, data, size);
        };
        return v;
    }();
    return &vtable;
}

const v3_message_cpp* message_vtable() {
    static const v3_message_cpp vtable = [] {
        v3_message_cpp v{};
        UnknownThunks<Message>::fill(v);
        v.msg.get_message_id = [](void* self) { return owner_of<Message>(self)->message_id(); };
        v.msg.set_message_id = [](void* self, const char* id) { owner_of<Message>(self)->set_message_id(id); };
        v.msg.get_attributes = [](void* self) { return static_cast<v3_attribute_list**>(owner_of<Message>(self)->attributes()); };
        return v;
    }();
    return &vtable;
}

}  // namespace

AttributeList::AttributeList() : slot_{attribute_list_vtable(), this} {}

v3_result AttributeList::query_interface(const v3_tuid iid, void** obj) {
    if (iid_equal(iid, v3_funknown_iid) || iid_equal(iid, v3_attribute_list_iid)) {
        add_ref();
        *obj = &slot_;
        return V3_OK;
    }
    *obj = nullptr;
    return V3_NO_INTERFACE;
}

v3_result AttributeList::set_int(const char* id, int64_t value) {
    if (id == nullptr) return V3_INVALID_ARG;
    Value v;
    v.kind = Value::Kind::integer;
    v.i = value;
    values_[id] = std::move(v);
    return V3_OK;
}
v3_result AttributeList::get_int(const char* id, int64_t* value) {
    if (id == nullptr || value == nullptr) return V3_INVALID_ARG;
    auto it = values_.find(id);
    if (it == values_.end() || it->second.kind != Value::Kind::integer) return V3_FALSE;
    *value = it->second.i;
    return V3_OK;
}
v3_result AttributeList::set_float(const char* id, double value) {
    if (id == nullptr) return V3_INVALID_ARG;
    Value v;
    v.kind = Value::Kind::real;
    v.f = value;
    values_[id] = std::move(v);
    return V3_OK;
}
v3_result AttributeList::get_float(const char* id, double* value) {
    if (id == nullptr || value == nullptr) return V3_INVALID_ARG;
    auto it = values_.find(id);
    if (it == values_.end() || it->second.kind != Value::Kind::real) return V3_FALSE;
    *value = it->second.f;
    return V3_OK;
}
v3_result AttributeList::set_string(const char* id, const int16_t* text) {
    if (id == nullptr || text == nullptr) return V3_INVALID_ARG;
    Value v;
    v.kind = Value::Kind::text;
    for (const int16_t* p = text; *p != 0; ++p) v.s.push_back(*p);
    v.s.push_back(0);
    values_[id] = std::move(v);
    return V3_OK;
}
v3_result AttributeList::get_string(const char* id, int16_t* text, uint32_t size_bytes) {
    if (id == nullptr || text == nullptr || size_bytes < sizeof(int16_t)) return V3_INVALID_ARG;
    auto it = values_.find(id);
    if (it == values_.end() || it->second.kind != Value::Kind::text) return V3_FALSE;
    const std::size_t capacity = size_bytes / sizeof(int16_t);
    std::size_t n = 0;
    for (; n + 1 < capacity && n < it->second.s.size() && it->second.s[n] != 0; ++n) text[n] = it->second.s[n];
    text[n] = 0;
    return V3_OK;
}
v3_result AttributeList::set_binary(const char* id, const void* data, uint32_t size) {
    if (id == nullptr || (data == nullptr && size != 0)) return V3_INVALID_ARG;
    Value v;
    v.kind = Value::Kind::binary;
    const auto* bytes = static_cast<const uint8_t*>(data);
    v.b.assign(bytes, bytes + size);
    values_[id] = std::move(v);
    return V3_OK;
}
v3_result AttributeList::get_binary(const char* id, const void** data, uint32_t* size) {
    if (id == nullptr || data == nullptr || size == nullptr) return V3_INVALID_ARG;
    auto it = values_.find(id);
    if (it == values_.end() || it->second.kind != Value::Kind::binary) return V3_FALSE;
    *data = it->second.b.data();
    *size = static_cast<uint32_t>(it->second.b.size());
    return V3_OK;
}

Message::Message() : attributes_(new AttributeList), slot_{message_vtable(), this} {}
Message::~Message() { attributes_->release(); }

v3_result Message::query_interface(const v3_tuid iid, void** obj) {
    if (iid_equal(iid, v3_funknown_iid) || iid_equal(iid, v3_message_iid)) {
        add_ref();
        *obj = &slot_;
        return V3_OK;
    }
    *obj = nullptr;
    return V3_NO_INTERFACE;
}

void* create_message(void* host_context, const char* id) {
    void* message = nullptr;
    if (void* app = query(host_context, v3_host_application_iid)) {
        v3_tuid cid, iid;
        std::memcpy(cid, v3_message_iid, sizeof cid);
        std::memcpy(iid, v3_message_iid, sizeof iid);
        void* created = nullptr;
        if (vtable_of<v3_host_application_cpp>(app)->app.create_instance(app, cid, iid, &created) == V3_OK && created != nullptr)
            message = created;
        release_interface(app);
    }
    if (message == nullptr) message = (new Message)->as_interface();
    vtable_of<v3_message_cpp>(message)->msg.set_message_id(message, id);
    return message;
}

const char* message_id(void* message) {
    if (message == nullptr) return "";
    const char* id = vtable_of<v3_message_cpp>(message)->msg.get_message_id(message);
    return id != nullptr ? id : "";
}

namespace {
void* attributes_of(void* message) {
    if (message == nullptr) return nullptr;
    return vtable_of<v3_message_cpp>(message)->msg.get_attributes(message);
}
}  // namespace

bool message_get_int(void* message, const char* attribute, int64_t& value) {
    void* list = attributes_of(message);
    return list != nullptr && vtable_of<v3_attribute_list_cpp>(list)->attrlist.get_int(list, attribute, &value) == V3_OK;
}
bool message_get_float(void* message, const char* attribute, double& value) {
    void* list = attributes_of(message);
    return list != nullptr && vtable_of<v3_attribute_list_cpp>(list)->attrlist.get_float(list, attribute, &value) == V3_OK;
}
void message_set_int(void* message, const char* attribute, int64_t value) {
    if (void* list = attributes_of(message)) vtable_of<v3_attribute_list_cpp>(list)->attrlist.set_int(list, attribute, value);
}
void message_set_float(void* message, const char* attribute, double value) {
    if (void* list = attributes_of(message)) vtable_of<v3_attribute_list_cpp>(list)->attrlist.set_float(list, attribute, value);
}

}  // namespace sostenuto::vst3
