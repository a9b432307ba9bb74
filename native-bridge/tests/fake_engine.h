// A small in-test engine: one Unix-socket server thread that speaks the
// protocol through the same encoder and frame reader, records what it
// receives, and answers as each test tells it to.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sostenuto/bridge/protocol.h"

namespace sostenuto::bridge::testing {

struct ReceivedFrame {
    MessageType type;
    std::vector<std::uint8_t> bytes;
};

class FakeEngine {
public:
    // What to send back to a Hello: the bytes of one or more frames (or junk).
    using HelloAnswer = std::function<std::vector<std::uint8_t>(const HelloMessage&)>;

    explicit FakeEngine(HelloAnswer answer) : answer_(std::move(answer)) {
        char directory_template[] = "/tmp/sostenuto-pipe-test-XXXXXX";
        directory_ = ::mkdtemp(directory_template);
        socket_path_ = directory_ + "/sostenuto-engine.sock";
        listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path_.c_str());
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 4) != 0) {
            throw std::runtime_error("fake engine: cannot listen on " + socket_path_);
        }
        thread_ = std::thread([this] { serve(); });
    }

    ~FakeEngine() {
        ::shutdown(listener_, SHUT_RDWR);
        close_connection();
        thread_.join();
        ::close(listener_);
        ::unlink(socket_path_.c_str());
        ::rmdir(directory_.c_str());
    }

    const std::string& socket_path() const { return socket_path_; }

    // Sends bytes to the connected plug-in (from the test thread).
    void send(const std::vector<std::uint8_t>& bytes) {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return connection_ >= 0; });
        ::send(connection_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }

    void close_connection() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (connection_ >= 0) ::shutdown(connection_, SHUT_RDWR);
    }

    // Waits until `predicate(frames)` holds or 5 s pass.
    bool wait_for(const std::function<bool(const std::vector<ReceivedFrame>&)>& predicate) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return predicate(frames_); });
    }

    std::vector<ReceivedFrame> frames() {
        std::lock_guard<std::mutex> lock(mutex_);
        return frames_;
    }

    // Waits (up to 5 s) until the plug-in has closed its end.
    bool wait_for_eof() {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return eof_; });
    }

private:
    void serve() {
        const int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection < 0) return;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            connection_ = connection;
        }
        changed_.notify_all();
        ProtocolFrameReader reader;
        std::vector<std::uint8_t> buffer(4096);
        for (;;) {
            const ssize_t received = ::recv(connection, buffer.data(), buffer.size(), 0);
            if (received <= 0) break;
            std::size_t offset = 0;
            while (offset < static_cast<std::size_t>(received)) {
                offset += reader.push(buffer.data() + offset, static_cast<std::size_t>(received) - offset);
                if (reader.state() == ProtocolFrameReader::State::failed) goto done;
                if (reader.state() != ProtocolFrameReader::State::frame_ready) continue;
                const DecodeResult decoded = reader.decode_ready_frame();
                if (!decoded.ok()) goto done;
                if (decoded.type == MessageType::hello) {
                    const std::vector<std::uint8_t> answer = answer_(std::get<HelloMessage>(decoded.message));
                    ::send(connection, answer.data(), answer.size(), MSG_NOSIGNAL);
                }
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    frames_.push_back({decoded.type, std::vector<std::uint8_t>(reader.frame(), reader.frame() + reader.frame_size())});
                }
                changed_.notify_all();
                reader.next_frame();
            }
        }
    done:
        std::lock_guard<std::mutex> lock(mutex_);
        eof_ = true;
        ::close(connection);
        connection_ = -1;
        changed_.notify_all();
    }

    HelloAnswer answer_;
    std::string directory_;
    std::string socket_path_;
    int listener_ = -1;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable changed_;
    int connection_ = -1;
    bool eof_ = false;
    std::vector<ReceivedFrame> frames_;
};

template <typename Message>
std::vector<std::uint8_t> encode_to_vector(const Message& message) {
    std::vector<std::uint8_t> bytes(max_frame_size);
    const EncodeResult result = encode_message(message, bytes.data(), bytes.size());
    if (!result.ok()) throw std::runtime_error("encode failed: " + std::string(to_string(result.error)));
    bytes.resize(result.size);
    return bytes;
}

}  // namespace sostenuto::bridge::testing
