#include "sostenuto/bridge/engine_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

extern char** environ;

namespace sostenuto::bridge {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr off_t max_log_size = 8 * 1024 * 1024;
constexpr milliseconds first_poll_delay{10};
constexpr milliseconds max_poll_delay{200};
// How long the socket may stay silent after the engine we started has
// exited before we call it a failed start. Losing the engine lock to a
// concurrent engine is the benign way to exit, and that engine binds its
// socket right after taking the lock.
constexpr milliseconds dead_engine_grace{500};

std::string errno_text(const std::string& what) { return what + ": " + std::system_category().message(errno); }

// A descriptor that is closed when it goes out of scope.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// Moves a descriptor to 10 or above (close-on-exec), so the child's dup2s
// onto 0..3 never overwrite one another's sources.
int lift(int fd) {
    if (fd < 0 || fd >= 10) return fd;
    const int lifted = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return lifted;
}

std::string directory_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

bool process_alive(int pid) {
    if (pid <= 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!stat || !std::getline(stat, text)) return ::kill(pid, 0) == 0;
    // "pid (comm) S ...": the state follows the last ')'.
    const auto close = text.rfind(')');
    if (close == std::string::npos || close + 2 >= text.size()) return true;
    const char state = text[close + 2];
    return state != 'Z' && state != 'X';
}

// The last lines the engine wrote to its log since `offset`.
std::string log_tail(const std::string& log_path, std::uint64_t offset) {
    std::ifstream log(log_path, std::ios::binary);
    if (!log) return {};
    log.seekg(static_cast<std::streamoff>(offset));
    std::stringstream buffer;
    buffer << log.rdbuf();
    std::string text = buffer.str();
    if (text.size() > 2000) text = text.substr(text.size() - 2000);
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) lines.push_back(line);
    }
    std::string tail;
    const std::size_t first = lines.size() > 4 ? lines.size() - 4 : 0;
    for (std::size_t i = first; i < lines.size(); ++i) tail += (tail.empty() ? "" : " | ") + lines[i];
    return tail;
}

std::string format_seconds(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", seconds);
    return text;
}

// What the middle and the engine process tell the launcher through the
// status pipe: the engine's pid, or why it could not be started.
struct StatusRecord {
    std::int32_t kind;  // one of the values below
    std::int32_t value;
};
constexpr std::int32_t status_pid = 1;         // value: the engine's pid
constexpr std::int32_t status_fork_error = 2;  // value: errno of the second fork
constexpr std::int32_t status_exec_error = 3;  // value: errno of execve

[[noreturn]] void report_and_exit(int fd, std::int32_t kind, std::int32_t value) {
    const StatusRecord record{kind, value};
    [[maybe_unused]] const ssize_t ignored = ::write(fd, &record, sizeof record);
    ::_exit(127);
}

// Runs in the engine process between fork and exec: async-signal-safe calls only.
[[noreturn]] void exec_engine(const char* program, char* const* argv, char* const* envp, int null_fd, int log_fd,
                              int status_fd, int max_fd) {
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
        ::sigaction(signal_number, &default_action, nullptr);  // fails harmlessly for KILL, STOP and libc's own
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    // All sources are >= 10 (see lift), so these never clobber each other.
    if (::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0 || ::dup2(status_fd, 3) < 0) {
        report_and_exit(status_fd, status_exec_error, errno);
    }
    ::fcntl(3, F_SETFD, FD_CLOEXEC);  // closes itself when exec succeeds: the launcher sees end-of-file
    bool closed = false;
#ifdef SYS_close_range
    closed = ::syscall(SYS_close_range, 4u, ~0u, 0u) == 0;
#endif
    if (!closed) {
        for (int fd = 4; fd < max_fd; ++fd) ::close(fd);
    }
    if (::chdir("/") != 0) {
        // Not fatal: the engine uses absolute paths.
    }
    ::execve(program, argv, envp);
    report_and_exit(3, status_exec_error, errno);
}

// fork() in the middle process, which is a child of a multithreaded host:
// glibc's _Fork is the async-signal-safe fork that runs no atfork handlers.
pid_t fork_in_child() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return ::_Fork();
#else
    return ::fork();
#endif
}

}  // namespace

std::string engine_log_path(const std::string& socket_path, const LaunchOptions& options) {
    if (!options.log_path.empty()) return options.log_path;
    return directory_of(socket_path) + "/" + engine_log_file_name;
}

bool probe_engine(const std::string& socket_path, int* engine_pid, std::string* error) {
    auto fail = [&](const std::string& why) {
        if (error) *error = why;
        return false;
    };
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof address.sun_path) return fail("socket path too long: " + socket_path);
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    Fd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (socket.get() < 0) return fail(errno_text("socket"));
    for (;;) {
        if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) break;
        if (errno == EINTR) continue;
        // A full backlog: something listens and is busy accepting.
        if (errno == EAGAIN) {
            if (engine_pid) *engine_pid = 0;
            return true;
        }
        return fail(errno_text("connecting to " + socket_path));
    }
    ucred peer{};
    socklen_t size = sizeof peer;
    if (::getsockopt(socket.get(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) return fail(errno_text("SO_PEERCRED"));
    if (peer.uid != ::geteuid()) return fail("the process behind " + socket_path + " belongs to another user");
    if (engine_pid) *engine_pid = static_cast<int>(peer.pid);
    return true;
}

SpawnResult spawn_engine_detached(const std::string& socket_path, const EngineCommand& command,
                                  const LaunchOptions& options, const std::string& log_path) {
    SpawnResult result;
    if (command.program.empty()) {
        result.error = "no engine program given";
        return result;
    }

    // Everything the children need is made here, before fork.
    std::vector<std::string> arguments;
    arguments.push_back(command.program);
    arguments.insert(arguments.end(), command.arguments.begin(), command.arguments.end());
    arguments.insert(arguments.end(), {"serve", "--socket", socket_path});
    if (options.idle_exit_seconds > 0) {
        arguments.insert(arguments.end(), {"--idle-exit", format_seconds(options.idle_exit_seconds)});
    }
    arguments.insert(arguments.end(), options.extra_arguments.begin(), options.extra_arguments.end());
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);

    // The log: appended to, private, never through a planted symlink.
    struct stat log_info {};
    if (::stat(log_path.c_str(), &log_info) == 0 && log_info.st_size > max_log_size) {
        ::rename(log_path.c_str(), (log_path + ".1").c_str());
    }
    Fd log(lift(::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)));
    if (log.get() < 0) {
        result.error = errno_text("engine log " + log_path);
        return result;
    }
    {
        char when[64] = "?";
        const std::time_t now = std::time(nullptr);
        std::tm local{};
        if (::localtime_r(&now, &local)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &local);
        std::string line = std::string("==== ") + when + " launcher (pid " + std::to_string(::getpid()) + "): starting";
        for (const std::string& argument : arguments) line += " " + argument;
        line += "\n";
        [[maybe_unused]] const ssize_t ignored = ::write(log.get(), line.data(), line.size());
    }
    Fd null(lift(::open("/dev/null", O_RDWR | O_CLOEXEC)));
    if (null.get() < 0) {
        result.error = errno_text("/dev/null");
        return result;
    }
    int status_pipe[2];
    if (::pipe2(status_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        result.error = errno_text("pipe");
        return result;
    }
    Fd status_read(lift(status_pipe[0]));
    Fd status_write(lift(status_pipe[1]));
    if (status_read.get() < 0 || status_write.get() < 0) {
        result.error = errno_text("pipe");
        return result;
    }
    rlimit files{};
    int max_fd = 65536;
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
        max_fd = static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1u << 20));
    }
    const char* program = command.program.c_str();
    char* const* envp = environ;

    const pid_t middle = ::fork();
    if (middle < 0) {
        result.error = errno_text("fork");
        return result;
    }
    if (middle == 0) {
        // The middle process: a new session, one more fork, and gone, so the
        // engine is nobody's child here and can never take the terminal.
        ::setsid();
        const pid_t engine = fork_in_child();
        if (engine < 0) report_and_exit(status_write.get(), status_fork_error, errno);
        if (engine > 0) {
            const StatusRecord record{status_pid, static_cast<std::int32_t>(engine)};
            [[maybe_unused]] const ssize_t ignored = ::write(status_write.get(), &record, sizeof record);
            ::_exit(0);
        }
        exec_engine(program, argv.data(), envp, null.get(), log.get(), status_write.get(), max_fd);
    }

    status_write.reset();
    log.reset();
    null.reset();
    // Reap the middle process at once. If the host reaps children itself
    // (SIGCHLD ignored, or a handler calling wait), ECHILD is fine too.
    for (int status = 0; ::waitpid(middle, &status, 0) < 0 && errno == EINTR;) {
    }

    // Records until end-of-file: the engine's pid, then an exec error if any.
    // End-of-file comes when exec succeeds (the write end is close-on-exec).
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
    std::int32_t exec_error = 0, fork_error = 0;
    StatusRecord record{};
    std::size_t have = 0;
    for (;;) {
        const ssize_t got = ::read(status_read.get(), reinterpret_cast<char*>(&record) + have, sizeof record - have);
        if (got == 0) break;
        if (got < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) break;
        }
        if (got > 0) {
            have += static_cast<std::size_t>(got);
            if (have < sizeof record) continue;
            have = 0;
            if (record.kind == status_pid) result.pid = record.value;
            if (record.kind == status_fork_error) fork_error = record.value;
            if (record.kind == status_exec_error) exec_error = record.value;
            continue;
        }
        pollfd wait{status_read.get(), POLLIN, 0};
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
        if (left <= 0 || ::poll(&wait, 1, static_cast<int>(left)) == 0) break;
    }
    if (fork_error != 0) {
        errno = fork_error;
        result.error = errno_text("fork (starting the engine)");
        return result;
    }
    if (exec_error != 0) {
        errno = exec_error;
        result.error = errno_text("cannot execute the engine " + command.program);
        return result;
    }
    if (result.pid <= 0) {
        result.error = "the engine process could not be started (no word from it)";
        return result;
    }
    result.ok = true;
    return result;
}

EngineLaunchResult ensure_engine_running(const std::string& socket_path, const EngineCommand& command,
                                         milliseconds timeout, const LaunchOptions& options) {
    EngineLaunchResult result;
    result.log_path = engine_log_path(socket_path, options);
    const Clock::time_point deadline = Clock::now() + timeout;
    auto connected = [&] { return probe_engine(socket_path, &result.engine_pid); };
    if (connected()) {
        result.ok = true;
        return result;
    }

    Fd launch_lock;
    bool have_lock = !options.serialize_launches;
    if (options.serialize_launches) {
        launch_lock.reset(::open((socket_path + ".launch.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (launch_lock.get() < 0) have_lock = true;  // cannot serialise: the engine's own lock still keeps one engine
    }

    milliseconds delay = first_poll_delay;
    std::uint64_t log_offset = 0;
    Clock::time_point engine_gone_since{};
    for (;;) {
        if (options.cancel && options.cancel->load(std::memory_order_acquire)) {
            result.error = "cancelled while starting the engine";
            return result;
        }
        if (!have_lock) {
            // Another launcher is starting one: wait for it (or for the lock).
            have_lock = ::flock(launch_lock.get(), LOCK_EX | LOCK_NB) == 0;
            if (have_lock && connected()) break;
        }
        if (have_lock && !result.spawned) {
            if (connected()) break;
            struct stat log_info {};
            if (::stat(result.log_path.c_str(), &log_info) == 0) log_offset = static_cast<std::uint64_t>(log_info.st_size);
            const SpawnResult spawned = spawn_engine_detached(socket_path, command, options, result.log_path);
            if (!spawned.ok) {
                result.error = spawned.error;
                return result;
            }
            result.spawned = true;
            result.spawned_pid = spawned.pid;
        }
        if (connected()) break;
        const Clock::time_point now = Clock::now();
        if (result.spawned && !process_alive(result.spawned_pid)) {
            if (engine_gone_since == Clock::time_point{}) engine_gone_since = now;
            if (now - engine_gone_since >= dead_engine_grace) {
                result.error = "the engine (" + command.describe() + ", pid " + std::to_string(result.spawned_pid) +
                               ") exited before it listened on " + socket_path;
                const std::string tail = log_tail(result.log_path, log_offset);
                result.error += tail.empty() ? " (see " + result.log_path + ")"
                                             : "; its log (" + result.log_path + ") ends: " + tail;
                return result;
            }
        }
        if (now >= deadline) {
            result.error = "timed out after " + std::to_string(timeout.count()) + " ms waiting for the engine to listen on " +
                           socket_path +
                           (result.spawned ? " (started " + command.describe() + ", pid " +
                                                 std::to_string(result.spawned_pid) + "; see " + result.log_path + ")"
                                           : " (another launcher is starting it)");
            return result;
        }
        std::this_thread::sleep_for(std::min<Clock::duration>(delay, deadline - now));
        delay = std::min(delay * 2, max_poll_delay);
    }
    result.ok = true;
    return result;
}

}  // namespace sostenuto::bridge
