#include "host_objects.h"

#include <algorithm>
#include <cstring>

namespace sostenuto::host {
namespace {

template <class T>
void fill_unknown(v3_funknown& u) {
    u.query_interface = [](void* self, const v3_tuid iid, void** obj) { return T::self(self)->query_interface(iid, obj); };
    u.ref = [](void* self) { return T::self(self)->ref(); };
    u.unref = [](void* self) { return T::self(self)->unref(); };
}

template <class T>
v3_result answer(T* object, const uint8_t* iid, const uint8_t* own_iid, void** obj) {
    if (iid_equal(iid, v3_funknown_iid) || iid_equal(iid, own_iid)) {
        object->ref();
        *obj = object->as_interface();
        return V3_OK;
    }
    *obj = nullptr;
    return V3_NO_INTERFACE;
}

// ---- vtables ----
const v3_bstream_cpp* stream_vtable() {
    static const v3_bstream_cpp v = [] {
        v3_bstream_cpp t{};
        fill_unknown<MemoryStream>(t);
        t.stream.read = [](void* self, void* buffer, int32_t n, int32_t* read) {
            MemoryStream* s = MemoryStream::self(self);
            if (n < 0 || buffer == nullptr) return static_cast<v3_result>(V3_INVALID_ARG);
            int64_t available = static_cast<int64_t>(s->data.size()) - s->position;
            int64_t take = std::max<int64_t>(0, std::min<int64_t>(n, available));
            if (s->max_read_chunk > 0) take = std::min<int64_t>(take, s->max_read_chunk);
            if (take > 0) std::memcpy(buffer, s->data.data() + s->position, static_cast<size_t>(take));
            s->position += take;
            if (read) *read = static_cast<int32_t>(take);
            return static_cast<v3_result>(V3_OK);
        };
        t.stream.write = [](void* self, void* buffer, int32_t n, int32_t* written) {
            MemoryStream* s = MemoryStream::self(self);
            if (n < 0 || (buffer == nullptr && n > 0)) return static_cast<v3_result>(V3_INVALID_ARG);
            const size_t end = static_cast<size_t>(s->position) + static_cast<size_t>(n);
            if (s->data.size() < end) s->data.resize(end);
            if (n > 0) std::memcpy(s->data.data() + s->position, buffer, static_cast<size_t>(n));
            s->position += n;
            if (written) *written = n;
            return static_cast<v3_result>(V3_OK);
        };
        t.stream.seek = [](void* self, int64_t pos, int32_t mode, int64_t* result) {
            MemoryStream* s = MemoryStream::self(self);
            int64_t base = mode == V3_SEEK_SET ? 0 : mode == V3_SEEK_CUR ? s->position : static_cast<int64_t>(s->data.size());
            const int64_t target = base + pos;
            if (target < 0) return static_cast<v3_result>(V3_INVALID_ARG);
            s->position = target;
            if (result) *result = target;
            return static_cast<v3_result>(V3_OK);
        };
        t.stream.tell = [](void* self, int64_t* pos) {
            if (pos) *pos = MemoryStream::self(self)->position;
            return static_cast<v3_result>(V3_OK);
        };
        return t;
    }();
    return &v;
}

const v3_param_value_queue_cpp* queue_vtable() {
    static const v3_param_value_queue_cpp v = [] {
        v3_param_value_queue_cpp t{};
        fill_unknown<ParamValueQueue>(t);
        t.queue.get_param_id = [](void* self) { return ParamValueQueue::self(self)->id; };
        t.queue.get_point_count = [](void* self) { return ParamValueQueue::self(self)->count; };
        t.queue.get_point = [](void* self, int32_t idx, int32_t* offset, double* value) {
            ParamValueQueue* q = ParamValueQueue::self(self);
            if (idx < 0 || idx >= q->count || offset == nullptr || value == nullptr) return static_cast<v3_result>(V3_INVALID_ARG);
            *offset = q->offsets[idx];
            *value = q->values[idx];
            return static_cast<v3_result>(V3_OK);
        };
        t.queue.add_point = [](void* self, int32_t offset, double value, int32_t* idx) {
            ParamValueQueue* q = ParamValueQueue::self(self);
            if (q->count >= ParamValueQueue::kMaxPoints) return static_cast<v3_result>(V3_FALSE);
            q->add(offset, value);
            if (idx) *idx = q->count - 1;
            return static_cast<v3_result>(V3_OK);
        };
        return t;
    }();
    return &v;
}

const v3_param_changes_cpp* changes_vtable() {
    static const v3_param_changes_cpp v = [] {
        v3_param_changes_cpp t{};
        fill_unknown<ParameterChanges>(t);
        t.changes.get_param_count = [](void* self) { return ParameterChanges::self(self)->queue_count(); };
        t.changes.get_param_data = [](void* self, int32_t idx) -> v3_param_value_queue** {
            ParameterChanges* c = ParameterChanges::self(self);
            if (idx < 0 || idx >= c->queue_count()) return nullptr;
            return static_cast<v3_param_value_queue**>(c->queue(idx)->as_interface());
        };
        t.changes.add_param_data = [](void* self, v3_param_id* id, int32_t* index) -> v3_param_value_queue** {
            if (id == nullptr) return nullptr;
            ParamValueQueue* q = ParameterChanges::self(self)->add_queue(*id, index);
            return q ? static_cast<v3_param_value_queue**>(q->as_interface()) : nullptr;
        };
        return t;
    }();
    return &v;
}

const v3_event_list_cpp* events_vtable() {
    static const v3_event_list_cpp v = [] {
        v3_event_list_cpp t{};
        fill_unknown<EventList>(t);
        t.list.get_event_count = [](void* self) { return static_cast<uint32_t>(EventList::self(self)->count); };
        t.list.get_event = [](void* self, int32_t idx, v3_event* e) {
            EventList* l = EventList::self(self);
            if (idx < 0 || idx >= l->count || e == nullptr) return static_cast<v3_result>(V3_INVALID_ARG);
            *e = l->events[idx];
            return static_cast<v3_result>(V3_OK);
        };
        t.list.add_event = [](void* self, v3_event* e) {
            EventList* l = EventList::self(self);
            if (e == nullptr || l->count >= EventList::kMaxEvents) return static_cast<v3_result>(V3_FALSE);
            l->add(*e);
            return static_cast<v3_result>(V3_OK);
        };
        return t;
    }();
    return &v;
}

const v3_component_handler_cpp* handler_vtable() {
    static const v3_component_handler_cpp v = [] {
        v3_component_handler_cpp t{};
        fill_unknown<ComponentHandler>(t);
        t.handler.begin_edit = [](void* self, v3_param_id) {
            ComponentHandler::self(self)->edits++;
            return static_cast<v3_result>(V3_OK);
        };
        t.handler.perform_edit = [](void* self, v3_param_id, double) {
            ComponentHandler::self(self)->edits++;
            return static_cast<v3_result>(V3_OK);
        };
        t.handler.end_edit = [](void* self, v3_param_id) {
            ComponentHandler::self(self)->edits++;
            return static_cast<v3_result>(V3_OK);
        };
        t.handler.restart_component = [](void* self, int32_t flags) {
            ComponentHandler* h = ComponentHandler::self(self);
            h->pending_restart_flags.fetch_or(flags);
            h->restart_calls++;
            return static_cast<v3_result>(V3_OK);
        };
        return t;
    }();
    return &v;
}

const v3_attribute_list_cpp* attributes_vtable() {
    static const v3_attribute_list_cpp v = [] {
        v3_attribute_list_cpp t{};
        fill_unknown<AttributeList>(t);
        t.attrlist.set_int = [](void* self, const char* id, int64_t value) {
            if (!id) return static_cast<v3_result>(V3_INVALID_ARG);
            AttributeList::self(self)->ints[id] = value;
            return static_cast<v3_result>(V3_OK);
        };
        t.attrlist.get_int = [](void* self, const char* id, int64_t* value) {
            auto& m = AttributeList::self(self)->ints;
            auto it = id ? m.find(id) : m.end();
            if (it == m.end() || !value) return static_cast<v3_result>(V3_FALSE);
            *value = it->second;
            return static_cast<v3_result>(V3_OK);
        };
        t.attrlist.set_float = [](void* self, const char* id, double value) {
            if (!id) return static_cast<v3_result>(V3_INVALID_ARG);
            AttributeList::self(self)->floats[id] = value;
            return static_cast<v3_result>(V3_OK);
        };
        t.attrlist.get_float = [](void* self, const char* id, double* value) {
            auto& m = AttributeList::self(self)->floats;
            auto it = id ? m.find(id) : m.end();
            if (it == m.end() || !value) return static_cast<v3_result>(V3_FALSE);
            *value = it->second;
            return static_cast<v3_result>(V3_OK);
        };
        t.attrlist.set_string = [](void* self, const char* id, const int16_t* s) {
            if (!id || !s) return static_cast<v3_result>(V3_INVALID_ARG);
            std::vector<int16_t> text;
            for (const int16_t* p = s; *p; ++p) text.push_back(*p);
            text.push_back(0);
            AttributeList::self(self)->strings[id] = text;
            return static_cast<v3_result>(V3_OK);
        };
        t.attrlist.get_string = [](void* self, const char* id, int16_t* s, uint32_t size) {
            auto& m = AttributeList::self(self)->strings;
            auto it = id ? m.find(id) : m.end();
            if (it == m.end() || !s || size < 2) return static_cast<v3_result>(V3_FALSE);
            const size_t n = std::min<size_t>(size / 2, it->second.size());
            std::copy(it->second.begin(), it->second.begin() + static_cast<long>(n), s);
            s[n - 1] = 0;
            return static_cast<v3_result>(V3_OK);
        };
        t.attrlist.set_binary = [](void* self, const char* id, const void* data, uint32_t size) {
            if (!id) return static_cast<v3_result>(V3_INVALID_ARG);
            const auto* b = static_cast<const uint8_t*>(data);
            AttributeList::self(self)->binaries[id] = std::vector<uint8_t>(b, b + size);
            return static_cast<v3_result>(V3_OK);
        };
        t.attrlist.get_binary = [](void* self, const char* id, const void** data, uint32_t* size) {
            auto& m = AttributeList::self(self)->binaries;
            auto it = id ? m.find(id) : m.end();
            if (it == m.end() || !data || !size) return static_cast<v3_result>(V3_FALSE);
            *data = it->second.data();
            *size = static_cast<uint32_t>(it->second.size());
            return static_cast<v3_result>(V3_OK);
        };
        return t;
    }();
    return &v;
}

const v3_message_cpp* message_vtable() {
    static const v3_message_cpp v = [] {
        v3_message_cpp t{};
        fill_unknown<Message>(t);
        t.msg.get_message_id = [](void* self) { return Message::self(self)->id.c_str(); };
        t.msg.set_message_id = [](void* self, const char* id) { Message::self(self)->id = id ? id : ""; };
        t.msg.get_attributes = [](void* self) {
            return static_cast<v3_attribute_list**>(Message::self(self)->attributes->as_interface());
        };
        return t;
    }();
    return &v;
}

const v3_host_application_cpp* application_vtable() {
    static const v3_host_application_cpp v = [] {
        v3_host_application_cpp t{};
        fill_unknown<HostApplication>(t);
        t.app.get_name = [](void*, v3_str_128 name) {
            utf8_to_utf16("sostenuto-test-host", name, 128);
            return static_cast<v3_result>(V3_OK);
        };
        t.app.create_instance = [](void* self, v3_tuid cid, v3_tuid iid, void** obj) {
            if (obj == nullptr) return static_cast<v3_result>(V3_INVALID_ARG);
            *obj = nullptr;
            if (iid_equal(cid, v3_message_iid) && iid_equal(iid, v3_message_iid)) {
                HostApplication::self(self)->messages_created++;
                *obj = (new Message)->as_interface();
                return static_cast<v3_result>(V3_OK);
            }
            if (iid_equal(cid, v3_attribute_list_iid) && iid_equal(iid, v3_attribute_list_iid)) {
                *obj = (new AttributeList)->as_interface();
                return static_cast<v3_result>(V3_OK);
            }
            return static_cast<v3_result>(V3_NO_INTERFACE);
        };
        return t;
    }();
    return &v;
}

const v3_run_loop_cpp* run_loop_vtable() {
    static const v3_run_loop_cpp v = [] {
        v3_run_loop_cpp t{};
        fill_unknown<RunLoop>(t);
        t.loop.register_event_handler = [](void*, v3_event_handler**, int) { return static_cast<v3_result>(V3_NOT_IMPLEMENTED); };
        t.loop.unregister_event_handler = [](void*, v3_event_handler**) { return static_cast<v3_result>(V3_NOT_IMPLEMENTED); };
        t.loop.register_timer = [](void* self, v3_timer_handler** handler, uint64_t ms) {
            if (handler == nullptr) return static_cast<v3_result>(V3_INVALID_ARG);
            RunLoop* loop = RunLoop::self(self);
            add_ref(handler);
            loop->timers.emplace_back(handler, ms);
            ++loop->registrations;
            return static_cast<v3_result>(V3_OK);
        };
        t.loop.unregister_timer = [](void* self, v3_timer_handler** handler) {
            RunLoop* loop = RunLoop::self(self);
            for (auto it = loop->timers.begin(); it != loop->timers.end(); ++it) {
                if (it->first != handler) continue;
                loop->timers.erase(it);
                release(handler);
                return static_cast<v3_result>(V3_OK);
            }
            return static_cast<v3_result>(V3_INVALID_ARG);
        };
        return t;
    }();
    return &v;
}

}  // namespace

void* query(void* obj, const uint8_t* iid) {
    if (obj == nullptr) return nullptr;
    void* out = nullptr;
    if (vtable_of<v3_funknown>(obj)->query_interface(obj, iid, &out) != V3_OK) return nullptr;
    return out;
}

std::string utf16_to_utf8(const int16_t* text, std::size_t max_length) {
    std::string out;
    for (std::size_t i = 0; text && i < max_length && text[i] != 0; ++i) {
        const uint32_t c = static_cast<uint16_t>(text[i]);
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else if (c < 0x800) {
            out += static_cast<char>(0xC0 | (c >> 6));
            out += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            out += static_cast<char>(0xE0 | (c >> 12));
            out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    return out;
}

void utf8_to_utf16(const std::string& text, int16_t* out, std::size_t capacity) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < text.size() && n + 1 < capacity; ++i) out[n++] = static_cast<unsigned char>(text[i]);
    out[n] = 0;
}

MemoryStream::MemoryStream() : HostObject(stream_vtable()) {}
MemoryStream::MemoryStream(std::vector<uint8_t> bytes) : HostObject(stream_vtable()), data(std::move(bytes)) {}
v3_result MemoryStream::query_interface(const uint8_t* iid, void** obj) { return answer(this, iid, v3_bstream_iid, obj); }

ParamValueQueue::ParamValueQueue() : HostObject(queue_vtable()) {}
v3_result ParamValueQueue::query_interface(const uint8_t* iid, void** obj) {
    return answer(this, iid, v3_param_value_queue_iid, obj);
}
void ParamValueQueue::add(int32_t offset, double value) {
    if (count >= kMaxPoints) return;
    offsets[count] = offset;
    values[count] = value;
    ++count;
}

ParameterChanges::ParameterChanges() : HostObject(changes_vtable()) {
    for (auto& q : queues_) {
        q = new ParamValueQueue;
        q->heap = false;
    }
}
ParameterChanges::~ParameterChanges() {
    for (auto* q : queues_) delete q;
}
void ParameterChanges::clear() {
    for (int32_t i = 0; i < count_; ++i) queues_[i]->count = 0;
    count_ = 0;
}
ParamValueQueue* ParameterChanges::find(v3_param_id id) {
    for (int32_t i = 0; i < count_; ++i)
        if (queues_[i]->id == id) return queues_[i];
    return nullptr;
}
ParamValueQueue* ParameterChanges::add_queue(v3_param_id id, int32_t* index) {
    for (int32_t i = 0; i < count_; ++i)
        if (queues_[i]->id == id) {
            if (index) *index = i;
            return queues_[i];
        }
    if (count_ >= kMaxQueues) return nullptr;
    ParamValueQueue* q = queues_[count_];
    q->id = id;
    q->count = 0;
    if (index) *index = count_;
    ++count_;
    return q;
}
void ParameterChanges::add(v3_param_id id, int32_t offset, double value) {
    if (ParamValueQueue* q = add_queue(id, nullptr)) q->add(offset, value);
}
v3_result ParameterChanges::query_interface(const uint8_t* iid, void** obj) {
    return answer(this, iid, v3_param_changes_iid, obj);
}

EventList::EventList() : HostObject(events_vtable()) {}
v3_result EventList::query_interface(const uint8_t* iid, void** obj) { return answer(this, iid, v3_event_list_iid, obj); }

ComponentHandler::ComponentHandler() : HostObject(handler_vtable()) {}
v3_result ComponentHandler::query_interface(const uint8_t* iid, void** obj) {
    return answer(this, iid, v3_component_handler_iid, obj);
}

AttributeList::AttributeList() : HostObject(attributes_vtable()) {}
v3_result AttributeList::query_interface(const uint8_t* iid, void** obj) {
    return answer(this, iid, v3_attribute_list_iid, obj);
}

Message::Message() : HostObject(message_vtable()), attributes(new AttributeList) {}
Message::~Message() { attributes->unref(); }
v3_result Message::query_interface(const uint8_t* iid, void** obj) { return answer(this, iid, v3_message_iid, obj); }

RunLoop::RunLoop() : HostObject(run_loop_vtable()) { heap = false; }
RunLoop::~RunLoop() {
    for (auto& timer : timers) release(timer.first);
}
v3_result RunLoop::query_interface(const uint8_t* iid, void** obj) { return answer(this, iid, v3_run_loop_iid, obj); }
int RunLoop::fire_timers() {
    // A timer may unregister itself (or others) while it runs: fire a copy, if still registered.
    const auto snapshot = timers;
    int fired = 0;
    for (const auto& timer : snapshot) {
        bool still = false;
        for (const auto& t : timers) still = still || t.first == timer.first;
        if (!still) continue;
        vtable_of<v3_timer_handler_cpp>(timer.first)->timer.on_timer(timer.first);
        ++fired;
    }
    return fired;
}

HostApplication::HostApplication() : HostObject(application_vtable()) {}
v3_result HostApplication::query_interface(const uint8_t* iid, void** obj) {
    if (offer_run_loop && iid_equal(iid, v3_run_loop_iid)) {
        run_loop.ref();
        *obj = run_loop.as_interface();
        return V3_OK;
    }
    return answer(this, iid, v3_host_application_iid, obj);
}

}  // namespace sostenuto::host
