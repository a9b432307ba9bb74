// The standalone's audio path without JACK: MIDI conversion, the state re-sent
// to a new engine, the command line, and InstrumentCore over EngineSupervisor
// against the fake engine (in-process for the wire messages, the
// sostenuto_fake_engine process with --signal notes for the audio), with
// periods paced in real time as a JACK server would call them.
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_engine.h"
#include "instrument_core.h"
#include "sostenuto/bridge/engine_supervisor.h"
#include "midi_input.h"
#include "options.h"
#include "sostenuto/bridge/latency_policy.h"
#include "standalone_test_support.h"

namespace sostenuto::standalone {
namespace {

using namespace std::chrono_literals;
using bridge::EngineState;
using bridge::EngineSupervisor;
using bridge::EngineSupervisorConfig;
using bridge::MidiEvent;
using testing::end_process;
using testing::read_file;
using testing::TemporaryDirectory;
using testing::wait_until;

constexpr double kRate = 48000;

// ---- MIDI conversion -------------------------------------------------------------

MidiParse parse(std::initializer_list<int> bytes, MidiEvent& e, std::uint64_t time = 7) {
    std::vector<std::uint8_t> data;
    for (int b : bytes) data.push_back(static_cast<std::uint8_t>(b));
    return parse_midi(data.data(), data.size(), time, e);
}

void expect_event(const MidiEvent& e, std::uint64_t time, int status, int data1, int data2) {
    EXPECT_EQ(e.stream_time, time);
    EXPECT_EQ(e.status, status);
    EXPECT_EQ(e.data1, data1);
    EXPECT_EQ(e.data2, data2);
}

TEST(MidiInput, ChannelVoiceMessagesPassAsTheyAre) {
    MidiEvent e;
    ASSERT_EQ(parse({0x93, 60, 100}, e), MidiParse::voice);
    expect_event(e, 7, 0x93, 60, 100);
    ASSERT_EQ(parse({0x80, 60, 30}, e), MidiParse::voice);
    expect_event(e, 7, 0x80, 60, 30);
    ASSERT_EQ(parse({0xB0, 64, 127}, e), MidiParse::voice);  // sustain pedal
    expect_event(e, 7, 0xB0, 64, 127);
    ASSERT_EQ(parse({0xBF, 123, 0}, e), MidiParse::voice);  // all notes off
    expect_event(e, 7, 0xBF, 123, 0);
    ASSERT_EQ(parse({0xB2, 120, 0}, e), MidiParse::voice);  // all sound off
    expect_event(e, 7, 0xB2, 120, 0);
    ASSERT_EQ(parse({0xE1, 0x00, 0x50}, e), MidiParse::voice);  // pitch bend
    expect_event(e, 7, 0xE1, 0, 0x50);
    ASSERT_EQ(parse({0xA0, 60, 33}, e), MidiParse::voice);  // poly aftertouch
    expect_event(e, 7, 0xA0, 60, 33);
    ASSERT_EQ(parse({0xD4, 90}, e), MidiParse::voice);  // channel aftertouch: one data byte
    expect_event(e, 7, 0xD4, 90, 0);
    ASSERT_EQ(parse({0xC0, 5}, e), MidiParse::voice);  // program change
    expect_event(e, 7, 0xC0, 5, 0);
}

TEST(MidiInput, NoteOnWithVelocityZeroIsANoteOff) {
    MidiEvent e;
    ASSERT_EQ(parse({0x95, 61, 0}, e, 99), MidiParse::voice);
    expect_event(e, 99, 0x85, 61, 64);
}

TEST(MidiInput, SystemMessagesAreIgnoredAndBrokenOnesRefused) {
    MidiEvent e;
    EXPECT_EQ(parse({0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7}, e), MidiParse::ignored);  // sysex
    EXPECT_EQ(parse({0xF8}, e), MidiParse::ignored);                                // clock
    EXPECT_EQ(parse({0xFE}, e), MidiParse::ignored);                                // active sensing
    EXPECT_EQ(parse({0xF2, 0, 0}, e), MidiParse::ignored);                          // song position
    EXPECT_EQ(parse({60, 100}, e), MidiParse::malformed);       // running status: not used in JACK
    EXPECT_EQ(parse({0x90, 60}, e), MidiParse::malformed);      // short
    EXPECT_EQ(parse({0xD0}, e), MidiParse::malformed);          // short
    EXPECT_EQ(parse({0x90, 0x80, 100}, e), MidiParse::malformed);  // a status byte where data belongs
    EXPECT_EQ(parse({0xB0, 7, 0xFF}, e), MidiParse::malformed);
    EXPECT_EQ(parse_midi(nullptr, 0, 0, e), MidiParse::malformed);
}

// The state a new engine is told is the instrument core's: native-bridge/tests/held_midi_state_test.cpp.

// ---- the command line -----------------------------------------------------------------

bool parse_args(std::vector<const char*> args, Options& options, std::string& error) {
    args.insert(args.begin(), "sostenuto-jack");
    return parse_options(static_cast<int>(args.size()), args.data(), options, error);
}

TEST(CommandLine, ParsesEveryOption) {
    Options o;
    std::string error;
    ASSERT_TRUE(parse_args({"--name", "piano", "--server", "s1", "--connect-midi", "a2j:kbd", "--connect-midi", "x:y",
                            "--connect-audio", "system:playback_1,system:playback_2", "--engine-socket", "/tmp/e.sock",
                            "--engine", "/opt/sostenuto", "--engine-arg", "--model", "--engine-arg", "/m", "--no-launch",
                            "--engine-idle-exit", "0", "--latency-mode", "studio", "--lookahead-ms", "40", "--slack-ms",
                            "20", "--gain-db", "-6", "--temperature", "0.8", "--status-interval", "0.5"},
                           o, error))
        << error;
    EXPECT_EQ(o.client_name, "piano");
    EXPECT_EQ(o.server_name, "s1");
    EXPECT_EQ(o.connect_midi, (std::vector<std::string>{"a2j:kbd", "x:y"}));
    EXPECT_EQ(o.connect_audio, (std::vector<std::string>{"system:playback_1", "system:playback_2"}));
    EXPECT_EQ(o.engine_socket, "/tmp/e.sock");
    EXPECT_EQ(o.engine, "/opt/sostenuto");
    EXPECT_EQ(o.engine_arguments, (std::vector<std::string>{"--model", "/m"}));
    EXPECT_FALSE(o.launch_engine);
    EXPECT_EQ(o.engine_idle_exit_seconds, 0.0);
    EXPECT_EQ(o.latency_mode, bridge::LatencyMode::studio);
    EXPECT_EQ(o.lookahead_ms, 40.0);
    ASSERT_TRUE(o.slack_ms);
    EXPECT_EQ(*o.slack_ms, 20.0);
    EXPECT_EQ(o.gain_db, -6.0);
    EXPECT_DOUBLE_EQ(o.temperature, 0.8);
    EXPECT_EQ(o.status_interval_seconds, 0.5);
    EXPECT_EQ(requested_lookahead_samples(o, 48000), 1920u);
    EXPECT_EQ(requested_slack_samples(o, 48000, 128), 960u);
    EXPECT_EQ(requested_slack_samples(o, 48000, 1024), 2048u);  // at least two periods in studio mode
}

// Auto: a studio session (its latency told to JACK) with a live one beside.
TEST(CommandLine, LatencyModeAutoReportsTheStudioSession) {
    Options o;
    std::string error;
    ASSERT_TRUE(parse_args({"--latency-mode", "auto", "--lookahead-ms", "40"}, o, error)) << error;
    EXPECT_EQ(o.latency_choice, bridge::LatencyChoice::automatic);
    EXPECT_EQ(o.latency_mode, bridge::LatencyMode::studio);
    EXPECT_EQ(requested_lookahead_samples(o, 48000), 1920u);
    EXPECT_EQ(requested_slack_samples(o, 48000, 128), 2400u);  // studio's 50 ms
    Options d;
    ASSERT_TRUE(parse_args({}, d, error));
    EXPECT_EQ(d.latency_choice, bridge::LatencyChoice::live) << "the standalone's default stays live";
}

TEST(CommandLine, DefaultsAndRefusals) {
    Options o;
    std::string error;
    ASSERT_TRUE(parse_args({}, o, error));
    EXPECT_EQ(o.client_name, "sostenuto");
    EXPECT_EQ(o.latency_mode, bridge::LatencyMode::live);
    EXPECT_TRUE(o.launch_engine);
    EXPECT_EQ(requested_lookahead_samples(o, 48000), 0u);
    EXPECT_EQ(requested_slack_samples(o, 48000, 128), 128u + 96u);    // a period and 2 ms
    EXPECT_EQ(requested_slack_samples(o, 48000, 1024), 1024u + 96u);
    o.lookahead_ms = 40;
    EXPECT_EQ(requested_lookahead_samples(o, 48000), 0u) << "live mode asks for no lookahead";
    for (std::vector<const char*> bad : std::vector<std::vector<const char*>>{
             {"--latency-mode", "fast"}, {"--gain-db", "loud"}, {"--gain-db", "30"}, {"--connect-audio", "system:playback_1"},
             {"--connect-audio", "a,b,c"}, {"--temperature"}, {"--bogus"}, {"--slack-ms", "-1"}, {"--name", ""}}) {
        Options fresh;
        error.clear();
        EXPECT_FALSE(parse_args(bad, fresh, error)) << bad[0];
        EXPECT_FALSE(error.empty());
    }
    EXPECT_EQ(bridge::ring_capacity_for(480, 128), 1u << 16);
    EXPECT_EQ(bridge::ring_capacity_for(48000 + 2400, 1024), 1u << 17);
}

// Where the engine is looked for after engine/ beside the program: as the
// plug-in finds its bundle's, the built bundle, then the installed one, then ./sostenuto.
TEST(CommandLine, EnginePlacesAreTheBuiltBundleTheInstalledBundleAndTheCurrentDirectory) {
    EXPECT_EQ(engine_places_after_beside("/src/sostenuto/build/standalone/sostenuto-jack", "/home/ada"),
              (std::vector<std::string>{"/src/sostenuto/build/Sostenuto.vst3", "/home/ada/.vst3/Sostenuto.vst3",
                                        "./sostenuto"}));
    EXPECT_EQ(engine_places_after_beside("/usr/bin/sostenuto-jack", nullptr),
              (std::vector<std::string>{"/usr/Sostenuto.vst3", "./sostenuto"}));
}

// ---- InstrumentCore over the supervisor ----------------------------------------------------

// The wire, seen by an in-process fake engine: parameters and state at the
// session's start, events stamped s + offset, one ClockAdvance(s + n) per period.
TEST(InstrumentCore, SendsEventsAtTheirFramesAndOneClockPerPeriod) {
    constexpr std::uint32_t capacity = 1u << 16;
    bridge::testing::FakeEngine engine([&](const bridge::HelloMessage&) {
        bridge::WelcomeMessage welcome;
        welcome.total_latency_samples = 256;
        welcome.ring_capacity_frames = capacity;
        welcome.model_name = "fake";
        welcome.model_version = "1";
        return bridge::testing::encode_to_vector(welcome);
    });
    EngineSupervisorConfig config;
    config.max_block_size = 128;
    config.compute_slack_samples = 256;
    config.instance_id = testing::random_instance_id();
    config.ring_capacity_frames = capacity;
    config.socket_path = engine.socket_path();
    EngineSupervisor supervisor;
    InstrumentCore core(supervisor);
    core.set_engine_parameters(0.5f, bridge::LatencyMode::studio, 20.0f);
    std::vector<float> left(128), right(128);

    // Before the engine answers: silence, MIDI remembered (the held key) but not sent.
    const std::uint8_t held[] = {0x90, 48, 77};
    core.begin_period(128);
    core.add_midi(3, held, sizeof held);
    std::fill(left.begin(), left.end(), 1.0f);
    core.end_period(left.data(), right.data());
    EXPECT_EQ(left[0], 0.0f);
    EXPECT_EQ(core.counters().silent_periods, 1u);
    EXPECT_EQ(core.counters().midi_unsent, 1u);

    std::string error;
    ASSERT_TRUE(supervisor.start(config, error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(5s)) << supervisor.last_error();

    // Period 2 (stream time 128 … 256) is the session's first: its stream time 0.
    const std::uint8_t on[] = {0x90, 60, 100}, pedal[] = {0xB0, 64, 127}, bend[] = {0xE0, 0, 70},
                       off[] = {0x90, 60, 0}, clock[] = {0xF8}, late[] = {0xD0, 5};
    core.begin_period(128);
    core.add_midi(0, on, 3);
    core.add_midi(5, pedal, 3);
    core.add_midi(5, bend, 3);
    core.add_midi(4, off, 3);       // earlier than the one before: kept in order, at 5
    core.add_midi(6, clock, 1);     // ignored
    core.add_midi(500, late, 2);    // past the period: its last frame
    core.end_period(left.data(), right.data());
    core.begin_period(64);          // periods may change length
    core.add_midi(63, on, 3);
    core.end_period(left.data(), right.data());
    core.begin_period(128);
    core.end_period(left.data(), right.data());
    core.skip_frames(1000);         // the server skipped cycles: the clock moves on with it
    core.begin_period(128);
    core.add_midi(1, on, 3);
    core.end_period(left.data(), right.data());
    supervisor.stop();
    ASSERT_TRUE(engine.wait_for_eof());

    std::vector<bridge::MidiEvent> events;
    std::vector<std::uint64_t> clocks;
    std::vector<bridge::ParameterChangeMessage> parameters;
    for (const auto& frame : engine.frames()) {
        const bridge::DecodeResult d = bridge::decode_frame(frame.bytes.data(), frame.bytes.size());
        ASSERT_TRUE(d.ok());
        if (d.type == bridge::MessageType::midi_events) {
            const auto& list = std::get<bridge::DecodedMidiEventsMessage>(d.message).events;
            for (std::size_t i = 0; i < list.size(); ++i) events.push_back(list[i]);
        } else if (d.type == bridge::MessageType::clock_advance) {
            clocks.push_back(std::get<bridge::ClockAdvanceMessage>(d.message).stream_time);
        } else if (d.type == bridge::MessageType::parameter_change) {
            parameters.push_back(std::get<bridge::ParameterChangeMessage>(d.message));
        }
    }
    ASSERT_EQ(parameters.size(), 3u);
    EXPECT_EQ(parameters[0].parameter_id, static_cast<std::uint32_t>(bridge::EngineParameter::temperature));
    EXPECT_EQ(parameters[0].value, 0.5f);
    EXPECT_EQ(parameters[1].parameter_id, static_cast<std::uint32_t>(bridge::EngineParameter::latency_mode));
    EXPECT_EQ(parameters[1].value, 1.0f);
    EXPECT_EQ(parameters[2].parameter_id, static_cast<std::uint32_t>(bridge::EngineParameter::lookahead_ms));
    EXPECT_EQ(parameters[2].value, 20.0f);
    for (const auto& p : parameters) EXPECT_EQ(p.stream_time, 0u);
    ASSERT_EQ(events.size(), 8u);
    expect_event(events[0], 0, 0x90, 48, 77);  // the key held before the engine came: re-sent at the session's start
    expect_event(events[1], 0, 0x90, 60, 100);
    expect_event(events[2], 5, 0xB0, 64, 127);
    expect_event(events[3], 5, 0xE0, 0, 70);
    expect_event(events[4], 5, 0x80, 60, 64);
    expect_event(events[5], 127, 0xD0, 5, 0);
    expect_event(events[6], 128 + 63, 0x90, 60, 100);
    expect_event(events[7], 320 + 1000 + 1, 0x90, 60, 100);
    EXPECT_EQ(clocks, (std::vector<std::uint64_t>{128, 192, 320, 1448}));
    EXPECT_EQ(core.counters().skipped_frames, 1000u);
    EXPECT_EQ(core.counters().stream_time, 128u + 128u + 64u + 128u + 1000u + 128u);
    EXPECT_EQ(core.counters().midi_ignored, 1u);
    EXPECT_EQ(core.counters().sessions_started, 1u);
    EXPECT_EQ(core.counters().session_start, 128u);
}

// Periods of `period` frames at the pace of a sound card, on a thread of
// their own; MIDI scheduled by stream time; the output recorded by stream time.
class PacedPeriods {
public:
    PacedPeriods(InstrumentCore& core, std::uint32_t period, std::size_t max_frames)
        : core_(core), period_(period), left_(max_frames), right_(max_frames) {}
    ~PacedPeriods() { stop(); }

    void schedule(std::uint64_t time, std::vector<std::uint8_t> bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        script_.push_back({time, std::move(bytes)});
    }
    void start() {
        thread_ = std::thread([this] { run(); });
    }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    std::uint64_t stream_time() const { return stream_time_.load(); }
    bool wait_for_stream_time(std::uint64_t t, std::chrono::milliseconds timeout = 20s) const {
        return wait_until([&] { return stream_time_.load() >= t; }, timeout);
    }
    const std::vector<float>& left() const { return left_; }
    const std::vector<float>& right() const { return right_; }
    std::chrono::nanoseconds longest_period() const { return std::chrono::nanoseconds(longest_.load()); }

private:
    void run() {
        auto deadline = std::chrono::steady_clock::now();
        const auto period_duration = std::chrono::nanoseconds(static_cast<std::int64_t>(period_ * 1e9 / kRate));
        std::uint64_t s = 0;
        while (!stop_ && s + period_ <= left_.size()) {
            core_.begin_period(period_, s + 1000000);
            {
                std::lock_guard<std::mutex> lock(mutex_);
                while (!script_.empty() && script_.front().time < s + period_) {
                    const auto& m = script_.front();
                    core_.add_midi(m.time > s ? static_cast<std::uint32_t>(m.time - s) : 0, m.bytes.data(), m.bytes.size());
                    script_.pop_front();
                }
            }
            const auto t0 = std::chrono::steady_clock::now();
            core_.end_period(left_.data() + s, right_.data() + s);
            const auto took = std::chrono::steady_clock::now() - t0;
            if (took.count() > longest_.load()) longest_.store(took.count());
            s += period_;
            stream_time_.store(s);
            deadline += period_duration;
            std::this_thread::sleep_until(deadline);
        }
    }

    struct Scheduled {
        std::uint64_t time;
        std::vector<std::uint8_t> bytes;
    };
    InstrumentCore& core_;
    std::uint32_t period_;
    std::vector<float> left_, right_;
    std::mutex mutex_;
    std::deque<Scheduled> script_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> stream_time_{0};
    std::atomic<std::int64_t> longest_{0};
    std::thread thread_;
};

// The supervisor, the core and the sostenuto_fake_engine process it launches (--signal notes).
class WithFakeEngine : public ::testing::Test {
protected:
    void SetUp() override {
        config_.sample_rate = static_cast<std::uint32_t>(kRate);
        config_.max_block_size = 128;
        config_.compute_slack_samples = 4800;  // 100 ms: generous, for a loaded test machine
        config_.instance_id = testing::random_instance_id();
        config_.socket_path = dir_ / "sostenuto-engine.sock";
        config_.engine = testing::fake_engine_command();
        config_.launch.extra_arguments = {"--signal", "notes"};
        config_.launch.idle_exit_seconds = 10;
        config_.min_retry_delay = 20ms;
    }
    void TearDown() override {
        supervisor_.stop();
        for (int pid : testing::fake_engine_pids(log_path())) end_process(pid);
    }
    void start() {
        std::string error;
        ASSERT_TRUE(supervisor_.start(config_, error)) << error;
        ASSERT_TRUE(supervisor_.wait_until_running(10s)) << supervisor_.last_error() << read_file(log_path());
        latency_ = supervisor_.total_latency_samples();
        ASSERT_EQ(latency_, 4800u);
    }
    std::string log_path() const { return dir_ / "sostenuto-engine.log"; }

    struct Note {
        int key, velocity;
    };
    // Expects the fake instrument's note (held from `onset` on) at stream times [from, to).
    void expect_note(const PacedPeriods& run, int note, int velocity, std::uint64_t onset, std::uint64_t from,
                     std::uint64_t to, float gain = 1.0f) {
        expect_notes(run, {{note, velocity}}, onset, from, to, gain);
    }
    // The same for notes that all start at `onset`.
    void expect_notes(const PacedPeriods& run, std::initializer_list<Note> notes, std::uint64_t onset, std::uint64_t from,
                      std::uint64_t to, float gain = 1.0f) {
        std::size_t bad = 0;
        for (std::uint64_t t = from; t < to; ++t) {
            float want = 0.0f;
            for (const Note& n : notes) want += testing::note_left(n.key, n.velocity, t - onset, kRate);
            want *= gain;
            if (std::fabs(run.left()[t] - want) > 1e-6f || std::fabs(run.right()[t] - 0.5f * want) > 1e-6f) {
                if (++bad <= 3)
                    ADD_FAILURE() << "at stream time " << t << " (" << static_cast<std::int64_t>(t - onset)
                                  << " after the onset): left " << run.left()[t] << ", right " << run.right()[t]
                                  << ", expected " << want << ", " << 0.5f * want;
            }
        }
        EXPECT_EQ(bad, 0u);
    }
    void expect_silence(const PacedPeriods& run, std::uint64_t from, std::uint64_t to) {
        for (std::uint64_t t = from; t < to; ++t) {
            if (run.left()[t] != 0.0f || run.right()[t] != 0.0f) {
                ADD_FAILURE() << "sound at stream time " << t << ": " << run.left()[t];
                return;
            }
        }
    }

    TemporaryDirectory dir_{"sostenuto-jack-core-test"};
    testing::ScopedEnvironment log_events_{testing::fake_engine_log_events, "1"};  // inherited by the engines launched
    EngineSupervisorConfig config_;
    EngineSupervisor supervisor_;
    std::uint32_t latency_ = 0;
};

TEST_F(WithFakeEngine, PlaysNotesOneLatencyBehind) {
    start();
    InstrumentCore core(supervisor_);
    PacedPeriods run(core, 128, 96000);
    const std::uint64_t on = 10037, off = on + 9600;
    run.schedule(on, {0x90, 69, 100});
    run.schedule(off, {0x90, 69, 0});
    run.start();
    ASSERT_TRUE(run.wait_for_stream_time(off + latency_ + 4000));
    run.stop();
    expect_silence(run, 0, on + latency_);
    expect_note(run, 69, 100, on + latency_, on + latency_, off + latency_);
    expect_silence(run, off + latency_, off + latency_ + 4000);
    const InstrumentCounters c = core.counters();
    EXPECT_EQ(c.underrun_periods, 0u);
    EXPECT_EQ(c.silent_periods, 0u);
    EXPECT_EQ(c.sessions_started, 1u);
    const auto events = testing::logged_events(log_path());
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].time, on);
    EXPECT_EQ(events[1].time, off);
    EXPECT_EQ(events[1].status, 0x80);
    EXPECT_EQ(events[1].data2, 64);
}

TEST_F(WithFakeEngine, AppliesTheGain) {
    start();
    InstrumentCore core(supervisor_);
    core.set_gain_db(-6.0);
    PacedPeriods run(core, 256, 48000);
    run.schedule(5000, {0x91, 60, 127});
    run.start();
    ASSERT_TRUE(run.wait_for_stream_time(5000 + latency_ + 9600));
    run.stop();
    expect_note(run, 60, 127, 5000 + latency_, 5000 + latency_, 5000 + latency_ + 9600,
                static_cast<float>(std::pow(10.0, -6.0 / 20.0)));
}

// Offline periods (JACK freewheeling) run as fast as they are called and wait
// for the engine: the output is complete. A stopped engine costs one bounded
// wait, then the session's offline periods stop waiting.
TEST_F(WithFakeEngine, OfflinePeriodsWaitForTheEngineAndGiveUpOnce) {
    start();
    InstrumentCore core(supervisor_);
    core.set_offline_wait(300ms);
    std::vector<float> left(96000), right(96000);
    const std::uint8_t on[] = {0x90, 67, 99};
    std::uint64_t s = 0;
    for (; s + 128 <= 48000; s += 128) {
        core.begin_period(128, s, true);
        if (s == 1024) core.add_midi(7, on, sizeof on);
        core.end_period(left.data() + s, right.data() + s);
    }
    InstrumentCounters c = core.counters();
    EXPECT_EQ(c.underrun_periods, 0u);
    EXPECT_EQ(c.offline_periods, 48000u / 128u);
    EXPECT_EQ(c.offline_timeouts, 0u);
    for (std::uint64_t t = 1031 + latency_; t < s; ++t)
        ASSERT_NEAR(left[t], testing::note_left(67, 99, t - 1031 - latency_, kRate), 1e-6f) << t;

    const int engine = supervisor_.engine_pid();
    ASSERT_EQ(::kill(engine, SIGSTOP), 0);
    ASSERT_TRUE(wait_until([&] { return testing::all_threads_stopped(engine); }, 5s));
    const auto started = std::chrono::steady_clock::now();
    for (; s + 128 <= 96000; s += 128) {
        core.begin_period(128, s, true);
        core.end_period(left.data() + s, right.data() + s);
    }
    const auto took = std::chrono::steady_clock::now() - started;
    ::kill(engine, SIGCONT);
    c = core.counters();
    EXPECT_EQ(c.offline_timeouts, 1u);
    EXPECT_GE(took, 300ms);
    EXPECT_LT(took, 2s) << "more than one wait";
    EXPECT_GT(c.underrun_periods, 0u);
}

// A stopped engine: the periods go on at once, the output fades out (no click),
// the periods are counted as underruns; when the engine runs again, so does the sound.
TEST_F(WithFakeEngine, UnderrunFadesOutNeverWaitsAndRecovers) {
    start();
    InstrumentCore core(supervisor_);
    core.set_fade_samples(96);
    PacedPeriods run(core, 128, 192000);
    const std::uint64_t on = 2000;
    run.schedule(on, {0x90, 57, 120});
    run.start();
    ASSERT_TRUE(run.wait_for_stream_time(on + latency_ + 4800));
    const int engine = supervisor_.engine_pid();
    ASSERT_EQ(::kill(engine, SIGSTOP), 0);
    ASSERT_TRUE(wait_until([&] { return testing::all_threads_stopped(engine); }, 5s));
    const std::uint64_t stopped_at = run.stream_time();
    ASSERT_TRUE(run.wait_for_stream_time(stopped_at + latency_ + 24000));  // past what it had rendered, and on
    EXPECT_GT(core.counters().underrun_periods, 10u);
    const std::uint64_t resumed_at = run.stream_time();  // before SIGCONT: silence up to here for sure
    ::kill(engine, SIGCONT);
    ASSERT_TRUE(run.wait_for_stream_time(resumed_at + latency_ + 9600));
    run.stop();
    EXPECT_LT(run.longest_period(), 20ms) << "a period waited for the engine";

    // Where the audio stopped, the last value decays linearly to zero over 96 samples.
    std::uint64_t gap = on + latency_;
    while (gap < stopped_at + latency_ + 24000 &&
           std::fabs(run.left()[gap] - testing::note_left(57, 120, gap - on - latency_, kRate)) < 1e-6f)
        ++gap;
    ASSERT_GT(gap, on + latency_ + 4800);
    ASSERT_LT(gap, stopped_at + latency_ + 24000) << "no gap";
    const float last = run.left()[gap - 1];
    for (std::uint64_t k = 0; k < 96; ++k)
        ASSERT_NEAR(run.left()[gap + k], last * (1.0f - static_cast<float>(k + 1) / 96.0f), 1e-6f) << k;
    expect_silence(run, gap + 96, resumed_at);
    // Then the note again (the engine renders by render time: it is still held).
    const long back = testing::first_above(run.left(), resumed_at, 0.0f);
    ASSERT_GT(back, 0);
    expect_note(run, 57, 120, on + latency_, static_cast<std::uint64_t>(back) + 96, resumed_at + latency_ + 9600);
    EXPECT_EQ(core.counters().sessions_started, 1u) << "a stopped engine is not a lost session";
}

// The engine is killed while a key and the pedal are held: the periods go on
// (silence), the supervisor starts another engine, and the first period of the
// new session tells it the pedal, the bend, the held key and the key the pedal
// holds (on, then off behind the pedal): both notes sound again.
TEST_F(WithFakeEngine, EngineRestartResendsHeldStateAndPlayingResumes) {
    start();
    InstrumentCore core(supervisor_);
    PacedPeriods run(core, 128, 240000);
    run.schedule(1000, {0xB0, 64, 127});
    run.schedule(1000, {0xE0, 0, 80});
    run.schedule(1001, {0x90, 64, 90});
    run.schedule(1002, {0x90, 67, 50});
    run.schedule(1003, {0x80, 67, 0});  // released, held by the pedal: re-sent as on and off
    run.start();
    ASSERT_TRUE(run.wait_for_stream_time(1001 + latency_ + 4800));
    const int first = supervisor_.engine_pid();
    ASSERT_EQ(::kill(first, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return core.counters().sessions_started >= 2; }, 20s)) << supervisor_.last_error();
    const InstrumentCounters c = core.counters();
    EXPECT_EQ(c.session_epoch, 2u);
    EXPECT_NE(supervisor_.engine_pid(), first);
    const std::uint64_t start2 = c.session_start;
    ASSERT_TRUE(run.wait_for_stream_time(start2 + c.session_latency + 9600));
    run.stop();

    EXPECT_GT(core.counters().silent_periods, 0u);
    expect_silence(run, start2, start2 + c.session_latency);
    expect_notes(run, {{64, 90}, {67, 50}}, start2 + c.session_latency, start2 + c.session_latency,
                 start2 + c.session_latency + 9600);

    std::vector<testing::LoggedEvent> resent;
    for (const auto& e : testing::logged_events(log_path()))
        if (e.process == 2) resent.push_back(e);
    ASSERT_EQ(resent.size(), 5u) << read_file(log_path());
    for (const auto& e : resent) EXPECT_EQ(e.time, 0u);
    EXPECT_EQ(resent[0].status, 0xB0);
    EXPECT_EQ(resent[0].data1, 64);
    EXPECT_EQ(resent[1].status, 0xE0);
    EXPECT_EQ(resent[1].data2, 80);
    EXPECT_EQ(resent[2].status, 0x90);
    EXPECT_EQ(resent[2].data1, 64);
    EXPECT_EQ(resent[2].data2, 90);
    EXPECT_EQ(resent[3].status, 0x90);
    EXPECT_EQ(resent[3].data1, 67);
    EXPECT_EQ(resent[3].data2, 50);
    EXPECT_EQ(resent[4].status, 0x80);
    EXPECT_EQ(resent[4].data1, 67);
    std::size_t parameters = 0;
    for (const auto& p : testing::logged_parameters(log_path())) parameters += p.process == 2 && p.time == 0;
    EXPECT_EQ(parameters, 3u);
}

}  // namespace
}  // namespace sostenuto::standalone
