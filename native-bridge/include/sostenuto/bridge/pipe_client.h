// The plug-in's end of the pipe to the engine.
//
// Two halves with different rules:
//  - connect() and disconnect() run off the audio thread. They block (with
//    timeouts), allocate and make system calls freely.
//  - send() runs on the audio thread. It encodes into a buffer allocated once
//    and pushes the frame into a lock-free SPSC byte queue: no lock, no
//    allocation, no blocking. Its only system call is a non-blocking eventfd
//    write that wakes the I/O thread, made only when that thread is asleep.
// A background I/O thread drains the queue into the socket and reads what the
// engine sends (Status, Error) into atomics that any thread may read.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sostenuto/bridge/protocol_error.h"
#include "sostenuto/bridge/protocol_frame_reader.h"
#include "sostenuto/bridge/protocol_messages.h"
#include "sostenuto/bridge/spsc_byte_queue.h"

namespace sostenuto::bridge {

enum class PipeState : std::uint8_t {
    disconnected,      // never connected, or disconnect() finished
    connected,         // Welcome received, I/O thread running
    closed_by_engine,  // the engine closed the socket (after Goodbye, an Error, or a crash)
    failed,            // a socket error, or the engine broke the protocol (see protocol_error())
};

// Welcome, with its strings copied (the frame it came in is gone).
struct EngineWelcome {
    std::uint32_t total_latency_samples = 0;
    std::uint32_t lookahead_samples = 0;
    std::uint32_t ring_capacity_frames = 0;
    std::string model_name;
    std::string model_version;
    std::uint32_t flags = 0;
};

struct PipeConnectResult {
    bool ok = false;
    std::string error;  // why not, for the user and the log
    EngineWelcome welcome;
};

class PipeClient {
public:
    // The send queue's size in bytes bounds how much the audio thread may get
    // ahead of the socket; 256 KiB is about 20,000 MIDI events.
    explicit PipeClient(std::size_t send_queue_bytes = 256 * 1024);
    ~PipeClient();
    PipeClient(const PipeClient&) = delete;
    PipeClient& operator=(const PipeClient&) = delete;

    // Off the audio thread. Connects to the engine's socket, sends Hello, waits
    // for Welcome (or Error) and starts the I/O thread. Checks that the peer
    // runs as this user (SO_PEERCRED) before saying anything to it.
    PipeConnectResult connect(const std::string& socket_path, const HelloMessage& hello,
                              std::chrono::milliseconds timeout = std::chrono::seconds(2));

    // Off the audio thread, and not while send() may run. Flushes what is
    // queued, sends Goodbye, closes the socket and stops the I/O thread.
    //
    // With a close_wait above zero it first waits (at most that long) for the
    // engine to close its end of the connection, reading and discarding what
    // it still sends. The engine unmaps the session's audio ring before it
    // closes the socket (and a dead process has no mappings), so `true` means
    // no engine can write into the ring for this session any more: the ring's
    // positions may be reset for the next Hello. `false`: not seen within the
    // wait (or close_wait was 0 and the engine had not closed yet).
    bool disconnect(std::chrono::milliseconds flush_timeout = std::chrono::milliseconds(500),
                    std::chrono::milliseconds close_wait = std::chrono::milliseconds(0));

    // Audio thread, one thread at a time. False if the message was not queued
    // (not connected, queue full, or the message is invalid); the message is
    // then dropped and counted in dropped_messages().
    bool send(const MidiEventsMessage& message) noexcept;
    bool send(const ClockAdvanceMessage& message) noexcept;
    bool send(const ParameterChangeMessage& message) noexcept;
    bool send(const TransportMessage& message) noexcept;
    bool send(const ProcessModeMessage& message) noexcept;

    // Any thread.
    PipeState state() const noexcept { return state_.load(std::memory_order_acquire); }
    std::uint32_t accepted_latency_samples() const noexcept { return accepted_latency_.load(std::memory_order_relaxed); }
    // Each of these is read on its own: together they are not one snapshot.
    std::uint64_t rendered_until() const noexcept { return rendered_until_.load(std::memory_order_relaxed); }
    std::uint32_t engine_underruns() const noexcept { return underruns_.load(std::memory_order_relaxed); }
    std::uint32_t engine_late_events() const noexcept { return late_events_.load(std::memory_order_relaxed); }
    std::uint64_t status_messages_received() const noexcept { return statuses_.load(std::memory_order_relaxed); }
    std::uint64_t dropped_messages() const noexcept { return dropped_.load(std::memory_order_relaxed); }
    std::uint16_t last_engine_error_code() const noexcept { return last_error_code_.load(std::memory_order_relaxed); }
    std::uint64_t engine_errors_received() const noexcept { return errors_.load(std::memory_order_relaxed); }
    ProtocolError protocol_error() const noexcept { return protocol_error_.load(std::memory_order_relaxed); }
    // The engine's process id (SO_PEERCRED) of the current or last connection; 0 before one.
    int engine_pid() const noexcept { return engine_pid_.load(std::memory_order_relaxed); }

    // Off the audio thread (takes a lock and copies).
    std::string last_engine_error_message() const;

private:
    bool push_frame(const std::uint8_t* frame, std::size_t size) noexcept;
    template <typename Message>
    bool encode_and_push(const Message& message) noexcept;

    void run_io_thread();
    bool handle_incoming(const std::uint8_t* data, std::size_t size);  // false: stop
    void fail(PipeState state, ProtocolError error = ProtocolError::none);
    void close_descriptors();

    SpscByteQueue send_queue_;
    std::unique_ptr<std::uint8_t[]> audio_thread_scratch_;  // one frame; only send() touches it
    ProtocolFrameReader reader_;
    std::vector<std::uint8_t> early_bytes_;  // read with the Welcome, handled by the I/O thread

    int socket_ = -1;
    int wake_event_ = -1;
    std::thread io_thread_;
    std::atomic<bool> stop_requested_{false};
    std::chrono::steady_clock::time_point flush_deadline_{};  // written before stop_requested_ (release)
    // The wake-up handshake (see push_frame and run_io_thread): both are only
    // ever accessed with seq_cst, which is what makes it sound.
    std::atomic<bool> io_thread_sleeping_{false};
    std::atomic<std::uint64_t> bytes_pushed_{0};

    std::atomic<PipeState> state_{PipeState::disconnected};
    std::atomic<std::uint32_t> accepted_latency_{0};
    std::atomic<std::uint64_t> rendered_until_{0};
    std::atomic<std::uint32_t> underruns_{0};
    std::atomic<std::uint32_t> late_events_{0};
    std::atomic<std::uint64_t> statuses_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint16_t> last_error_code_{0};
    std::atomic<std::uint64_t> errors_{0};
    std::atomic<ProtocolError> protocol_error_{ProtocolError::none};
    std::atomic<int> engine_pid_{0};
    bool engine_closed_ = false;  // the I/O thread saw the engine's end close (read after join)

    mutable std::mutex error_message_mutex_;
    std::string last_error_message_;
};

}  // namespace sostenuto::bridge
