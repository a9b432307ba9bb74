// One instrument core under both front ends: the same MIDI - held keys, a key
// only the pedal holds, controllers, pitch bend, channel pressure - played
// into the VST3 plug-in (note events and mapped-controller parameters, as a
// host delivers them) and into sostenuto-jack's core (raw MIDI, as JACK
// delivers it). The engine is killed and another takes over: both front ends
// tell the new session the same parameters and the same MIDI state, at the
// new session's time 0.
//
// The engine is the plug-in tests' scripted one (mock_engine.h): sessions
// begin and end when the test says, so nothing here depends on timing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "instrument_core.h"  // standalone/src
#include "mock_engine.h"
#include "parameters.h"
#include "plugin_host.h"
#include "test_support.h"

extern "C" void* GetPluginFactory();

namespace sostenuto::test {
namespace {

using host::PluginInstance;
using host::PluginModule;

constexpr std::int32_t kBlock = 128;

// One MIDI message at a frame of the first block (each at its own frame, so
// the order is the same however a front end groups its input).
struct Played {
    std::int32_t offset;
    std::uint8_t status, data1, data2;
};
const std::vector<Played> kPerformance = {
    {2, 0xB0, 7, 100},    // volume, channel 1
    {3, 0xB0, 1, 20},     // mod wheel
    {10, 0xB0, 64, 127},  // sustain pedal down
    {11, 0x90, 60, 100},  // a key ...
    {12, 0x90, 64, 90},   // ... and another
    {20, 0x80, 60, 64},   // the first released: the pedal holds it
    {30, 0xE1, 0x7F, 0x7F},  // pitch bend up, channel 2
    {40, 0xD0, 64, 0},    // channel pressure, channel 1
    {50, 0xB2, 11, 64},   // expression, channel 3
    {60, 0x92, 67, 127},  // a key on channel 3
};

struct Restored {
    std::uint64_t time;
    std::uint8_t status, data1, data2;
    bool operator==(const Restored& o) const {
        return time == o.time && status == o.status && data1 == o.data1 && data2 == o.data2;
    }
};
std::vector<Restored> events_of(const MockEngine& engine, std::uint64_t epoch) {
    std::vector<Restored> out;
    for (const Sent& s : engine.of_kind(Sent::events, epoch)) out.push_back({s.time, s.status, s.data1, s.data2});
    return out;
}
std::vector<std::pair<std::uint32_t, float>> parameters_of(const MockEngine& engine, std::uint64_t epoch) {
    std::vector<std::pair<std::uint32_t, float>> out;
    for (const Sent& s : engine.of_kind(Sent::parameter, epoch)) out.emplace_back(s.parameter_id, s.value);
    return out;
}

// The plug-in, as a VST3 host drives it.
class PlugInFrontEnd {
public:
    PlugInFrontEnd() {
        ::setenv("SOSTENUTO_VST3_LOG", "0", 1);
        vst3::engine_link_factory() = [this] { return std::make_unique<MockLink>(engine); };
        vst3::live_engine_link_factory() = nullptr;  // one link: tests that want Auto's live link set it
        module_ = std::make_unique<PluginModule>(GetPluginFactory());
        plugin_ = std::make_unique<PluginInstance>(*module_);
        EXPECT_EQ(plugin_->setup(48000, kBlock, V3_REALTIME), V3_OK);
        EXPECT_EQ(plugin_->activate(), V3_OK);
    }
    ~PlugInFrontEnd() {
        plugin_.reset();
        module_.reset();
    }
    void block(const std::vector<Played>& midi = {}) {
        plugin_->input_events().clear();
        plugin_->input_params().clear();
        for (const Played& m : midi) {
            const std::int16_t channel = m.status & 0x0F;
            switch (m.status & 0xF0) {
                case 0x90: plugin_->input_events().add(note_on(channel, m.data1, m.data2 / 127.0f, m.offset)); break;
                case 0x80: plugin_->input_events().add(note_off(channel, m.data1, m.data2 / 127.0f, m.offset)); break;
                case 0xB0: plugin_->input_params().add(mapped(channel, m.data1), m.offset, m.data2 / 127.0); break;
                case 0xD0: plugin_->input_params().add(mapped(channel, vst3::kControllerAftertouch), m.offset, m.data1 / 127.0); break;
                case 0xE0:
                    plugin_->input_params().add(mapped(channel, vst3::kControllerPitchBend), m.offset,
                                                (m.data1 | (m.data2 << 7)) / 16383.0);
                    break;
                default: ADD_FAILURE() << "VST3 has no way to deliver status " << int{m.status};
            }
        }
        std::vector<float> left(kBlock), right(kBlock);
        PluginInstance::Block b;
        b.frames = kBlock;
        b.process_mode = V3_REALTIME;
        b.outputs[0] = left.data();
        b.outputs[1] = right.data();
        EXPECT_EQ(plugin_->process(b), V3_OK);
    }
    MockEngine engine;

private:
    v3_param_id mapped(std::int16_t channel, std::int16_t controller) {
        v3_param_id id = 0;
        EXPECT_TRUE(plugin_->midi_assignment(channel, controller, id)) << controller;
        return id;
    }
    std::unique_ptr<PluginModule> module_;
    std::unique_ptr<PluginInstance> plugin_;
};

// sostenuto-jack's core, as its JACK process callback drives it (with the
// plug-in's default engine parameters, so that both have the same to tell).
class JackFrontEnd {
public:
    JackFrontEnd() : link_(engine), core_(link_) {
        core_.set_engine_parameters(static_cast<float>(vst3::main_param(vst3::kParamTemperature).default_plain),
                                    bridge::latency_choice_from(static_cast<std::uint32_t>(
                                        vst3::main_param(vst3::kParamLatencyMode).default_plain)),
                                    static_cast<float>(vst3::main_param(vst3::kParamLookahead).default_plain));
        std::string error;
        EXPECT_TRUE(link_.start(vst3::EngineConfig{}, nullptr, error)) << error;
    }
    void block(const std::vector<Played>& midi = {}) {
        core_.begin_period(kBlock);
        for (const Played& m : midi) {
            const std::uint8_t bytes[] = {m.status, m.data1, m.data2};
            core_.add_midi(static_cast<std::uint32_t>(m.offset), bytes, (m.status & 0xF0) == 0xD0 || (m.status & 0xF0) == 0xC0 ? 2 : 3);
        }
        std::vector<float> left(kBlock), right(kBlock);
        core_.end_period(left.data(), right.data());
    }
    MockEngine engine;

private:
    MockLink link_;
    standalone::InstrumentCore core_;
};

// Plays the performance, kills the engine, plays on without one, lets a new
// engine take over, and plays one more block: the new session's first.
template <typename FrontEnd>
void perform_through_an_engine_restart(FrontEnd& front_end, const std::vector<Played>& performance) {
    front_end.block(performance);
    front_end.block();
    front_end.engine.kill();
    front_end.block();  // no session: silence, nothing sent
    front_end.engine.welcome();
    front_end.block();
}

TEST(BothFrontEnds, ReSendTheSameStateToANewEngine) {
    PlugInFrontEnd plugin;
    JackFrontEnd jack;
    perform_through_an_engine_restart(plugin, kPerformance);
    perform_through_an_engine_restart(jack, kPerformance);

    EXPECT_EQ(events_of(plugin.engine, 1), events_of(jack.engine, 1)) << "the performance itself";
    const std::vector<Restored> told = events_of(plugin.engine, 2);
    const std::vector<Restored> expected = {
        {0, 0xB0, 1, 20},     // channel 1's controllers, in order: mod wheel,
        {0, 0xB0, 7, 100},    // volume,
        {0, 0xB0, 64, 127},   // the pedal before the notes it holds;
        {0, 0xD0, 64, 0},     // its pressure
        {0, 0xE1, 0x7F, 0x7F},  // channel 2's bend
        {0, 0xB2, 11, 64},    // channel 3's expression
        {0, 0x90, 60, 100},   // released under the pedal: on, then off, so the pedal holds it
        {0, 0x80, 60, 64},
        {0, 0x90, 64, 90},    // held
        {0, 0x92, 67, 127},   // held, channel 3
    };
    EXPECT_EQ(told, expected);
    EXPECT_EQ(events_of(jack.engine, 2), told) << "sostenuto-jack tells the new engine what the plug-in tells it";
    EXPECT_EQ(parameters_of(plugin.engine, 2), parameters_of(jack.engine, 2));
    EXPECT_EQ(parameters_of(plugin.engine, 2).size(), 3u) << "every engine parameter, at the session's start";
}

// A program change is state too; VST3 hosts do not deliver them to an
// instrument, so only sostenuto-jack ever has one to tell.
TEST(BothFrontEnds, AProgramChangeIsToldFirst) {
    JackFrontEnd jack;
    std::vector<Played> performance = kPerformance;
    performance.push_back({70, 0xC0, 5, 0});
    perform_through_an_engine_restart(jack, performance);
    const std::vector<Restored> told = events_of(jack.engine, 2);
    ASSERT_FALSE(told.empty());
    EXPECT_EQ(told[0], (Restored{0, 0xC0, 5, 0}));
    EXPECT_EQ(told.size(), 11u);
}

// ---- Auto: both front ends route the same MIDI to the same paths -------------

// What a block is: its MIDI and whether the timeline plays (VST3 kPlaying,
// JACK's transport rolling).
struct AutoBlock {
    bool playing;
    std::vector<Played> midi;
};
// A key down while stopped and the pedal; the transport starts (a timeline
// note); the held key, the timeline note and the pedal end; the transport
// stops and another key is played.
const std::vector<AutoBlock> kAutoPerformance = {
    {false, {{10, 0x90, 60, 100}, {12, 0xB0, 64, 127}}},
    {true, {{5, 0x90, 64, 90}}},
    {true, {{7, 0x80, 60, 64}, {8, 0x80, 64, 64}, {9, 0xB0, 64, 0}}},
    {false, {{3, 0x90, 67, 80}}},
    {false, {{3, 0x80, 67, 0}}},
};

class AutoPlugIn {
public:
    AutoPlugIn() {
        ::setenv("SOSTENUTO_VST3_LOG", "0", 1);
        vst3::engine_link_factory() = [this] { return std::make_unique<MockLink>(studio); };
        vst3::live_engine_link_factory() = [this] { return std::make_unique<MockLink>(live); };
        module_ = std::make_unique<PluginModule>(GetPluginFactory());
        plugin_ = std::make_unique<PluginInstance>(*module_);
        EXPECT_EQ(plugin_->setup(48000, kBlock, V3_REALTIME), V3_OK);
        EXPECT_EQ(plugin_->activate(), V3_OK);
    }
    ~AutoPlugIn() {
        plugin_.reset();
        module_.reset();
        vst3::live_engine_link_factory() = nullptr;
    }
    void block(const AutoBlock& a) {
        plugin_->input_events().clear();
        plugin_->input_params().clear();
        for (const Played& m : a.midi) {
            if ((m.status & 0xF0) == 0x90) plugin_->input_events().add(note_on(0, m.data1, m.data2 / 127.0f, m.offset));
            if ((m.status & 0xF0) == 0x80) plugin_->input_events().add(note_off(0, m.data1, m.data2 / 127.0f, m.offset));
            if ((m.status & 0xF0) == 0xB0) {
                v3_param_id id = 0;
                EXPECT_TRUE(plugin_->midi_assignment(0, m.data1, id));
                plugin_->input_params().add(id, m.offset, m.data2 / 127.0);
            }
        }
        ctx_.state = a.playing ? V3_PROCESS_CTX_PLAYING : 0;
        ctx_.project_time_in_samples = position_;
        std::vector<float> left(kBlock), right(kBlock);
        PluginInstance::Block b;
        b.frames = kBlock;
        b.outputs[0] = left.data();
        b.outputs[1] = right.data();
        b.context = &ctx_;
        EXPECT_EQ(plugin_->process(b), V3_OK);
        if (a.playing) position_ += kBlock;
    }
    MockEngine studio, live;

private:
    std::unique_ptr<PluginModule> module_;
    std::unique_ptr<PluginInstance> plugin_;
    v3_process_context ctx_{};
    std::int64_t position_ = 0;
};

class AutoJack {
public:
    AutoJack() : studio_link_(studio), live_link_(live), core_(studio_link_, &live_link_) {
        core_.set_engine_parameters(1.0f, bridge::LatencyChoice::automatic, 0.0f);
        std::string error;
        EXPECT_TRUE(studio_link_.start(vst3::EngineConfig{}, nullptr, error)) << error;
        EXPECT_TRUE(live_link_.start(vst3::EngineConfig{}, nullptr, error)) << error;
    }
    void block(const AutoBlock& a) {
        core_.begin_period(kBlock, 0, false, a.playing, position_);
        for (const Played& m : a.midi) {
            const std::uint8_t bytes[] = {m.status, m.data1, m.data2};
            core_.add_midi(static_cast<std::uint32_t>(m.offset), bytes, 3);
        }
        std::vector<float> left(kBlock), right(kBlock);
        core_.end_period(left.data(), right.data());
        if (a.playing) position_ += kBlock;
    }
    MockEngine studio, live;

private:
    MockLink studio_link_, live_link_;
    standalone::InstrumentCore core_;
    std::int64_t position_ = 0;
};

std::vector<Restored> all_events(const MockEngine& engine) {
    std::vector<Restored> out;
    for (const Sent& s : engine.of_kind(Sent::events)) out.push_back({s.time, s.status, s.data1, s.data2});
    return out;
}

TEST(BothFrontEnds, RouteTheSameMidiToTheSamePathsInAuto) {
    AutoPlugIn plugin;
    AutoJack jack;
    for (const AutoBlock& b : kAutoPerformance) {
        plugin.block(b);
        jack.block(b);
    }
    const std::vector<Restored> expected_live = {
        {10, 0x90, 60, 100},
        {12, 0xB0, 64, 127},
        {2 * kBlock + 7, 0x80, 60, 64},  // the held key ends on the live path
        {2 * kBlock + 9, 0xB0, 64, 0},   // the pedal reaches both paths
        {3 * kBlock + 3, 0x90, 67, 80},  // stopped again: live
        {4 * kBlock + 3, 0x80, 67, 0},
    };
    const std::vector<Restored> expected_studio = {
        {12, 0xB0, 64, 127},
        {kBlock + 5, 0x90, 64, 90},  // the timeline's note
        {2 * kBlock + 8, 0x80, 64, 64},
        {2 * kBlock + 9, 0xB0, 64, 0},
    };
    EXPECT_EQ(all_events(plugin.live), expected_live);
    EXPECT_EQ(all_events(plugin.studio), expected_studio);
    EXPECT_EQ(all_events(jack.live), all_events(plugin.live)) << "sostenuto-jack routes as the plug-in does";
    EXPECT_EQ(all_events(jack.studio), all_events(plugin.studio));
    // The transport start and stop flush the studio session only, in both.
    EXPECT_EQ(plugin.studio.of_kind(Sent::flush).size(), 2u);
    EXPECT_EQ(jack.studio.of_kind(Sent::flush).size(), 2u);
    EXPECT_TRUE(plugin.live.of_kind(Sent::flush).empty());
    EXPECT_TRUE(jack.live.of_kind(Sent::flush).empty());
}

}  // namespace
}  // namespace sostenuto::test
