// engine_launcher against sostenuto_fake_engine, a real separate process.
// Every engine a test starts is ended by its pid at the end of the test (and
// exits on its own after a few idle seconds anyway).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "engine_test_support.h"
#include "sostenuto/bridge/engine_launcher.h"

namespace sostenuto::bridge {
namespace {

using namespace std::chrono_literals;
using testing::count_occurrences;
using testing::end_process;
using testing::fake_engine_command;
using testing::fake_engine_pids;
using testing::process_alive;
using testing::read_file;
using testing::TemporaryDirectory;
using testing::wait_until;
using Clock = std::chrono::steady_clock;

// Ends every fake engine the log says was started, when the test ends.
struct EngineCleanup {
    std::string log_path;
    ~EngineCleanup() {
        for (int pid : fake_engine_pids(log_path)) end_process(pid);
    }
};

LaunchOptions test_options(double idle_exit = 10) {
    LaunchOptions options;
    options.idle_exit_seconds = idle_exit;
    return options;
}

TEST(EngineLauncher, StartsADetachedEngineWhenNothingListens) {
    TemporaryDirectory dir;
    const std::string socket = dir / "sostenuto-engine.sock";
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    // A descriptor the host leaves open across exec: the engine must not get it.
    const int leaked = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(leaked, 3);

    const EngineLaunchResult result = ensure_engine_running(socket, fake_engine_command(), 10s, test_options());
    ::close(leaked);
    ASSERT_TRUE(result.ok) << result.error;
    EXPECT_TRUE(result.spawned);
    EXPECT_GT(result.spawned_pid, 0);
    EXPECT_EQ(result.engine_pid, result.spawned_pid);
    EXPECT_EQ(result.log_path, dir / "sostenuto-engine.log");

    // Detached: not our child (no zombie can ever be ours), its own session,
    // only stdin/stdout/stderr open.
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD) << "the launcher left a child of the host behind";
    EXPECT_NE(testing::proc_stat_field(result.engine_pid, 4), ::getpid()) << "the engine's parent is the host";
    EXPECT_NE(testing::proc_stat_field(result.engine_pid, 6), ::getsid(0)) << "the engine shares the host's session";

    const std::string log = read_file(result.log_path);
    EXPECT_NE(log.find("starting " + std::string(SOSTENUTO_FAKE_ENGINE_PATH) + " serve --socket " + socket +
                       " --idle-exit 10"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("fake-engine: started pid=" + std::to_string(result.engine_pid) + " sid="), std::string::npos) << log;
    EXPECT_NE(log.find(" fds=0,1,2\n"), std::string::npos) << "inherited descriptors reached the engine:\n" << log;
    struct stat info {};
    ASSERT_EQ(::stat(result.log_path.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat(socket.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u);

    // Running already: nothing is started.
    const EngineLaunchResult again = ensure_engine_running(socket, fake_engine_command(), 10s, test_options());
    ASSERT_TRUE(again.ok) << again.error;
    EXPECT_FALSE(again.spawned);
    EXPECT_EQ(again.engine_pid, result.engine_pid);
    EXPECT_EQ(fake_engine_pids(result.log_path).size(), 1u);
}

TEST(EngineLauncher, ConcurrentLaunchesStartOneEngine) {
    TemporaryDirectory dir;
    const std::string socket = dir / "sostenuto-engine.sock";
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    LaunchOptions options = test_options();
    options.extra_arguments = {"--startup-delay-ms", "300"};  // like loading a model

    constexpr int launchers = 3;
    std::vector<EngineLaunchResult> results(launchers);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < launchers; ++i) {
        threads.emplace_back([&, i] {
            ready.fetch_add(1);
            while (ready.load() < launchers) {
            }
            results[i] = ensure_engine_running(socket, fake_engine_command(), 10s, options);
        });
    }
    for (auto& thread : threads) thread.join();

    int spawned = 0;
    for (const auto& result : results) {
        ASSERT_TRUE(result.ok) << result.error;
        EXPECT_EQ(result.engine_pid, results[0].engine_pid);
        spawned += result.spawned ? 1 : 0;
    }
    EXPECT_EQ(spawned, 1) << "the launch lock lets one launcher start the engine";
    EXPECT_EQ(fake_engine_pids(dir / "sostenuto-engine.log").size(), 1u);
    EXPECT_TRUE(process_alive(results[0].engine_pid));
}

TEST(EngineLauncher, RacingEnginesEndWithOneThroughTheEngineLock) {
    // Without the launch lock both launchers start an engine; the engine's
    // own lock makes the loser exit, and both launchers reach the winner.
    TemporaryDirectory dir;
    const std::string socket = dir / "sostenuto-engine.sock";
    const std::string log_path = dir / "sostenuto-engine.log";
    EngineCleanup cleanup{log_path};
    LaunchOptions options = test_options();
    options.serialize_launches = false;
    options.extra_arguments = {"--startup-delay-ms", "300"};

    EngineLaunchResult first, second;
    std::atomic<int> ready{0};
    auto launch = [&](EngineLaunchResult& result) {
        ready.fetch_add(1);
        while (ready.load() < 2) {
        }
        result = ensure_engine_running(socket, fake_engine_command(), 10s, options);
    };
    std::thread a(launch, std::ref(first)), b(launch, std::ref(second));
    a.join();
    b.join();
    ASSERT_TRUE(first.ok) << first.error;
    ASSERT_TRUE(second.ok) << second.error;
    EXPECT_TRUE(first.spawned);
    EXPECT_TRUE(second.spawned);
    EXPECT_EQ(first.engine_pid, second.engine_pid);

    const std::vector<int> started = fake_engine_pids(log_path);
    ASSERT_EQ(started.size(), 2u);
    EXPECT_TRUE(wait_until([&] { return process_alive(started[0]) != process_alive(started[1]); }, 5s))
        << "exactly one engine must remain";
    const std::string log = read_file(log_path);
    EXPECT_EQ(count_occurrences(log, "fake-engine: serving "), 1u) << log;
    EXPECT_EQ(count_occurrences(log, "an engine is already serving"), 1u) << log;
    EXPECT_TRUE(process_alive(first.engine_pid));
}

TEST(EngineLauncher, AProgramThatCannotBeExecutedIsReportedAtOnce) {
    TemporaryDirectory dir;
    const auto started = Clock::now();
    const EngineLaunchResult result =
        ensure_engine_running(dir / "sostenuto-engine.sock", EngineCommand{dir / "no-such-engine", {}}, 20s, test_options());
    EXPECT_FALSE(result.ok);
    EXPECT_NE(result.error.find("cannot execute the engine " + (dir / "no-such-engine")), std::string::npos) << result.error;
    EXPECT_NE(result.error.find("No such file or directory"), std::string::npos) << result.error;
    EXPECT_LT(Clock::now() - started, 3s);
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

TEST(EngineLauncher, AnExecFailureInTheChildIsReported) {
    TemporaryDirectory dir;
    testing::write_file(dir / "not-a-program", "neither ELF nor #!\n", 0755);
    const EngineLaunchResult result =
        ensure_engine_running(dir / "sostenuto-engine.sock", EngineCommand{dir / "not-a-program", {}}, 20s, test_options());
    EXPECT_FALSE(result.ok);
    EXPECT_FALSE(result.spawned);
    EXPECT_NE(result.error.find("cannot execute the engine " + (dir / "not-a-program") + ": Exec format error"),
              std::string::npos)
        << result.error;
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

TEST(EngineLauncher, StartingTheEngineDoesNotMakeTheHostsMemoryCopyOnWrite) {
    // A fork() would leave every private page of the host copy-on-write: the
    // next write to each one faults (the host's audio thread included).
    TemporaryDirectory dir;
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    constexpr std::size_t size = 64 * 1024 * 1024;
    const long page = ::sysconf(_SC_PAGESIZE);
    std::vector<char> memory(size, 1);
    auto minor_faults = [] {
        rusage usage{};
        ::getrusage(RUSAGE_SELF, &usage);
        return usage.ru_minflt;
    };
    const SpawnResult spawned = spawn_engine_detached(dir / "sostenuto-engine.sock", fake_engine_command(), test_options(),
                                                      dir / "sostenuto-engine.log");
    ASSERT_TRUE(spawned.ok) << spawned.error;
    const long before = minor_faults();
    for (std::size_t i = 0; i < size; i += static_cast<std::size_t>(page)) memory[i] = 2;
    const long faults = minor_faults() - before;
    EXPECT_LT(faults, 100) << "writing " << size / page << " pages after a launch took " << faults << " page faults";
    end_process(spawned.pid);
}

TEST(EngineLauncher, AnEngineThatExitsAtStartIsReportedWithItsLog) {
    TemporaryDirectory dir;
    LaunchOptions options = test_options();
    options.extra_arguments = {"--exit-at-start", "3"};
    const auto started = Clock::now();
    const EngineLaunchResult result =
        ensure_engine_running(dir / "sostenuto-engine.sock", fake_engine_command(), 20s, options);
    EXPECT_FALSE(result.ok);
    EXPECT_TRUE(result.spawned);
    EXPECT_NE(result.error.find("exited before it listened on " + (dir / "sostenuto-engine.sock")), std::string::npos)
        << result.error;
    EXPECT_NE(result.error.find("exiting at start with code 3 as told"), std::string::npos) << result.error;
    EXPECT_LT(Clock::now() - started, 5s);
}

TEST(EngineLauncher, TimesOutWhenTheEngineDoesNotListenInTime) {
    TemporaryDirectory dir;
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    LaunchOptions options = test_options();
    options.extra_arguments = {"--startup-delay-ms", "10000"};
    const auto started = Clock::now();
    const EngineLaunchResult result =
        ensure_engine_running(dir / "sostenuto-engine.sock", fake_engine_command(), 400ms, options);
    EXPECT_FALSE(result.ok);
    EXPECT_NE(result.error.find("timed out after 400 ms"), std::string::npos) << result.error;
    EXPECT_NE(result.error.find(result.log_path), std::string::npos) << result.error;
    EXPECT_LT(Clock::now() - started, 2s);
}

TEST(EngineLauncher, CanBeCancelled) {
    TemporaryDirectory dir;
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    std::atomic<bool> cancel{false};
    LaunchOptions options = test_options();
    options.extra_arguments = {"--startup-delay-ms", "10000"};
    options.cancel = &cancel;
    std::thread canceller([&] {
        std::this_thread::sleep_for(200ms);
        cancel.store(true);
    });
    const auto started = Clock::now();
    const EngineLaunchResult result =
        ensure_engine_running(dir / "sostenuto-engine.sock", fake_engine_command(), 20s, options);
    canceller.join();
    EXPECT_FALSE(result.ok);
    EXPECT_NE(result.error.find("cancelled"), std::string::npos) << result.error;
    EXPECT_LT(Clock::now() - started, 2s);
}

TEST(EngineLauncher, TheEngineExitsWhenIdle) {
    TemporaryDirectory dir;
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    const std::string socket = dir / "sostenuto-engine.sock";
    const EngineLaunchResult result = ensure_engine_running(socket, fake_engine_command(), 10s, test_options(0.5));
    ASSERT_TRUE(result.ok) << result.error;
    EXPECT_TRUE(wait_until([&] { return !process_alive(result.engine_pid); }, 5s));
    EXPECT_FALSE(probe_engine(socket));
    // And the next launch starts a new one.
    const EngineLaunchResult next = ensure_engine_running(socket, fake_engine_command(), 10s, test_options(0.5));
    ASSERT_TRUE(next.ok) << next.error;
    EXPECT_TRUE(next.spawned);
    EXPECT_NE(next.engine_pid, result.engine_pid);
}

TEST(EngineLauncher, ABigLogIsMovedAsideFirst) {
    TemporaryDirectory dir;
    EngineCleanup cleanup{dir / "sostenuto-engine.log"};
    {
        std::ofstream big(dir / "sostenuto-engine.log");
        big << std::string(9 * 1024 * 1024, 'x') << "\n";
    }
    const EngineLaunchResult result =
        ensure_engine_running(dir / "sostenuto-engine.sock", fake_engine_command(), 10s, test_options(0.5));
    ASSERT_TRUE(result.ok) << result.error;
    struct stat info {};
    ASSERT_EQ(::stat((dir / "sostenuto-engine.log.1").c_str(), &info), 0);
    EXPECT_GT(info.st_size, 9 * 1024 * 1024);
    ASSERT_EQ(::stat((dir / "sostenuto-engine.log").c_str(), &info), 0);
    EXPECT_LT(info.st_size, 4096);
}

TEST(EngineLauncher, ProbeSaysWhetherSomethingListens) {
    TemporaryDirectory dir;
    std::string error;
    EXPECT_FALSE(probe_engine(dir / "nothing.sock", nullptr, &error));
    EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
}

}  // namespace
}  // namespace sostenuto::bridge
