#include "sostenuto/bridge/engine_launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
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
// Polling for the engine we started to listen: a connect() to a Unix socket
// costs microseconds, and every millisecond between the engine listening and
// us noticing is silence for players waiting on a restarted engine (issue #19:
// at up to 200 ms a poll, a restart took 100-200 ms longer than the engine's
// own start-up).
constexpr milliseconds first_poll_delay{5};
constexpr milliseconds max_poll_delay{20};
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

// True while another process holds the lock file `path`: a shared,
// non-blocking probe, released at once; a missing file means no holder.
bool lock_held(const std::string& path) {
    Fd lock(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (lock.get() < 0) return false;
    if (::flock(lock.get(), LOCK_SH | LOCK_NB) == 0) return false;  // released when `lock` closes
    return errno == EWOULDBLOCK;
}

// An engine is up or about to listen on `socket_path` (docs/protocol.md): it
// holds `PATH.lock`, or a warm spare holds `PATH.standby.lock` (from its start
// until it listens; it takes over the socket when its engine dies, and the
// kernel frees the engine's lock a moment before the spare has it).
bool engine_lock_held(const std::string& socket_path) {
    return lock_held(socket_path + ".lock") || lock_held(socket_path + ".standby.lock");
}

std::string format_seconds(double seconds) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", seconds);
    return text;
}

// ---- starting the engine without forking the host ---------------------------
//
// fork() in a plug-in would copy the host's page tables while holding its
// address-space lock for writing and leave every private page of the host
// copy-on-write: the host's audio threads would take page faults, and sleep
// on that lock, at the moment the engine starts. So the host is never forked.
// As posix_spawn does, the children are clone(CLONE_VM | CLONE_VFORK)s on
// stacks of their own: they share the host's memory (nothing is copied) and
// the calling thread is suspended until they are done with it. Twice:
//
//   host thread ── clone(VM|VFORK) ──▶ middle: setsid(); clone(VM|VFORK) ──▶ engine: reset, execve
//        ▲ resumes when the middle exits      ▲ resumes when the engine has exec'd (or failed)
//        └ reaps the middle at once           └ exits: the engine is re-parented to init
//
// The children share the host's memory and thread-local storage (errno), so
// they make raw system calls only (no libc state, no sanitizer interceptors,
// no signal handlers: every signal is blocked from before the first clone
// until the engine has its default dispositions), and they report through
// SpawnContext, which the calling thread reads when it resumes.

struct SpawnContext {
    const char* program;
    char* const* argv;
    char* const* envp;
    int null_fd;
    int log_fd;
    int max_fd;
    char* engine_stack_top;
    // Written by the children, read by the parent after it resumes.
    volatile int engine_pid;
    volatile int clone_error;
    volatile int exec_error;
};

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SOSTENUTO_CHILD_CODE __attribute__((no_sanitize_thread, no_sanitize_address, noinline))
#else
#define SOSTENUTO_CHILD_CODE __attribute__((noinline))
#endif

// clone() without interposition: a sanitizer's clone interceptor treats a
// non-thread clone as a fork and runs its child-side bookkeeping in the child,
// which here shares the host's memory. glibc exports the same entry point as
// __clone, which nothing interposes.
#ifdef __GLIBC__
extern "C" int __clone(int (*function)(void*), void* stack, int flags, void* argument, ...);
SOSTENUTO_CHILD_CODE int clone_vfork(int (*function)(void*), void* stack_top, void* argument) {
    return __clone(function, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, argument);
}
#else
SOSTENUTO_CHILD_CODE int clone_vfork(int (*function)(void*), void* stack_top, void* argument) {
    return ::clone(function, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, argument);
}
#endif

SOSTENUTO_CHILD_CODE long raw(long number, long a = 0, long b = 0, long c = 0, long d = 0) {
    return ::syscall(number, a, b, c, d);
}

// The engine process, until execve.
SOSTENUTO_CHILD_CODE int engine_main(void* argument) {
    auto* context = static_cast<SpawnContext*>(argument);
    // Default dispositions for every signal. All-zero is SIG_DFL with no
    // flags and an empty mask in every architecture's kernel_sigaction.
    unsigned long default_action[4] = {0, 0, 0, 0};
    for (long signal_number = 1; signal_number <= 64; ++signal_number) {
        raw(SYS_rt_sigaction, signal_number, reinterpret_cast<long>(default_action), 0, 8);  // fails for KILL, STOP
    }
    // stdin, stdout, stderr (the sources are >= 10, see lift), then nothing else.
    if (raw(SYS_dup3, context->null_fd, 0, 0) < 0 || raw(SYS_dup3, context->log_fd, 1, 0) < 0 ||
        raw(SYS_dup3, context->log_fd, 2, 0) < 0) {
        context->exec_error = errno;
        raw(SYS_exit_group, 127);
    }
    bool closed = false;
#ifdef SYS_close_range
    closed = raw(SYS_close_range, 3, static_cast<long>(~0u), 0) == 0;
#endif
    if (!closed) {
        for (int fd = 3; fd < context->max_fd; ++fd) raw(SYS_close, fd);
    }
    raw(SYS_chdir, reinterpret_cast<long>("/"));  // not fatal: the engine's paths are absolute
    const unsigned long no_signals = 0;
    raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&no_signals), 0, 8);
    raw(SYS_execve, reinterpret_cast<long>(context->program), reinterpret_cast<long>(context->argv),
        reinterpret_cast<long>(context->envp));
    context->exec_error = errno;
    raw(SYS_exit_group, 127);
    return 127;
}

// The middle process: a new session (so the engine can never take the host's
// terminal, and a terminal's signals do not reach it), the engine, and gone.
SOSTENUTO_CHILD_CODE int middle_main(void* argument) {
    auto* context = static_cast<SpawnContext*>(argument);
    raw(SYS_setsid);
    const int engine = clone_vfork(engine_main, context->engine_stack_top, context);
    if (engine < 0) {
        context->clone_error = errno;
    } else {
        context->engine_pid = engine;
    }
    raw(SYS_exit_group, 0);
    return 0;
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

    // Everything the children need is made here, before they exist.
    std::vector<std::string> arguments;
    arguments.push_back(command.program);
    arguments.insert(arguments.end(), command.arguments.begin(), command.arguments.end());
    arguments.insert(arguments.end(), {"serve", "--socket", socket_path});
    if (options.idle_exit_seconds > 0) {
        arguments.insert(arguments.end(), {"--idle-exit", format_seconds(options.idle_exit_seconds)});
    }
    if (options.keep_spare) arguments.emplace_back("--spare");
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
    // A clear message now rather than an engine that dies unseen.
    if (::access(command.program.c_str(), X_OK) != 0) {
        result.error = errno_text("cannot execute the engine " + command.program);
        return result;
    }
    rlimit files{};
    int max_fd = 65536;
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
        max_fd = static_cast<int>(std::min<rlim_t>(files.rlim_cur, 1u << 20));
    }
    // The environment as it is now, in memory of our own (another thread's
    // setenv could free the process's array while the children read it).
    std::vector<std::string> environment;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) environment.emplace_back(*entry);
    std::vector<char*> envp;
    for (std::string& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);

    constexpr std::size_t stack_size = 64 * 1024;
    void* stacks = ::mmap(nullptr, 2 * stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stacks == MAP_FAILED) {
        result.error = errno_text("mmap (starting the engine)");
        return result;
    }
    SpawnContext context{};
    context.program = command.program.c_str();
    context.argv = argv.data();
    context.envp = envp.data();
    context.null_fd = null.get();
    context.log_fd = log.get();
    context.max_fd = max_fd;
    context.engine_stack_top = static_cast<char*>(stacks) + 2 * stack_size;
    context.engine_pid = 0;
    context.clone_error = 0;
    context.exec_error = 0;

    sigset_t all_signals, previous_mask;
    sigfillset(&all_signals);
    ::pthread_sigmask(SIG_SETMASK, &all_signals, &previous_mask);
    const int middle = clone_vfork(middle_main, static_cast<char*>(stacks) + stack_size, &context);
    const int clone_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
    ::munmap(stacks, 2 * stack_size);
    if (middle < 0) {
        errno = clone_errno;
        result.error = errno_text("clone (starting the engine)");
        return result;
    }
    // The middle has exited (CLONE_VFORK resumed us): reap it. If the host
    // reaps children itself (SIGCHLD ignored, or a handler calling wait),
    // ECHILD is fine too.
    for (int status = 0; ::waitpid(middle, &status, __WALL) < 0 && errno == EINTR;) {
    }
    if (context.clone_error != 0) {
        errno = context.clone_error;
        result.error = errno_text("clone (starting the engine)");
        return result;
    }
    if (context.exec_error != 0) {
        errno = context.exec_error;
        result.error = errno_text("cannot execute the engine " + command.program);
        return result;
    }
    if (context.engine_pid <= 0) {
        result.error = "the engine process could not be started (no word from it)";
        return result;
    }
    result.pid = context.engine_pid;
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
        // An engine that holds the socket's lock but does not accept yet is a
        // warm spare taking over from an engine that just died (it listens
        // within milliseconds) or an engine about to bind: starting another
        // would only load a model to lose the lock to it.
        if (have_lock && !result.spawned && !engine_lock_held(socket_path)) {
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
                            : engine_lock_held(socket_path) ? " (an engine or its spare holds " + socket_path + ".lock or .standby.lock but does not accept)"
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
