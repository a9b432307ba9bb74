// Auto latency through the plug-in (the VST3 adapter over
// bridge::InstrumentPaths), with two mock engine links: the studio session
// whose latency the host is told, and the live session beside it. The host
// state flags (kPlaying, kRecording, processMode kOffline) decide the path of
// each note-on; a note ends on the path it started on (docs/live-mode.md, "Auto").
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <vector>

#include "mock_engine.h"
#include "parameters.h"
#include "plugin_host.h"
#include "test_support.h"

extern "C" void* GetPluginFactory();

namespace sostenuto::test {
namespace {

using host::PluginInstance;
using host::PluginModule;

constexpr int32_t kBlock = 128;

class Auto : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv("SOSTENUTO_VST3_LOG", "0", 1);
        studio.total_latency = 4000;  // D_studio: what the host is told
        live.total_latency = 300;     // D_live
        vst3::engine_link_factory() = [this] { return std::make_unique<MockLink>(studio); };
        vst3::live_engine_link_factory() = [this] { return std::make_unique<MockLink>(live); };
        module = std::make_unique<PluginModule>(GetPluginFactory());
        plugin = std::make_unique<PluginInstance>(*module);
        ASSERT_EQ(plugin->setup(48000, kBlock, V3_REALTIME), V3_OK);
        studio.welcome();  // before activation: the host reads the studio session's D
        ASSERT_EQ(plugin->activate(), V3_OK);
        live.welcome();
        left.assign(kBlock, 0.0f);
        right = left;
    }
    void TearDown() override {
        plugin.reset();
        module.reset();
        vst3::live_engine_link_factory() = nullptr;
    }

    // One block at the transport state `flags`; `fill` adds events.
    std::vector<float> run(std::uint32_t flags, int32_t mode = V3_REALTIME, const std::function<void(PluginInstance&)>& fill = {}) {
        plugin->input_events().clear();
        plugin->input_params().clear();
        if (fill) fill(*plugin);
        ctx.state = flags;
        ctx.project_time_in_samples = position;
        PluginInstance::Block b;
        b.frames = kBlock;
        b.process_mode = mode;
        b.outputs[0] = left.data();
        b.outputs[1] = right.data();
        b.context = &ctx;
        EXPECT_EQ(plugin->process(b), V3_OK);
        if (flags & V3_PROCESS_CTX_PLAYING) position += kBlock;
        return left;
    }
    static std::vector<Sent> notes(const MockEngine& e) {
        std::vector<Sent> out;
        for (const Sent& s : e.of_kind(Sent::events))
            if ((s.status & 0xE0) == 0x80) out.push_back(s);
        return out;
    }

    MockEngine studio, live;
    std::unique_ptr<PluginModule> module;
    std::unique_ptr<PluginInstance> plugin;
    std::vector<float> left, right;
    v3_process_context ctx{};
    std::int64_t position = 0;
};

static constexpr std::uint32_t kStopped = 0, kPlaying = V3_PROCESS_CTX_PLAYING,
                               kRecording = V3_PROCESS_CTX_PLAYING | V3_PROCESS_CTX_RECORDING;

TEST_F(Auto, IsTheDefaultAndReportsTheStudioLatency) {
    EXPECT_EQ(plugin->latency(), 4000u);
    ASSERT_EQ(studio.opens.size(), 1u);
    ASSERT_EQ(live.opens.size(), 1u);
    EXPECT_EQ(studio.opens[0].latency_mode, bridge::LatencyMode::studio);
    EXPECT_EQ(live.opens[0].latency_mode, bridge::LatencyMode::live);
    EXPECT_EQ(live.opens[0].requested_lookahead_samples, 0u);
    EXPECT_NE(live.opens[0].instance_id, studio.opens[0].instance_id);
}

// Stopped: the key goes to the live session only, at its sample.
TEST_F(Auto, AKeyIntoAStoppedHostTakesTheLivePath) {
    run(kStopped);
    run(kStopped, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_on(0, 60, 0.8f, 10)); });
    const auto on_live = notes(live);
    ASSERT_EQ(on_live.size(), 1u);
    EXPECT_EQ(on_live[0].status, 0x90);
    EXPECT_EQ(on_live[0].time, kBlock + 10u);  // both sessions started at stream time 0
    EXPECT_TRUE(notes(studio).empty());
}

// Timeline playback: the studio session; recording: the live one.
TEST_F(Auto, TimelinePlaybackTakesTheStudioPathAndRecordingTheLivePath) {
    run(kPlaying, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_on(0, 50, 0.8f, 0)); });
    run(kRecording, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_on(0, 70, 0.8f, 0)); });
    ASSERT_EQ(notes(studio).size(), 1u);
    EXPECT_EQ(notes(studio)[0].data1, 50);
    ASSERT_EQ(notes(live).size(), 1u);
    EXPECT_EQ(notes(live)[0].data1, 70);
}

// A key held across the transport start stays live and gets its note-off
// there; the start flushes the studio session only (the live one never hears the transport).
TEST_F(Auto, KeyHeldAcrossTransportStartEndsOnTheLivePath) {
    run(kStopped, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_on(0, 60, 0.8f, 5)); });
    run(kPlaying, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_on(0, 64, 0.8f, 5)); });
    run(kPlaying, V3_REALTIME, [](PluginInstance& p) {
        p.input_events().add(note_off(0, 60, 0.5f, 7));
        p.input_events().add(note_off(0, 64, 0.5f, 8));
    });
    const auto l = notes(live), s = notes(studio);
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[1].status, 0x80);
    EXPECT_EQ(l[1].data1, 60);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].data1, 64);
    EXPECT_EQ(s[1].data1, 64);
    EXPECT_EQ(studio.of_kind(Sent::flush).size(), 1u);  // the start
    EXPECT_TRUE(live.of_kind(Sent::flush).empty());
}

// Record on and off while playing, and a jump: keys end where they started.
TEST_F(Auto, PunchInAndOutAndJumpKeepEachKeyOnItsPath) {
    run(kPlaying, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_on(0, 40, 0.8f, 0)); });
    run(kRecording, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_on(0, 72, 0.8f, 0)); });
    position += 48000;  // a jump (loop recording)
    run(kRecording, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_off(0, 40, 0.5f, 0)); });
    run(kPlaying, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_off(0, 72, 0.5f, 0)); });
    const auto l = notes(live), s = notes(studio);
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].data1, 72);
    EXPECT_EQ(l[1].data1, 72);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].data1, 40);
    EXPECT_EQ(s[1].data1, 40);
}

// Offline blocks are always studio, whatever the flags; the live session gets no clock for them.
TEST_F(Auto, OfflineIsAlwaysStudio) {
    run(kStopped);
    const std::size_t live_clocks = live.of_kind(Sent::clock).size();
    for (std::uint32_t flags : {kStopped, kPlaying, kRecording})
        run(flags, V3_OFFLINE, [](PluginInstance& p) { p.input_events().add(note_on(0, 60, 0.8f, 0)); });
    EXPECT_EQ(notes(studio).size(), 3u);
    EXPECT_TRUE(notes(live).empty());
    EXPECT_EQ(live.of_kind(Sent::clock).size(), live_clocks);
}

// With nothing played live, timeline playback is the studio session's audio
// alone (so it equals the bounce); while stopped, the live session is heard too.
TEST_F(Auto, TimelinePlaybackIsTheStudioSessionAlone) {
    MockEngine reference;
    reference.total_latency = 4000;
    std::vector<float> expected;
    {
        vst3::engine_link_factory() = [&] { return std::make_unique<MockLink>(reference); };
        vst3::live_engine_link_factory() = nullptr;
        PluginInstance other(*module);
        ASSERT_EQ(other.setup(48000, kBlock, V3_REALTIME), V3_OK);
        reference.welcome();
        ASSERT_EQ(other.activate(), V3_OK);
        std::vector<float> l(kBlock), r(kBlock);
        v3_process_context c{};
        c.state = kPlaying;
        for (int i = 0; i < 40; ++i) {
            PluginInstance::Block b;
            b.frames = kBlock;
            b.outputs[0] = l.data();
            b.outputs[1] = r.data();
            b.context = &c;
            ASSERT_EQ(other.process(b), V3_OK);
            c.project_time_in_samples += kBlock;
            expected.insert(expected.end(), l.begin(), l.end());
        }
    }
    std::vector<float> got;
    for (int i = 0; i < 40; ++i) {
        const auto out = run(kPlaying);
        got.insert(got.end(), out.begin(), out.end());
    }
    EXPECT_EQ(got, expected);
    // Stopped: the live session's audio is mixed in (after the gain ramp of one block).
    run(kStopped);
    const auto stopped = run(kStopped);
    bool differs = false;
    for (int i = 0; i < kBlock; ++i) differs |= stopped[static_cast<std::size_t>(i)] != expected[static_cast<std::size_t>(i)];
    EXPECT_TRUE(differs);
}

// While the live session does not run (its engine died, or it is still
// starting), a key into a stopped host takes the studio path: late, not lost;
// it ends there after the live session is back, and the next key goes live.
TEST_F(Auto, UntilTheLiveSessionRunsLiveKeysTakeTheStudioPath) {
    run(kStopped);
    live.kill();
    run(kStopped, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_on(0, 60, 0.8f, 0)); });
    live.welcome();
    run(kStopped, V3_REALTIME, [](PluginInstance& p) {
        p.input_events().add(note_off(0, 60, 0.5f, 0));
        p.input_events().add(note_on(0, 62, 0.8f, 1));
    });
    const auto s = notes(studio), l = notes(live);
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].data1, 60);
    EXPECT_EQ(s[1].status, 0x80);
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].data1, 62);
}

TEST_F(Auto, LiveAndStudioStayExplicitChoicesWithOneSession) {
    void* c = plugin->controller();
    ASSERT_NE(c, nullptr);
    auto* ctrl = host::vtable_of<v3_edit_controller_cpp>(c);
    for (double normalized : {0.0, 1.0}) {
        ctrl->ctrl.set_parameter_normalised(c, vst3::kParamLatencyMode, normalized);
        plugin->deactivate();
        const std::size_t live_opens = live.opens.size();
        ASSERT_EQ(plugin->activate(), V3_OK);
        EXPECT_EQ(live.opens.size(), live_opens) << normalized;  // no live session beside
        EXPECT_EQ(studio.opens.back().latency_mode, normalized == 0.0 ? bridge::LatencyMode::live : bridge::LatencyMode::studio);
    }
}

}  // namespace
}  // namespace sostenuto::test
