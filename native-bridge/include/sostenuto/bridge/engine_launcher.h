// Starting the engine process on demand.
//
// One engine serves every plug-in instance of the user. When an instance
// finds nothing listening on the socket, it starts `<engine> serve --socket
// PATH --idle-exit 30` fully detached from the host, then connects with
// back-off until the engine listens. The engine's own lock (`PATH.lock`,
// flock) makes a second engine exit at once, so instances that race end with
// one engine; the launcher also takes `PATH.launch.lock` while it starts one,
// so that in the usual case only one is even started.
//
// Everything here blocks, allocates and makes system calls: never call it on
// the audio thread. EngineSupervisor (engine_supervisor.h) calls it from its
// own thread.
//
// Detaching: the engine is started as a grandchild that is re-parented to init
// (or the nearest subreaper): the middle process calls setsid, starts the
// engine and exits, and is reaped at once, so the host never gets a zombie and
// needs no SIGCHLD handler. The host is never fork()ed: both children are
// clone(CLONE_VM | CLONE_VFORK)s, the way posix_spawn starts a program, so no
// page table of the host is copied and none of its memory turns copy-on-write
// (a fork would make the host's audio threads fault, and sleep on the address-
// space lock, right when the engine starts). The children make raw system
// calls only. The engine gets /dev/null as stdin, the log as stdout and stderr,
// default signal dispositions, an empty signal mask, "/" as its working
// directory, the host's environment, and no other file descriptor of the host's.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "sostenuto/bridge/engine_locator.h"

namespace sostenuto::bridge {

inline constexpr const char* engine_log_file_name = "sostenuto-engine.log";

struct LaunchOptions {
    // --idle-exit SECONDS: the engine exits when no instance has been
    // connected for this long. 0 leaves the option out (the engine never exits).
    double idle_exit_seconds = 30.0;
    // Where the engine's stdout and stderr go (appended, mode 0600). Empty:
    // `sostenuto-engine.log` in the socket's directory (the runtime directory
    // for the default socket). A log over 8 MiB is moved to `….1` first.
    std::string log_path;
    // More arguments after ours (`--model DIR`, `--threads N`).
    std::vector<std::string> extra_arguments;
    // Take `<socket>.launch.lock` while starting an engine, so concurrent
    // launchers start one between them. (The engine's lock is what guarantees
    // one engine either way; tests turn this off to exercise that.)
    bool serialize_launches = true;
    // --spare: the engine keeps a warm spare process that takes over its
    // socket within milliseconds if it dies (`sostenuto serve --spare`;
    // EngineSpare.cs): an instance's audio comes back after an engine crash
    // without waiting for a cold start, at the cost of a second process's
    // memory.
    bool keep_spare = true;
    // Polled while waiting: when it becomes true the launcher gives up.
    const std::atomic<bool>* cancel = nullptr;
};

struct EngineLaunchResult {
    bool ok = false;        // something of this user's accepted a connection on the socket
    bool spawned = false;   // this call started an engine process
    int spawned_pid = 0;    // the process it started (it may have lost the race and exited)
    int engine_pid = 0;     // the process that accepted the connection (SO_PEERCRED)
    std::string log_path;   // where the engine logs
    std::string error;      // when !ok: why, for the user and the log
};

// If a connection to `socket_path` succeeds, returns at once (nothing
// started). Otherwise starts the engine (unless another launcher is starting
// one) and polls the socket with back-off (5 ms doubling to 20 ms) until it
// accepts a connection or `timeout` passes. Fails early, with the log's last
// lines, when the started engine cannot be executed or exits while nothing
// listens.
EngineLaunchResult ensure_engine_running(const std::string& socket_path, const EngineCommand& command,
                                         std::chrono::milliseconds timeout, const LaunchOptions& options = {});

// Connects to `socket_path` and closes again: true when a process of this
// user accepts. `engine_pid` gets its pid; `error` why not.
bool probe_engine(const std::string& socket_path, int* engine_pid = nullptr, std::string* error = nullptr);

struct SpawnResult {
    bool ok = false;   // the engine program was executed
    int pid = 0;       // its process id
    std::string error;
};

// The spawning step alone: starts `command serve --socket PATH [--idle-exit S]
// [extra]` detached (see the top of this file) with its output appended to
// `log_path`, and returns once the program has been executed (or has failed
// to be). Does not wait for the engine to listen.
SpawnResult spawn_engine_detached(const std::string& socket_path, const EngineCommand& command,
                                  const LaunchOptions& options, const std::string& log_path);

// `sostenuto-engine.log` beside the socket, or options.log_path.
std::string engine_log_path(const std::string& socket_path, const LaunchOptions& options);

}  // namespace sostenuto::bridge
