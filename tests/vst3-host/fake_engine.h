// A stand-in for `sostenuto serve`, in C++ over native-bridge: it listens on a
// Unix socket, answers Hello with Welcome (D = L + S), opens the plug-in's
// audio ring and renders a trivial, exactly predictable instrument into it:
// every held note is a cosine at its pitch that starts at the note-on's stream
// time (so its first sample is the note's full amplitude) and stops at its
// note-off (held on by the sustain pedal; cut by CC120/CC123 and Transport
// flush). Render time r is rendered once the ClockAdvance says every event up
// to r + L has arrived - the timing model of docs/protocol.md.
//
// It exists to test the shim and the test host end to end without the C#
// engine, and to show the engine's side of the contract in a few lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sostenuto/bridge/protocol_messages.h"

namespace sostenuto::host {

struct FakeEngineOptions {
    std::string socket_path;
    std::uint32_t slack_samples = 256;     // S
    bool accept_lookahead = true;          // L = the requested lookahead (else 0)
    double speed = 0;                      // render speed in multiples of real time; 0 = as fast as possible
    std::uint64_t stall_at = std::numeric_limits<std::uint64_t>::max();  // stop publishing at this render time
    std::string refuse;                    // non-empty: answer Hello with Error(model_unavailable, refuse)
    std::uint32_t ring_capacity_override = 0;  // non-zero: claim this capacity in the Welcome (a broken engine)
};

struct FakeSession {
    bridge::HelloMessage hello;  // shared_memory_name points into `ring_name`
    std::string ring_name;
    std::vector<bridge::MidiEvent> events;
    std::vector<std::uint64_t> clocks;
    std::vector<bridge::ParameterChangeMessage> parameters;
    std::vector<std::uint64_t> flushes;
    std::vector<bridge::ProcessModeMessage> modes;
    std::uint64_t rendered_until = 0;
    bool goodbye = false;
    bool ended = false;
    std::string error;  // a protocol or ring problem the engine saw
};

class FakeEngine {
public:
    explicit FakeEngine(FakeEngineOptions options);
    ~FakeEngine();
    FakeEngine(const FakeEngine&) = delete;
    FakeEngine& operator=(const FakeEngine&) = delete;

    const std::string& socket_path() const { return options_.socket_path; }
    std::vector<FakeSession> sessions() const;
    // Waits until `count` sessions have ended (Goodbye or close) or the timeout passes.
    bool wait_for_ended_sessions(std::size_t count, int timeout_ms) const;

    // Frequency of a MIDI note (equal temperament, A4 = 440 Hz) and the
    // amplitude of a note of velocity v: what the instrument plays.
    static double frequency(int note);
    static double amplitude(int velocity);

private:
    void accept_loop();
    void serve(int connection, std::size_t index);

    FakeEngineOptions options_;
    int listener_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    std::vector<std::thread> workers_;
    mutable std::mutex mutex_;
    std::vector<FakeSession> sessions_;
};

}  // namespace sostenuto::host
