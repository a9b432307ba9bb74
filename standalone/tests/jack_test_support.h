// The JACK tests' machinery: child processes (jackd, sostenuto-jack), a
// private `jackd -d dummy` server, and two test clients in the test process —
// one plays MIDI at given frames, one records two audio inputs by frame.
// Two clients, not one, so that the graph runs source → sostenuto-jack →
// recorder within one cycle (a single client both feeding and recording
// sostenuto-jack would be a feedback loop, delayed by a period).
#pragma once

#include <jack/jack.h>
#include <jack/midiport.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine_test_support.h"

extern char** environ;

namespace sostenuto::standalone::testing {

using namespace std::chrono_literals;
using sostenuto::bridge::testing::read_file;
using sostenuto::bridge::testing::wait_until;

// A program on $PATH (or empty).
inline std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
}

// A child process with its stdout and stderr in a file. Ended (SIGKILL) and
// reaped in the destructor if still running.
class ChildProcess {
public:
    ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& environment,
                 const std::string& output_path)
        : output_path_(output_path) {
        std::vector<std::string> env_storage;
        for (char** e = environ; *e != nullptr; ++e) {
            const std::string entry = *e;
            const std::string name = entry.substr(0, entry.find('='));
            if (environment.count(name) == 0) env_storage.push_back(entry);
        }
        for (const auto& [name, value] : environment) env_storage.push_back(name + "=" + value);
        std::vector<char*> envp, args;
        for (std::string& e : env_storage) envp.push_back(e.data());
        envp.push_back(nullptr);
        std::vector<std::string> argv_storage = argv;
        for (std::string& a : argv_storage) args.push_back(a.data());
        args.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attributes, &none);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
        if (::posix_spawn(&pid_, args[0], &actions, &attributes, args.data(), envp.data()) != 0) pid_ = 0;
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
    }
    ~ChildProcess() {
        if (running()) {
            ::kill(pid_, SIGKILL);
            wait_for_exit(5s);
        }
    }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    int pid() const { return pid_; }
    bool started() const { return pid_ > 0; }
    bool running() {
        reap();
        return pid_ > 0 && !exited_;
    }
    // The exit status (WEXITSTATUS, or 128 + signal), or -1 if it did not end in time.
    int wait_for_exit(std::chrono::milliseconds timeout) {
        wait_until([&] { return !running(); }, timeout);
        if (!exited_) return -1;
        return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
    }
    int stop(int signal = SIGTERM, std::chrono::milliseconds timeout = 10s) {
        if (!running()) return wait_for_exit(0ms);
        ::kill(pid_, signal);
        return wait_for_exit(timeout);
    }
    std::string output() const { return read_file(output_path_); }

private:
    void reap() {
        if (pid_ <= 0 || exited_) return;
        if (::waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
    }
    std::string output_path_;
    pid_t pid_ = 0;
    bool exited_ = false;
    int status_ = 0;
};

inline jack_client_t* open_client(const std::string& name, const std::string& server) {
    jack_status_t status{};
    return jack_client_open(name.c_str(), static_cast<jack_options_t>(JackNoStartServer | JackServerName), &status,
                            server.c_str());
}

// `jackd -n NAME -d dummy -r 48000 -p 128`, a server of the test's own.
class DummyJackServer {
public:
    static std::string jackd() { return find_program("jackd"); }

    DummyJackServer(const std::string& directory, std::uint32_t rate = 48000, std::uint32_t period = 128) {
        static std::atomic<int> counter{0};
        name_ = "sostenuto-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        process_ = std::make_unique<ChildProcess>(
            // -t: a generous client timeout (ms), so that opening a client on a busy machine does not fail.
            std::vector<std::string>{jackd(), "-n", name_, "-t", "5000", "-d", "dummy", "-r", std::to_string(rate), "-p",
                                     std::to_string(period)},
            std::map<std::string, std::string>{{"JACK_NO_AUDIO_RESERVATION", "1"}}, directory + "/jackd.log");
    }
    ~DummyJackServer() {
        stop(SIGTERM);
        // What a killed server leaves behind under its own name (never another server's files).
        if (DIR* shm = ::opendir("/dev/shm")) {
            std::vector<std::string> stale;
            while (dirent* entry = ::readdir(shm)) {
                const std::string file = entry->d_name;
                if (file.find("_" + name_ + "_") != std::string::npos) stale.push_back("/dev/shm/" + file);
            }
            ::closedir(shm);
            for (const std::string& file : stale) ::unlink(file.c_str());
        }
    }
    // Ends the server (SIGKILL after 10 s if it lingers); its exit status.
    int stop(int signal) {
        if (!process_) return -1;
        int status = process_->stop(signal, 10s);
        if (status < 0) status = process_->stop(SIGKILL, 5s);
        return status;
    }

    // Waits until a client can connect (libjack's complaints while it cannot are silenced).
    bool wait_until_ready(std::chrono::milliseconds timeout = 15s) {
        jack_set_error_function([](const char*) {});
        jack_set_info_function([](const char*) {});
        struct Restore {
            ~Restore() {
                jack_set_error_function([](const char* message) { std::fprintf(stderr, "libjack: %s\n", message); });
                jack_set_info_function([](const char*) {});
            }
        } restore;
        return wait_until(
            [&] {
                if (!process_->running()) return true;
                if (jack_client_t* probe = open_client("sostenuto-test-probe", name_)) {
                    jack_client_close(probe);
                    ready_ = true;
                    return true;
                }
                std::this_thread::sleep_for(50ms);
                return false;
            },
            timeout) &&
               ready_;
    }
    const std::string& name() const { return name_; }
    std::string log() const { return process_->output(); }

private:
    std::string name_;
    std::unique_ptr<ChildProcess> process_;
    bool ready_ = false;
};

// Plays MIDI messages at absolute JACK frame times (scheduled from the test
// thread, in order, ahead of time); late ones go out at offset 0 and are counted.
class MidiSource {
public:
    static constexpr std::size_t capacity = 4096;

    bool open(const std::string& server, std::string name = "sostenuto-test-midi") {
        client_ = open_client(name, server);
        if (client_ == nullptr) return false;
        port_ = jack_port_register(client_, "out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
        jack_set_process_callback(client_, process, this);
        return port_ != nullptr && jack_activate(client_) == 0;
    }
    ~MidiSource() { close(); }
    void close() {
        if (client_) jack_client_close(client_);
        client_ = nullptr;
    }
    std::string port_name() const { return jack_port_name(port_); }
    jack_client_t* client() const { return client_; }
    jack_nframes_t now() const { return jack_frame_time(client_); }

    void play(jack_nframes_t frame, std::initializer_list<std::uint8_t> bytes) {
        const std::size_t i = count_.load();
        if (i >= capacity) throw std::runtime_error("MidiSource: too many events");
        Message& m = messages_[i];
        m.frame = frame;
        m.size = 0;
        for (std::uint8_t b : bytes) m.bytes[m.size++] = b;
        count_.store(i + 1, std::memory_order_release);
    }
    // True once everything scheduled has gone out.
    bool all_sent() const { return sent_.load() == count_.load(); }
    std::size_t late() const { return late_.load(); }

private:
    struct Message {
        jack_nframes_t frame = 0;
        std::size_t size = 0;
        std::uint8_t bytes[16] = {};
    };
    static int process(jack_nframes_t frames, void* self_pointer) {
        auto* self = static_cast<MidiSource*>(self_pointer);
        void* buffer = jack_port_get_buffer(self->port_, frames);
        jack_midi_clear_buffer(buffer);
        const jack_nframes_t start = jack_last_frame_time(self->client_);
        const std::size_t count = self->count_.load(std::memory_order_acquire);
        std::size_t next = self->sent_.load(std::memory_order_relaxed);
        while (next < count) {
            const Message& m = self->messages_[next];
            const auto ahead = static_cast<std::int32_t>(m.frame - start);
            if (ahead >= static_cast<std::int32_t>(frames)) break;
            jack_nframes_t offset = 0;
            if (ahead < 0)
                self->late_.fetch_add(1);
            else
                offset = static_cast<jack_nframes_t>(ahead);
            jack_midi_event_write(buffer, offset, m.bytes, m.size);
            ++next;
        }
        self->sent_.store(next);
        return 0;
    }
    jack_client_t* client_ = nullptr;
    jack_port_t* port_ = nullptr;
    Message messages_[capacity];
    std::atomic<std::size_t> count_{0}, sent_{0}, late_{0};
};

// Records two audio inputs, by JACK frame time, from its first cycle on.
class Recorder {
public:
    explicit Recorder(std::size_t seconds = 40) : left_(seconds * 48000), right_(seconds * 48000) {}
    ~Recorder() { close(); }
    void close() {
        if (client_) jack_client_close(client_);
        client_ = nullptr;
    }
    bool open(const std::string& server, std::string name = "sostenuto-test-rec") {
        client_ = open_client(name, server);
        if (client_ == nullptr) return false;
        in_[0] = jack_port_register(client_, "in_L", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        in_[1] = jack_port_register(client_, "in_R", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
        jack_set_process_callback(client_, process, this);
        jack_set_xrun_callback(client_, on_xrun, this);
        return in_[0] != nullptr && in_[1] != nullptr && jack_activate(client_) == 0;
    }
    std::string port_name(int channel) const { return jack_port_name(in_[channel]); }
    jack_client_t* client() const { return client_; }

    // The recording covers frames [first_frame, first_frame + recorded()).
    bool started() const { return started_.load(); }
    jack_nframes_t first_frame() const { return first_frame_.load(); }
    std::size_t recorded() const { return recorded_.load(std::memory_order_acquire); }
    // Waits until frame `frame` (absolute) has been recorded.
    bool wait_for_frame(jack_nframes_t frame, std::chrono::milliseconds timeout = 30s) const {
        return wait_until(
            [&] { return started() && static_cast<std::int32_t>(frame - first_frame() - recorded()) < 0; }, timeout);
    }
    std::size_t index(jack_nframes_t frame) const { return static_cast<std::size_t>(frame - first_frame()); }
    const std::vector<float>& left() const { return left_; }
    const std::vector<float>& right() const { return right_; }
    std::uint64_t cycle_gaps() const { return gaps_.load(); }
    // Xruns the server reported since the recorder opened (anyone's, not only ours).
    std::uint64_t xruns() const { return xruns_.load(); }

private:
    static int on_xrun(void* self_pointer) {
        static_cast<Recorder*>(self_pointer)->xruns_.fetch_add(1);
        return 0;
    }
    static int process(jack_nframes_t frames, void* self_pointer) {
        auto* self = static_cast<Recorder*>(self_pointer);
        const jack_nframes_t frame = jack_last_frame_time(self->client_);
        if (!self->started_.load()) {
            self->first_frame_.store(frame);
            self->started_.store(true);
        }
        const std::size_t at = static_cast<std::size_t>(frame - self->first_frame_.load());
        if (at != self->recorded_.load()) self->gaps_.fetch_add(1);
        if (at + frames <= self->left_.size()) {
            const auto* l = static_cast<const float*>(jack_port_get_buffer(self->in_[0], frames));
            const auto* r = static_cast<const float*>(jack_port_get_buffer(self->in_[1], frames));
            std::memcpy(self->left_.data() + at, l, frames * sizeof(float));
            std::memcpy(self->right_.data() + at, r, frames * sizeof(float));
            self->recorded_.store(at + frames, std::memory_order_release);
        }
        return 0;
    }
    jack_client_t* client_ = nullptr;
    jack_port_t* in_[2] = {nullptr, nullptr};
    std::vector<float> left_, right_;
    std::atomic<bool> started_{false};
    std::atomic<jack_nframes_t> first_frame_{0};
    std::atomic<std::size_t> recorded_{0};
    std::atomic<std::uint64_t> gaps_{0}, xruns_{0};
};

// The last "status …" line of sostenuto-jack's stderr as key → value.
inline std::map<std::string, std::string> last_status(const std::string& output) {
    std::map<std::string, std::string> fields;
    const auto at = output.rfind("sostenuto-jack: status ");
    if (at == std::string::npos) return fields;
    std::istringstream line(output.substr(at + 23, output.find('\n', at) - at - 23));
    for (std::string field; line >> field;) {
        const auto eq = field.find('=');
        if (eq != std::string::npos) fields[field.substr(0, eq)] = field.substr(eq + 1);
    }
    return fields;
}

inline std::uint64_t status_number(const std::map<std::string, std::string>& status, const std::string& key) {
    const auto it = status.find(key);
    return it == status.end() ? ~0ull : std::strtoull(it->second.c_str(), nullptr, 10);
}

// "session N audio: stream time S (JACK frame J) is its start; latency D"
struct SessionStart {
    std::uint64_t session = 0, stream_time = 0;
    jack_nframes_t jack_frame = 0;
    std::uint32_t latency = 0;
};

inline std::vector<SessionStart> session_starts(const std::string& output) {
    std::vector<SessionStart> starts;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
        unsigned long long session = 0, stream = 0, frame = 0;
        unsigned latency = 0;
        if (std::sscanf(line.c_str(), "sostenuto-jack: session %llu audio: stream time %llu (JACK frame %llu) is its start; latency %u",
                        &session, &stream, &frame, &latency) == 4)
            starts.push_back({session, stream, static_cast<jack_nframes_t>(frame), latency});
    }
    return starts;
}

}  // namespace sostenuto::standalone::testing
