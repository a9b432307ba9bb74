#include "fake_engine.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>

#include "sostenuto/bridge/audio_ring.h"
#include "sostenuto/bridge/protocol.h"

namespace sostenuto::host {
namespace {

constexpr double kPi = 3.14159265358979323846;

struct Pending {
    std::uint64_t time;
    bool flush;
    std::uint8_t status, data1, data2;
};

class Synth {
public:
    explicit Synth(double rate) : rate_(rate) {}

    void apply(const Pending& e) {
        if (e.flush) {
            voices_.clear();
            std::fill(std::begin(sustain_), std::end(sustain_), false);
            return;
        }
        const int ch = e.status & 0x0F;
        switch (e.status & 0xF0) {
            case 0x90:
                if (e.data2 > 0) {
                    remove(ch, e.data1);
                    voices_.push_back({ch, e.data1, e.time, FakeEngine::amplitude(e.data2), true});
                    break;
                }
                [[fallthrough]];
            case 0x80:
                for (Voice& v : voices_)
                    if (v.channel == ch && v.note == e.data1) v.key_down = false;
                if (!sustain_[ch]) remove_released(ch);
                break;
            case 0xB0:
                if (e.data1 == 64) {
                    sustain_[ch] = e.data2 >= 64;
                    if (!sustain_[ch]) remove_released(ch);
                } else if (e.data1 == 120 || e.data1 == 123) {
                    voices_.erase(std::remove_if(voices_.begin(), voices_.end(), [&](const Voice& v) { return v.channel == ch; }),
                                  voices_.end());
                }
                break;
            default: break;
        }
    }

    float sample(std::uint64_t r) const {
        double sum = 0;
        for (const Voice& v : voices_)
            sum += v.amplitude * std::cos(2.0 * kPi * FakeEngine::frequency(v.note) * static_cast<double>(r - v.start) / rate_);
        return static_cast<float>(sum);
    }

private:
    struct Voice {
        int channel, note;
        std::uint64_t start;
        double amplitude;
        bool key_down;
    };
    void remove(int ch, int note) {
        voices_.erase(std::remove_if(voices_.begin(), voices_.end(), [&](const Voice& v) { return v.channel == ch && v.note == note; }),
                      voices_.end());
    }
    void remove_released(int ch) {
        voices_.erase(std::remove_if(voices_.begin(), voices_.end(), [&](const Voice& v) { return v.channel == ch && !v.key_down; }),
                      voices_.end());
    }
    double rate_;
    std::vector<Voice> voices_;
    bool sustain_[16] = {};
};

bool send_all(int fd, const std::uint8_t* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

template <class Message>
bool send_message(int fd, const Message& message) {
    std::vector<std::uint8_t> frame(bridge::max_frame_size);
    const bridge::EncodeResult r = bridge::encode_message(message, frame.data(), frame.size());
    return r.ok() && send_all(fd, frame.data(), r.size);
}

}  // namespace

double FakeEngine::frequency(int note) { return 440.0 * std::pow(2.0, (note - 69) / 12.0); }
double FakeEngine::amplitude(int velocity) { return 0.1 * velocity / 127.0; }

FakeEngine::FakeEngine(FakeEngineOptions options) : options_(std::move(options)) {
    if (options_.socket_path.empty()) {
        char directory[] = "/tmp/sostenuto-fake-engine-XXXXXX";
        if (::mkdtemp(directory) == nullptr) throw std::runtime_error("fake engine: mkdtemp failed");
        options_.socket_path = std::string(directory) + "/sostenuto-engine.sock";
    }
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (options_.socket_path.size() >= sizeof address.sun_path) throw std::runtime_error("fake engine: socket path too long");
    std::strcpy(address.sun_path, options_.socket_path.c_str());
    ::unlink(options_.socket_path.c_str());
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::chmod(options_.socket_path.c_str(), 0600) != 0 || ::listen(listener_, 16) != 0)
        throw std::runtime_error("fake engine: cannot listen on " + options_.socket_path + ": " + std::strerror(errno));
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeEngine::~FakeEngine() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    for (std::thread& t : workers_) t.join();
    ::close(listener_);
    ::unlink(options_.socket_path.c_str());
    const std::size_t slash = options_.socket_path.rfind('/');
    if (slash != std::string::npos && options_.socket_path.rfind("/tmp/sostenuto-fake-engine-", 0) == 0)
        ::rmdir(options_.socket_path.substr(0, slash).c_str());
}

std::vector<FakeSession> FakeEngine::sessions() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return sessions_;
}

bool FakeEngine::wait_for_ended_sessions(std::size_t count, int timeout_ms) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            std::size_t ended = 0;
            for (const FakeSession& s : sessions_) ended += s.ended ? 1 : 0;
            if (ended >= count) return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

void FakeEngine::accept_loop() {
    while (!stopping_) {
        const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (stopping_) return;
            if (errno == EINTR) continue;
            return;
        }
        std::size_t index;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            index = sessions_.size();
            sessions_.emplace_back();
        }
        workers_.emplace_back([this, fd, index] {
            serve(fd, index);
            ::close(fd);
            std::lock_guard<std::mutex> lock(mutex_);
            sessions_[index].ended = true;
        });
    }
}

void FakeEngine::serve(int fd, std::size_t index) {
    timeval timeout{0, 2000};  // 2 ms: render between reads
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    auto log = [&](auto&& f) {
        std::lock_guard<std::mutex> lock(mutex_);
        f(sessions_[index]);
    };

    bridge::ProtocolFrameReader reader;
    std::unique_ptr<bridge::SharedAudioRing> ring;
    std::unique_ptr<bridge::AudioRingProducer> producer;
    std::unique_ptr<Synth> synth;
    std::deque<Pending> pending;
    bool welcomed = false, goodbye = false;
    double rate = 48000;
    std::uint32_t lookahead = 0;
    std::uint64_t clock = 0;
    std::vector<std::uint8_t> buffer(1 << 16);
    std::vector<float> left(512), right(512);
    auto last_status = std::chrono::steady_clock::now();
    auto fail = [&](const std::string& why) { log([&](FakeSession& s) { s.error = why; }); };

    while (!stopping_ && !goodbye) {
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        if (n == 0) break;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
        std::size_t offset = 0;
        while (n > 0 && offset < static_cast<std::size_t>(n)) {
            offset += reader.push(buffer.data() + offset, static_cast<std::size_t>(n) - offset);
            if (reader.state() == bridge::ProtocolFrameReader::State::failed) {
                fail(std::string("protocol error: ") + std::string(bridge::to_string(reader.error())));
                return;
            }
            if (reader.state() != bridge::ProtocolFrameReader::State::frame_ready) continue;
            const bridge::DecodeResult d = reader.decode_ready_frame();
            if (!d.ok()) {
                fail(std::string("decode error: ") + std::string(bridge::to_string(d.error)));
                return;
            }
            if (!welcomed && d.type != bridge::MessageType::hello) {
                fail("a message before Hello");
                return;
            }
            switch (d.type) {
                case bridge::MessageType::hello: {
                    if (welcomed) {
                        fail("a second Hello");
                        return;
                    }
                    bridge::HelloMessage hello = std::get<bridge::HelloMessage>(d.message);
                    const std::string ring_name(hello.shared_memory_name);
                    log([&](FakeSession& s) {
                        s.ring_name = ring_name;
                        s.hello = hello;
                        s.hello.shared_memory_name = {};
                    });
                    if (!options_.refuse.empty()) {
                        send_message(fd, bridge::ErrorMessage{static_cast<std::uint16_t>(bridge::EngineErrorCode::model_unavailable),
                                                              options_.refuse});
                        return;
                    }
                    std::string error;
                    ring = bridge::SharedAudioRing::open(ring_name, error);
                    if (!ring) {
                        send_message(fd, bridge::ErrorMessage{static_cast<std::uint16_t>(bridge::EngineErrorCode::audio_ring_unusable), error});
                        fail(error);
                        return;
                    }
                    producer = std::make_unique<bridge::AudioRingProducer>(*ring);
                    rate = hello.sample_rate;
                    synth = std::make_unique<Synth>(rate);
                    lookahead = options_.accept_lookahead ? hello.requested_lookahead_samples : 0;
                    bridge::WelcomeMessage welcome;
                    welcome.total_latency_samples = lookahead + options_.slack_samples;
                    welcome.lookahead_samples = lookahead;
                    welcome.ring_capacity_frames =
                        options_.ring_capacity_override ? options_.ring_capacity_override : ring->capacity_frames();
                    welcome.model_name = "fake-engine";
                    welcome.model_version = "1";
                    if (!send_message(fd, welcome)) return;
                    welcomed = true;
                    break;
                }
                case bridge::MessageType::midi_events: {
                    const auto& m = std::get<bridge::DecodedMidiEventsMessage>(d.message);
                    std::vector<bridge::MidiEvent> events;
                    for (std::size_t i = 0; i < m.events.size(); ++i) {
                        const bridge::MidiEvent e = m.events[i];
                        events.push_back(e);
                        const Pending p{e.stream_time, false, e.status, e.data1, e.data2};
                        pending.insert(std::upper_bound(pending.begin(), pending.end(), p,
                                                        [](const Pending& a, const Pending& b) { return a.time < b.time; }),
                                       p);
                    }
                    log([&](FakeSession& s) { s.events.insert(s.events.end(), events.begin(), events.end()); });
                    break;
                }
                case bridge::MessageType::clock_advance:
                    clock = std::get<bridge::ClockAdvanceMessage>(d.message).stream_time;
                    log([&](FakeSession& s) { s.clocks.push_back(clock); });
                    break;
                case bridge::MessageType::parameter_change:
                    log([&](FakeSession& s) { s.parameters.push_back(std::get<bridge::ParameterChangeMessage>(d.message)); });
                    break;
                case bridge::MessageType::transport: {
                    const std::uint64_t t = std::get<bridge::TransportMessage>(d.message).stream_time;
                    const Pending p{t, true, 0, 0, 0};
                    pending.insert(std::upper_bound(pending.begin(), pending.end(), p,
                                                    [](const Pending& a, const Pending& b) { return a.time < b.time; }),
                                   p);
                    log([&](FakeSession& s) { s.flushes.push_back(t); });
                    break;
                }
                case bridge::MessageType::process_mode:
                    log([&](FakeSession& s) { s.modes.push_back(std::get<bridge::ProcessModeMessage>(d.message)); });
                    break;
                case bridge::MessageType::goodbye:
                    goodbye = true;
                    log([&](FakeSession& s) { s.goodbye = true; });
                    break;
                default:
                    fail("an engine-to-plug-in message from the plug-in");
                    return;
            }
            reader.next_frame();
        }
        if (!welcomed || goodbye) continue;

        // Render every render time whose events are all in: r < clock - L.
        std::uint64_t target = clock > lookahead ? clock - lookahead : 0;
        target = std::min(target, options_.stall_at);
        std::uint64_t w = producer->catch_up();
        while (w < target) {
            const std::size_t chunk = std::min<std::uint64_t>({target - w, left.size(), producer->writable_frames()});
            if (chunk == 0) break;
            for (std::size_t i = 0; i < chunk; ++i) {
                const std::uint64_t r = w + i;
                while (!pending.empty() && pending.front().time <= r) {
                    synth->apply(pending.front());
                    pending.pop_front();
                }
                left[i] = synth->sample(r);
                right[i] = 0.5f * left[i];
            }
            const float* channels[2] = {left.data(), right.data()};
            w += producer->write(channels, chunk);
            if (options_.speed > 0)
                std::this_thread::sleep_for(std::chrono::duration<double>(chunk / (rate * options_.speed)));
        }
        log([&](FakeSession& s) { s.rendered_until = w; });
        if (std::chrono::steady_clock::now() - last_status > std::chrono::milliseconds(100)) {
            send_message(fd, bridge::StatusMessage{w, 0, 0});
            last_status = std::chrono::steady_clock::now();
        }
    }
}

}  // namespace sostenuto::host
