// Outages seen from the host: a session with the engine lost (an engine
// crash or kill, whoever caused it) until a new session has played for a
// settling time. Fed with the plug-in's counters after every block; for each
// outage it keeps when the loss was seen, when a new session took over, and
// the audio that was missing (underrun frames) from the loss to the end of the
// settling time: the silence a listener heard. Underruns outside outages are
// counted apart (a soak's bar is 0 of them), and binned by whole seconds since
// the last session started (the engine's, or its spare's, start-up work shows
// there: the spare loads 2 s after an engine starts listening).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sostenuto/vst3/diagnostics.h"

namespace sostenuto::host {

struct Outage {
    std::uint64_t lost_at = 0;       // stream time after the block that saw the session lost
    std::uint64_t recovered_at = 0;  // after the first block of the new session (0: none)
    std::uint64_t missing_frames = 0;
};

class OutageWatch {
public:
    // Seconds are counted at `rate` samples.
    OutageWatch(std::uint64_t settle_samples, std::uint64_t rate) : settle_(settle_samples), rate_(rate ? rate : 1) {
        outages_.reserve(4096);
    }
    static constexpr std::size_t kSecondsBinned = 16;  // the last bin holds everything later

    void observe(std::uint64_t stream_time, const sostenuto_stats& s) {
        if (s.sessions == 0) {  // starting up: no session yet, so nothing lost and nothing outside
            missing_ = s.missing_frames;
            return;
        }
        if (!started_) {  // the first block of the first session: losses and recoveries count from here
            started_ = true;
            session_started_at_ = stream_time;
            lost_ = s.sessions_lost;
            recovered_ = s.session_recoveries;
        }
        const bool lost = s.sessions_lost > lost_;
        const bool recovered = s.session_recoveries > recovered_;
        lost_ = s.sessions_lost;
        recovered_ = s.session_recoveries;
        if (phase_ == Phase::settling && (lost || stream_time >= settle_until_)) close(missing_);
        if (phase_ == Phase::normal) {
            if (lost) {
                phase_ = Phase::out;
                current_ = Outage{stream_time, 0, 0};
                start_missing_ = missing_;  // this block's underruns belong to the outage
            } else if (s.missing_frames > missing_) {
                missing_outside_ += s.missing_frames - missing_;
                const std::uint64_t second = (stream_time - session_started_at_) / rate_;
                outside_by_second_[second < outside_by_second_.size() ? second : outside_by_second_.size() - 1] +=
                    s.missing_frames - missing_;
            }
        }
        if (phase_ == Phase::out && recovered) {
            current_.recovered_at = stream_time;
            session_started_at_ = stream_time;
            settle_until_ = stream_time + settle_;
            phase_ = Phase::settling;
        }
        missing_ = s.missing_frames;
    }

    // Closes an outage still open at the end of the run.
    void finish() {
        if (phase_ != Phase::normal) close(missing_);
    }

    const std::vector<Outage>& outages() const { return outages_; }
    std::uint64_t missing_outside() const { return missing_outside_; }
    // Frames missing outside outages in second k after the last session started.
    const std::array<std::uint64_t, kSecondsBinned>& missing_outside_by_second() const { return outside_by_second_; }

private:
    enum class Phase { normal, out, settling };

    void close(std::uint64_t missing_now) {
        current_.missing_frames = missing_now - start_missing_;
        if (outages_.size() < outages_.capacity()) outages_.push_back(current_);
        phase_ = Phase::normal;
    }

    std::uint64_t settle_, rate_;
    std::uint64_t session_started_at_ = 0;
    std::array<std::uint64_t, kSecondsBinned> outside_by_second_{};
    bool started_ = false;
    Phase phase_ = Phase::normal;
    std::uint64_t lost_ = 0, recovered_ = 0, missing_ = 0;
    std::uint64_t start_missing_ = 0, settle_until_ = 0, missing_outside_ = 0;
    Outage current_;
    std::vector<Outage> outages_;
};

}  // namespace sostenuto::host
