// The plug-in factory (IPluginFactory 1/2/3) and the module's entry points -
// the only symbols the shared object exports.
#include <cstring>
#include <memory>

#include "component.h"
#include "controller.h"
#include "engine_link.h"
#include "ids.h"
#include "log.h"

#if SOSTENUTO_VST3_WITH_BRIDGE
#include "bridge_engine_link.h"
#endif

namespace sostenuto::vst3 {

EngineLinkFactory& engine_link_factory() {
    static EngineLinkFactory factory = []() -> std::unique_ptr<EngineLink> {
#if SOSTENUTO_VST3_WITH_BRIDGE
        return std::make_unique<BridgeEngineLink>();
#else
        return std::make_unique<NullEngineLink>();
#endif
    };
    return factory;
}

EngineLinkFactory& live_engine_link_factory() {
    static EngineLinkFactory factory = []() -> std::unique_ptr<EngineLink> {
#if SOSTENUTO_VST3_WITH_BRIDGE
        return std::make_unique<BridgeEngineLink>();
#else
        return nullptr;
#endif
    };
    return factory;
}

namespace {

class Factory {
public:
    Factory() : slot_{vtable(), this} {}
    void* as_interface() noexcept { return &slot_; }

    v3_result query_interface(const v3_tuid iid, void** obj) {
        if (obj == nullptr) return V3_INVALID_ARG;
        if (iid_equal(iid, v3_funknown_iid) || iid_equal(iid, v3_plugin_factory_iid) ||
            iid_equal(iid, v3_plugin_factory_2_iid) || iid_equal(iid, v3_plugin_factory_3_iid)) {
            add_ref();
            *obj = &slot_;
            return V3_OK;
        }
        *obj = nullptr;
        return V3_NO_INTERFACE;
    }
    // The factory lives as long as the module: counting only, never freed.
    std::uint32_t add_ref() noexcept { return refs_.fetch_add(1) + 1; }
    std::uint32_t release() noexcept {
        std::uint32_t r = refs_.load();
        while (r > 0 && !refs_.compare_exchange_weak(r, r - 1)) {
        }
        return r > 0 ? r - 1 : 0;
    }

    v3_result get_factory_info(v3_factory_info* info) {
        if (info == nullptr) return V3_INVALID_ARG;
        std::memset(info, 0, sizeof *info);
        copy_cstring(info->vendor, sizeof info->vendor, kVendor);
        copy_cstring(info->url, sizeof info->url, kVendorUrl);
        copy_cstring(info->email, sizeof info->email, kVendorEmail);
        info->flags = 0x10;  // kUnicode
        return V3_OK;
    }

    int32_t num_classes() { return 2; }

    v3_result get_class_info(int32_t index, v3_class_info* info) {
        if (info == nullptr || index < 0 || index > 1) return V3_INVALID_ARG;
        std::memset(info, 0, sizeof *info);
        std::memcpy(info->class_id, index == 0 ? kComponentClassId : kControllerClassId, sizeof(v3_tuid));
        info->cardinality = 0x7FFFFFFF;
        copy_cstring(info->category, sizeof info->category, index == 0 ? kComponentCategory : kControllerCategory);
        copy_cstring(info->name, sizeof info->name, index == 0 ? kPluginName : kControllerName);
        return V3_OK;
    }

    v3_result get_class_info_2(int32_t index, v3_class_info_2* info) {
        if (info == nullptr || index < 0 || index > 1) return V3_INVALID_ARG;
        std::memset(info, 0, sizeof *info);
        std::memcpy(info->class_id, index == 0 ? kComponentClassId : kControllerClassId, sizeof(v3_tuid));
        info->cardinality = 0x7FFFFFFF;
        copy_cstring(info->category, sizeof info->category, index == 0 ? kComponentCategory : kControllerCategory);
        copy_cstring(info->name, sizeof info->name, index == 0 ? kPluginName : kControllerName);
        info->class_flags = 0;
        copy_cstring(info->sub_categories, sizeof info->sub_categories, index == 0 ? kSubCategories : "");
        copy_cstring(info->vendor, sizeof info->vendor, kVendor);
        copy_cstring(info->version, sizeof info->version, kVersion);
        copy_cstring(info->sdk_version, sizeof info->sdk_version, kSdkVersion);
        return V3_OK;
    }

    v3_result get_class_info_utf16(int32_t index, v3_class_info_3* info) {
        if (info == nullptr || index < 0 || index > 1) return V3_INVALID_ARG;
        std::memset(info, 0, sizeof *info);
        std::memcpy(info->class_id, index == 0 ? kComponentClassId : kControllerClassId, sizeof(v3_tuid));
        info->cardinality = 0x7FFFFFFF;
        copy_cstring(info->category, sizeof info->category, index == 0 ? kComponentCategory : kControllerCategory);
        utf8_to_utf16(index == 0 ? kPluginName : kControllerName, info->name, 64);
        info->class_flags = 0;
        copy_cstring(info->sub_categories, sizeof info->sub_categories, index == 0 ? kSubCategories : "");
        utf8_to_utf16(kVendor, info->vendor, 64);
        utf8_to_utf16(kVersion, info->version, 64);
        utf8_to_utf16(kSdkVersion, info->sdk_version, 64);
        return V3_OK;
    }

    v3_result set_host_context(v3_funknown**) { return V3_OK; }

    v3_result create_instance(const v3_tuid class_id, const v3_tuid iid, void** instance) {
        if (instance == nullptr) return V3_INVALID_ARG;
        *instance = nullptr;
        try {
            if (iid_equal(class_id, kComponentClassId)) {
                auto* component = new Component(engine_link_factory()(), live_engine_link_factory() ? live_engine_link_factory()() : nullptr);
                const v3_result result = component->query_interface(iid, instance);
                component->release();  // the query's reference is the host's
                return result;
            }
            if (iid_equal(class_id, kControllerClassId)) {
                auto* controller = new Controller;
                const v3_result result = controller->query_interface(iid, instance);
                controller->release();
                return result;
            }
        } catch (const std::exception& e) {
            log_message("could not create an instance: %s", e.what());
            return V3_NOMEM;
        }
        return V3_NO_INTERFACE;
    }

private:
    static const v3_plugin_factory_cpp* vtable() {
        static const v3_plugin_factory_cpp v = [] {
            v3_plugin_factory_cpp t{};
            t.query_interface = [](void* self, const v3_tuid iid, void** obj) { return owner_of<Factory>(self)->query_interface(iid, obj); };
            t.ref = [](void* self) { return owner_of<Factory>(self)->add_ref(); };
            t.unref = [](void* self) { return owner_of<Factory>(self)->release(); };
            t.v1.get_factory_info = [](void* self, v3_factory_info* info) { return owner_of<Factory>(self)->get_factory_info(info); };
            t.v1.num_classes = [](void* self) { return owner_of<Factory>(self)->num_classes(); };
            t.v1.get_class_info = [](void* self, int32_t i, v3_class_info* info) { return owner_of<Factory>(self)->get_class_info(i, info); };
            t.v1.create_instance = [](void* self, const v3_tuid cid, const v3_tuid iid, void** obj) {
                return owner_of<Factory>(self)->create_instance(cid, iid, obj);
            };
            t.v2.get_class_info_2 = [](void* self, int32_t i, v3_class_info_2* info) {
                return owner_of<Factory>(self)->get_class_info_2(i, info);
            };
            t.v3.get_class_info_utf16 = [](void* self, int32_t i, v3_class_info_3* info) {
                return owner_of<Factory>(self)->get_class_info_utf16(i, info);
            };
            t.v3.set_host_context = [](void* self, v3_funknown** host) { return owner_of<Factory>(self)->set_host_context(host); };
            return t;
        }();
        return &v;
    }

    InterfaceSlot<Factory, v3_plugin_factory_cpp> slot_;
    std::atomic<std::uint32_t> refs_{0};
};

Factory& the_factory() {
    static Factory factory;
    return factory;
}

}  // namespace
}  // namespace sostenuto::vst3

#define SOSTENUTO_EXPORT extern "C" __attribute__((visibility("default")))

SOSTENUTO_EXPORT void* GetPluginFactory() {
    auto& factory = sostenuto::vst3::the_factory();
    factory.add_ref();
    return factory.as_interface();
}

SOSTENUTO_EXPORT bool ModuleEntry(void*) { return true; }
SOSTENUTO_EXPORT bool ModuleExit() { return true; }
