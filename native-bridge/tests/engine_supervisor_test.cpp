// EngineSupervisor against sostenuto_fake_engine (a separate process, started
// by the supervisor's launcher): sessions, the stream-time mapping, killing the
// engine mid-stream and recovering in a new epoch, and an audio thread that
// never waits through all of it.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "engine_test_support.h"
#include "fake_engine_signal.h"
#include "sostenuto/bridge/engine_supervisor.h"

namespace sostenuto::bridge {
namespace {

using namespace std::chrono_literals;
using testing::end_process;
using testing::fake_engine_command;
using testing::fake_engine_pids;
using testing::process_alive;
using testing::read_file;
using testing::TemporaryDirectory;
using testing::wait_until;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t block_frames = 256;

struct EngineCleanup {
    std::string log_path;
    ~EngineCleanup() {
        for (int pid : fake_engine_pids(log_path)) end_process(pid);
    }
};

// Records the supervisor's events.
struct EventLog {
    std::mutex mutex;
    std::vector<EngineSupervisorEvent> events;
    void add(const EngineSupervisorEvent& event) {
        std::lock_guard<std::mutex> lock(mutex);
        events.push_back(event);
    }
    std::vector<EngineSupervisorEvent> snapshot() {
        std::lock_guard<std::mutex> lock(mutex);
        return events;
    }
    std::string describe() {
        std::string text;
        for (const auto& e : snapshot()) text += std::string(to_string(e.state)) + "(" + std::to_string(e.epoch) + "): " + e.message + "\n";
        return text;
    }
};

EngineSupervisorConfig test_config(const TemporaryDirectory& dir, EventLog* events = nullptr) {
    EngineSupervisorConfig config;
    config.sample_rate = 48000;
    config.max_block_size = block_frames;
    config.compute_slack_samples = 1024;
    config.instance_id = testing::random_instance_id();
    config.ring_capacity_frames = 1u << 14;
    config.socket_path = dir / "sostenuto-engine.sock";
    config.engine = fake_engine_command();
    config.launch.idle_exit_seconds = 10;
    config.launch.extra_arguments = {"--lookahead", "64"};
    config.launch_timeout = 10s;
    config.min_retry_delay = 20ms;
    config.max_retry_delay = 200ms;
    if (events) config.on_event = [events](const EngineSupervisorEvent& e) { events->add(e); };
    return config;
}

// A host's audio thread: blocks of 256 frames, faster than real time, every
// supervisor call timed, every sample checked against what the fake engine
// renders for the render time the mapping says.
class AudioThread {
public:
    explicit AudioThread(EngineSupervisor& supervisor, bool offline_waits = false)
        : supervisor_(supervisor), offline_waits_(offline_waits) {}
    ~AudioThread() { stop(); }

    void start() {
        thread_ = std::thread([this] { run(); });
    }
    void stop() {
        stop_.store(true);
        if (thread_.joinable()) thread_.join();
    }

    // Blocks whose output was entirely engine audio (not the latency's lead-in), per epoch.
    std::uint64_t good_blocks(std::uint64_t epoch) const { return epoch < 8 ? good_[epoch].load() : 0; }
    std::uint64_t wrong_samples() const { return wrong_.load(); }
    std::uint64_t silent_blocks() const { return silent_.load(); }
    std::uint64_t new_sessions() const { return new_sessions_.load(); }
    std::chrono::nanoseconds longest_call() const { return std::chrono::nanoseconds(longest_ns_.load()); }
    std::uint64_t calls() const { return calls_.load(); }
    std::uint64_t calls_over_1ms() const { return over_1ms_.load(); }
    std::uint64_t voluntary_switches() const { return voluntary_switches_.load(); }
    std::string blocked_calls() {
        std::lock_guard<std::mutex> lock(mutex_);
        std::string text;
        for (const auto& line : blocked_) text += line + "\n";
        return text;
    }
    std::vector<std::uint64_t> epoch_starts() {
        std::lock_guard<std::mutex> lock(mutex_);
        return epoch_starts_;
    }

private:
    // Times a call and counts the voluntary context switches inside it: a
    // call that slept, waited on a lock or blocked in a system call makes one;
    // being preempted (a shared, loaded machine) does not.
    template <typename F>
    auto timed(int kind, F&& call) {
        rusage usage_before{}, usage_after{};
        ::getrusage(RUSAGE_THREAD, &usage_before);
        const auto before = Clock::now();
        auto result = call();
        const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - before).count();
        ::getrusage(RUSAGE_THREAD, &usage_after);
        const auto switches = static_cast<std::uint64_t>(usage_after.ru_nvcsw - usage_before.ru_nvcsw);
        voluntary_switches_.fetch_add(switches);
        if (switches > 0) {
            std::lock_guard<std::mutex> lock(mutex_);
            blocked_.push_back("call " + std::to_string(kind) + " in epoch " + std::to_string(supervisor_.epoch()) +
                               " state " + to_string(supervisor_.state()) + ": " + std::to_string(took) + " ns, minflt " +
                               std::to_string(usage_after.ru_minflt - usage_before.ru_minflt) + ", majflt " +
                               std::to_string(usage_after.ru_majflt - usage_before.ru_majflt));
        }
        if (took > longest_ns_.load(std::memory_order_relaxed)) longest_ns_.store(took);
        if (took > 1000000) over_1ms_.fetch_add(1);
        calls_.fetch_add(1, std::memory_order_relaxed);
        return result;
    }

    void run() {
        std::vector<float> left(block_frames), right(block_frames);
        float* out[2] = {left.data(), right.data()};
        std::uint64_t stream_time = 0;
        MidiEvent events[2];
        while (!stop_.load()) {
            const EngineBlock block = timed(0, [&] { return supervisor_.begin_block(stream_time); });
            if (block.new_session) {
                new_sessions_.fetch_add(1);
                std::lock_guard<std::mutex> lock(mutex_);
                epoch_starts_.push_back(block.epoch_start);
            }
            events[0] = {stream_time + 3, 0x90, 60, 100};
            events[1] = {stream_time + 200, 0x80, 60, 0};
            timed(1, [&] { return supervisor_.send_events(events, 2); });
            timed(2, [&] { return supervisor_.send_parameter(stream_time + 10, 1, 0.5f); });
            timed(3, [&] { return supervisor_.send_clock(stream_time + block_frames); });
            const std::size_t valid =
                offline_waits_ ? supervisor_.read_audio_waiting(stream_time, out, block_frames, 2s)
                               : timed(4, [&] { return supervisor_.read_audio(stream_time, out, block_frames); });
            timed(5, [&] { supervisor_.end_block(); return 0; });
            check(block, stream_time, valid, left, right);
            stream_time += block_frames;
            std::this_thread::sleep_for(1500us);  // ~3.5x real time at 48 kHz
        }
    }

    void check(const EngineBlock& block, std::uint64_t stream_time, std::size_t valid, const std::vector<float>& left,
               const std::vector<float>& right) {
        if (!block.live) {
            silent_.fetch_add(1);
            for (std::size_t i = 0; i < block_frames; ++i) {
                if (left[i] != 0.0f || right[i] != 0.0f) wrong_.fetch_add(1);
            }
            return;
        }
        bool all_engine_audio = valid == block_frames;
        for (std::size_t i = 0; i < block_frames; ++i) {
            const std::int64_t render = static_cast<std::int64_t>(stream_time + i - block.epoch_start) -
                                        static_cast<std::int64_t>(block.total_latency_samples);
            float expected_left = 0, expected_right = 0;
            if (i < valid && render >= 0) {
                expected_left = testing::fake_engine_sample(static_cast<std::uint64_t>(render), 0);
                expected_right = testing::fake_engine_sample(static_cast<std::uint64_t>(render), 1);
            }
            if (render < 0) all_engine_audio = false;
            if (left[i] != expected_left || right[i] != expected_right) wrong_.fetch_add(1);
        }
        if (all_engine_audio && block.epoch < 8) good_[block.epoch].fetch_add(1);
    }

    EngineSupervisor& supervisor_;
    const bool offline_waits_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> good_[8] = {};
    std::atomic<std::uint64_t> wrong_{0}, silent_{0}, new_sessions_{0}, calls_{0}, over_1ms_{0}, voluntary_switches_{0};
    std::atomic<std::int64_t> longest_ns_{0};
    std::mutex mutex_;
    std::vector<std::uint64_t> epoch_starts_;
    std::vector<std::string> blocked_;
};

TEST(EngineSupervisor, LaunchesTheEngineAndStreams) {
    TemporaryDirectory dir;
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    EventLog events;
    EngineSupervisor supervisor;
    std::string error;
    ASSERT_TRUE(supervisor.start(test_config(dir, &events), error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(10s)) << supervisor.last_error() << "\n" << events.describe();
    EXPECT_EQ(supervisor.epoch(), 1u);
    EXPECT_EQ(supervisor.total_latency_samples(), 64u + 1024u);
    ASSERT_TRUE(supervisor.welcome());
    EXPECT_EQ(supervisor.welcome()->model_name, "fake");
    EXPECT_GT(supervisor.engine_pid(), 0);
    EXPECT_EQ(supervisor.counters().engine_launches, 1u);

    AudioThread audio(supervisor, /*offline_waits=*/true);
    audio.start();
    EXPECT_TRUE(wait_until([&] { return audio.good_blocks(1) >= 100; }, 20s));
    audio.stop();
    EXPECT_EQ(audio.wrong_samples(), 0u);
    EXPECT_EQ(audio.new_sessions(), 1u);
    ASSERT_EQ(audio.epoch_starts().size(), 1u);
    EXPECT_EQ(audio.epoch_starts()[0], 0u);

    supervisor.stop();
    EXPECT_EQ(supervisor.state(), EngineState::stopped);
    EXPECT_TRUE(wait_until([&] { return read_file(dir / "sostenuto-engine.log").find("closed (goodbye)") != std::string::npos; }, 5s))
        << read_file(dir / "sostenuto-engine.log");
    const auto recorded = events.snapshot();
    ASSERT_GE(recorded.size(), 3u);
    EXPECT_EQ(recorded.front().state, EngineState::connecting);
    EXPECT_EQ(recorded.back().state, EngineState::stopped);
}

TEST(EngineSupervisor, RecoversWhenTheEngineIsKilledMidStreamAndTheAudioThreadNeverWaits) {
    TemporaryDirectory dir;
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    EventLog events;
    EngineSupervisor supervisor;
    std::string error;
    ASSERT_TRUE(supervisor.start(test_config(dir, &events), error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(10s)) << supervisor.last_error();

    AudioThread audio(supervisor);  // realtime: never waits, plays what there is
    audio.start();
    ASSERT_TRUE(wait_until([&] { return audio.good_blocks(1) >= 100; }, 20s)) << "no audio in the first session";

    const int first_engine = supervisor.engine_pid();
    ASSERT_GT(first_engine, 0);
    ASSERT_EQ(::kill(first_engine, SIGKILL), 0);
    EXPECT_TRUE(wait_until([&] { return supervisor.state() != EngineState::running; }, 2s)) << "the loss went unnoticed";
    ASSERT_TRUE(wait_until([&] { return supervisor.epoch() >= 2 && supervisor.state() == EngineState::running; }, 15s))
        << supervisor.last_error() << "\n" << events.describe();
    const int second_engine = supervisor.engine_pid();
    EXPECT_NE(second_engine, first_engine);
    EXPECT_TRUE(process_alive(second_engine));
    ASSERT_TRUE(wait_until([&] { return audio.good_blocks(2) >= 100; }, 20s)) << "the stream did not resume";
    audio.stop();

    // The audio: exactly the engine's samples for the mapped render time
    // (or silence), in both sessions; silence in between.
    EXPECT_EQ(audio.wrong_samples(), 0u);
    EXPECT_GT(audio.silent_blocks(), 0u);
    EXPECT_EQ(audio.new_sessions(), 2u);
    const auto starts = audio.epoch_starts();
    ASSERT_EQ(starts.size(), 2u);
    EXPECT_EQ(starts[0], 0u);
    EXPECT_GT(starts[1], starts[0]);

    // Never waited: no call gave up the CPU of its own accord (slept, waited
    // on a lock, blocked in the kernel) across the kill, the relaunch and the
    // new session. Wall time as well, generous against preemption on a shared
    // machine: a relaunch takes tens of milliseconds, a call waiting for it more.
    EXPECT_EQ(audio.voluntary_switches(), 0u) << "an audio-thread call blocked:\n" << audio.blocked_calls();
    EXPECT_LT(audio.longest_call(), 50ms) << "an audio-thread call took " << audio.longest_call().count() << " ns";
    std::printf("[ audio ] %llu calls, longest %.3f ms, %llu over 1 ms, %llu voluntary context switches\n",
                static_cast<unsigned long long>(audio.calls()), audio.longest_call().count() / 1e6,
                static_cast<unsigned long long>(audio.calls_over_1ms()),
                static_cast<unsigned long long>(audio.voluntary_switches()));

    const EngineSupervisorCounters counters = supervisor.counters();
    EXPECT_EQ(counters.sessions, 2u);
    EXPECT_EQ(counters.sessions_lost, 1u);
    EXPECT_EQ(counters.engine_launches, 2u);
    EXPECT_EQ(counters.ring_replacements, 0u) << "a dead engine holds no ring: it is reused";
    EXPECT_GT(counters.silent_blocks, 0u);

    // The states went running → down → connecting → running.
    const auto recorded = events.snapshot();
    std::vector<EngineState> after_first_running;
    bool seen_running = false;
    for (const auto& e : recorded) {
        if (seen_running) after_first_running.push_back(e.state);
        seen_running = seen_running || e.state == EngineState::running;
    }
    ASSERT_GE(after_first_running.size(), 3u) << events.describe();
    EXPECT_EQ(after_first_running.front(), EngineState::down) << events.describe();
    EXPECT_EQ(after_first_running.back(), EngineState::running) << events.describe();
    EXPECT_NE(recorded.back().message.find("session 2"), std::string::npos) << events.describe();
    bool said_why = false;
    for (const auto& e : recorded) said_why = said_why || (e.state == EngineState::down && e.message.find("engine closed the connection") != std::string::npos);
    EXPECT_TRUE(said_why) << events.describe();

    supervisor.stop();
}

TEST(EngineSupervisor, TwoInstancesStartingAtOnceShareOneEngine) {
    TemporaryDirectory dir;
    const std::string log_path = dir / "sostenuto-engine.log";
    EngineCleanup cleanup{log_path};
    EngineSupervisorConfig config = test_config(dir);
    config.launch.extra_arguments.insert(config.launch.extra_arguments.end(), {"--startup-delay-ms", "300"});
    EngineSupervisorConfig other = config;
    other.instance_id = testing::random_instance_id();

    EngineSupervisor first, second;
    std::string error;
    ASSERT_TRUE(first.start(config, error)) << error;
    ASSERT_TRUE(second.start(other, error)) << error;
    ASSERT_TRUE(first.wait_until_running(10s)) << first.last_error();
    ASSERT_TRUE(second.wait_until_running(10s)) << second.last_error();
    EXPECT_EQ(first.engine_pid(), second.engine_pid());
    EXPECT_EQ(first.counters().engine_launches + second.counters().engine_launches, 1u);
    EXPECT_EQ(fake_engine_pids(log_path).size(), 1u) << read_file(log_path);
    first.stop();
    second.stop();
}

TEST(EngineSupervisor, ARingAHungEngineMayStillHoldIsReplacedNotReused) {
    TemporaryDirectory dir;
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    EngineSupervisorConfig config = test_config(dir);
    config.close_wait = 200ms;
    EngineSupervisor supervisor;
    std::string error;
    ASSERT_TRUE(supervisor.start(config, error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(10s)) << supervisor.last_error();
    const int hung = supervisor.engine_pid();

    // The engine stops answering; the session ends without its close.
    ASSERT_EQ(::kill(hung, SIGSTOP), 0);
    ASSERT_TRUE(wait_until([&] { return testing::all_threads_stopped(hung); }, 5s));
    supervisor.stop();
    EXPECT_EQ(supervisor.counters().ring_replacements, 0u);
    ASSERT_EQ(::kill(hung, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return !process_alive(hung); }, 5s));

    ASSERT_TRUE(supervisor.start(config, error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(10s)) << supervisor.last_error();
    EXPECT_EQ(supervisor.counters().ring_replacements, 1u);
    EXPECT_EQ(supervisor.epoch(), 2u);
    AudioThread audio(supervisor, /*offline_waits=*/true);
    audio.start();
    EXPECT_TRUE(wait_until([&] { return audio.good_blocks(2) >= 50; }, 20s));
    audio.stop();
    EXPECT_EQ(audio.wrong_samples(), 0u);
    supervisor.stop();
}

TEST(EngineSupervisor, WithoutAnEngineCommandItOnlyRetriesAndSaysWhy) {
    TemporaryDirectory dir;
    EventLog events;
    EngineSupervisorConfig config = test_config(dir, &events);
    config.engine.reset();
    EngineSupervisor supervisor;
    std::string error;
    ASSERT_TRUE(supervisor.start(config, error)) << error;
    EXPECT_FALSE(supervisor.wait_until_running(300ms));
    EXPECT_TRUE(wait_until([&] { return supervisor.counters().failed_attempts >= 2; }, 5s));
    EXPECT_NE(supervisor.last_error().find(config.socket_path), std::string::npos) << supervisor.last_error();
    EXPECT_EQ(supervisor.counters().engine_launches, 0u);

    // The audio thread plays silence meanwhile.
    float left[64], right[64];
    std::fill(left, left + 64, 1.0f);
    std::fill(right, right + 64, 1.0f);
    float* out[2] = {left, right};
    const EngineBlock block = supervisor.begin_block(0);
    EXPECT_FALSE(block.live);
    EXPECT_FALSE(supervisor.send_clock(64));
    EXPECT_EQ(supervisor.read_audio(0, out, 64), 0u);
    supervisor.end_block();
    EXPECT_TRUE(std::all_of(left, left + 64, [](float x) { return x == 0.0f; }));
    EXPECT_TRUE(std::all_of(right, right + 64, [](float x) { return x == 0.0f; }));

    const auto started = Clock::now();
    supervisor.stop();
    EXPECT_LT(Clock::now() - started, 1s);
    EXPECT_EQ(supervisor.state(), EngineState::stopped);
    bool down_seen = false;
    for (const auto& e : events.snapshot()) down_seen = down_seen || e.state == EngineState::down;
    EXPECT_TRUE(down_seen);
}

TEST(EngineSupervisor, ProcessModeSentByTheAudioThreadCarriesIntoTheNextHello) {
    TemporaryDirectory dir;
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    EngineSupervisor supervisor;
    std::string error;
    ASSERT_TRUE(supervisor.start(test_config(dir), error)) << error;
    ASSERT_TRUE(supervisor.wait_until_running(10s)) << supervisor.last_error();
    {
        EngineBlockScope scope(supervisor, 0);
        ASSERT_TRUE(scope.block().live);
        EXPECT_TRUE(scope.block().new_session);
        EXPECT_TRUE(supervisor.send_process_mode(ProcessMode::offline, 0));
        EXPECT_TRUE(supervisor.send_clock(block_frames));
    }
    const int engine = supervisor.engine_pid();
    ASSERT_EQ(::kill(engine, SIGKILL), 0);
    ASSERT_TRUE(wait_until([&] { return supervisor.epoch() >= 2 && supervisor.state() == EngineState::running; }, 15s))
        << supervisor.last_error();
    const std::string log = read_file(dir / "sostenuto-engine.log");
    EXPECT_EQ(testing::count_occurrences(log, ": hello, ring "), 2u) << log;
    EXPECT_EQ(testing::count_occurrences(log, ", realtime\n"), 1u) << log;
    EXPECT_EQ(testing::count_occurrences(log, ", offline\n"), 1u) << "the second Hello must say offline:\n" << log;
    EngineBlockScope scope(supervisor, block_frames);
    EXPECT_TRUE(scope.block().live);
    EXPECT_TRUE(scope.block().new_session);
    EXPECT_EQ(scope.block().epoch_start, block_frames);
}

}  // namespace
}  // namespace sostenuto::bridge
