#include "bridge_engine_link.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "log.h"
#include "sostenuto/bridge/engine_locator.h"
#include "sostenuto/bridge/latency_policy.h"

namespace sostenuto::vst3 {
namespace {

// An address inside this module, for finding the module's file (and so the bundle around it).
void module_anchor() {}

}  // namespace

BridgeEngineLink::BridgeEngineLink() = default;
BridgeEngineLink::~BridgeEngineLink() { supervisor_.stop(); }

void BridgeEngineLink::locate_once() {
    if (located_) return;
    located_ = true;
    const std::string module = bridge::module_path_of(reinterpret_cast<const void*>(&module_anchor));
    bridge::EngineLocation where = bridge::locate_engine(module);
    if (where.command) {
        engine_ = std::move(where.command);
        log_message("engine: %s (started when none runs)", engine_->describe().c_str());
    } else {
        log_message("engine: none to start (%s); connecting to a running engine only", where.error.c_str());
    }
}

bool BridgeEngineLink::start(const EngineConfig& config, EngineEventHandler on_event, std::string& error) {
    supervisor_.stop();
    locate_once();

    bridge::EngineSupervisorConfig c;
    c.sample_rate = config.sample_rate;
    c.max_block_size = config.max_block_size;
    c.process_mode = config.process_mode;
    c.latency_mode = config.latency_mode;
    c.requested_lookahead_samples = config.requested_lookahead_samples;
    c.compute_slack_samples = config.compute_slack_samples;
    c.instance_id = config.instance_id;
    c.ring_channels = kRingChannels;
    c.ring_capacity_frames = bridge::ring_capacity_for(
        bridge::estimated_latency_samples(config.requested_lookahead_samples, config.compute_slack_samples),
        config.max_block_size);
    if (const char* socket = std::getenv("SOSTENUTO_ENGINE_SOCKET"); socket != nullptr && *socket != '\0') c.socket_path = socket;
    c.engine = engine_;
    c.launch.idle_exit_seconds = kEngineIdleExitSeconds;
    c.on_event = std::move(on_event);
    return supervisor_.start(c, error);
}

void BridgeEngineLink::stop() { supervisor_.stop(); }

bool BridgeEngineLink::wait_for_session(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const std::uint64_t failures = supervisor_.counters().failed_attempts;
    for (;;) {
        const EngineState state = supervisor_.state();
        if (state == EngineState::running) return true;
        if (state == EngineState::stopped || supervisor_.counters().failed_attempts != failures) return false;
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return false;
        // Wakes at once when a session starts; a failure is noticed within 5 ms.
        supervisor_.wait_until_running(std::min<std::chrono::milliseconds>(
            std::chrono::milliseconds(5), std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                                               std::chrono::milliseconds(1)));
    }
}

std::optional<EngineInfo> BridgeEngineLink::info() const {
    const std::optional<bridge::EngineWelcome> welcome = supervisor_.welcome();
    if (!welcome) return std::nullopt;
    EngineInfo info;
    info.total_latency_samples = welcome->total_latency_samples;
    info.lookahead_samples = welcome->lookahead_samples;
    info.ring_capacity_frames = welcome->ring_capacity_frames;
    info.model_name = welcome->model_name;
    info.model_version = welcome->model_version;
    info.flags = welcome->flags;
    return info;
}

std::string BridgeEngineLink::last_error() const { return supervisor_.last_error(); }

}  // namespace sostenuto::vst3
