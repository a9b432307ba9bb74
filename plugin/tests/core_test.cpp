// The shim's timing model and processing, with a mock engine link: the plug-in's
// code is linked into the test and created through its own factory, so
// everything still goes through the VST3 ABI; only the engine is simulated.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <random>
#include <thread>

#include "mock_engine.h"
#include "parameters.h"
#include "plugin_host.h"
#include "test_support.h"

extern "C" void* GetPluginFactory();

namespace sostenuto::test {
namespace {

using host::PluginInstance;
using host::PluginModule;

class Core : public ::testing::Test {
protected:
    void SetUp() override {
        ::setenv("SOSTENUTO_VST3_LOG", "0", 1);
        vst3::engine_link_factory() = [this] { return std::make_unique<MockLink>(engine); };
        vst3::live_engine_link_factory() = nullptr;  // one link: tests that want Auto's live link set it
        module = std::make_unique<PluginModule>(GetPluginFactory());
        plugin = std::make_unique<PluginInstance>(*module);
    }
    void TearDown() override {
        plugin.reset();
        module.reset();
        ::unsetenv("SOSTENUTO_OFFLINE_TIMEOUT_MS");
    }

    void start(int32_t max_block = 128, int32_t mode = V3_REALTIME, double rate = 48000) {
        ASSERT_EQ(plugin->setup(rate, max_block, mode), V3_OK);
        ASSERT_EQ(plugin->activate(), V3_OK);
        left.assign(static_cast<size_t>(std::max(max_block, 4096)), 0.0f);
        right = left;
    }

    // One process call; `fill` adds events/parameters. Returns the output.
    std::vector<std::vector<float>> run(int32_t frames, int32_t mode = V3_REALTIME,
                                        const std::function<void(PluginInstance&)>& fill = {},
                                        v3_process_context* ctx = nullptr) {
        plugin->input_events().clear();
        plugin->input_params().clear();
        if (fill) fill(*plugin);
        std::fill(left.begin(), left.end(), 9.0f);
        std::fill(right.begin(), right.end(), 9.0f);
        PluginInstance::Block b;
        b.frames = frames;
        b.process_mode = mode;
        b.outputs[0] = left.data();
        b.outputs[1] = right.data();
        b.context = ctx;
        EXPECT_EQ(plugin->process(b), V3_OK);
        return {std::vector<float>(left.begin(), left.begin() + frames), std::vector<float>(right.begin(), right.begin() + frames)};
    }

    sostenuto_stats stats() {
        sostenuto_stats s{};
        EXPECT_TRUE(plugin->stats(s));
        return s;
    }

    v3_param_id mapped(int16_t channel, int16_t cc) {
        v3_param_id id = 0;
        EXPECT_TRUE(plugin->midi_assignment(channel, cc, id));
        return id;
    }

    MockEngine engine;
    std::unique_ptr<PluginModule> module;
    std::unique_ptr<PluginInstance> plugin;
    std::vector<float> left, right;
};

TEST_F(Core, EventsAreStampedWithStreamTimeAndControllersBecomeMidi) {
    start();
    run(128);
    const v3_param_id sustain = mapped(0, 64), bend = mapped(2, 129), touch = mapped(0, 128), notes_off = mapped(0, 123),
                      sound_off = mapped(0, 120), mod = mapped(0, 1);
    run(128, V3_REALTIME, [&](PluginInstance& p) {
        p.input_events().add(note_on(0, 60, 100 / 127.0f, 17));
        p.input_events().add(note_off(0, 62, 0.5f, 90));
        p.input_params().add(sustain, 17, 1.0);
        p.input_params().add(sustain, 120, 0.0);
        p.input_params().add(bend, 3, 1.0);
        p.input_params().add(touch, 50, 64 / 127.0);
        p.input_params().add(notes_off, 100, 0.0);
        p.input_params().add(sound_off, 100, 0.0);
        p.input_params().add(mod, 5, 0.5);
    });
    const std::vector<Sent> events = engine.of_kind(Sent::events);
    struct E {
        uint64_t t;
        uint8_t s, d1, d2;
    };
    const std::vector<E> expected = {
        {128 + 3, 0xE2, 0x7F, 0x7F},  // pitch bend up, channel 3
        {128 + 5, 0xB0, 1, 64},       // mod wheel half
        {128 + 17, 0xB0, 64, 127},    // pedal down before the note that shares its sample
        {128 + 17, 0x90, 60, 100},
        {128 + 50, 0xD0, 64, 0},      // channel aftertouch
        {128 + 90, 0x80, 62, 64},
        {128 + 100, 0xB0, 123, 0},
        {128 + 100, 0xB0, 120, 0},
        {128 + 120, 0xB0, 64, 0},
    };
    ASSERT_EQ(events.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(events[i].time, expected[i].t) << i;
        EXPECT_EQ(events[i].status, expected[i].s) << i;
        EXPECT_EQ(events[i].data1, expected[i].d1) << i;
        EXPECT_EQ(events[i].data2, expected[i].d2) << i;
        EXPECT_EQ(events[i].message, events[0].message) << "one batch per block";
    }
    EXPECT_EQ(stats().events_sent, expected.size());
}

TEST_F(Core, NoteOnWithZeroVelocityIsANoteOffAndTinyVelocitiesStayNotes) {
    start();
    run(64, V3_REALTIME, [](PluginInstance& p) {
        p.input_events().add(note_on(1, 40, 0.0f, 0));
        p.input_events().add(note_on(1, 41, 0.001f, 1));
    });
    const auto events = engine.of_kind(Sent::events);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].status, 0x81);
    EXPECT_EQ(events[1].status, 0x91);
    EXPECT_EQ(events[1].data2, 1);
}

TEST_F(Core, OneClockAdvancePerBlockAfterTheBlocksEvents) {
    start(512);
    std::mt19937 rng(11);
    uint64_t s = 0;
    std::vector<uint64_t> expected_clocks;
    for (int block = 0; block < 400; ++block) {
        const int32_t n = block % 7 == 3 ? 0 : static_cast<int32_t>(1 + rng() % 512);
        run(n, V3_REALTIME, [&](PluginInstance& p) {
            if (n > 0) p.input_events().add(note_on(0, 60, 0.5f, static_cast<int32_t>(rng() % static_cast<uint32_t>(n))));
            else p.input_events().add(note_on(0, 61, 0.5f, 0));
        });
        s += static_cast<uint64_t>(n);
        if (n > 0) expected_clocks.push_back(s);
    }
    std::vector<uint64_t> clocks;
    uint64_t last_clock = 0;
    for (const Sent& m : engine.sent) {
        if (m.kind == Sent::clock) {
            EXPECT_GT(m.time, last_clock);
            last_clock = m.time;
            clocks.push_back(m.time);
        } else if (m.kind == Sent::events) {
            EXPECT_GE(m.time, last_clock) << "an event before the last clock advance";
        }
    }
    EXPECT_EQ(clocks, expected_clocks);
    EXPECT_EQ(stats().stream_time, s);
}

TEST_F(Core, OutputIsTheRingAtRenderTimeStreamTimeMinusLatency) {
    engine.total_latency = 1000;
    start(700);
    EXPECT_EQ(plugin->latency(), 1000u);
    std::mt19937 rng(5);
    uint64_t s = 0;
    while (s < 20000) {
        const int32_t n = static_cast<int32_t>(rng() % 701);
        const auto out = run(n);
        for (int32_t i = 0; i < n; ++i) {
            const uint64_t t = s + static_cast<uint64_t>(i);
            const float l = t < 1000 ? 0.0f : mock_signal(t - 1000, 0);
            const float r = t < 1000 ? 0.0f : mock_signal(t - 1000, 1);
            ASSERT_EQ(out[0][i], l) << "stream time " << t;
            ASSERT_EQ(out[1][i], r) << "stream time " << t;
        }
        s += static_cast<uint64_t>(n);
    }
    EXPECT_EQ(stats().underrun_blocks, 0u);
}

TEST_F(Core, GainAutomationIsAppliedSampleAccurately) {
    engine.total_latency = 0;
    start(256);
    run(256);  // gain at its default (0 dB)
    const v3_param_id gain = vst3::kParamGain;
    auto norm = [](double db) { return (db + 60.0) / 72.0; };
    // Ramp from 0 dB (the previous value) to -12 dB at offset 100, then to +6 dB at 200, then hold.
    const auto out = run(256, V3_REALTIME, [&](PluginInstance& p) {
        p.input_params().add(gain, 100, norm(-12.0));
        p.input_params().add(gain, 200, norm(6.0));
    });
    auto db_at = [](int i) {
        if (i <= 100) return 0.0 + (-12.0 - 0.0) * i / 100.0;
        if (i <= 200) return -12.0 + (6.0 + 12.0) * (i - 100) / 100.0;
        return 6.0;
    };
    for (int i = 0; i < 256; ++i) {
        const double g = std::pow(10.0, db_at(i) / 20.0);
        ASSERT_NEAR(out[0][i], mock_signal(256 + i, 0) * g, 1e-5) << i;
    }
    // The next block holds +6 dB.
    const auto next = run(64);
    for (int i = 0; i < 64; ++i) ASSERT_NEAR(next[0][i], mock_signal(512 + i, 0) * std::pow(10.0, 0.3), 1e-5);
    // A 0-frame call moves the gain too (parameter flush).
    run(0, V3_REALTIME, [&](PluginInstance& p) { p.input_params().add(gain, 0, norm(-60.0)); });
    const auto quiet = run(64);
    for (int i = 0; i < 64; ++i) ASSERT_NEAR(quiet[0][i], mock_signal(576 + i, 0) * 0.001, 1e-6);
}

TEST_F(Core, RealtimeUnderrunPlaysWhatThereIsFadesWithoutAClickAndRecovers) {
    engine.total_latency = 0;
    start(256);
    run(256);
    run(256);
    engine.published = 512 + 100;  // block 3 gets 100 of its 256 frames
    const auto out = run(256);
    for (int i = 0; i < 100; ++i) ASSERT_EQ(out[0][i], mock_signal(512 + i, 0));
    float max_step = 0;
    for (int i = 100; i < 256; ++i) max_step = std::max(max_step, std::fabs(out[0][i] - out[0][i - 1]));
    const float last = mock_signal(611, 0);
    EXPECT_LE(max_step, std::fabs(last) / 96.0f + 1e-6f) << "a linear decay over the 2 ms ramp, no step";
    for (int i = 100 + 96; i < 256; ++i) ASSERT_EQ(out[0][i], 0.0f);
    EXPECT_EQ(stats().underrun_blocks, 1u);
    EXPECT_EQ(stats().missing_frames, 156u);

    const auto silent = run(256);  // nothing published: silence
    for (float v : silent[0]) ASSERT_EQ(v, 0.0f);
    EXPECT_EQ(stats().underrun_blocks, 2u);

    engine.published = std::numeric_limits<uint64_t>::max();  // the engine caught up
    const auto back = run(256);
    EXPECT_LT(std::fabs(back[0][0]), 0.02f) << "fades in";
    for (int i = 1; i < 96; ++i) EXPECT_LE(std::fabs(back[0][i] - back[0][i - 1]), 0.05f);
    for (int i = 96; i < 256; ++i) ASSERT_EQ(back[0][i], mock_signal(1024 + i, 0));
    EXPECT_EQ(stats().underrun_blocks, 2u);
}

TEST_F(Core, OfflineBlocksWaitForTheEngine) {
    engine.total_latency = 0;
    start(1024, V3_OFFLINE);
    engine.published = 0;
    std::thread producer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        engine.published = 1024;
    });
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = run(1024, V3_OFFLINE);
    const auto waited = std::chrono::steady_clock::now() - t0;
    producer.join();
    EXPECT_GE(waited, std::chrono::milliseconds(80));
    for (int i = 0; i < 1024; ++i) ASSERT_EQ(out[0][i], mock_signal(static_cast<uint64_t>(i), 0));
    EXPECT_EQ(stats().offline_waits, 1u);
    EXPECT_EQ(stats().underrun_blocks, 0u);
}

TEST_F(Core, OfflineWaitIsBoundedThenSilenceAndNoFurtherWaits) {
    ::setenv("SOSTENUTO_OFFLINE_TIMEOUT_MS", "150", 1);
    plugin.reset();
    plugin = std::make_unique<PluginInstance>(*module);  // reads the timeout when created
    engine.total_latency = 0;
    start(512, V3_OFFLINE);
    engine.published = 0;  // a stalled engine that stays connected
    auto t0 = std::chrono::steady_clock::now();
    const auto out = run(512, V3_OFFLINE);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(140));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    for (float v : out[0]) ASSERT_EQ(v, 0.0f);
    EXPECT_EQ(stats().offline_timeouts, 1u);
    t0 = std::chrono::steady_clock::now();
    run(512, V3_OFFLINE);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
    EXPECT_EQ(stats().offline_timeouts, 1u);
}

TEST_F(Core, OfflineWaitEndsWhenTheEngineGoesAway) {
    engine.total_latency = 0;
    start(512, V3_OFFLINE);
    engine.published = 0;
    std::thread crash([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        engine.kill();  // on another thread, as the link's own thread reports it
    });
    const auto t0 = std::chrono::steady_clock::now();
    run(512, V3_OFFLINE);
    crash.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    EXPECT_EQ(stats().offline_timeouts, 0u);
}

TEST_F(Core, RealtimeNeverWaits) {
    engine.total_latency = 0;
    start(512, V3_REALTIME);
    engine.published = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) run(512);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
    EXPECT_EQ(stats().offline_waits, 0u);
    EXPECT_EQ(stats().underrun_blocks, 50u);
}

TEST_F(Core, ProcessModeOfEachBlockIsSentWhenItChanges) {
    start(128, V3_REALTIME);  // setupProcessing: realtime (as Ardour 7.3 does before an export)
    EXPECT_EQ(engine.opens.back().process_mode, ProcessMode::realtime);
    run(128);
    run(128, V3_OFFLINE);
    run(128, V3_OFFLINE);
    run(128);
    const auto modes = engine.of_kind(Sent::mode);
    ASSERT_EQ(modes.size(), 2u);
    EXPECT_EQ(modes[0].process_mode, ProcessMode::offline);
    EXPECT_EQ(modes[0].time, 128u);
    EXPECT_EQ(modes[1].process_mode, ProcessMode::realtime);
    EXPECT_EQ(modes[1].time, 384u);
}

TEST_F(Core, ParametersAreForwardedAtTheirStreamTimeAndInitialValuesAtZero) {
    start(128);
    run(128);
    auto params = engine.of_kind(Sent::parameter);
    ASSERT_EQ(params.size(), 3u);  // temperature, latency mode, lookahead at stream time 0
    for (const Sent& p : params) EXPECT_EQ(p.time, 0u);
    EXPECT_EQ(params[0].parameter_id, vst3::kParamTemperature);
    EXPECT_FLOAT_EQ(params[0].value, 1.0f);
    EXPECT_EQ(params[1].parameter_id, vst3::kParamLatencyMode);
    EXPECT_EQ(params[2].parameter_id, vst3::kParamLookahead);

    run(128, V3_REALTIME, [](PluginInstance& p) {
        p.input_params().add(vst3::kParamTemperature, 10, (0.5 - 0.05) / 1.95);
        p.input_params().add(vst3::kParamTemperature, 90, 1.0);
    });
    params = engine.of_kind(Sent::parameter);
    ASSERT_EQ(params.size(), 5u);
    EXPECT_EQ(params[3].time, 138u);
    EXPECT_NEAR(params[3].value, 0.5f, 1e-6);
    EXPECT_EQ(params[4].time, 218u);
    EXPECT_FLOAT_EQ(params[4].value, 2.0f);
    EXPECT_EQ(engine.of_kind(Sent::events).size(), 0u) << "the gain and engine parameters are not MIDI";

    // A state load while active reaches the engine at the next block start.
    std::vector<uint8_t> state = plugin->save_component_state();
    PluginInstance other(*module);
    other.input_params();  // (unused)
    run(128);
    ASSERT_EQ(plugin->load_component_state(state), V3_OK);
    EXPECT_EQ(engine.of_kind(Sent::parameter).size(), 5u) << "unchanged state: nothing to send";
}

TEST_F(Core, TransportFlushCarriesTheBlockStart) {
    start(128);
    v3_process_context ctx{};
    ctx.state = V3_PROCESS_CTX_PLAYING;
    ctx.project_time_in_samples = 1000;
    run(128, V3_REALTIME, {}, &ctx);
    ctx.project_time_in_samples = 5000;  // a jump
    run(128, V3_REALTIME, {}, &ctx);
    const auto flushes = engine.of_kind(Sent::flush);
    ASSERT_EQ(flushes.size(), 1u);
    EXPECT_EQ(flushes[0].time, 128u);
}

TEST_F(Core, LatencyIsTheEnginesAndAChangeAsksTheHostToRestart) {
    engine.total_latency = 1500;
    ASSERT_EQ(plugin->setup(48000, 256, V3_REALTIME), V3_OK);
    EXPECT_EQ(plugin->latency(), 1500u) << "the handshake happens in setupProcessing";
    ASSERT_EQ(plugin->activate(), V3_OK);
    EXPECT_EQ(engine.opens.size(), 1u) << "setActive keeps the session setupProcessing opened";
    EXPECT_EQ(plugin->handler().restart_calls.load(), 0);
    plugin->deactivate();
    EXPECT_EQ(engine.closes, 1);

    engine.total_latency = 2400;  // say, a different model after an engine restart
    ASSERT_EQ(plugin->activate(), V3_OK);
    EXPECT_EQ(engine.opens.size(), 2u);
    EXPECT_TRUE(plugin->handler().pending_restart_flags.load() & V3_RESTART_LATENCY_CHANGED);
    EXPECT_EQ(plugin->handle_restarts(), 1);
    EXPECT_EQ(plugin->latency(), 2400u);
    EXPECT_EQ(stats().latency_change_requests, 1u);
    EXPECT_EQ(plugin->handle_restarts(), 0) << "settles: the same latency asks for nothing";
}

TEST_F(Core, EveryActivationIsANewSessionWithTheSameInstanceId) {
    start(512, V3_OFFLINE, 44100);
    run(100, V3_OFFLINE);
    plugin->deactivate();
    ASSERT_EQ(plugin->activate(), V3_OK);
    ASSERT_EQ(engine.opens.size(), 2u);
    EXPECT_EQ(engine.opens[0].instance_id, engine.opens[1].instance_id);
    EXPECT_NE(engine.opens[0].instance_id, 0u);
    EXPECT_EQ(engine.opens[0].sample_rate, 44100u);
    EXPECT_EQ(engine.opens[0].max_block_size, 512u);
    EXPECT_EQ(engine.opens[0].process_mode, ProcessMode::offline);
    EXPECT_EQ(stats().stream_time, 0u) << "the stream clock restarts with the session";
    EXPECT_EQ(stats().sessions, 2u);
}

TEST_F(Core, StudioLookaheadReachesTheHello) {
    void* c = plugin->controller();
    auto* ctrl = host::vtable_of<v3_edit_controller_cpp>(c);
    ctrl->ctrl.set_parameter_normalised(c, vst3::kParamLatencyMode, 1.0);
    ctrl->ctrl.set_parameter_normalised(c, vst3::kParamLookahead, 0.25);  // 250 ms
    ASSERT_EQ(plugin->setup(48000, 256, V3_REALTIME), V3_OK);
    ASSERT_FALSE(engine.opens.empty());
    EXPECT_EQ(engine.opens.back().latency_mode, bridge::LatencyMode::studio);
    EXPECT_EQ(engine.opens.back().requested_lookahead_samples, 12000u);
}

// ---- sessions that end and are replaced within one activation (engine crashes) ----

TEST_F(Core, ASessionThatTakesOverIsToldTheHeldNotesPedalControllersAndParameters) {
    engine.total_latency = 256;
    start(128);
    const v3_param_id sustain = mapped(0, 64), bend = mapped(1, 129), mod = mapped(0, 1);
    run(128, V3_REALTIME, [&](PluginInstance& p) {
        p.input_params().add(sustain, 5, 1.0);
        p.input_events().add(note_on(0, 60, 100 / 127.0f, 10));
        p.input_events().add(note_on(0, 64, 80 / 127.0f, 20));
        p.input_events().add(note_on(0, 50, 70 / 127.0f, 30));
        p.input_params().add(vst3::kParamTemperature, 40, (0.5 - 0.05) / 1.95);
    });
    run(128, V3_REALTIME, [&](PluginInstance& p) {
        p.input_events().add(note_off(0, 64, 0.5f, 3));  // released: the pedal holds it
        p.input_params().add(bend, 7, 1.0);
        p.input_params().add(mod, 9, 0.5);
    });
    run(128);
    EXPECT_EQ(stats().session_recoveries, 0u);

    engine.kill();
    const auto silent = run(128, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_off(0, 50, 0.5f, 0)); });
    for (int i = 96; i < 128; ++i) ASSERT_EQ(silent[0][i], 0.0f) << "faded to silence";
    run(128, V3_REALTIME, [](PluginInstance& p) { p.input_events().add(note_on(1, 67, 1.0f, 60)); });  // played while down
    EXPECT_GE(stats().underrun_blocks, 2u);
    EXPECT_EQ(stats().engine_connected, 0u);

    engine.welcome();  // another engine answers: session 2
    const uint64_t start_of_session = 5 * 128;
    const auto out = run(128);
    EXPECT_EQ(stats().session_recoveries, 1u);
    const auto params = engine.of_kind(Sent::parameter, 2);
    ASSERT_EQ(params.size(), 3u);
    for (const Sent& p : params) EXPECT_EQ(p.time, 0u);
    EXPECT_EQ(params[0].parameter_id, vst3::kParamTemperature);
    EXPECT_NEAR(params[0].value, 0.5f, 1e-6) << "the value it has now, not its default";
    const auto events = engine.of_kind(Sent::events, 2);
    struct E {
        uint8_t s, d1, d2;
    };
    const std::vector<E> expected = {
        {0xB0, 1, 64},     // controllers first: mod wheel,
        {0xB0, 64, 127},   // the pedal before the notes it holds,
        {0xE1, 0x7F, 0x7F},  // pitch bend on channel 2
        {0x90, 50, 70},    // released while no engine ran, under the pedal: on, then off, so the pedal holds it
        {0x80, 50, 64},
        {0x90, 60, 100},   // held
        {0x90, 64, 80},    // released under the pedal
        {0x80, 64, 64},
        {0x91, 67, 127},   // played while no engine ran
    };
    ASSERT_EQ(events.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(events[i].time, 0u) << i;
        EXPECT_EQ(events[i].status, expected[i].s) << i;
        EXPECT_EQ(events[i].data1, expected[i].d1) << i;
        EXPECT_EQ(events[i].data2, expected[i].d2) << i;
    }
    EXPECT_EQ(stats().events_resent, expected.size());
    // The new session's clock starts at its first block; its audio after its own latency.
    const auto clocks = engine.of_kind(Sent::clock, 2);
    ASSERT_EQ(clocks.size(), 1u);
    EXPECT_EQ(clocks[0].time, 128u);
    for (float v : out[0]) ASSERT_EQ(v, 0.0f);  // render times below 0 of session 2
    const auto next = run(256);
    for (int i = 0; i < 256; ++i) {
        const uint64_t s = start_of_session + 128 + static_cast<uint64_t>(i);
        const float expected_value = s < start_of_session + 256 ? 0.0f : mock_signal(s - start_of_session - 256, 0);
        ASSERT_EQ(next[0][i], expected_value) << i;
    }
}

TEST_F(Core, AfterATransportFlushANewSessionIsToldNothingOfTheOldNotes) {
    engine.total_latency = 0;
    start(128);
    v3_process_context ctx{};
    ctx.state = V3_PROCESS_CTX_PLAYING;
    ctx.project_time_in_samples = 0;
    const v3_param_id sustain = mapped(0, 64);
    run(128, V3_REALTIME, [&](PluginInstance& p) {
        p.input_params().add(sustain, 0, 1.0);
        p.input_events().add(note_on(0, 60, 1.0f, 1));
    }, &ctx);
    ctx.state = 0;  // the host stops: flush
    run(128, V3_REALTIME, {}, &ctx);
    engine.kill();
    engine.welcome();
    run(128, V3_REALTIME, {}, &ctx);
    EXPECT_EQ(engine.of_kind(Sent::events, 2).size(), 0u);
    EXPECT_EQ(engine.of_kind(Sent::parameter, 2).size(), 3u);
    EXPECT_EQ(stats().session_recoveries, 1u);
}

TEST_F(Core, ANewSessionWithAnotherLatencyAsksTheHostToRestartFromItsRunLoop) {
    engine.total_latency = 1000;
    start(256);
    EXPECT_EQ(plugin->latency(), 1000u);
    ASSERT_EQ(plugin->application().run_loop.timer_count(), 1u) << "the component's timer on the host's run loop";
    run(256);
    engine.kill();
    engine.total_latency = 1400;  // the replacement engine has another model
    std::thread link_thread([&] { engine.welcome(); });
    link_thread.join();
    run(256);
    EXPECT_EQ(plugin->handler().restart_calls.load(), 0) << "never from the link's thread nor the audio thread";
    EXPECT_EQ(plugin->application().run_loop.fire_timers(), 1);  // the host's UI thread
    EXPECT_TRUE(plugin->handler().pending_restart_flags.load() & V3_RESTART_LATENCY_CHANGED);
    EXPECT_EQ(stats().latency_change_requests, 1u);
    EXPECT_EQ(plugin->handle_restarts(), 1);
    EXPECT_EQ(plugin->latency(), 1400u);
    plugin->application().run_loop.fire_timers();
    EXPECT_EQ(plugin->handle_restarts(), 0) << "settles";
    plugin->deactivate();
    EXPECT_EQ(plugin->application().run_loop.timer_count(), 0u) << "no timer while inactive";
}

TEST_F(Core, AnOfflineBlockWaitsForTheEngineToBeReplaced) {
    engine.total_latency = 0;
    start(512, V3_OFFLINE);
    run(512, V3_OFFLINE);
    engine.kill();
    std::thread relaunch([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        engine.welcome();
    });
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = run(512, V3_OFFLINE);
    const auto waited = std::chrono::steady_clock::now() - t0;
    relaunch.join();
    EXPECT_GE(waited, std::chrono::milliseconds(80));
    for (int i = 0; i < 512; ++i) ASSERT_EQ(out[0][i], mock_signal(static_cast<uint64_t>(i), 0)) << "the new session's audio";
    EXPECT_EQ(stats().offline_waits, 1u);
    EXPECT_EQ(stats().offline_timeouts, 0u);
    EXPECT_EQ(stats().session_recoveries, 1u);
}

TEST_F(Core, AnOfflineBlockWaitsAlsoWhenTheLinkHasNotYetNoticedTheEngineDied) {
    engine.total_latency = 0;
    start(512, V3_OFFLINE);
    run(512, V3_OFFLINE);
    engine.gone = true;  // no session for the next block, yet the state still says running
    std::thread link_thread([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        engine.kill();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        engine.welcome();
    });
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = run(512, V3_OFFLINE);
    const auto waited = std::chrono::steady_clock::now() - t0;
    link_thread.join();
    EXPECT_GE(waited, std::chrono::milliseconds(70));
    for (int i = 0; i < 512; ++i) ASSERT_EQ(out[0][i], mock_signal(static_cast<uint64_t>(i), 0));
    EXPECT_EQ(stats().session_recoveries, 1u);
    EXPECT_EQ(stats().underrun_blocks, 0u);
}

TEST_F(Core, AnOfflineBlockStopsWaitingWhenTheEngineCannotBeRestarted) {
    engine.total_latency = 0;
    start(512, V3_OFFLINE);
    run(512, V3_OFFLINE);
    engine.kill();
    std::thread attempt([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        engine.fail("cannot start the engine");
    });
    auto t0 = std::chrono::steady_clock::now();
    run(512, V3_OFFLINE);
    attempt.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) run(512, V3_OFFLINE);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100)) << "no more waits";
    EXPECT_EQ(stats().offline_waits, 1u);
    EXPECT_EQ(stats().offline_timeouts, 0u);
}

TEST_F(Core, WithoutAnEngineTheShimPlaysSilence) {
    engine.accept = false;
    start(256);
    for (int i = 0; i < 20; ++i) {
        const auto out = run(256, i % 2 ? V3_OFFLINE : V3_REALTIME,
                             [](PluginInstance& p) { p.input_events().add(note_on(0, 60, 1.0f, 0)); });
        for (float v : out[0]) ASSERT_EQ(v, 0.0f);
    }
    EXPECT_EQ(stats().sessions, 0u);
    EXPECT_GE(stats().failed_connects, 1u);
    EXPECT_STREQ(stats().last_error, "mock engine refuses");
}

}  // namespace
}  // namespace sostenuto::test
