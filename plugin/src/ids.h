// Fixed identities of the plug-in. Changing a class id orphans every saved
// project that uses the plug-in: never change them.
#pragma once

#include "vst3_abi.h"

namespace sostenuto::vst3 {

inline constexpr char kVendor[] = "Sostenuto";
inline constexpr char kVendorUrl[] = "";
inline constexpr char kVendorEmail[] = "";
inline constexpr char kPluginName[] = "Sostenuto";
inline constexpr char kControllerName[] = "Sostenuto Controller";
inline constexpr char kVersion[] = SOSTENUTO_VST3_VERSION;  // from CMake
inline constexpr char kSdkVersion[] = "VST 3.7.7";          // the ABI level the shim implements
inline constexpr char kSubCategories[] = "Instrument|Synth";
inline constexpr char kComponentCategory[] = "Audio Module Class";
inline constexpr char kControllerCategory[] = "Component Controller Class";

// {F7D2272D-370E-4A82-B90A-FE97B42E75B3}
static constexpr const v3_tuid kComponentClassId = V3_ID(0xF7D2272D, 0x370E4A82, 0xB90AFE97, 0xB42E75B3);
// {93B033A8-E83C-48AA-A91B-A1488F7F3BB0}
static constexpr const v3_tuid kControllerClassId = V3_ID(0x93B033A8, 0xE83C48AA, 0xA91BA148, 0x8F7F3BB0);

// Messages between component and controller (IConnectionPoint).
// component -> controller: the latency the host should ask for has changed; attribute "samples" (int).
inline constexpr char kMessageLatencyChanged[] = "sostenuto.latencyChanged";
// controller -> component: the user changed a latency setting; attributes "mode" (int), "lookaheadMs" (float).
inline constexpr char kMessageLatencySettings[] = "sostenuto.latencySettings";

}  // namespace sostenuto::vst3
