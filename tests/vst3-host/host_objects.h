// Host-side VST3 objects for a headless test host, written against the ABI
// (the travesty headers) like the plug-in itself: IBStream, IParameterChanges,
// IParamValueQueue, IEventList, IComponentHandler, IHostApplication, IMessage
// and IAttributeList.
//
// The objects handed to process() (ParameterChanges, EventList) have fixed
// capacity and never allocate after construction, so a test can count the
// plug-in's allocations during process() without counting the host's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "travesty/audio_processor.h"
#include "travesty/base.h"
#include "travesty/bstream.h"
#include "travesty/component.h"
#include "travesty/edit_controller.h"
#include "travesty/events.h"
#include "travesty/factory.h"
#include "travesty/host.h"
#include "travesty/message.h"
#include "travesty/view.h"

namespace sostenuto::host {

struct v3_bstream_cpp : v3_funknown {
    v3_bstream stream;
};
struct v3_component_handler_cpp : v3_funknown {
    v3_component_handler handler;
};

inline bool iid_equal(const uint8_t* a, const uint8_t* b) { return std::memcmp(a, b, 16) == 0; }

template <class V>
inline V* vtable_of(void* obj) {
    return *static_cast<V**>(obj);
}
inline uint32_t add_ref(void* obj) { return vtable_of<v3_funknown>(obj)->ref(obj); }
inline uint32_t release(void* obj) { return obj ? vtable_of<v3_funknown>(obj)->unref(obj) : 0; }
// Queries obj for iid: the new reference, or nullptr.
void* query(void* obj, const uint8_t* iid);

std::string utf16_to_utf8(const int16_t* text, std::size_t max_length);
void utf8_to_utf16(const std::string& text, int16_t* out, std::size_t capacity);

// Base of the host's objects: an interface slot {vtable, owner} and a reference count.
template <class Self, class Vtable>
struct HostObject {
    struct Slot {
        const Vtable* vtable;
        Self* owner;
    };
    Slot slot;
    std::atomic<uint32_t> refs{1};
    bool heap = true;  // objects the host owns on the stack are never deleted by a release

    explicit HostObject(const Vtable* vtable) : slot{vtable, static_cast<Self*>(this)} {}
    virtual ~HostObject() = default;
    void* as_interface() { return &slot; }
    static Self* self(void* p) { return static_cast<Slot*>(p)->owner; }
    uint32_t ref() { return ++refs; }
    uint32_t unref() {
        const uint32_t left = --refs;
        if (left == 0 && heap) delete static_cast<Self*>(this);
        return left;
    }
};

// ---- IBStream over a byte vector ----
class MemoryStream : public HostObject<MemoryStream, v3_bstream_cpp> {
public:
    MemoryStream();
    explicit MemoryStream(std::vector<uint8_t> data);
    std::vector<uint8_t> data;
    int64_t position = 0;
    // Test knob: hand out at most this many bytes per read (0 = no limit).
    int32_t max_read_chunk = 0;
    v3_result query_interface(const uint8_t* iid, void** obj);
};

// ---- IParameterChanges / IParamValueQueue, fixed capacity ----
class ParamValueQueue : public HostObject<ParamValueQueue, v3_param_value_queue_cpp> {
public:
    static constexpr int kMaxPoints = 256;
    ParamValueQueue();
    v3_param_id id = 0;
    int32_t count = 0;
    int32_t offsets[kMaxPoints] = {};
    double values[kMaxPoints] = {};
    v3_result query_interface(const uint8_t* iid, void** obj);
    void add(int32_t offset, double value);
};

class ParameterChanges : public HostObject<ParameterChanges, v3_param_changes_cpp> {
public:
    static constexpr int kMaxQueues = 512;
    ParameterChanges();
    ~ParameterChanges() override;
    void clear();
    // Adds a point to the queue of `id` (creating the queue).
    void add(v3_param_id id, int32_t offset, double value);
    int32_t queue_count() const { return count_; }
    ParamValueQueue* queue(int32_t index) { return queues_[index]; }
    ParamValueQueue* find(v3_param_id id);
    v3_result query_interface(const uint8_t* iid, void** obj);
    ParamValueQueue* add_queue(v3_param_id id, int32_t* index);

private:
    ParamValueQueue* queues_[kMaxQueues] = {};
    int32_t count_ = 0;
};

// ---- IEventList, fixed capacity ----
class EventList : public HostObject<EventList, v3_event_list_cpp> {
public:
    static constexpr int kMaxEvents = 8192;
    EventList();
    void clear() { count = 0; }
    void add(const v3_event& e) {
        if (count < kMaxEvents) events[count++] = e;
    }
    v3_result query_interface(const uint8_t* iid, void** obj);
    v3_event events[kMaxEvents] = {};
    int32_t count = 0;
};

// ---- IComponentHandler: records what the plug-in asks for ----
class ComponentHandler : public HostObject<ComponentHandler, v3_component_handler_cpp> {
public:
    ComponentHandler();
    v3_result query_interface(const uint8_t* iid, void** obj);
    std::atomic<int32_t> pending_restart_flags{0};
    std::atomic<int> restart_calls{0};
    std::atomic<int> edits{0};
};

// ---- IAttributeList / IMessage (what IHostApplication::createInstance makes) ----
class AttributeList : public HostObject<AttributeList, v3_attribute_list_cpp> {
public:
    AttributeList();
    v3_result query_interface(const uint8_t* iid, void** obj);
    std::map<std::string, int64_t> ints;
    std::map<std::string, double> floats;
    std::map<std::string, std::vector<int16_t>> strings;
    std::map<std::string, std::vector<uint8_t>> binaries;
};

class Message : public HostObject<Message, v3_message_cpp> {
public:
    Message();
    ~Message() override;
    v3_result query_interface(const uint8_t* iid, void** obj);
    std::string id;
    AttributeList* attributes;
};

// ---- IRunLoop (Linux): the host's UI-thread loop, here pumped by the test ----
class RunLoop : public HostObject<RunLoop, v3_run_loop_cpp> {
public:
    RunLoop();
    ~RunLoop() override;
    v3_result query_interface(const uint8_t* iid, void** obj);
    // Calls every registered timer once (on the calling thread, which plays the UI thread).
    int fire_timers();
    std::size_t timer_count() const { return timers.size(); }
    std::vector<std::pair<void*, uint64_t>> timers;  // v3_timer_handler** and its interval (ms)
    int registrations = 0;
};

// ---- IHostApplication ----
class HostApplication : public HostObject<HostApplication, v3_host_application_cpp> {
public:
    HostApplication();
    v3_result query_interface(const uint8_t* iid, void** obj);
    std::atomic<int> messages_created{0};
    // Offered through queryInterface (as some Linux hosts do) unless turned off.
    bool offer_run_loop = true;
    RunLoop run_loop;
};

}  // namespace sostenuto::host
