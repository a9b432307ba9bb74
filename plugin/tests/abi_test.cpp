// The built bundle, loaded with dlopen and driven only through the VST3 ABI,
// as a host sees it. No engine: SOSTENUTO_ENGINE_SOCKET points nowhere.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "plugin_host.h"
#include "test_support.h"

namespace sostenuto::host {
namespace {

class Abi : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv("SOSTENUTO_ENGINE_SOCKET", "/tmp/sostenuto-tests-no-engine/none.sock", 1);
        test::never_start_an_engine();
        module = std::make_unique<PluginModule>(SOSTENUTO_VST3_BUNDLE);
        plugin = std::make_unique<PluginInstance>(*module);
    }
    void TearDown() override {
        plugin.reset();
        module.reset();
    }
    const ParamInfo* param(const std::string& title) {
        if (params.empty()) params = plugin->parameters();
        for (const ParamInfo& p : params)
            if (p.title == title) return &p;
        return nullptr;
    }
    v3_edit_controller_cpp* ctrl() { return vtable_of<v3_edit_controller_cpp>(plugin->controller()); }

    std::unique_ptr<PluginModule> module;
    std::unique_ptr<PluginInstance> plugin;
    std::vector<ParamInfo> params;
};

const uint8_t kComponentCid[16] = {0xF7, 0xD2, 0x27, 0x2D, 0x37, 0x0E, 0x4A, 0x82, 0xB9, 0x0A, 0xFE, 0x97, 0xB4, 0x2E, 0x75, 0xB3};
const uint8_t kControllerCid[16] = {0x93, 0xB0, 0x33, 0xA8, 0xE8, 0x3C, 0x48, 0xAA, 0xA9, 0x1B, 0xA1, 0x48, 0x8F, 0x7F, 0x3B, 0xB0};

TEST_F(Abi, FactoryDescribesTheInstrumentAndItsController) {
    const v3_factory_info info = module->factory_info();
    EXPECT_STREQ(info.vendor, "Sostenuto");
    EXPECT_EQ(info.flags & 0x10, 0x10);  // unicode
    const std::vector<ClassInfo> classes = module->classes();
    ASSERT_EQ(classes.size(), 2u);
    EXPECT_EQ(std::memcmp(classes[0].cid, kComponentCid, 16), 0);
    EXPECT_EQ(classes[0].category, "Audio Module Class");
    EXPECT_EQ(classes[0].name, "Sostenuto");
    EXPECT_EQ(classes[0].sub_categories, "Instrument|Synth");
    EXPECT_EQ(classes[0].vendor, "Sostenuto");
    EXPECT_FALSE(classes[0].version.empty());
    EXPECT_EQ(classes[0].sdk_version.rfind("VST 3", 0), 0u);
    EXPECT_EQ(std::memcmp(classes[1].cid, kControllerCid, 16), 0);
    EXPECT_EQ(classes[1].category, "Component Controller Class");

    // IPluginFactory3: the same, in UTF-16.
    void* f3 = query(module->factory(), v3_plugin_factory_3_iid);
    ASSERT_NE(f3, nullptr);
    v3_class_info_3 info3{};
    ASSERT_EQ(vtable_of<v3_plugin_factory_cpp>(f3)->v3.get_class_info_utf16(f3, 0, &info3), V3_OK);
    EXPECT_EQ(utf16_to_utf8(info3.name, 64), "Sostenuto");
    EXPECT_EQ(std::string(info3.sub_categories), "Instrument|Synth");
    EXPECT_NE(vtable_of<v3_plugin_factory_cpp>(f3)->v3.get_class_info_utf16(f3, 2, &info3), V3_OK);
    release(f3);

    // Unknown class id or interface: refused, nothing leaked.
    void* obj = reinterpret_cast<void*>(1);
    uint8_t bogus[16] = {1, 2, 3};
    EXPECT_NE(vtable_of<v3_plugin_factory_cpp>(module->factory())->v1.create_instance(module->factory(), bogus, v3_component_iid, &obj), V3_OK);
    EXPECT_EQ(obj, nullptr);
    EXPECT_NE(vtable_of<v3_plugin_factory_cpp>(module->factory())
                  ->v1.create_instance(module->factory(), kComponentCid, v3_plugin_view_iid, &obj), V3_OK);
}

TEST_F(Abi, OnlyTheEntryPointsAreExported) {
    void* handle = ::dlopen(module->binary_path().c_str(), RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(handle, nullptr);
    EXPECT_NE(::dlsym(handle, "GetPluginFactory"), nullptr);
    EXPECT_NE(::dlsym(handle, "ModuleEntry"), nullptr);
    EXPECT_NE(::dlsym(handle, "ModuleExit"), nullptr);
    // Neither the shim's nor the bridge's symbols leak out.
    EXPECT_EQ(::dlsym(handle, "_ZN9sostenuto6bridge14encode_messageERKNS0_17ClockAdvanceMessageEPhm"), nullptr);
    ::dlclose(handle);
}

TEST_F(Abi, ModuleInfoJsonSitsInTheBundle) {
    std::ifstream in(std::string(SOSTENUTO_VST3_BUNDLE) + "/Contents/Resources/moduleinfo.json");
    ASSERT_TRUE(in.good());
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_NE(text.str().find("\"F7D2272D370E4A82B90AFE97B42E75B3\""), std::string::npos);
    EXPECT_NE(text.str().find("\"93B033A8E83C48AAA91BA1488F7F3BB0\""), std::string::npos);
    EXPECT_NE(text.str().find("\"Audio Module Class\""), std::string::npos);
}

TEST_F(Abi, BusesAreOneStereoOutputAndOneEventInput) {
    void* c = plugin->component();
    auto* vt = vtable_of<v3_component_cpp>(c);
    EXPECT_EQ(vt->comp.get_bus_count(c, V3_AUDIO, V3_INPUT), 0);
    EXPECT_EQ(vt->comp.get_bus_count(c, V3_AUDIO, V3_OUTPUT), 1);
    EXPECT_EQ(vt->comp.get_bus_count(c, V3_EVENT, V3_INPUT), 1);
    EXPECT_EQ(vt->comp.get_bus_count(c, V3_EVENT, V3_OUTPUT), 0);
    v3_bus_info bus{};
    ASSERT_EQ(vt->comp.get_bus_info(c, V3_AUDIO, V3_OUTPUT, 0, &bus), V3_OK);
    EXPECT_EQ(bus.channel_count, 2);
    EXPECT_EQ(bus.bus_type, V3_MAIN);
    EXPECT_TRUE(bus.flags & V3_DEFAULT_ACTIVE);
    ASSERT_EQ(vt->comp.get_bus_info(c, V3_EVENT, V3_INPUT, 0, &bus), V3_OK);
    EXPECT_EQ(bus.media_type, V3_EVENT);
    EXPECT_EQ(bus.channel_count, 16);
    EXPECT_NE(vt->comp.get_bus_info(c, V3_AUDIO, V3_OUTPUT, 1, &bus), V3_OK);
    EXPECT_NE(vt->comp.get_bus_info(c, V3_AUDIO, V3_INPUT, 0, &bus), V3_OK);

    void* p = plugin->processor();
    auto* pv = vtable_of<v3_audio_processor_cpp>(p);
    v3_speaker_arrangement stereo = V3_SPEAKER_L | V3_SPEAKER_R, mono = V3_SPEAKER_M, five[2] = {stereo, stereo};
    EXPECT_EQ(pv->proc.set_bus_arrangements(p, nullptr, 0, &stereo, 1), V3_OK);
    EXPECT_NE(pv->proc.set_bus_arrangements(p, nullptr, 0, &mono, 1), V3_OK);
    EXPECT_NE(pv->proc.set_bus_arrangements(p, &stereo, 1, &stereo, 1), V3_OK);
    EXPECT_NE(pv->proc.set_bus_arrangements(p, nullptr, 0, five, 2), V3_OK);
    v3_speaker_arrangement arr = 0;
    ASSERT_EQ(pv->proc.get_bus_arrangement(p, V3_OUTPUT, 0, &arr), V3_OK);
    EXPECT_EQ(arr, stereo);
    EXPECT_NE(pv->proc.get_bus_arrangement(p, V3_INPUT, 0, &arr), V3_OK);
    EXPECT_EQ(pv->proc.can_process_sample_size(p, V3_SAMPLE_32), V3_OK);
    EXPECT_NE(pv->proc.can_process_sample_size(p, V3_SAMPLE_64), V3_OK);

    // Separate controller, reachable through getControllerClassId.
    v3_tuid cid{};
    ASSERT_EQ(vt->comp.get_controller_class_id(c, cid), V3_OK);
    EXPECT_EQ(std::memcmp(cid, kControllerCid, 16), 0);
    EXPECT_EQ(query(c, v3_edit_controller_iid), nullptr);
}

TEST_F(Abi, ParameterListHasTheFourControlsAndHiddenMidiControllers) {
    const std::vector<ParamInfo> list = plugin->parameters();
    ASSERT_EQ(list.size(), 4u + 11u * 16u);
    std::set<v3_param_id> ids;
    for (const ParamInfo& p : list) EXPECT_TRUE(ids.insert(p.id).second) << "duplicate id " << p.id;

    const ParamInfo* gain = param("Output Gain");
    const ParamInfo* temperature = param("Temperature");
    const ParamInfo* mode = param("Latency Mode");
    const ParamInfo* lookahead = param("Lookahead");
    ASSERT_TRUE(gain && temperature && mode && lookahead);
    EXPECT_EQ(gain->units, "dB");
    EXPECT_EQ(lookahead->units, "ms");
    for (const ParamInfo* p : {gain, temperature, mode, lookahead}) {
        EXPECT_TRUE(p->flags & V3_PARAM_CAN_AUTOMATE) << p->title;
        EXPECT_FALSE(p->flags & V3_PARAM_IS_HIDDEN) << p->title;
    }
    EXPECT_TRUE(mode->flags & V3_PARAM_IS_LIST);
    EXPECT_EQ(mode->step_count, 2);  // Live, Auto, Studio
    EXPECT_DOUBLE_EQ(mode->default_normalized, 0.5);  // Auto
    EXPECT_EQ(gain->step_count, 0);

    int hidden = 0;
    for (const ParamInfo& p : list)
        if (p.flags & V3_PARAM_IS_HIDDEN) {
            ++hidden;
            EXPECT_NE(p.title.find("MIDI CC "), std::string::npos) << p.title;
        }
    EXPECT_EQ(hidden, 176);
}

TEST_F(Abi, NormalisedAndPlainValuesConvertBothWays) {
    void* c = plugin->controller();
    const ParamInfo* gain = param("Output Gain");
    const ParamInfo* temperature = param("Temperature");
    const ParamInfo* mode = param("Latency Mode");
    const ParamInfo* lookahead = param("Lookahead");
    auto to_plain = [&](const ParamInfo* p, double n) { return ctrl()->ctrl.normalised_parameter_to_plain(c, p->id, n); };
    auto to_norm = [&](const ParamInfo* p, double v) { return ctrl()->ctrl.plain_parameter_to_normalised(c, p->id, v); };

    EXPECT_DOUBLE_EQ(to_plain(gain, 0.0), -60.0);
    EXPECT_DOUBLE_EQ(to_plain(gain, 1.0), 12.0);
    EXPECT_NEAR(to_plain(gain, gain->default_normalized), 0.0, 1e-9);
    EXPECT_NEAR(to_plain(temperature, temperature->default_normalized), 1.0, 1e-9);
    EXPECT_DOUBLE_EQ(to_plain(temperature, 0.0), 0.05);
    EXPECT_DOUBLE_EQ(to_plain(temperature, 1.0), 2.0);
    EXPECT_DOUBLE_EQ(to_plain(lookahead, 1.0), 1000.0);
    // Latency Mode: normalised 0, 0.5, 1 show Live, Auto, Studio; the plain
    // value is the number a state stores (0 live, 1 studio, 2 auto).
    EXPECT_DOUBLE_EQ(to_plain(mode, 0.2), 0.0);
    EXPECT_DOUBLE_EQ(to_plain(mode, 0.4), 2.0);
    EXPECT_DOUBLE_EQ(to_plain(mode, 0.6), 2.0);
    EXPECT_DOUBLE_EQ(to_plain(mode, 0.8), 1.0);
    EXPECT_DOUBLE_EQ(to_norm(mode, 1.0), 1.0);
    EXPECT_DOUBLE_EQ(to_norm(mode, 0.0), 0.0);
    EXPECT_DOUBLE_EQ(to_norm(mode, 2.0), 0.5);
    for (const ParamInfo* p : {gain, temperature, lookahead})
        for (double n : {0.0, 0.125, 0.5, 0.77, 1.0}) EXPECT_NEAR(to_norm(p, to_plain(p, n)), n, 1e-12) << p->title;
    // Out of range clamps.
    EXPECT_DOUBLE_EQ(to_norm(gain, -100.0), 0.0);
    EXPECT_DOUBLE_EQ(to_norm(gain, 100.0), 1.0);
    EXPECT_DOUBLE_EQ(to_plain(gain, 7.0), 12.0);

    // Strings, both ways.
    int16_t text[128];
    ASSERT_EQ(ctrl()->ctrl.get_parameter_string_for_value(c, gain->id, to_norm(gain, -6.0), text), V3_OK);
    EXPECT_EQ(utf16_to_utf8(text, 128), "-6.0");
    ASSERT_EQ(ctrl()->ctrl.get_parameter_string_for_value(c, mode->id, 1.0, text), V3_OK);
    EXPECT_EQ(utf16_to_utf8(text, 128), "Studio");
    ASSERT_EQ(ctrl()->ctrl.get_parameter_string_for_value(c, mode->id, 0.5, text), V3_OK);
    EXPECT_EQ(utf16_to_utf8(text, 128), "Auto");
    ASSERT_EQ(ctrl()->ctrl.get_parameter_string_for_value(c, mode->id, 0.0, text), V3_OK);
    EXPECT_EQ(utf16_to_utf8(text, 128), "Live");
    double n = -1;
    utf8_to_utf16("-12 dB", text, 128);
    ASSERT_EQ(ctrl()->ctrl.get_parameter_value_for_string(c, gain->id, text, &n), V3_OK);
    EXPECT_NEAR(to_plain(gain, n), -12.0, 1e-9);
    utf8_to_utf16("live", text, 128);
    ASSERT_EQ(ctrl()->ctrl.get_parameter_value_for_string(c, mode->id, text, &n), V3_OK);
    EXPECT_EQ(n, 0.0);
    utf8_to_utf16("Auto", text, 128);
    ASSERT_EQ(ctrl()->ctrl.get_parameter_value_for_string(c, mode->id, text, &n), V3_OK);
    EXPECT_EQ(n, 0.5);
    utf8_to_utf16("banana", text, 128);
    EXPECT_NE(ctrl()->ctrl.get_parameter_value_for_string(c, gain->id, text, &n), V3_OK);

    // The controller keeps values; unknown ids are refused.
    EXPECT_EQ(ctrl()->ctrl.set_parameter_normalised(c, gain->id, 0.25), V3_OK);
    EXPECT_DOUBLE_EQ(ctrl()->ctrl.get_parameter_normalised(c, gain->id), 0.25);
    EXPECT_NE(ctrl()->ctrl.set_parameter_normalised(c, 999999, 0.5), V3_OK);
}

TEST_F(Abi, MidiMappingAnswersSustainAllNotesOffPitchBendAndAftertouch) {
    std::set<v3_param_id> ids;
    const std::vector<ParamInfo> list = plugin->parameters();
    auto listed_hidden = [&](v3_param_id id) {
        for (const ParamInfo& p : list)
            if (p.id == id) return (p.flags & V3_PARAM_IS_HIDDEN) != 0;
        return false;
    };
    for (int16_t channel = 0; channel < 16; ++channel)
        for (int16_t cc : {1, 64, 120, 123, 128, 129, 7, 11, 66, 67, 121}) {
            v3_param_id id = 0;
            ASSERT_TRUE(plugin->midi_assignment(channel, cc, id)) << "channel " << channel << " cc " << cc;
            EXPECT_TRUE(listed_hidden(id)) << id;
            EXPECT_TRUE(ids.insert(id).second);
        }
    v3_param_id id = 0;
    EXPECT_FALSE(plugin->midi_assignment(0, 74, id));   // not mapped
    EXPECT_FALSE(plugin->midi_assignment(16, 64, id));  // no such channel
    auto* mm = vtable_of<v3_midi_mapping_cpp>(plugin->midi_mapping());
    EXPECT_NE(mm->map.get_midi_controller_assignment(plugin->midi_mapping(), 1, 0, 64, &id), V3_OK);  // no bus 1

    // Pitch bend rests in the middle; its plain value is the 14-bit number.
    ASSERT_TRUE(plugin->midi_assignment(0, 129, id));
    for (const ParamInfo& p : list)
        if (p.id == id) {
            EXPECT_NEAR(p.default_normalized, 8192.0 / 16383.0, 1e-12);
            EXPECT_EQ(p.step_count, 16383);
        }
    EXPECT_DOUBLE_EQ(ctrl()->ctrl.normalised_parameter_to_plain(plugin->controller(), id, 1.0), 16383.0);
}

TEST_F(Abi, StateRoundTripsThroughANewInstance) {
    const ParamInfo* gain = param("Output Gain");
    const ParamInfo* temperature = param("Temperature");
    const ParamInfo* mode = param("Latency Mode");
    const ParamInfo* lookahead = param("Lookahead");
    // Parameters reach the processor in process(): a 0-frame flush call.
    ASSERT_EQ(plugin->setup(48000, 256, V3_REALTIME), V3_OK);
    ASSERT_EQ(plugin->activate(), V3_OK);
    plugin->input_params().add(gain->id, 0, 0.3);
    plugin->input_params().add(temperature->id, 0, 0.7);
    plugin->input_params().add(mode->id, 0, 1.0);
    plugin->input_params().add(lookahead->id, 0, 0.05);
    PluginInstance::Block flush;
    flush.frames = 0;
    ASSERT_EQ(plugin->process(flush), V3_OK);
    plugin->deactivate();
    const std::vector<uint8_t> state = plugin->save_component_state();
    ASSERT_FALSE(state.empty());

    PluginInstance other(*module);
    // Read in 1-byte pieces: a stream may hand out less than asked.
    ASSERT_EQ(other.load_component_state(state, 1), V3_OK);
    EXPECT_EQ(other.save_component_state(), state);
    void* c = other.controller();
    auto* cv = vtable_of<v3_edit_controller_cpp>(c);
    EXPECT_NEAR(cv->ctrl.get_parameter_normalised(c, gain->id), 0.3, 1e-12);
    EXPECT_NEAR(cv->ctrl.get_parameter_normalised(c, temperature->id), 0.7, 1e-12);
    EXPECT_NEAR(cv->ctrl.get_parameter_normalised(c, mode->id), 1.0, 1e-12);
    EXPECT_NEAR(cv->ctrl.get_parameter_normalised(c, lookahead->id), 0.05, 1e-12);
}

TEST_F(Abi, GarbageOrTruncatedStateGivesDefaultsAndNeverCrashes) {
    const std::vector<uint8_t> defaults = plugin->save_component_state();
    // A valid non-default state to start from.
    ASSERT_EQ(plugin->setup(48000, 256, V3_REALTIME), V3_OK);
    ASSERT_EQ(plugin->activate(), V3_OK);
    plugin->input_params().add(param("Output Gain")->id, 0, 0.9);
    PluginInstance::Block flush;
    ASSERT_EQ(plugin->process(flush), V3_OK);
    plugin->deactivate();
    const std::vector<uint8_t> good = plugin->save_component_state();
    ASSERT_NE(good, defaults);

    auto expect_defaults = [&](const std::vector<uint8_t>& bytes, const std::string& what) {
        ASSERT_EQ(plugin->load_component_state(good), V3_OK);
        EXPECT_NE(plugin->load_component_state(bytes), V3_OK) << what;
        EXPECT_EQ(plugin->save_component_state(), defaults) << what;
    };
    expect_defaults({}, "empty");
    for (size_t n = 1; n < good.size(); ++n) expect_defaults(std::vector<uint8_t>(good.begin(), good.begin() + n), "truncated to " + std::to_string(n));
    std::vector<uint8_t> bad = good;
    bad[0] = 'X';
    expect_defaults(bad, "magic");
    bad = good;
    bad[20] ^= 0x40;
    expect_defaults(bad, "payload bit flip (CRC)");
    bad = good;
    bad[12] = 0xFF, bad[13] = 0xFF, bad[14] = 0xFF, bad[15] = 0x7F;
    expect_defaults(bad, "absurd payload size");
    bad = good;
    bad[8] = bad[9] = bad[10] = bad[11] = 0;
    expect_defaults(bad, "version 0");
    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
        std::vector<uint8_t> noise(rng() % 200);
        for (auto& b : noise) b = static_cast<uint8_t>(rng());
        if (i % 2 == 0 && noise.size() >= 8) std::memcpy(noise.data(), "SOSTcmp1", 8);  // right magic, garbage after
        expect_defaults(noise, "noise " + std::to_string(i));
    }
}

// Byte vectors of version-1 states (gain -6 dB, temperature 0.75, lookahead
// 20 ms) with latency mode 0 and 1, as versions before Auto saved them, and 2
// (Auto) and 7 (unknown: the default, Auto). Old states load unchanged: Live
// stays Live and Studio stays Studio (normalised 0 and 1, as before).
TEST_F(Abi, StatesSavedBeforeAutoLoadTheirLatencyModeUnchanged) {
    auto bytes = [](const char* hex) {
        std::vector<uint8_t> out;
        for (const char* p = hex; p[0] && p[1]; p += 2) out.push_back(static_cast<uint8_t>(std::stoi(std::string(p, 2), nullptr, 16)));
        return out;
    };
    const struct {
        const char* hex;
        double normalized;  // the Latency Mode the controller shows
    } vectors[] = {
        {"534f5354636d7031010000001c00000000000000000018c0000000000000e83f0000000000000000000034407a3f9e87", 0.0},
        {"534f5354636d7031010000001c00000000000000000018c0000000000000e83f01000000000000000000344015733b1c", 1.0},
        {"534f5354636d7031010000001c00000000000000000018c0000000000000e83f020000000000000000003440e5a1a56b", 0.5},
        {"534f5354636d7031010000001c00000000000000000018c0000000000000e83f070000000000000000003440f5d606f3", 0.5},
    };
    const ParamInfo* mode = param("Latency Mode");
    const ParamInfo* gain = param("Output Gain");
    for (const auto& v : vectors) {
        PluginInstance other(*module);
        const std::vector<uint8_t> state = bytes(v.hex);
        ASSERT_EQ(other.load_component_state(state), V3_OK) << v.hex;
        void* c = other.controller();
        auto* cv = vtable_of<v3_edit_controller_cpp>(c);
        EXPECT_DOUBLE_EQ(cv->ctrl.get_parameter_normalised(c, mode->id), v.normalized) << v.hex;
        EXPECT_NEAR(cv->ctrl.normalised_parameter_to_plain(c, gain->id, cv->ctrl.get_parameter_normalised(c, gain->id)), -6.0, 1e-9);
        if (v.normalized != 0.5 || state[32] == 2) EXPECT_EQ(other.save_component_state(), state) << "saved back byte for byte";
    }
}

TEST_F(Abi, ANewerStateVersionKeepsTheFieldsThisVersionKnows) {
    ASSERT_EQ(plugin->setup(48000, 256, V3_REALTIME), V3_OK);
    ASSERT_EQ(plugin->activate(), V3_OK);
    plugin->input_params().add(param("Temperature")->id, 0, 0.6);
    PluginInstance::Block flush;
    ASSERT_EQ(plugin->process(flush), V3_OK);
    plugin->deactivate();
    const std::vector<uint8_t> v1 = plugin->save_component_state();
    // Version 2 = version 1's payload plus 8 more bytes, new CRC.
    std::vector<uint8_t> v2(v1.begin(), v1.end() - 4);
    v2[8] = 2;
    for (int i = 0; i < 8; ++i) v2.push_back(static_cast<uint8_t>(0xA0 + i));
    const uint32_t payload = static_cast<uint32_t>(v2.size() - 16);
    std::memcpy(&v2[12], &payload, 4);
    const uint32_t crc = test::crc32(v2.data() + 16, payload);
    for (int i = 0; i < 4; ++i) v2.push_back(static_cast<uint8_t>(crc >> (8 * i)));

    PluginInstance other(*module);
    ASSERT_EQ(other.load_component_state(v2), V3_OK);
    EXPECT_EQ(other.save_component_state(), v1);
}

// ---- processing without an engine ----

TEST_F(Abi, RealtimeWithoutEngineIsSilentCountsUnderrunsAndKeepsAnswering) {
    ASSERT_EQ(plugin->setup(48000, 512, V3_REALTIME), V3_OK);
    ASSERT_EQ(plugin->activate(), V3_OK);
    const uint32_t latency = plugin->latency();
    EXPECT_GT(latency, 0u);
    std::vector<float> left(512, 1.0f), right(512, 1.0f);
    v3_param_id sustain = 0;
    ASSERT_TRUE(plugin->midi_assignment(0, 64, sustain));
    uint64_t total = 0;
    std::mt19937 rng(3);
    for (int block = 0; block < 300; ++block) {
        const int32_t n = block % 10 == 9 ? 0 : static_cast<int32_t>(1 + rng() % 512);  // varying, with 0-frame calls
        std::fill(left.begin(), left.end(), 1.0f);
        std::fill(right.begin(), right.end(), 1.0f);
        plugin->input_events().clear();
        plugin->input_params().clear();
        if (n > 0) {
            plugin->input_events().add(test::note_on(0, 60, 0.8f, n / 2));
            plugin->input_params().add(sustain, n - 1, block % 2 ? 1.0 : 0.0);
        }
        PluginInstance::Block b;
        b.frames = n;
        b.outputs[0] = left.data();
        b.outputs[1] = right.data();
        ASSERT_EQ(plugin->process(b), V3_OK);
        for (int32_t i = 0; i < n; ++i) ASSERT_EQ(left[i], 0.0f) << "block " << block << " frame " << i;
        for (int32_t i = 0; i < n; ++i) ASSERT_EQ(right[i], 0.0f);
        if (n > 0) {
            EXPECT_EQ(plugin->last_silence_flags(), 3u);
        }
        total += static_cast<uint64_t>(n);
    }
    sostenuto_stats s{};
    ASSERT_TRUE(plugin->stats(s));
    EXPECT_EQ(s.sessions, 0u);
    EXPECT_EQ(s.engine_connected, 0u);
    EXPECT_EQ(s.stream_time, total);
    EXPECT_GT(s.underrun_blocks, 200u);  // every block with render time >= 0
    EXPECT_EQ(s.missing_frames, total - latency);
    EXPECT_EQ(s.zero_frame_calls, 30u);
    EXPECT_NE(std::string(s.last_error).find("none.sock"), std::string::npos) << s.last_error;
    // Still answering.
    EXPECT_EQ(plugin->latency(), latency);
    EXPECT_EQ(plugin->deactivate(), V3_OK);
    EXPECT_EQ(plugin->activate(), V3_OK);
}

TEST_F(Abi, OfflineWithoutEngineDoesNotHang) {
    ASSERT_EQ(plugin->setup(44100, 1024, V3_OFFLINE), V3_OK);
    ASSERT_EQ(plugin->activate(), V3_OK);
    std::vector<float> left(1024), right(1024);
    const auto start = std::chrono::steady_clock::now();
    for (int block = 0; block < 200; ++block) {
        PluginInstance::Block b;
        b.frames = 1024;
        b.process_mode = V3_OFFLINE;
        b.outputs[0] = left.data();
        b.outputs[1] = right.data();
        ASSERT_EQ(plugin->process(b), V3_OK);
        for (float v : left) ASSERT_EQ(v, 0.0f);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    sostenuto_stats s{};
    ASSERT_TRUE(plugin->stats(s));
    EXPECT_EQ(s.offline_waits, 0u);  // nothing to wait for without an engine
    EXPECT_EQ(s.last_process_mode, static_cast<uint32_t>(V3_OFFLINE));
}

TEST_F(Abi, OddHostCallsAreSurvived) {
    ASSERT_EQ(plugin->setup(48000, 64, V3_REALTIME), V3_OK);
    ASSERT_EQ(plugin->activate(), V3_OK);
    std::vector<float> mono(300, 1.0f);
    PluginInstance::Block b;
    b.frames = 300;  // more than the announced maximum
    b.outputs[0] = mono.data();
    b.output_channels = 1;
    EXPECT_EQ(plugin->process(b), V3_OK);
    for (float v : mono) ASSERT_EQ(v, 0.0f);
    b.no_output_bus = true;  // no buffers at all
    EXPECT_EQ(plugin->process(b), V3_OK);
    // Events with offsets outside the block, bad pitches, other buses.
    plugin->input_events().add(test::note_on(0, 60, 1.0f, -5));
    plugin->input_events().add(test::note_on(0, 200, 1.0f, 10));
    v3_event other_bus = test::note_on(0, 61, 1.0f, 3);
    other_bus.bus_index = 3;
    plugin->input_events().add(other_bus);
    plugin->input_params().add(12345678, 0, 0.5);  // unknown parameter
    plugin->input_params().add(0, 1000000, 7.0);   // gain: offset and value out of range
    b.no_output_bus = false;
    b.output_channels = 1;
    EXPECT_EQ(plugin->process(b), V3_OK);
    v3_process_data* null_data = nullptr;
    EXPECT_NE(vtable_of<v3_audio_processor_cpp>(plugin->processor())->proc.process(plugin->processor(), null_data), V3_OK);
    // setupProcessing with nonsense.
    EXPECT_EQ(plugin->deactivate(), V3_OK);
    v3_process_setup bad{V3_REALTIME, V3_SAMPLE_32, 0, 48000};
    EXPECT_NE(vtable_of<v3_audio_processor_cpp>(plugin->processor())->proc.setup_processing(plugin->processor(), &bad), V3_OK);
    v3_process_setup nan_rate{V3_REALTIME, V3_SAMPLE_32, 512, std::nan("")};
    EXPECT_NE(vtable_of<v3_audio_processor_cpp>(plugin->processor())->proc.setup_processing(plugin->processor(), &nan_rate), V3_OK);
    // Activation twice, deactivation twice.
    EXPECT_EQ(plugin->activate(), V3_OK);
    EXPECT_EQ(vtable_of<v3_component_cpp>(plugin->component())->comp.set_active(plugin->component(), 1), V3_OK);
}

TEST_F(Abi, LatencyFollowsTheStudioLookaheadAndTheControllerAsksForARestart) {
    ASSERT_EQ(plugin->setup(48000, 256, V3_REALTIME), V3_OK);
    const ParamInfo* mode = param("Latency Mode");
    const ParamInfo* lookahead = param("Lookahead");
    void* c = plugin->controller();
    // Studio is the default; live mode reports its small latency (a block and 2 ms here, no engine).
    ctrl()->ctrl.set_parameter_normalised(c, mode->id, 0.0);
    EXPECT_TRUE(plugin->handler().pending_restart_flags.exchange(0) & V3_RESTART_LATENCY_CHANGED);
    const uint32_t live = plugin->latency();
    EXPECT_EQ(live, 256u + 96u);
    // Lookahead alone does nothing in live mode (L = 0 there)...
    ctrl()->ctrl.set_parameter_normalised(c, lookahead->id, ctrl()->ctrl.plain_parameter_to_normalised(c, lookahead->id, 100.0));
    EXPECT_EQ(plugin->latency(), live);
    EXPECT_GT(plugin->handler().restart_calls.load(), 0);
    EXPECT_TRUE(plugin->handler().pending_restart_flags.exchange(0) & V3_RESTART_LATENCY_CHANGED);
    // ...in studio mode it adds 100 ms (4800 samples) to a studio slack.
    ctrl()->ctrl.set_parameter_normalised(c, mode->id, 1.0);
    EXPECT_TRUE(plugin->handler().pending_restart_flags.exchange(0) & V3_RESTART_LATENCY_CHANGED);
    const uint32_t studio = plugin->latency();
    EXPECT_GE(studio, live + 4800u);
    // The same value again: no restart.
    const int calls = plugin->handler().restart_calls.load();
    ctrl()->ctrl.set_parameter_normalised(c, mode->id, 1.0);
    EXPECT_EQ(plugin->handler().restart_calls.load(), calls);
    // It came through the host's IHostApplication::createInstance message.
    EXPECT_GT(plugin->application().messages_created.load(), 0);
    // Tail: latency plus the documented release time.
    EXPECT_EQ(plugin->tail(), studio + 2u * 48000u);
}

TEST_F(Abi, TransportStopsAndJumpsAreCounted) {
    ASSERT_EQ(plugin->setup(48000, 128, V3_REALTIME), V3_OK);
    ASSERT_EQ(plugin->activate(), V3_OK);
    std::vector<float> l(128), r(128);
    v3_process_context ctx{};
    ctx.sample_rate = 48000;
    auto run = [&](bool playing, int64_t position) {
        ctx.state = playing ? V3_PROCESS_CTX_PLAYING : 0;
        ctx.project_time_in_samples = position;
        PluginInstance::Block b;
        b.frames = 128;
        b.outputs[0] = l.data();
        b.outputs[1] = r.data();
        b.context = &ctx;
        ASSERT_EQ(plugin->process(b), V3_OK);
    };
    run(true, 0);
    run(true, 128);
    run(true, 256);        // continuous: nothing
    run(true, 48000);      // jump: 1
    run(true, 48128);
    run(false, 48256);     // stop: 2
    run(false, 48256);
    run(false, 0);         // locate while stopped: nothing
    run(true, 0);          // start: 3
    sostenuto_stats s{};
    ASSERT_TRUE(plugin->stats(s));
    EXPECT_EQ(s.transport_flushes, 3u);
}

TEST_F(Abi, ProcessModeIsReadFromEveryBlock) {
    // Ardour 7.3: setupProcessing says realtime once; export blocks say offline.
    ASSERT_EQ(plugin->setup(48000, 128, V3_REALTIME), V3_OK);
    ASSERT_EQ(plugin->activate(), V3_OK);
    std::vector<float> l(128), r(128);
    for (int32_t mode : {V3_REALTIME, V3_OFFLINE, V3_OFFLINE, V3_REALTIME, V3_OFFLINE}) {
        PluginInstance::Block b;
        b.frames = 128;
        b.process_mode = mode;
        b.outputs[0] = l.data();
        b.outputs[1] = r.data();
        ASSERT_EQ(plugin->process(b), V3_OK);
        sostenuto_stats s{};
        ASSERT_TRUE(plugin->stats(s));
        EXPECT_EQ(s.last_process_mode, static_cast<uint32_t>(mode));
    }
    sostenuto_stats s{};
    ASSERT_TRUE(plugin->stats(s));
    EXPECT_EQ(s.process_mode_changes, 3u);
}

}  // namespace
}  // namespace sostenuto::host
