// The VST3 binary interface as the shim uses it: the vendored travesty headers
// (third_party/travesty, ISC) plus a few helpers for writing COM-style objects
// in C++ without the Steinberg SDK.
//
// An interface pointer, as a host holds it, points at a pointer to a vtable;
// every vtable starts with FUnknown's three functions. Each interface an
// object offers is one InterfaceSlot member: {vtable, owner}. The static
// thunks get `self` (the slot's address) and recover the owner from it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "travesty/audio_processor.h"
#include "travesty/base.h"
#include "travesty/bstream.h"
#include "travesty/component.h"
#include "travesty/edit_controller.h"
#include "travesty/events.h"
#include "travesty/factory.h"
#include "travesty/host.h"
#include "travesty/message.h"
#include "travesty/view.h"  // IRunLoop, ITimerHandler (Linux)

namespace sostenuto::vst3 {

// IProcessContextRequirements (SDK 3.7.0) and its flag names, which travesty spells differently.
using ProcessContextRequirementsVtable = v3_process_context_requirements_cpp;

// travesty declares IBStream's functions but no C++ vtable struct for it.
struct v3_bstream_cpp : v3_funknown {
    v3_bstream stream;
};
struct v3_component_handler_cpp : v3_funknown {
    v3_component_handler handler;
};

inline bool iid_equal(const v3_tuid a, const v3_tuid b) noexcept { return std::memcmp(a, b, sizeof(v3_tuid)) == 0; }

template <class Owner, class Vtable>
struct InterfaceSlot {
    const Vtable* vtable = nullptr;  // must stay first: the interface pointer is &slot
    Owner* owner = nullptr;
};

template <class Owner>
inline Owner* owner_of(void* self) noexcept {
    // Every InterfaceSlot<Owner, *> has the same layout: {const void*, Owner*}.
    return static_cast<InterfaceSlot<Owner, void>*>(self)->owner;
}

// Reference counting shared by the shim's objects. Objects start with one
// reference, owned by whoever created them (the factory hands it to the host).
class RefCounted {
public:
    std::uint32_t add_ref() noexcept { return refs_.fetch_add(1, std::memory_order_relaxed) + 1; }
    std::uint32_t release() noexcept {
        const std::uint32_t left = refs_.fetch_sub(1, std::memory_order_acq_rel) - 1;
        if (left == 0) delete this;
        return left;
    }

protected:
    RefCounted() = default;
    virtual ~RefCounted() = default;
    RefCounted(const RefCounted&) = delete;
    RefCounted& operator=(const RefCounted&) = delete;

private:
    std::atomic<std::uint32_t> refs_{1};
};

// FUnknown's three functions for an Owner with query_interface/add_ref/release.
template <class Owner>
struct UnknownThunks {
    static v3_result V3_API query_interface(void* self, const v3_tuid iid, void** obj) {
        return owner_of<Owner>(self)->query_interface(iid, obj);
    }
    static std::uint32_t V3_API ref(void* self) { return owner_of<Owner>(self)->add_ref(); }
    static std::uint32_t V3_API unref(void* self) { return owner_of<Owner>(self)->release(); }

    static void fill(v3_funknown& unknown) {
        unknown.query_interface = query_interface;
        unknown.ref = ref;
        unknown.unref = unref;
    }
};

// Calling through an interface pointer someone else implemented: `obj` points
// at a pointer to a vtable whose layout is V (one of travesty's *_cpp structs).
template <class V>
inline V* vtable_of(void* obj) noexcept {
    return *static_cast<V**>(obj);
}

inline void release_interface(void* obj) noexcept {
    if (obj != nullptr) vtable_of<v3_funknown>(obj)->unref(obj);
}

// Queries `obj` for `iid`; returns the new reference or nullptr.
inline void* query(void* obj, const v3_tuid iid) noexcept {
    if (obj == nullptr) return nullptr;
    void* out = nullptr;
    if (vtable_of<v3_funknown>(obj)->query_interface(obj, iid, &out) != V3_OK) return nullptr;
    return out;
}

// UTF-8 <-> the ABI's UTF-16 strings (String128 and friends).
void utf8_to_utf16(const char* text, int16_t* out, std::size_t capacity) noexcept;
std::string utf16_to_utf8(const int16_t* text, std::size_t max_length);

// Copies a C string into a fixed char array, always terminated.
void copy_cstring(char* out, std::size_t capacity, const char* text) noexcept;

}  // namespace sostenuto::vst3
