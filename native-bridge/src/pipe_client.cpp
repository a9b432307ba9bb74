#include "sostenuto/bridge/pipe_client.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <cstring>

#include "sostenuto/bridge/protocol_decoder.h"
#include "sostenuto/bridge/protocol_encoder.h"

namespace sostenuto::bridge {
namespace {

using Clock = std::chrono::steady_clock;

int milliseconds_until(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

std::string describe_errno(const char* what) { return std::string(what) + ": " + std::system_category().message(errno); }

// Waits for `events` on fd until the deadline; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd poll_fd{fd, events, 0};
        const int ready = ::poll(&poll_fd, 1, milliseconds_until(deadline));
        if (ready > 0) return true;
        if (ready == 0) return false;
        if (errno != EINTR) return false;
    }
}

bool write_all(int fd, const std::uint8_t* data, std::size_t size, Clock::time_point deadline, std::string& error) {
    while (size > 0) {
        const ssize_t written = ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (written > 0) {
            data += written;
            size -= static_cast<std::size_t>(written);
        } else if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (!wait_for(fd, POLLOUT, deadline)) {
                error = "timed out sending to the engine";
                return false;
            }
        } else {
            error = describe_errno("sending to the engine");
            return false;
        }
    }
    return true;
}

}  // namespace

PipeClient::PipeClient(std::size_t send_queue_bytes)
    // Zeroed (touched) here, off the audio thread: see SpscByteQueue's constructor.
    : send_queue_(send_queue_bytes), audio_thread_scratch_(new std::uint8_t[max_frame_size]()) {}

PipeClient::~PipeClient() { disconnect(); }

PipeConnectResult PipeClient::connect(const std::string& socket_path, const HelloMessage& hello,
                                      std::chrono::milliseconds timeout) {
    PipeConnectResult result;
    if (io_thread_.joinable() || socket_ >= 0) {
        result.error = "already connected; disconnect() first";
        return result;
    }
    const Clock::time_point deadline = Clock::now() + timeout;
    auto give_up = [&](std::string error) {
        close_descriptors();
        result.error = std::move(error);
        return result;
    };

    // Fresh session state. Frames queued for an earlier session (the engine
    // went away before the I/O thread could write them) must never reach this
    // one: their stream times belong to the old session. send() queues nothing
    // while not connected, so the queue only shrinks here.
    {
        std::uint8_t discard[1024];
        while (send_queue_.pop(discard, sizeof discard) > 0) {
        }
    }
    engine_closed_ = false;
    reader_.reset();
    early_bytes_.clear();
    stop_requested_.store(false);
    bytes_pushed_.store(0);
    protocol_error_.store(ProtocolError::none);
    rendered_until_.store(0), underruns_.store(0), late_events_.store(0), statuses_.store(0);
    dropped_.store(0), last_error_code_.store(0), errors_.store(0);
    {
        std::lock_guard<std::mutex> lock(error_message_mutex_);
        last_error_message_.clear();
    }

    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof address.sun_path) return give_up("socket path too long: " + socket_path);
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);

    socket_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (socket_ < 0) return give_up(describe_errno("socket"));
    // A Unix socket connects at once, or says EAGAIN while the engine's listen
    // backlog is full (then the call must be repeated: waiting for POLLOUT is
    // not enough on Linux). EINPROGRESS is handled for other platforms.
    for (;;) {
        if (::connect(socket_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) break;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            if (Clock::now() >= deadline) return give_up("timed out connecting to " + socket_path);
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
        }
        if (errno != EINPROGRESS) return give_up(describe_errno(("connecting to " + socket_path).c_str()));
        if (!wait_for(socket_, POLLOUT, deadline)) return give_up("timed out connecting to " + socket_path);
        int socket_error = 0;
        socklen_t length = sizeof socket_error;
        ::getsockopt(socket_, SOL_SOCKET, SO_ERROR, &socket_error, &length);
        if (socket_error != 0) {
            errno = socket_error;
            return give_up(describe_errno(("connecting to " + socket_path).c_str()));
        }
        break;
    }

    // The directory is private already; this also catches a socket someone
    // else managed to bind there.
    ucred peer{};
    socklen_t peer_size = sizeof peer;
    if (::getsockopt(socket_, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0) return give_up(describe_errno("SO_PEERCRED"));
    if (peer.uid != ::geteuid()) return give_up("the process behind " + socket_path + " belongs to another user");
    engine_pid_.store(static_cast<int>(peer.pid), std::memory_order_relaxed);

    std::vector<std::uint8_t> hello_frame(encoded_size(hello));
    const EncodeResult encoded = encode_message(hello, hello_frame.data(), hello_frame.size());
    if (!encoded.ok()) return give_up("invalid Hello: " + std::string(to_string(encoded.error)));
    std::string error;
    if (!write_all(socket_, hello_frame.data(), encoded.size, deadline, error)) return give_up(error);

    // Wait for exactly one frame: Welcome, or Error if the engine refuses us.
    std::vector<std::uint8_t> incoming(4096);
    while (reader_.state() == ProtocolFrameReader::State::need_more) {
        const ssize_t received = ::recv(socket_, incoming.data(), incoming.size(), MSG_DONTWAIT);
        if (received > 0) {
            const std::size_t taken = reader_.push(incoming.data(), static_cast<std::size_t>(received));
            early_bytes_.assign(incoming.begin() + static_cast<std::ptrdiff_t>(taken), incoming.begin() + received);
        } else if (received == 0) {
            return give_up("the engine closed the connection before Welcome");
        } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if (!wait_for(socket_, POLLIN, deadline)) return give_up("timed out waiting for the engine's Welcome");
        } else {
            return give_up(describe_errno("receiving from the engine"));
        }
    }
    if (reader_.state() == ProtocolFrameReader::State::failed) {
        return give_up("protocol error before Welcome: " + std::string(to_string(reader_.error())));
    }
    const DecodeResult decoded = reader_.decode_ready_frame();
    if (!decoded.ok()) return give_up("protocol error in the engine's answer: " + std::string(to_string(decoded.error)));
    if (decoded.type == MessageType::error) {
        const auto& refusal = std::get<ErrorMessage>(decoded.message);
        last_error_code_.store(refusal.code);
        errors_.store(1);
        return give_up("the engine refused the connection (error " + std::to_string(refusal.code) +
                       "): " + std::string(refusal.message));
    }
    if (decoded.type != MessageType::welcome) {
        return give_up("expected Welcome, got " + std::string(to_string(decoded.type)));
    }
    const auto& welcome = std::get<WelcomeMessage>(decoded.message);
    result.welcome = EngineWelcome{welcome.total_latency_samples, welcome.lookahead_samples,
                                   welcome.ring_capacity_frames, std::string(welcome.model_name),
                                   std::string(welcome.model_version), welcome.flags};
    reader_.next_frame();
    accepted_latency_.store(welcome.total_latency_samples, std::memory_order_relaxed);

    wake_event_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_event_ < 0) return give_up(describe_errno("eventfd"));

    state_.store(PipeState::connected, std::memory_order_release);
    io_thread_ = std::thread([this] { run_io_thread(); });
    result.ok = true;
    return result;
}

bool PipeClient::disconnect(std::chrono::milliseconds flush_timeout, std::chrono::milliseconds close_wait) {
    if (io_thread_.joinable()) {
        flush_deadline_ = Clock::now() + flush_timeout;
        stop_requested_.store(true, std::memory_order_release);
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t ignored = ::write(wake_event_, &one, sizeof one);
        io_thread_.join();
    }
    // No socket: no session, so no engine holds a ring on its behalf.
    bool closed = socket_ < 0 || engine_closed_;
    if (!closed && close_wait.count() > 0) {
        // Our end is shut for writing (after Goodbye, or by fail()), so the
        // engine sees end-of-file and closes; wait for that.
        ::shutdown(socket_, SHUT_WR);
        const Clock::time_point deadline = Clock::now() + close_wait;
        std::uint8_t discard[4096];
        for (;;) {
            const ssize_t received = ::recv(socket_, discard, sizeof discard, MSG_DONTWAIT);
            if (received == 0 || (received < 0 && errno == ECONNRESET)) {
                closed = true;
                break;
            }
            if (received > 0) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
            if (!wait_for(socket_, POLLIN, deadline)) break;
        }
    }
    close_descriptors();
    state_.store(PipeState::disconnected, std::memory_order_release);
    return closed;
}

void PipeClient::close_descriptors() {
    if (socket_ >= 0) ::close(socket_);
    if (wake_event_ >= 0) ::close(wake_event_);
    socket_ = -1;
    wake_event_ = -1;
}

// ---- audio thread -------------------------------------------------------------

template <typename Message>
bool PipeClient::encode_and_push(const Message& message) noexcept {
    if (state_.load(std::memory_order_acquire) != PipeState::connected) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    const EncodeResult encoded = encode_message(message, audio_thread_scratch_.get(), max_frame_size);
    if (!encoded.ok()) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    return push_frame(audio_thread_scratch_.get(), encoded.size);
}

bool PipeClient::push_frame(const std::uint8_t* frame, std::size_t size) noexcept {
    if (!send_queue_.push(frame, size)) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    // Dekker-style handshake with the I/O thread, which stores "sleeping" and
    // then loads bytes_pushed_: with every one of these four accesses seq_cst,
    // either it sees our bytes before it sleeps, or we see that it sleeps and
    // wake it. (A missed wake-up would only cost the poll timeout, never data.)
    bytes_pushed_.fetch_add(size, std::memory_order_seq_cst);
    if (io_thread_sleeping_.load(std::memory_order_seq_cst)) {
        const std::uint64_t one = 1;
        // Non-blocking eventfd: cannot block; EAGAIN (counter full) means it is awake anyway.
        [[maybe_unused]] const ssize_t ignored = ::write(wake_event_, &one, sizeof one);
    }
    return true;
}

bool PipeClient::send(const MidiEventsMessage& message) noexcept { return encode_and_push(message); }
bool PipeClient::send(const ClockAdvanceMessage& message) noexcept { return encode_and_push(message); }
bool PipeClient::send(const ParameterChangeMessage& message) noexcept { return encode_and_push(message); }
bool PipeClient::send(const TransportMessage& message) noexcept { return encode_and_push(message); }
bool PipeClient::send(const ProcessModeMessage& message) noexcept { return encode_and_push(message); }

// ---- I/O thread ---------------------------------------------------------------

void PipeClient::fail(PipeState state, ProtocolError error) {
    if (error != ProtocolError::none) protocol_error_.store(error, std::memory_order_relaxed);
    if (state == PipeState::closed_by_engine) engine_closed_ = true;
    PipeState expected = PipeState::connected;
    state_.compare_exchange_strong(expected, state, std::memory_order_acq_rel);
    // Tell the engine at once; the descriptor itself is closed by disconnect().
    // Only our sending half: disconnect() may still read to see the engine's
    // end close (see its close_wait).
    ::shutdown(socket_, SHUT_WR);
}

bool PipeClient::handle_incoming(const std::uint8_t* data, std::size_t size) {
    while (size > 0) {
        const std::size_t taken = reader_.push(data, size);
        data += taken;
        size -= taken;
        if (reader_.state() == ProtocolFrameReader::State::failed) {
            fail(PipeState::failed, reader_.error());
            return false;
        }
        if (reader_.state() != ProtocolFrameReader::State::frame_ready) continue;
        const DecodeResult decoded = reader_.decode_ready_frame();
        if (!decoded.ok()) {
            fail(PipeState::failed, decoded.error);
            return false;
        }
        if (decoded.type == MessageType::status) {
            const auto& status = std::get<StatusMessage>(decoded.message);
            rendered_until_.store(status.rendered_until, std::memory_order_relaxed);
            underruns_.store(status.underruns, std::memory_order_relaxed);
            late_events_.store(status.late_events, std::memory_order_relaxed);
            statuses_.fetch_add(1, std::memory_order_relaxed);
        } else if (decoded.type == MessageType::error) {
            const auto& error = std::get<ErrorMessage>(decoded.message);
            {
                std::lock_guard<std::mutex> lock(error_message_mutex_);
                last_error_message_.assign(error.message);
            }
            last_error_code_.store(error.code, std::memory_order_relaxed);
            errors_.fetch_add(1, std::memory_order_relaxed);
        } else {
            // A second Welcome, or a message that travels the other way.
            fail(PipeState::failed, ProtocolError::unexpected_message);
            return false;
        }
        reader_.next_frame();
    }
    return true;
}

void PipeClient::run_io_thread() {
    std::vector<std::uint8_t> outgoing(max_frame_size);
    std::vector<std::uint8_t> incoming(max_frame_size);
    std::size_t out_begin = 0, out_end = 0;
    std::uint64_t bytes_popped = 0;
    bool goodbye_queued = false;

    if (!early_bytes_.empty() && !handle_incoming(early_bytes_.data(), early_bytes_.size())) return;

    for (;;) {
        if (out_begin == out_end) {
            out_begin = 0;
            out_end = send_queue_.pop(outgoing.data(), outgoing.size());
            bytes_popped += out_end;
        }
        const bool stopping = stop_requested_.load(std::memory_order_acquire);
        if (stopping) {
            // disconnect() promises send() is no longer running, so an empty
            // queue stays empty: Goodbye is the last frame.
            if (out_begin == out_end && !goodbye_queued) {
                out_end = encode_message(GoodbyeMessage{}, outgoing.data(), outgoing.size()).size;
                goodbye_queued = true;
            }
            if ((goodbye_queued && out_begin == out_end) || Clock::now() >= flush_deadline_) {
                ::shutdown(socket_, SHUT_WR);
                return;
            }
        }

        const bool idle = out_begin == out_end;
        if (idle) {
            io_thread_sleeping_.store(true, std::memory_order_seq_cst);
            if (bytes_pushed_.load(std::memory_order_seq_cst) != bytes_popped ||
                stop_requested_.load(std::memory_order_acquire)) {
                io_thread_sleeping_.store(false, std::memory_order_seq_cst);
                if (!stopping) continue;
            }
        }
        pollfd fds[2] = {{socket_, static_cast<short>(POLLIN | (idle ? 0 : POLLOUT)), 0}, {wake_event_, POLLIN, 0}};
        // The timeout is only a safety net; wake-ups come from the eventfd.
        const int ready = ::poll(fds, 2, stopping ? 10 : 100);
        io_thread_sleeping_.store(false, std::memory_order_seq_cst);
        if (ready < 0) {
            if (errno == EINTR) continue;
            fail(PipeState::failed);
            return;
        }
        if (fds[1].revents & POLLIN) {
            std::uint64_t count;
            [[maybe_unused]] const ssize_t ignored = ::read(wake_event_, &count, sizeof count);
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t received = ::recv(socket_, incoming.data(), incoming.size(), MSG_DONTWAIT);
            if (received > 0) {
                if (!handle_incoming(incoming.data(), static_cast<std::size_t>(received))) return;
            } else if (received == 0) {
                fail(PipeState::closed_by_engine);
                return;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fail(errno == ECONNRESET ? PipeState::closed_by_engine : PipeState::failed);
                return;
            }
        }
        if (out_begin != out_end && (fds[0].revents & POLLOUT)) {
            const ssize_t written =
                ::send(socket_, outgoing.data() + out_begin, out_end - out_begin, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (written > 0) {
                out_begin += static_cast<std::size_t>(written);
            } else if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                fail(errno == EPIPE || errno == ECONNRESET ? PipeState::closed_by_engine : PipeState::failed);
                return;
            }
        }
    }
}

std::string PipeClient::last_engine_error_message() const {
    std::lock_guard<std::mutex> lock(error_message_mutex_);
    return last_error_message_;
}

}  // namespace sostenuto::bridge
