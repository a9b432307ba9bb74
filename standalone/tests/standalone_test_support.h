// Helpers shared by the standalone's tests: what the fake engine logged, and
// what its `--signal notes` instrument must have played.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "engine_test_support.h"
#include "fake_engine_signal.h"

namespace sostenuto::standalone::testing {

using namespace sostenuto::bridge::testing;

// Makes the fake engine log what it receives (set in the environment an engine inherits).
inline constexpr const char* fake_engine_log_events = "SOSTENUTO_FAKE_ENGINE_LOG_EVENTS";

// What sostenuto_fake_engine logs with SOSTENUTO_FAKE_ENGINE_LOG_EVENTS=1:
// "fake-engine: instance N: event T 0xSS D1 D2"; `process` counts the engine
// processes in the log (each starts with "started pid="), from 1.
struct LoggedEvent {
    int process = 0;
    int instance = 0;
    std::uint64_t time = 0;
    int status = 0, data1 = 0, data2 = 0;
};

inline std::vector<LoggedEvent> logged_events(const std::string& log_path) {
    std::vector<LoggedEvent> events;
    std::istringstream log(read_file(log_path));
    int process = 0;
    for (std::string line; std::getline(log, line);) {
        if (line.find("fake-engine: started pid=") != std::string::npos) ++process;
        LoggedEvent e;
        e.process = process;
        unsigned long long t = 0;
        if (std::sscanf(line.c_str(), "fake-engine: instance %d: event %llu 0x%x %d %d", &e.instance, &t,
                        &e.status, &e.data1, &e.data2) == 5) {
            e.time = t;
            events.push_back(e);
        }
    }
    return events;
}

// "fake-engine: instance N: parameter T ID VALUE"
struct LoggedParameter {
    int process = 0;
    int instance = 0;
    std::uint64_t time = 0;
    unsigned id = 0;
    double value = 0;
};

inline std::vector<LoggedParameter> logged_parameters(const std::string& log_path) {
    std::vector<LoggedParameter> parameters;
    std::istringstream log(read_file(log_path));
    int process = 0;
    for (std::string line; std::getline(log, line);) {
        if (line.find("fake-engine: started pid=") != std::string::npos) ++process;
        LoggedParameter p;
        p.process = process;
        unsigned long long t = 0;
        if (std::sscanf(line.c_str(), "fake-engine: instance %d: parameter %llu %u %lf", &p.instance, &t, &p.id,
                        &p.value) == 4) {
            p.time = t;
            parameters.push_back(p);
        }
    }
    return parameters;
}

// The fake instrument's left channel for one note of `velocity`, `age` samples after its onset.
inline float note_left(int note, int velocity, std::uint64_t age, double rate) {
    return static_cast<float>(fake_note_value(note, velocity, age, rate));
}

// Index of the first sample at or after `from` whose magnitude exceeds `threshold`; -1 if none.
inline long first_above(const std::vector<float>& samples, std::size_t from, float threshold) {
    for (std::size_t i = from; i < samples.size(); ++i)
        if (std::fabs(samples[i]) > threshold) return static_cast<long>(i);
    return -1;
}

inline double energy(const std::vector<float>& samples, std::size_t from, std::size_t to) {
    double sum = 0;
    for (std::size_t i = from; i < to && i < samples.size(); ++i) sum += double(samples[i]) * samples[i];
    return sum;
}

}  // namespace sostenuto::standalone::testing
