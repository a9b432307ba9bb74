# Written by the test suite (tests/Sostenuto.Engine.Tests/Midi/MidoTestFiles.cs, a copy of its script): usage mido_writer.py PATH FORMAT
import sys, mido
path, file_type = sys.argv[1], int(sys.argv[2])
M, Meta = mido.Message, mido.MetaMessage

tempo = [Meta('track_name', name='tempo', time=0),
         Meta('set_tempo', tempo=400000, time=0),
         Meta('time_signature', numerator=3, denominator=4, time=0),
         Meta('set_tempo', tempo=650000, time=1000),
         Meta('marker', text='B', time=333),
         Meta('set_tempo', tempo=250000, time=77)]
piano = [Meta('track_name', name='piano', time=0),
         M('program_change', channel=0, program=0, time=0),
         M('control_change', channel=0, control=64, value=127, time=0),
         M('note_on', channel=0, note=60, velocity=80, time=0),
         M('note_on', channel=0, note=64, velocity=1, time=0),
         M('note_on', channel=0, note=67, velocity=127, time=100),
         Meta('text', text='running status continues after this', time=17),
         M('note_on', channel=0, note=60, velocity=0, time=3),
         M('sysex', data=[0x43, 0x10, 0x4C, 0x00, 0x00, 0x7E, 0x00], time=5),
         M('note_on', channel=0, note=64, velocity=0, time=0),
         M('note_on', channel=0, note=72, velocity=50, time=250),
         M('note_on', channel=0, note=72, velocity=90, time=120),   # re-strike before release
         M('note_off', channel=0, note=72, velocity=64, time=200),
         M('note_off', channel=0, note=72, velocity=0, time=10),
         M('control_change', channel=0, control=64, value=0, time=0),
         M('control_change', channel=0, control=64, value=100, time=30),
         M('note_on', channel=0, note=67, velocity=0, time=900),
         M('polytouch', channel=0, note=60, value=33, time=1),
         M('aftertouch', channel=0, value=20, time=1),
         M('aftertouch', channel=0, value=21, time=1),
         M('pitchwheel', channel=0, pitch=-8192, time=1),
         M('pitchwheel', channel=0, pitch=8191, time=1)]
strings = [M('program_change', channel=1, program=48, time=0),
           M('note_on', channel=1, note=48, velocity=70, time=0),
           M('note_on', channel=9, note=36, velocity=100, time=100),
           M('note_on', channel=9, note=36, velocity=0, time=0),
           Meta('set_tempo', tempo=300000, time=1900),
           M('note_off', channel=1, note=48, velocity=0, time=600),
           M('control_change', channel=1, control=7, value=90, time=0)]

def absolute(track):
    now = 0
    for msg in track:
        now += msg.time
        yield now, msg

if file_type == 1:
    midi = mido.MidiFile(type=1, ticks_per_beat=384)
    for events in (tempo, piano, strings):
        midi.tracks.append(mido.MidiTrack(events))
else:
    midi = mido.MidiFile(type=0, ticks_per_beat=96)
    merged = sorted([e for track in (tempo, piano, strings) for e in absolute(track)], key=lambda e: e[0])
    track, now = mido.MidiTrack(), 0
    for tick, msg in merged:
        track.append(msg.copy(time=tick - now))
        now = tick
    midi.tracks.append(track)
midi.save(path)