// The MIDI state a new engine session is told (bridge::HeldMidiState), the
// one owner for both front ends; the behaviour is docs/controllers.md's.
#include <gtest/gtest.h>

#include <vector>

#include "sostenuto/bridge/held_midi_state.h"

namespace sostenuto::bridge {
namespace {

std::vector<MidiEvent> restore_of(const HeldMidiState& state, std::uint64_t time) {
    std::vector<MidiEvent> out(HeldMidiState::max_restore_events);
    out.resize(state.restore(time, out.data(), out.size()));
    return out;
}

void expect_event(const MidiEvent& e, std::uint64_t time, int status, int data1, int data2) {
    EXPECT_EQ(e.stream_time, time);
    EXPECT_EQ(e.status, status);
    EXPECT_EQ(e.data1, data1);
    EXPECT_EQ(e.data2, data2);
}

TEST(HeldMidiState, RestoresControllersFirstThenHeldAndPedalHeldNotes) {
    HeldMidiState state;
    EXPECT_TRUE(restore_of(state, 0).empty());
    const MidiEvent played[] = {
        {0, 0x90, 60, 100}, {1, 0x90, 64, 90}, {2, 0xB0, 64, 127}, {3, 0x80, 60, 64},  // 60 released under the pedal
        {4, 0xE0, 0, 80},   {5, 0xD0, 30, 0},  {6, 0xC0, 4, 0},    {7, 0xB0, 1, 20},
        {8, 0x92, 50, 70},  {9, 0xA0, 64, 10},  // poly pressure: not state
        {10, 0x90, 62, 0},  // a note-on of velocity 0 is a note-off
    };
    for (const MidiEvent& e : played) state.apply(e);
    EXPECT_TRUE(state.sounding(0, 60)) << "held by the pedal";
    EXPECT_FALSE(state.sounding(0, 62));
    EXPECT_EQ(state.sounding_notes(), 3u);
    const std::vector<MidiEvent> sent = restore_of(state, 1000);
    ASSERT_EQ(sent.size(), 9u);
    expect_event(sent[0], 1000, 0xC0, 4, 0);     // channel 1: program,
    expect_event(sent[1], 1000, 0xB0, 1, 20);    // controllers in order,
    expect_event(sent[2], 1000, 0xB0, 64, 127);  // the pedal before the notes it holds,
    expect_event(sent[3], 1000, 0xE0, 0, 80);    // bend,
    expect_event(sent[4], 1000, 0xD0, 30, 0);    // pressure
    expect_event(sent[5], 1000, 0x90, 60, 100);  // released under the pedal: on, then off, so the pedal holds it
    expect_event(sent[6], 1000, 0x80, 60, 64);
    expect_event(sent[7], 1000, 0x90, 64, 90);   // held
    expect_event(sent[8], 1000, 0x92, 50, 70);   // channel 3
}

TEST(HeldMidiState, PedalUpReleasesWhatOnlyItHeld) {
    HeldMidiState state;
    for (const MidiEvent& e : {MidiEvent{0, 0x90, 60, 100}, MidiEvent{0, 0x90, 61, 100}, MidiEvent{0, 0xB0, 64, 127},
                               MidiEvent{0, 0x80, 60, 0}})
        state.apply(e);
    EXPECT_TRUE(state.sounding(0, 60));
    state.apply({1, 0xB0, 64, 0});
    EXPECT_FALSE(state.sounding(0, 60)) << "pedal up";
    EXPECT_TRUE(state.sounding(0, 61)) << "the key is still down";
}

TEST(HeldMidiState, ModeMessagesForgetNotesAndResetControllersFollowsRp015) {
    HeldMidiState state;
    for (const MidiEvent& e : {MidiEvent{0, 0x90, 60, 100}, MidiEvent{0, 0x91, 61, 100}, MidiEvent{0, 0xB0, 64, 127},
                               MidiEvent{0, 0x90, 62, 100}, MidiEvent{0, 0x80, 62, 0}, MidiEvent{0, 0xB0, 7, 90},
                               MidiEvent{0, 0xB0, 11, 90}, MidiEvent{0, 0xE0, 0, 90}, MidiEvent{0, 0xC0, 3, 0}})
        state.apply(e);
    state.apply({1, 0xB0, 121, 0});  // channel 1: pedal, expression and bend go; volume and program stay; 62 was only pedal-held
    EXPECT_FALSE(state.sounding(0, 62));
    EXPECT_TRUE(state.sounding(0, 60));
    state.apply({1, 0xB0, 123, 0});  // channel 1's notes
    const std::vector<MidiEvent> sent = restore_of(state, 5);
    ASSERT_EQ(sent.size(), 3u);
    expect_event(sent[0], 5, 0xC0, 3, 0);
    expect_event(sent[1], 5, 0xB0, 7, 90);
    expect_event(sent[2], 5, 0x91, 61, 100);
    state.apply({2, 0xB1, 120, 0});  // all sound off: channel 2's notes
    EXPECT_EQ(state.sounding_notes(), 0u);
}

TEST(HeldMidiState, ATransportFlushForgetsNotesAndThePedalOnly) {
    HeldMidiState state;
    for (const MidiEvent& e : {MidiEvent{0, 0xB0, 64, 127}, MidiEvent{0, 0xB0, 11, 100}, MidiEvent{0, 0x90, 60, 100}})
        state.apply(e);
    state.flush();
    const std::vector<MidiEvent> sent = restore_of(state, 0);
    ASSERT_EQ(sent.size(), 1u);
    expect_event(sent[0], 0, 0xB0, 11, 100);
}

TEST(HeldMidiState, EverythingAtOnceFitsTheBuffer) {
    HeldMidiState state;
    for (int ch = 0; ch < 16; ++ch) {
        const auto c = static_cast<std::uint8_t>(ch);
        state.apply({0, static_cast<std::uint8_t>(0xC0 | c), 1, 0});
        state.apply({0, static_cast<std::uint8_t>(0xD0 | c), 1, 0});
        state.apply({0, static_cast<std::uint8_t>(0xE0 | c), 1, 1});
        for (int k = 0; k < 128; ++k) state.apply({0, static_cast<std::uint8_t>(0x90 | c), static_cast<std::uint8_t>(k), 1});
        for (int cc = 0; cc < 120; ++cc) state.apply({0, static_cast<std::uint8_t>(0xB0 | c), static_cast<std::uint8_t>(cc), 127});
        for (int k = 0; k < 128; ++k) state.apply({0, static_cast<std::uint8_t>(0x80 | c), static_cast<std::uint8_t>(k), 0});
    }
    EXPECT_EQ(restore_of(state, 0).size(), HeldMidiState::max_restore_events) << "every key pedal-held: on and off";
}

}  // namespace
}  // namespace sostenuto::bridge
