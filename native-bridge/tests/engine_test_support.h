// Helpers for the launcher, supervisor and real-engine tests: private
// temporary directories, the fake engine's command, and ways to find, wait
// for and end the engine processes a test started (by pid, never by name).
#pragma once

#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sostenuto/bridge/engine_locator.h"

namespace sostenuto::bridge::testing {

// A private (0700) directory under /tmp, removed with everything in it.
class TemporaryDirectory {
public:
    explicit TemporaryDirectory(const char* prefix = "sostenuto-launcher-test") {
        std::string pattern = std::string("/tmp/") + prefix + "-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TemporaryDirectory() { remove_tree(path_); }
    TemporaryDirectory(const TemporaryDirectory&) = delete;
    TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

    static void remove_tree(const std::string& path) {
        struct stat info {};
        if (::lstat(path.c_str(), &info) != 0) return;
        if (S_ISDIR(info.st_mode)) {
            if (DIR* directory = ::opendir(path.c_str())) {
                std::vector<std::string> names;
                while (dirent* entry = ::readdir(directory)) {
                    const std::string name = entry->d_name;
                    if (name != "." && name != "..") names.push_back(name);
                }
                ::closedir(directory);
                for (const std::string& name : names) remove_tree(path + "/" + name);
            }
            ::rmdir(path.c_str());
        } else {
            ::unlink(path.c_str());
        }
    }

private:
    std::string path_;
};

inline void make_directories(const std::string& path) {
    std::string partial;
    std::stringstream parts(path);
    for (std::string part; std::getline(parts, part, '/');) {
        if (part.empty()) continue;
        partial += "/" + part;
        ::mkdir(partial.c_str(), 0700);
    }
}

inline void write_file(const std::string& path, const std::string& text, mode_t mode) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnvironment {
public:
    ScopedEnvironment(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old, had_ = true;
        if (value) ::setenv(name, value, 1); else ::unsetenv(name);
    }
    ~ScopedEnvironment() {
        if (had_) ::setenv(name_, old_.c_str(), 1); else ::unsetenv(name_);
    }

private:
    const char* name_;
    std::string old_;
    bool had_ = false;
};

#ifdef SOSTENUTO_FAKE_ENGINE_PATH
inline EngineCommand fake_engine_command() { return EngineCommand{SOSTENUTO_FAKE_ENGINE_PATH, {}}; }
#endif

inline bool process_alive(int pid) {
    if (pid <= 0) return false;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!stat || !std::getline(stat, text)) return false;
    const auto close = text.rfind(')');
    if (close == std::string::npos || close + 2 >= text.size()) return true;
    return text[close + 2] != 'Z' && text[close + 2] != 'X';
}

// Field `index` (1-based, as in proc(5)) of /proc/PID/stat, or -1.
inline long proc_stat_field(int pid, int index) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) return -1;
    const auto close = text.rfind(')');
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    for (int i = 3; i <= index; ++i) {
        if (!(rest >> field)) return -1;
    }
    return std::atol(field.c_str());
}

// True when every thread of `pid` is stopped (SIGSTOP takes effect
// asynchronously, thread by thread).
inline bool all_threads_stopped(int pid) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* directory = ::opendir(tasks.c_str());
    if (directory == nullptr) return false;
    bool stopped = true, any = false;
    while (dirent* entry = ::readdir(directory)) {
        if (entry->d_name[0] == '.') continue;
        std::ifstream stat(tasks + "/" + entry->d_name + "/stat");
        std::string text;
        if (!std::getline(stat, text)) continue;
        const auto close = text.rfind(')');
        any = true;
        stopped = stopped && close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'T';
    }
    ::closedir(directory);
    return any && stopped;
}

inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

// Ends a process this test started: SIGTERM, then SIGKILL if it lingers.
inline void end_process(int pid) {
    if (!process_alive(pid)) return;
    ::kill(pid, SIGTERM);
    if (!wait_until([&] { return !process_alive(pid); }, std::chrono::seconds(5))) {
        ::kill(pid, SIGKILL);
        wait_until([&] { return !process_alive(pid); }, std::chrono::seconds(5));
    }
}

// The pids that follow `marker` in the log's lines that also contain
// `and_then` after it, in order.
inline std::vector<int> logged_pids(const std::string& log_path, const std::string& marker, const std::string& and_then = "") {
    std::vector<int> pids;
    std::istringstream log(read_file(log_path));
    for (std::string line; std::getline(log, line);) {
        const auto at = line.find(marker);
        if (at != std::string::npos && line.find(and_then, at) != std::string::npos)
            pids.push_back(std::atoi(line.c_str() + at + marker.size()));
    }
    return pids;
}

// The pids the fake engine logged as started ("fake-engine: started pid=P").
inline std::vector<int> fake_engine_pids(const std::string& log_path) {
    return logged_pids(log_path, "fake-engine: started pid=");
}

// The warm spares of the real engine (`serve --spare`, EngineSpare.cs) that
// logged "standby (pid P): loaded and warm", in order.
inline std::vector<int> warm_spare_pids(const std::string& log_path) {
    return logged_pids(log_path, "standby (pid ", "loaded and warm");
}

// Waits until a spare other than `engine_pid` is warm and alive; its pid, or 0.
inline int wait_for_warm_spare(const std::string& log_path, int engine_pid, std::chrono::milliseconds timeout) {
    int spare = 0;
    wait_until(
        [&] {
            for (int pid : warm_spare_pids(log_path)) {
                if (pid != engine_pid && process_alive(pid)) spare = pid;
            }
            return spare != 0;
        },
        timeout);
    return spare;
}

inline std::size_t count_occurrences(const std::string& text, const std::string& what) {
    std::size_t count = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
    return count;
}

inline std::uint64_t random_instance_id() {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) | device();
}

}  // namespace sostenuto::bridge::testing
