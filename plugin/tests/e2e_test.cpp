// End to end without the C# engine: the built bundle (dlopen, ABI only), its
// real BridgeEngineLink (native-bridge pipe client and shared-memory ring),
// and the fake engine (tests/vst3-host/fake_engine.h) on a private socket.
// The fake instrument starts each note as a cosine at its note-on time, so
// the aligned output must show every onset at exactly its MIDI sample.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "fake_engine.h"
#include "midi_file.h"
#include "renderer.h"
#include "test_support.h"
#include "wav_file.h"

namespace sostenuto::host {
namespace {

constexpr double kRate = 48000;

std::vector<TimedMidi> melody() {
    return parse_event_list(
        "0.100 90 60 100\n"
        "0.250 80 60 0\n"
        "0.300 90 64 80\n"
        "0.310 b0 64 127\n"   // sustain down: holds E4 past its note-off
        "0.400 80 64 0\n"
        "0.600 b0 64 0\n"     // sustain up: E4 stops here
        "0.700 91 67 127\n"   // channel 2
        "0.800 b1 123 0\n");  // all notes off on channel 2
}

int64_t first_nonzero(const std::vector<float>& x, int64_t from = 0) {
    for (int64_t i = from; i < static_cast<int64_t>(x.size()); ++i)
        if (x[static_cast<size_t>(i)] != 0.0f) return i;
    return -1;
}
int64_t first_zero_run(const std::vector<float>& x, int64_t from, int64_t run = 32) {
    int64_t count = 0;
    for (int64_t i = from; i < static_cast<int64_t>(x.size()); ++i) {
        count = x[static_cast<size_t>(i)] == 0.0f ? count + 1 : 0;
        if (count == run) return i - run + 1;
    }
    return -1;
}

class EndToEnd : public ::testing::Test {
protected:
    void SetUp() override { start_engine({}); }
    void start_engine(FakeEngineOptions options) {
        instance.reset();
        module.reset();
        engine.reset();
        engine = std::make_unique<FakeEngine>(options);
        ::setenv("SOSTENUTO_ENGINE_SOCKET", engine->socket_path().c_str(), 1);
        test::never_start_an_engine();
        module = std::make_unique<PluginModule>(SOSTENUTO_VST3_BUNDLE);
        instance = std::make_unique<PluginInstance>(*module);
    }
    void TearDown() override {
        instance.reset();
        module.reset();
        engine.reset();
        ::unsetenv("SOSTENUTO_OFFLINE_TIMEOUT_MS");
    }
    std::unique_ptr<FakeEngine> engine;
    std::unique_ptr<PluginModule> module;
    std::unique_ptr<PluginInstance> instance;
};

void expect_melody_timing(const std::vector<float>& left) {
    auto at = [](double seconds) { return static_cast<int64_t>(std::llround(seconds * kRate)); };
    ASSERT_EQ(first_nonzero(left), at(0.100)) << "C4 starts at its note-on";
    EXPECT_NEAR(left[static_cast<size_t>(at(0.100))], FakeEngine::amplitude(100), 1e-6);
    EXPECT_EQ(first_zero_run(left, at(0.100)), at(0.250)) << "and stops at its note-off";
    EXPECT_EQ(first_nonzero(left, at(0.250)), at(0.300)) << "E4 starts";
    EXPECT_EQ(first_zero_run(left, at(0.300)), at(0.600)) << "the pedal (CC64 via IMidiMapping) holds E4 to its release";
    EXPECT_EQ(first_nonzero(left, at(0.600)), at(0.700)) << "G4 on channel 2";
    EXPECT_EQ(first_zero_run(left, at(0.700)), at(0.800)) << "CC123 on channel 2 silences it";
    EXPECT_EQ(first_nonzero(left, at(0.800)), -1);
}

TEST_F(EndToEnd, OfflineBounceLinesUpWithTheMidi) {
    RenderOptions options;
    options.process_mode = V3_OFFLINE;
    options.tail_seconds = 0.3;
    const RenderResult r = render(*instance, melody(), options);
    EXPECT_EQ(r.latency, 256u);
    ASSERT_TRUE(r.have_stats);
    EXPECT_EQ(r.stats.sessions, 1u);
    EXPECT_EQ(r.stats.underrun_blocks, 0u);
    EXPECT_EQ(r.stats.offline_timeouts, 0u);
    expect_melody_timing(r.audio[0]);
    for (size_t i = 0; i < r.audio[0].size(); ++i) ASSERT_EQ(r.audio[1][i], 0.5f * r.audio[0][i]);
}

TEST_F(EndToEnd, BounceDoesNotDependOnBlockSizesOrTheSetupMode) {
    RenderOptions fixed;
    fixed.process_mode = V3_OFFLINE;
    fixed.block = 512;
    fixed.tail_seconds = 0.2;
    const RenderResult a = render(*instance, melody(), fixed);
    instance->deactivate();

    RenderOptions varying = fixed;
    varying.varying = true;
    varying.max_block = 777;
    varying.setup_mode = V3_REALTIME;  // Ardour 7.3's export: setup realtime, blocks offline
    PluginInstance other(*module);
    const RenderResult b = render(other, melody(), varying);
    ASSERT_EQ(a.audio[0].size(), b.audio[0].size());
    EXPECT_EQ(a.audio[0], b.audio[0]);
    EXPECT_EQ(a.audio[1], b.audio[1]);
    EXPECT_EQ(b.stats.underrun_blocks, 0u);
    EXPECT_GE(b.stats.process_mode_changes, 1u);
    EXPECT_GT(b.stats.zero_frame_calls, 0u);
}

TEST_F(EndToEnd, PacedRealtimeRenderEqualsTheBounceWhenTheEngineKeepsUp) {
    RenderOptions offline;
    offline.process_mode = V3_OFFLINE;
    offline.tail_seconds = 0.1;
    const RenderResult bounce = render(*instance, melody(), offline);
    instance->deactivate();

    RenderOptions live = offline;
    live.process_mode = V3_REALTIME;
    live.block = 256;
    live.paced = true;
    PluginInstance other(*module);
    const RenderResult played = render(other, melody(), live);
    if (played.stats.underrun_blocks > 0) GTEST_SKIP() << "the machine was too busy to keep real time";
    EXPECT_EQ(bounce.audio[0], played.audio[0]);
}

TEST_F(EndToEnd, StudioLookaheadIsPartOfTheLatencyAndTheOutputStillLinesUp) {
    RenderOptions options;
    options.process_mode = V3_OFFLINE;
    options.tail_seconds = 0.3;
    options.parameters = {{2, 1.0}, {3, 0.05}};  // studio, 50 ms lookahead
    const RenderResult r = render(*instance, melody(), options);
    EXPECT_EQ(r.latency, 2400u + 256u);
    EXPECT_EQ(r.stats.engine_lookahead_samples, 2400u);
    expect_melody_timing(r.audio[0]);
    const auto sessions = engine->sessions();
    ASSERT_FALSE(sessions.empty());
    EXPECT_EQ(sessions.back().hello.latency_mode, bridge::LatencyMode::studio);
    EXPECT_EQ(sessions.back().hello.requested_lookahead_samples, 2400u);
}

TEST_F(EndToEnd, TheEngineSeesTheSessionAsTheProtocolSays) {
    RenderOptions options;
    options.process_mode = V3_OFFLINE;
    options.tail_seconds = 0.1;
    options.block = 300;
    const RenderResult r = render(*instance, melody(), options);
    instance->deactivate();
    // Auto (the default): the studio session, whose latency the host is told,
    // and a live session beside it; a bounce is the studio session's alone.
    ASSERT_TRUE(engine->wait_for_ended_sessions(2, 5000));
    const auto all = engine->sessions();
    std::vector<FakeSession> sessions, live;
    for (const FakeSession& f : all) (f.hello.latency_mode == bridge::LatencyMode::studio ? sessions : live).push_back(f);
    ASSERT_EQ(sessions.size(), 1u) << "setupProcessing's handshake is the session setActive uses";
    ASSERT_EQ(live.size(), 1u) << "Auto's live session beside it";
    EXPECT_TRUE(live[0].clocks.empty()) << "the live session is not driven offline";
    for (const bridge::MidiEvent& e : live[0].events)  // controllers reach both paths; notes only the studio one
        EXPECT_FALSE((e.status & 0xF0) == 0x90 && e.data2 != 0) << "a bounce's notes are the studio path's";
    const FakeSession& s = sessions[0];
    EXPECT_TRUE(s.error.empty()) << s.error;
    EXPECT_EQ(s.hello.sample_rate, 48000u);
    EXPECT_EQ(s.hello.max_block_size, 300u);
    EXPECT_EQ(s.hello.process_mode, bridge::ProcessMode::offline);
    EXPECT_EQ(s.hello.latency_mode, bridge::LatencyMode::studio);  // the default
    EXPECT_EQ(s.hello.requested_lookahead_samples, 0u);
    EXPECT_NE(s.hello.instance_id, 0u);
    EXPECT_EQ(s.ring_name.rfind("/sostenuto-", 0), 0u);
    EXPECT_TRUE(s.goodbye);
    ASSERT_EQ(s.clocks.size(), r.process_calls);
    for (size_t i = 0; i < s.clocks.size(); ++i) EXPECT_EQ(s.clocks[i], std::min<uint64_t>(300u * (i + 1), r.stream_frames));
    ASSERT_EQ(s.events.size(), 8u);
    EXPECT_EQ(s.events[0].stream_time, 4800u);
    EXPECT_EQ(s.events[0].status, 0x90);
    EXPECT_EQ(s.events[3].status, 0xB0);  // CC64 came back as MIDI
    EXPECT_EQ(s.events[3].stream_time, 14880u);
    EXPECT_EQ(s.parameters.size(), 3u);  // the initial values at stream time 0
    EXPECT_EQ(s.flushes.size(), 0u);
    char path[64];
    std::snprintf(path, sizeof path, "/dev/shm%s", s.ring_name.c_str());
    EXPECT_EQ(::access(path, F_OK), 0) << "the instance keeps its ring across sessions";
    instance.reset();
    EXPECT_NE(::access(path, F_OK), 0) << "the ring is unlinked when the instance goes";
}

TEST_F(EndToEnd, RefusingEngineMeansSilenceAndAReason) {
    FakeEngineOptions options;
    options.refuse = "no model at models/default";
    start_engine(options);
    RenderOptions render_options;
    render_options.process_mode = V3_OFFLINE;
    render_options.tail_seconds = 0.1;
    const RenderResult r = render(*instance, melody(), render_options);
    EXPECT_EQ(first_nonzero(r.audio[0]), -1);
    EXPECT_EQ(r.stats.sessions, 0u);
    EXPECT_NE(std::string(r.stats.last_error).find("no model at models/default"), std::string::npos) << r.stats.last_error;
}

TEST_F(EndToEnd, AWelcomeWithTheWrongRingCapacityIsRefused) {
    FakeEngineOptions options;
    options.ring_capacity_override = 1024;
    start_engine(options);
    RenderOptions render_options;
    render_options.process_mode = V3_OFFLINE;
    render_options.tail_seconds = 0.1;
    const RenderResult r = render(*instance, melody(), render_options);
    EXPECT_EQ(r.stats.sessions, 0u);
    EXPECT_NE(std::string(r.stats.last_error).find("audio ring"), std::string::npos) << r.stats.last_error;
}

TEST_F(EndToEnd, AStalledEngineCostsTheOfflineRenderOneBoundedWait) {
    FakeEngineOptions options;
    options.stall_at = 12000;  // renders 0.25 s, then nothing
    start_engine(options);
    ::setenv("SOSTENUTO_OFFLINE_TIMEOUT_MS", "300", 1);
    instance = std::make_unique<PluginInstance>(*module);
    RenderOptions render_options;
    render_options.process_mode = V3_OFFLINE;
    render_options.tail_seconds = 0.2;
    const RenderResult r = render(*instance, melody(), render_options);
    EXPECT_EQ(r.stats.offline_timeouts, 1u);
    EXPECT_LT(r.wall_seconds, 3.0);
    EXPECT_EQ(first_nonzero(r.audio[0]), 4800) << "what was rendered is there";
    // Where the audio stops, the last value decays to zero over the 2 ms ramp (96 samples), then silence.
    EXPECT_NE(r.audio[0][12000], 0.0f);
    EXPECT_LT(std::fabs(r.audio[0][12000]), std::fabs(r.audio[0][11999]) + 1e-6f);
    EXPECT_EQ(first_nonzero(r.audio[0], 12096), -1) << "silence after the stall";
}

TEST_F(EndToEnd, TheTestHostCommandLineWritesAnAlignedWav) {
    char directory[] = "/tmp/sostenuto-host-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(directory), nullptr);
    const std::string midi = std::string(directory) + "/in.txt", wav = std::string(directory) + "/out.wav";
    {
        FILE* f = std::fopen(midi.c_str(), "w");
        std::fputs("0.25 90 69 127\n0.5 80 69 0\n", f);
        std::fclose(f);
    }
    const std::string command = std::string(SOSTENUTO_TEST_HOST) + " --plugin " + SOSTENUTO_VST3_BUNDLE + " --midi " + midi +
                                " -o " + wav + " --rate 44100 --block varying --max-block 333 --mode offline --tail 0.25" +
                                " --engine-socket " + engine->socket_path() + " --require-engine --fail-on-underrun > " +
                                directory + "/report.txt 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    uint32_t rate = 0;
    const auto audio = read_float_wav(wav, rate);
    EXPECT_EQ(rate, 44100u);
    ASSERT_EQ(audio.size(), 2u);
    EXPECT_EQ(first_nonzero(audio[0]), 11025);
    EXPECT_EQ(first_zero_run(audio[0], 11025), 22050);
    std::remove(midi.c_str());
    std::remove(wav.c_str());
    std::remove((std::string(directory) + "/report.txt").c_str());
    ::rmdir(directory);
}

}  // namespace
}  // namespace sostenuto::host
