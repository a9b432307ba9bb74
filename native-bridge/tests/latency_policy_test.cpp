// Auto latency's rule (latency_policy.h): which path a block's events take,
// from the host's state flags, and where each message goes across transport
// transitions (PathRouter). docs/live-mode.md, "Auto", is the prose.
#include <gtest/gtest.h>

#include "sostenuto/bridge/latency_policy.h"

namespace sostenuto::bridge {
namespace {

HostTransport host(bool playing, bool recording, bool offline) { return HostTransport{playing, recording, offline}; }

TEST(LatencyPolicy, AutoIsTheDefaultAndKeepsTheNumbersOfLiveAndStudio) {
    EXPECT_EQ(default_latency_choice, LatencyChoice::automatic);
    EXPECT_EQ(static_cast<int>(LatencyChoice::live), 0);    // saved states before Auto
    EXPECT_EQ(static_cast<int>(LatencyChoice::studio), 1);  // saved states before Auto
    EXPECT_EQ(static_cast<int>(LatencyChoice::automatic), 2);
    EXPECT_EQ(latency_choice_from(0), LatencyChoice::live);
    EXPECT_EQ(latency_choice_from(1), LatencyChoice::studio);
    EXPECT_EQ(latency_choice_from(2), LatencyChoice::automatic);
    EXPECT_EQ(latency_choice_from(3), LatencyChoice::automatic);
    EXPECT_EQ(latency_choice_from(0xFFFFFFFFu), LatencyChoice::automatic);
    EXPECT_STREQ(to_string(LatencyChoice::automatic), "auto");
}

TEST(LatencyPolicy, AutoReportsTheStudioSessionAndRunsALiveOneBeside) {
    EXPECT_EQ(reported_session_mode(LatencyChoice::automatic), LatencyMode::studio);
    EXPECT_EQ(reported_session_mode(LatencyChoice::studio), LatencyMode::studio);
    EXPECT_EQ(reported_session_mode(LatencyChoice::live), LatencyMode::live);
    EXPECT_TRUE(needs_live_beside(LatencyChoice::automatic));
    EXPECT_FALSE(needs_live_beside(LatencyChoice::studio));
    EXPECT_FALSE(needs_live_beside(LatencyChoice::live));
}

// Every combination of the three flags.
TEST(LatencyPolicy, AutoPathFromTheStateFlags) {
    const auto a = LatencyChoice::automatic;
    EXPECT_EQ(path_for(a, host(false, false, false)), RenderPath::live);    // stopped: played live
    EXPECT_EQ(path_for(a, host(false, true, false)), RenderPath::live);     // record-armed while stopped
    EXPECT_EQ(path_for(a, host(true, false, false)), RenderPath::studio);   // timeline playback
    EXPECT_EQ(path_for(a, host(true, true, false)), RenderPath::live);      // recording: played live
    for (bool playing : {false, true})
        for (bool recording : {false, true})
            EXPECT_EQ(path_for(a, host(playing, recording, true)), RenderPath::studio)  // a bounce, always
                << playing << recording;
}

TEST(LatencyPolicy, LiveAndStudioIgnoreTheHost) {
    for (bool playing : {false, true})
        for (bool recording : {false, true})
            for (bool offline : {false, true}) {
                EXPECT_EQ(path_for(LatencyChoice::live, host(playing, recording, offline)), RenderPath::live);
                EXPECT_EQ(path_for(LatencyChoice::studio, host(playing, recording, offline)), RenderPath::studio);
            }
}

using Route = PathRouter::Route;
constexpr Route kLive{true, false}, kStudio{false, true}, kBoth{true, true};

// A key held while the transport starts stays on the live path and gets its note-off there.
TEST(PathRouter, NoteHeldAcrossTransportStartEndsOnTheLivePath) {
    PathRouter r;
    r.set_path(path_for(LatencyChoice::automatic, host(false, false, false)));
    EXPECT_EQ(r.route(0x90, 60, 100), kLive);
    r.set_path(path_for(LatencyChoice::automatic, host(true, false, false)));  // transport starts
    EXPECT_EQ(r.route(0x90, 64, 90), kStudio);  // the timeline's note
    EXPECT_TRUE(r.holds(RenderPath::live, 0, 60));
    EXPECT_EQ(r.route(0x80, 60, 64), kLive);    // the held key's note-off
    EXPECT_EQ(r.route(0x80, 64, 64), kStudio);
    EXPECT_FALSE(r.holds(RenderPath::live));
    EXPECT_FALSE(r.holds(RenderPath::studio));
}

// A timeline note held when the transport stops ends on the studio path (the
// stop's flush releases it there too); a note-on with velocity 0 is a note-off.
TEST(PathRouter, NoteHeldAcrossTransportStopEndsOnTheStudioPath) {
    PathRouter r;
    r.set_path(RenderPath::studio);
    EXPECT_EQ(r.route(0x91, 48, 80), kStudio);
    r.set_path(RenderPath::live);  // stopped
    EXPECT_EQ(r.route(0x91, 48, 0), kStudio);
    EXPECT_EQ(r.route(0x90, 48, 80), kLive);  // channel 1 now: nothing held there
}

// Record on while playing: new keys go live, the timeline's held note ends on studio; record off: back.
TEST(PathRouter, RecordOnAndOff) {
    PathRouter r;
    const auto a = LatencyChoice::automatic;
    r.set_path(path_for(a, host(true, false, false)));
    EXPECT_EQ(r.route(0x90, 40, 100), kStudio);
    r.set_path(path_for(a, host(true, true, false)));  // punch in
    EXPECT_EQ(r.route(0x90, 72, 100), kLive);
    EXPECT_EQ(r.route(0xA0, 72, 30), kLive);           // poly pressure follows the note
    EXPECT_EQ(r.route(0x80, 40, 0), kStudio);
    r.set_path(path_for(a, host(true, false, false)));  // punch out
    EXPECT_EQ(r.route(0x80, 72, 0), kLive);
    EXPECT_EQ(r.route(0x90, 72, 100), kStudio);
}

// A jump keeps the path (playing before and after) and the keys where they are.
TEST(PathRouter, JumpKeepsHeldKeysOnTheirPath) {
    PathRouter r;
    r.set_path(RenderPath::live);  // recording
    r.route(0x90, 60, 100);
    r.set_path(RenderPath::live);  // a loop jump while recording: same path
    EXPECT_EQ(r.route(0x80, 60, 0), kLive);
}

// A key struck on one path and again on the other: its note-off releases both.
TEST(PathRouter, ReStrikeAcrossATransitionReleasesBoth) {
    PathRouter r;
    r.set_path(RenderPath::live);
    r.route(0x90, 60, 100);
    r.set_path(RenderPath::studio);
    EXPECT_EQ(r.route(0x90, 60, 100), kStudio);
    EXPECT_EQ(r.route(0x80, 60, 0), kBoth);
    EXPECT_EQ(r.route(0x80, 60, 0), kStudio);  // nothing held: the block's path
}

// Controllers, pedal, bend, pressure and program go to both paths; CC120/123 forget the channel's keys.
TEST(PathRouter, ChannelMessagesGoToBothPaths) {
    PathRouter r;
    r.set_path(RenderPath::live);
    EXPECT_EQ(r.route(0xB0, 64, 127), kBoth);
    EXPECT_EQ(r.route(0xE0, 0, 64), kBoth);
    EXPECT_EQ(r.route(0xD0, 10, 0), kBoth);
    EXPECT_EQ(r.route(0xC0, 3, 0), kBoth);
    r.route(0x90, 60, 100);
    r.route(0x91, 61, 100);
    EXPECT_EQ(r.route(0xB0, 123, 0), kBoth);
    EXPECT_FALSE(r.holds(RenderPath::live, 0, 60));
    EXPECT_TRUE(r.holds(RenderPath::live, 1, 61));
    r.reset();
    EXPECT_FALSE(r.holds(RenderPath::live));
}

}  // namespace
}  // namespace sostenuto::bridge
