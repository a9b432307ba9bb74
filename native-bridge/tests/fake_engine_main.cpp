// sostenuto_fake_engine: a stand-in for `sostenuto serve`, as its own process,
// for the launcher and supervisor tests (which kill it with SIGKILL).
//
//   sostenuto_fake_engine serve --socket PATH [--idle-exit SECONDS] [--spare (ignored)]
//       [--startup-delay-ms N]   sleep first (the real engine loads its model)
//       [--lookahead N]          lookahead samples it reports (default 0)
//       [--exit-at-start CODE]   exit at once with CODE (a broken engine)
//       [--signal time|notes]    what it renders (fake_engine_signal.h; default time)
//
// It behaves like EngineServer where the launcher can tell: it takes
// PATH.lock (flock) after its startup delay and exits 1 if another engine
// holds it; removes a stale socket; listens with mode 0600; answers Hello
// with Welcome (latency = lookahead + max(slack, block)); renders
// fake_engine_sample() into the instance's ring as ClockAdvances make it
// final (up to the clock minus the lookahead); sends Status; unmaps the ring before closing a connection; exits
// after --idle-exit seconds without connections, and on SIGTERM.
//
// It writes to stdout (the launcher's log): "fake-engine: started pid=P
// sid=S fds=0,1,2", "fake-engine: serving PATH pid=P", and why it exits.
// With SOSTENUTO_FAKE_ENGINE_LOG_EVENTS=1 in its environment it also logs
// every MIDI event and parameter change it receives ("instance N: event T
// 0xSS D1 D2", "instance N: parameter T ID VALUE", in session time), so that
// a front end's tests can see what a new session was told; likewise process
// modes ("instance N: process mode T offline") and flushes ("instance N: flush T").
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fake_engine_signal.h"
#include "sostenuto/bridge/audio_ring.h"
#include "sostenuto/bridge/protocol.h"

using namespace sostenuto::bridge;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<bool> terminate_requested{false};
std::atomic<int> active_connections{0};
std::atomic<std::int64_t> last_activity_ms{0};
std::uint32_t lookahead_samples = 0;
bool render_notes = false;  // --signal notes
bool log_events = false;

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

void say(const std::string& line) {
    std::printf("fake-engine: %s\n", line.c_str());
    std::fflush(stdout);
}

std::string open_descriptors() {
    std::string list;
    DIR* directory = ::opendir("/proc/self/fd");
    if (directory == nullptr) return "?";
    std::vector<int> fds;
    while (dirent* entry = ::readdir(directory)) {
        if (entry->d_name[0] == '.') continue;
        const int fd = std::atoi(entry->d_name);
        if (fd != ::dirfd(directory)) fds.push_back(fd);
    }
    ::closedir(directory);
    std::sort(fds.begin(), fds.end());
    for (std::size_t i = 0; i < fds.size(); ++i) list += (i ? "," : "") + std::to_string(fds[i]);
    return list;
}

template <typename Message>
bool send_message(int socket, const Message& message) {
    std::vector<std::uint8_t> frame(max_frame_size);
    const EncodeResult encoded = encode_message(message, frame.data(), frame.size());
    if (!encoded.ok()) return false;
    std::size_t sent = 0;
    while (sent < encoded.size) {
        const ssize_t n = ::send(socket, frame.data() + sent, encoded.size - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

// --signal notes: the instrument of fake_engine_signal.h.
class NoteSynth {
public:
    struct Pending {
        std::uint64_t time;
        bool flush;
        MidiEvent event;
    };

    explicit NoteSynth(double sample_rate) : rate_(sample_rate) {}

    // Events in stream-time order; equal times keep the order they came in.
    void add(const Pending& p) {
        pending_.insert(std::upper_bound(pending_.begin(), pending_.end(), p,
                                         [](const Pending& a, const Pending& b) { return a.time < b.time; }),
                        p);
    }

    void render(std::uint64_t from, std::size_t n, float* left, float* right) {
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t r = from + i;
            std::size_t used = 0;
            while (used < pending_.size() && pending_[used].time <= r) apply(pending_[used++]);
            if (used > 0) pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
            double sum = 0;
            for (const Voice& v : voices_) sum += testing::fake_note_value(v.note, v.velocity, r - v.start, rate_);
            left[i] = static_cast<float>(sum);
            right[i] = testing::fake_note_right_gain * left[i];
        }
    }

private:
    struct Voice {
        int channel, note, velocity;
        std::uint64_t start;
        bool key_down;
    };

    void apply(const Pending& p) {
        if (p.flush) {
            voices_.clear();
            for (bool& down : sustain_) down = false;
            return;
        }
        const MidiEvent& e = p.event;
        const int channel = e.status & 0x0F;
        switch (e.status & 0xF0) {
            case 0x90:
                if (e.data2 > 0) {
                    remove_if([&](const Voice& v) { return v.channel == channel && v.note == e.data1; });
                    voices_.push_back({channel, e.data1, e.data2, p.time, true});
                    break;
                }
                [[fallthrough]];
            case 0x80:
                for (Voice& v : voices_)
                    if (v.channel == channel && v.note == e.data1) v.key_down = false;
                if (!sustain_[channel]) remove_if([&](const Voice& v) { return v.channel == channel && !v.key_down; });
                break;
            case 0xB0:
                if (e.data1 == 64 || e.data1 == 121) {  // pedal; reset all controllers lifts it
                    sustain_[channel] = e.data1 == 64 && e.data2 >= 64;
                    if (!sustain_[channel]) remove_if([&](const Voice& v) { return v.channel == channel && !v.key_down; });
                } else if (e.data1 == 120 || e.data1 == 123) {
                    remove_if([&](const Voice& v) { return v.channel == channel; });
                }
                break;
            default: break;
        }
    }

    template <typename Predicate>
    void remove_if(Predicate predicate) {
        voices_.erase(std::remove_if(voices_.begin(), voices_.end(), predicate), voices_.end());
    }

    double rate_;
    std::vector<Pending> pending_;
    std::vector<Voice> voices_;
    bool sustain_[16] = {};
};

void serve_connection(int socket, long number) {
    ProtocolFrameReader reader;
    std::vector<std::uint8_t> buffer(65536);
    std::unique_ptr<SharedAudioRing> ring;
    std::unique_ptr<AudioRingProducer> producer;
    std::uint32_t latency = 0;
    std::unique_ptr<NoteSynth> synth;
    const std::string label = "instance " + std::to_string(number) + ": ";
    std::vector<float> left(4096), right(4096);
    auto last_status = Clock::now();
    std::string reason = "end of file";
    bool done = false;
    while (!done) {
        const ssize_t received = ::recv(socket, buffer.data(), buffer.size(), 0);
        if (received <= 0) break;
        std::size_t offset = 0;
        while (!done && offset < static_cast<std::size_t>(received)) {
            offset += reader.push(buffer.data() + offset, static_cast<std::size_t>(received) - offset);
            if (reader.state() == ProtocolFrameReader::State::failed) {
                reason = "protocol error";
                done = true;
                break;
            }
            if (reader.state() != ProtocolFrameReader::State::frame_ready) continue;
            const DecodeResult decoded = reader.decode_ready_frame();
            if (!decoded.ok()) {
                reason = "bad frame";
                done = true;
                break;
            }
            if (decoded.type == MessageType::hello) {
                const auto& hello = std::get<HelloMessage>(decoded.message);
                std::string error;
                ring = SharedAudioRing::open(std::string(hello.shared_memory_name), error);
                if (ring && (ring->write_position().load() != 0 || ring->read_position().load() != 0)) {
                    ring.reset();
                    error = "audio ring does not start at render time 0";
                }
                if (!ring) {
                    send_message(socket, ErrorMessage{3, error});
                    reason = "refused: " + error;
                    done = true;
                    break;
                }
                producer = std::make_unique<AudioRingProducer>(*ring);
                if (render_notes) synth = std::make_unique<NoteSynth>(hello.sample_rate);
                latency = lookahead_samples + std::max(hello.compute_slack_samples, hello.max_block_size);
                WelcomeMessage welcome;
                welcome.total_latency_samples = latency;
                welcome.lookahead_samples = lookahead_samples;
                welcome.ring_capacity_frames = ring->capacity_frames();
                welcome.model_name = "fake";
                welcome.model_version = "1.0";
                // Logged before the Welcome goes out: once a test has its session, the line is there.
                // (The process mode stays last: the supervisor tests look for ", offline\n".)
                say("instance " + std::to_string(number) + ": hello, ring " + std::string(hello.shared_memory_name) +
                    ", " + std::to_string(hello.sample_rate) + " Hz, max block " + std::to_string(hello.max_block_size) +
                    ", " + (hello.latency_mode == LatencyMode::studio ? "studio" : "live") + ", slack " +
                    std::to_string(hello.compute_slack_samples) + ", latency " + std::to_string(latency) +
                    (hello.process_mode == ProcessMode::offline ? ", offline" : ", realtime"));
                send_message(socket, welcome);
            } else if (decoded.type == MessageType::clock_advance && producer) {
                const std::uint64_t clock = std::get<ClockAdvanceMessage>(decoded.message).stream_time;
                // Render time r is final once the clock has passed r + lookahead; the
                // slack (D − L) is the head start the engine has before r is played.
                const std::uint64_t target = clock > lookahead_samples ? clock - lookahead_samples : 0;
                std::uint64_t write = producer->catch_up();
                while (write < target) {
                    const std::size_t n = std::min<std::size_t>({target - write, producer->writable_frames(), left.size()});
                    if (n == 0) break;
                    if (synth) {
                        synth->render(write, n, left.data(), right.data());
                    } else {
                        for (std::size_t i = 0; i < n; ++i) {
                            left[i] = testing::fake_engine_sample(write + i, 0);
                            right[i] = testing::fake_engine_sample(write + i, 1);
                        }
                    }
                    const float* channels[2] = {left.data(), right.data()};
                    write += producer->write(channels, n);
                }
                if (Clock::now() - last_status > std::chrono::milliseconds(50)) {
                    last_status = Clock::now();
                    send_message(socket, StatusMessage{write, 0, 0});
                }
            } else if (decoded.type == MessageType::midi_events && (synth || log_events)) {
                const auto& m = std::get<DecodedMidiEventsMessage>(decoded.message);
                for (std::size_t i = 0; i < m.events.size(); ++i) {
                    const MidiEvent e = m.events[i];
                    if (synth) synth->add({e.stream_time, false, e});
                    if (!log_events) continue;
                    char line[96];
                    std::snprintf(line, sizeof line, ": event %llu 0x%02X %u %u", static_cast<unsigned long long>(e.stream_time),
                                  e.status, e.data1, e.data2);
                    say("instance " + std::to_string(number) + line);
                }
            } else if (decoded.type == MessageType::parameter_change && log_events) {
                const auto& m = std::get<ParameterChangeMessage>(decoded.message);
                char line[96];
                std::snprintf(line, sizeof line, ": parameter %llu %u %g", static_cast<unsigned long long>(m.stream_time),
                              m.parameter_id, static_cast<double>(m.value));
                say("instance " + std::to_string(number) + line);
            } else if (decoded.type == MessageType::process_mode && log_events) {
                const auto& m = std::get<ProcessModeMessage>(decoded.message);
                say(label + "process mode " + std::to_string(m.stream_time) +
                    (m.mode == ProcessMode::offline ? " offline" : " realtime"));
            } else if (decoded.type == MessageType::transport && (synth || log_events)) {
                const auto& t = std::get<TransportMessage>(decoded.message);
                if (synth) synth->add({t.stream_time, true, MidiEvent{}});
                if (log_events) say(label + "flush " + std::to_string(t.stream_time));
            } else if (decoded.type == MessageType::goodbye) {
                reason = "goodbye";
                done = true;
                break;
            }
            reader.next_frame();
        }
    }
    // Like the engine: let go of the ring before the connection closes.
    producer.reset();
    ring.reset();
    ::close(socket);
    say("instance " + std::to_string(number) + ": closed (" + reason + ")");
    last_activity_ms.store(now_ms());
    active_connections.fetch_sub(1);
}

}  // namespace

int main(int argc, char** argv) {
    std::string socket_path;
    double idle_exit = 0;
    int startup_delay_ms = 0;
    int exit_at_start = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (arg == "serve") continue;
        if (arg == "--socket") socket_path = value();
        else if (arg == "--idle-exit") idle_exit = std::atof(value().c_str());
        else if (arg == "--startup-delay-ms") startup_delay_ms = std::atoi(value().c_str());
        else if (arg == "--lookahead") lookahead_samples = static_cast<std::uint32_t>(std::atoi(value().c_str()));
        else if (arg == "--exit-at-start") exit_at_start = std::atoi(value().c_str());
        else if (arg == "--spare") continue;  // a fake engine keeps no spare
        else if (arg == "--signal") {
            const std::string signal = value();
            if (signal != "time" && signal != "notes") {
                say("unknown signal " + signal + " (time or notes)");
                return 2;
            }
            render_notes = signal == "notes";
        }
        else {
            say("unknown argument " + arg);
            return 2;
        }
    }
    if (const char* v = std::getenv("SOSTENUTO_FAKE_ENGINE_LOG_EVENTS")) log_events = std::string(v) == "1";
    say("started pid=" + std::to_string(::getpid()) + " sid=" + std::to_string(::getsid(0)) +
        " fds=" + open_descriptors());
    if (exit_at_start >= 0) {
        say("exiting at start with code " + std::to_string(exit_at_start) + " as told");
        return exit_at_start;
    }
    if (socket_path.empty()) {
        say("no --socket");
        return 2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(startup_delay_ms));

    const int lock = ::open((socket_path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || ::flock(lock, LOCK_EX | LOCK_NB) != 0) {
        say("an engine is already serving " + socket_path + " (pid=" + std::to_string(::getpid()) + " exits)");
        return 1;
    }
    ::unlink(socket_path.c_str());
    const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::chmod(socket_path.c_str(), 0600) != 0 || ::listen(listener, 64) != 0) {
        say("cannot listen on " + socket_path + ": " + std::strerror(errno));
        return 1;
    }
    struct sigaction on_term {};
    on_term.sa_handler = [](int) { terminate_requested.store(true); };
    ::sigaction(SIGTERM, &on_term, nullptr);
    say("serving " + socket_path + " pid=" + std::to_string(::getpid()));

    last_activity_ms.store(now_ms());
    long number = 0;
    while (!terminate_requested.load()) {
        pollfd wait{listener, POLLIN, 0};
        const int ready = ::poll(&wait, 1, 50);
        if (ready > 0) {
            const int connection = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            if (connection >= 0) {
                active_connections.fetch_add(1);
                std::thread(serve_connection, connection, ++number).detach();
            }
        }
        if (idle_exit > 0 && active_connections.load() == 0 &&
            now_ms() - last_activity_ms.load() > static_cast<std::int64_t>(idle_exit * 1000)) {
            say("no instance for " + std::to_string(idle_exit) + " s: exiting");
            break;
        }
    }
    if (terminate_requested.load()) say("SIGTERM: exiting");
    // Like EngineServer.Dispose: the socket goes, then the lock.
    ::close(listener);
    ::unlink(socket_path.c_str());
    ::close(lock);
    std::fflush(stdout);
    ::_exit(0);  // detached connection threads may still run; do not run destructors under them
}
