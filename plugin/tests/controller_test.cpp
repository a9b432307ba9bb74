// What a keyboard player's controllers do (docs/controllers.md), heard in the
// real plug-in's output: the bundle in the headless test host, its MIDI
// controllers delivered as a DAW delivers them (parameter changes through
// IMidiMapping), the engine inside the bundle with the default model (the
// fixture: silence with exact zeros when no note sounds, sound when one does).
// Offline renders (a bounce), so the audio is exact whatever the machine's load.
// Skipped until `make bundle` has put the engine into the bundle.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/engine_test_support.h"
#include "midi_file.h"
#include "renderer.h"

namespace sostenuto::host {
namespace {

using bridge::testing::end_process;
using bridge::testing::read_file;
using bridge::testing::ScopedEnvironment;
using bridge::testing::TemporaryDirectory;

constexpr double kRate = 48000;
// The engine's fade on a flush and on all sound off (RenderSession.FlushFadeSeconds).
constexpr double kFadeSeconds = 0.010;

TimedMidi on(double t, int pitch, int velocity = 100) { return {t, 0x90, static_cast<uint8_t>(pitch), static_cast<uint8_t>(velocity)}; }
TimedMidi off(double t, int pitch) { return {t, 0x80, static_cast<uint8_t>(pitch), 0}; }
TimedMidi cc(double t, int controller, int value) { return {t, 0xB0, static_cast<uint8_t>(controller), static_cast<uint8_t>(value)}; }

// The largest magnitude in [from, to) seconds of the left channel.
float peak(const RenderResult& r, double from, double to) {
    const auto begin = r.audio[0].begin() + std::min<long>(static_cast<long>(from * kRate), static_cast<long>(r.audio[0].size()));
    const auto end = r.audio[0].begin() + std::min<long>(static_cast<long>(to * kRate), static_cast<long>(r.audio[0].size()));
    float p = 0;
    for (auto it = begin; it < end; ++it) p = std::max(p, std::fabs(*it));
    return p;
}

class Controllers : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        const std::string engine = std::string(SOSTENUTO_VST3_BUNDLE) + "/Contents/Resources/engine/sostenuto";
        struct stat info {};
        if (::stat(engine.c_str(), &info) != 0) return;
        runtime_ = std::make_unique<TemporaryDirectory>("sostenuto-vst3-controllers");
        xdg_ = std::make_unique<ScopedEnvironment>("XDG_RUNTIME_DIR", runtime_->path().c_str());
        socket_ = std::make_unique<ScopedEnvironment>("SOSTENUTO_ENGINE_SOCKET", nullptr);
        engine_ = std::make_unique<ScopedEnvironment>("SOSTENUTO_ENGINE", nullptr);
        module_ = std::make_unique<PluginModule>(SOSTENUTO_VST3_BUNDLE);
    }
    static void TearDownTestSuite() {
        module_.reset();
        for (int pid : pids_) end_process(pid);
        engine_.reset();
        socket_.reset();
        xdg_.reset();
        runtime_.reset();
    }
    void SetUp() override {
        if (!module_) GTEST_SKIP() << "the bundle has no engine: run `make bundle`";
    }

    // An offline bounce of `midi` (the host's block: 256), with `tail` seconds after the last event.
    static RenderResult bounce(const std::vector<TimedMidi>& midi, double tail = 1.5) {
        PluginInstance instance(*module_);
        RenderOptions options;
        options.process_mode = V3_OFFLINE;
        options.block = 256;
        options.tail_seconds = tail;
        RenderResult r = render(instance, midi, options);
        if (r.have_stats && r.stats.engine_pid > 0) pids_.insert(r.stats.engine_pid);
        EXPECT_TRUE(r.have_stats && r.stats.sessions == 1) << r.stats.last_error << "\n"
                                                           << read_file(runtime_->path() + "/sostenuto-engine.log");
        EXPECT_EQ(r.stats.events_dropped, 0u);
        return r;
    }

    static inline std::unique_ptr<TemporaryDirectory> runtime_;
    static inline std::unique_ptr<ScopedEnvironment> xdg_, socket_, engine_;
    static inline std::unique_ptr<PluginModule> module_;
    static inline std::set<int> pids_;
};

// With the bundle's default model, a piano: a released note rings out over a few hundred
// milliseconds (FluidR3's C4 is at -54 dBFS 300 ms after its key, -87 dBFS after 600 ms) and then
// is exactly silent; under the pedal it keeps sounding at its own level.
TEST_F(Controllers, TheSustainPedalHoldsReleasedNotesUntilItLifts) {
    const RenderResult free = bounce({on(0.1, 60), off(0.2, 60)});
    EXPECT_GT(peak(free, 0.1, 0.2), 1e-3f);
    EXPECT_EQ(peak(free, 1.0, 2.0), 0.0f) << "without the pedal the note ends with its key";

    const RenderResult held = bounce({cc(0.05, 64, 127), on(0.1, 60), off(0.2, 60), cc(0.9, 64, 0)});
    EXPECT_GT(peak(held, 0.5, 0.9), 1e-3f) << "the pedal holds the released note";
    EXPECT_GT(peak(held, 0.5, 0.9), 10 * peak(free, 0.5, 0.9)) << "the pedal holds the released note";
    EXPECT_EQ(peak(held, 1.8, 2.4), 0.0f) << "lifting the pedal releases it";
}

TEST_F(Controllers, AllNotesOffReleasesEveryNoteAndTheNotesThePedalHolds) {
    const RenderResult r = bounce({cc(0.05, 64, 127), on(0.1, 60), on(0.1, 64), off(0.2, 64), on(0.15, 67), cc(0.6, 123, 0)});
    EXPECT_GT(peak(r, 0.4, 0.6), 1e-3f);
    EXPECT_EQ(peak(r, 1.0, 2.1), 0.0f) << "CC123 released the held keys and the pedal's notes";
}

TEST_F(Controllers, AllSoundOffIsSilenceWithinTheFade) {
    const RenderResult r = bounce({cc(0.05, 64, 127), on(0.1, 60), on(0.1, 64), on(0.15, 67), cc(0.6, 120, 0)});
    EXPECT_GT(peak(r, 0.55, 0.6), 1e-3f) << "the notes sounded up to the all-sound-off";
    // Exact silence from the end of the 10 ms fade (plus one sample of rounding) on.
    EXPECT_EQ(peak(r, 0.6 + kFadeSeconds + 1 / kRate, 2.1), 0.0f) << "CC120 did not silence within 10 ms";
}

TEST_F(Controllers, AllSoundOffKeepsThePedalForTheNextNotes) {
    const RenderResult r = bounce({cc(0.05, 64, 127), on(0.1, 60), cc(0.4, 120, 0), on(0.6, 72), off(0.7, 72)});
    EXPECT_GT(peak(r, 1.0, 1.6), 1e-3f) << "the pedal, still down, holds a note played after CC120";
}

TEST_F(Controllers, ResetAllControllersLiftsThePedal) {
    const RenderResult r = bounce({cc(0.05, 64, 127), on(0.1, 60), off(0.2, 60), cc(0.8, 121, 0)});
    EXPECT_GT(peak(r, 0.5, 0.8), 1e-3f);
    EXPECT_EQ(peak(r, 1.2, 2.3), 0.0f) << "CC121 released the notes the pedal held";
}

TEST_F(Controllers, VelocityReachesTheModel) {
    const RenderResult soft = bounce({on(0.1, 60, 20), off(0.5, 60)});
    const RenderResult hard = bounce({on(0.1, 60, 120), off(0.5, 60)});
    ASSERT_EQ(soft.audio[0].size(), hard.audio[0].size());
    EXPECT_GT(peak(soft, 0.1, 0.5), 1e-3f);
    EXPECT_NE(soft.audio[0], hard.audio[0]) << "the model is conditioned on velocity: the audio must differ";
}

// Pitch bend, aftertouch (channel and poly), modulation, volume, expression,
// the sostenuto and soft pedals and program changes: the model format has no
// conditioning for them, so the audio is bit-identical with or without them.
TEST_F(Controllers, ControllersTheModelDoesNotHearChangeNothing) {
    const std::vector<TimedMidi> plain = {on(0.1, 60), on(0.3, 64), off(0.7, 60), off(0.8, 64)};
    std::vector<TimedMidi> busy = plain;
    for (double t = 0.05; t < 0.9; t += 0.05) {
        const auto v = static_cast<uint8_t>(std::lround(t * 127));
        busy.push_back({t, 0xE0, 0, v});          // pitch bend
        busy.push_back({t, 0xD0, v, 0});          // channel aftertouch
        busy.push_back({t, 0xA0, 60, v});         // poly aftertouch
        busy.push_back(cc(t, 1, v));              // modulation
        busy.push_back(cc(t, 7, 127 - v));        // volume
        busy.push_back(cc(t, 11, 127 - v));       // expression
        busy.push_back(cc(t, 66, t < 0.5 ? 127 : 0));  // sostenuto pedal
        busy.push_back(cc(t, 67, t < 0.5 ? 127 : 0));  // soft pedal
    }
    busy.push_back({0.2, 0xC0, 5, 0});  // program change (not a VST3 parameter: the host drops it)
    std::stable_sort(busy.begin(), busy.end(), [](const TimedMidi& a, const TimedMidi& b) { return a.seconds < b.seconds; });
    const RenderResult a = bounce(plain);
    const RenderResult b = bounce(busy);
    EXPECT_GT(peak(a, 0.1, 0.8), 1e-3f);
    // The busy render is longer (its last event is later): compare what both cover.
    const size_t n = std::min(a.audio[0].size(), b.audio[0].size());
    ASSERT_GT(n, static_cast<size_t>(2 * kRate));
    size_t first_difference = n;
    for (size_t i = 0; i < n && first_difference == n; ++i)
        if (a.audio[0][i] != b.audio[0][i] || a.audio[1][i] != b.audio[1][i]) first_difference = i;
    EXPECT_EQ(first_difference, n) << "the audio changed at " << first_difference / kRate << " s";
}

}  // namespace
}  // namespace sostenuto::host
