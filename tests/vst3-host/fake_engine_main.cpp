// sostenuto-fake-engine: the test engine (fake_engine.h) as a program, to try
// the plug-in in the test host (or a DAW) before the real engine exists.
//   sostenuto-fake-engine [--socket PATH] [--slack N] [--speed X] [--no-lookahead]
// Prints the socket path, serves until killed (SIGINT/SIGTERM).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "fake_engine.h"

namespace {
volatile std::sig_atomic_t stop = 0;
void on_signal(int) { stop = 1; }
}  // namespace

int main(int argc, char** argv) {
    sostenuto::host::FakeEngineOptions options;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        const bool has_value = i + 1 < argc;
        if (k == "--socket" && has_value) options.socket_path = argv[++i];
        else if (k == "--slack" && has_value) options.slack_samples = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 10));
        else if (k == "--speed" && has_value) options.speed = std::strtod(argv[++i], nullptr);
        else if (k == "--no-lookahead") options.accept_lookahead = false;
        else {
            std::fprintf(stderr, "usage: sostenuto-fake-engine [--socket PATH] [--slack N] [--speed X] [--no-lookahead]\n");
            return 1;
        }
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    try {
        sostenuto::host::FakeEngine engine(options);
        std::printf("%s\n", engine.socket_path().c_str());
        std::fflush(stdout);
        while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sostenuto-fake-engine: %s\n", e.what());
        return 2;
    }
    return 0;
}
