#!/usr/bin/python3
"""Writes examples/demo.mid: a short piano piece that exercises the whole engine.

About 26 seconds, 100 bpm, C major / A minor, format 1 (tempo track + one piano track):
melody over left-hand chords, dynamics from pp to ff, repeated notes, a fast sixteenth-note
run, sustain pedal changes, two beats of silence, a gentle ritardando into a held final chord.
Note-offs are written as note-on with velocity 0 (as most sequencers do) so files exercise
that path and running status. Deterministic: the same bytes on every run.

Usage: /usr/bin/python3 examples/make_demo.py [output.mid]
"""
import os
import sys

import mido

TICKS_PER_BEAT = 480
Q = TICKS_PER_BEAT          # quarter note
E = Q // 2                  # eighth note
S = Q // 4                  # sixteenth note
BAR = 4 * Q
RETURN = 7 * BAR + 2 * Q    # the theme comes back after two beats of silence
FINAL = RETURN + 2 * BAR    # the closing chord
CHANNEL = 0
PEDAL = 64

PP, P, MP, MF, F, FF = 30, 45, 60, 75, 95, 115

# Pitches by name, e.g. 'C4' = 60.
NOTE_INDEX = {'C': 0, 'D': 2, 'E': 4, 'F': 5, 'G': 7, 'A': 9, 'B': 11}


def pitch(name):
    return 12 * (int(name[-1]) + 1) + NOTE_INDEX[name[0]]


class Score:
    """Collects absolute-time events; the sort order at equal ticks is offs, pedal, ons."""

    def __init__(self):
        self.events = []

    def note(self, start, duration, name, velocity, gap=20):
        key = pitch(name)
        # A small gap before the next note keeps repeated notes articulate.
        self.events.append((start, 2, mido.Message('note_on', channel=CHANNEL, note=key, velocity=velocity)))
        self.events.append((start + duration - gap, 0, mido.Message('note_on', channel=CHANNEL, note=key, velocity=0)))

    def chord(self, start, duration, names, velocity):
        for name in names:
            self.note(start, duration, name, velocity)

    def melody(self, start, notes, velocity):
        """notes: (name, length in ticks) pairs; name None is a rest."""
        for name, length in notes:
            if name is not None:
                self.note(start, length, name, velocity)
            start += length

    def pedal(self, tick, down):
        self.events.append((tick, 1, mido.Message('control_change', channel=CHANNEL, control=PEDAL, value=127 if down else 0)))

    def track(self, name):
        track = mido.MidiTrack()
        track.append(mido.MetaMessage('track_name', name=name, time=0))
        track.append(mido.Message('program_change', channel=CHANNEL, program=0, time=0))
        now = 0
        for tick, _, message in sorted(self.events, key=lambda e: (e[0], e[1], e[2].bytes())):
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage('end_of_track', time=E))
        return track


def oom_pah(score, bar, bass, fifth, chord, velocity):
    """Left hand: bass on beats 1 and 3, chord on beats 2 and 4."""
    start = bar * BAR
    score.note(start, Q, bass, velocity)
    score.chord(start + Q, Q, chord, velocity - 10)
    score.note(start + 2 * Q, Q, fifth, velocity)
    score.chord(start + 3 * Q, Q, chord, velocity - 10)


def legato_pedal(score, bar):
    """Pedal up on the barline, down just after the new harmony sounds."""
    score.pedal(bar * BAR, False)
    score.pedal(bar * BAR + 60, True)


def compose():
    score = Score()

    # Bars 1-4: the theme, mp rising to mf, pedalled bar by bar.
    score.melody(0 * BAR, [('E5', Q), ('D5', E), ('E5', E), ('G5', Q), ('E5', Q)], MP)
    score.melody(1 * BAR, [('C6', Q), ('B5', E), ('A5', E), ('E5', 2 * Q)], MP + 5)
    score.melody(2 * BAR, [('F5', Q), ('A5', Q), ('C6', Q), ('A5', Q)], MF)
    score.melody(3 * BAR, [('G5', Q + E), ('F5', E), ('D5', Q), ('B4', Q)], MF)
    oom_pah(score, 0, 'C3', 'G2', ['E3', 'G3', 'C4'], P + 5)
    oom_pah(score, 1, 'A2', 'E2', ['E3', 'A3', 'C4'], P + 5)
    oom_pah(score, 2, 'F2', 'C3', ['F3', 'A3', 'C4'], MP)
    oom_pah(score, 3, 'G2', 'D3', ['D3', 'G3', 'B3'], MP)
    for bar in range(4):
        legato_pedal(score, bar)

    # Bar 5: repeated notes, crescendo from mf to f.
    repeated = ['E5'] * 4 + ['G5'] * 4
    for i, name in enumerate(repeated):
        score.note(4 * BAR + i * E, E, name, MF + 3 * i)
    score.chord(4 * BAR, 2 * Q, ['C3', 'G3', 'E4'], MP)
    score.chord(4 * BAR + 2 * Q, 2 * Q, ['C3', 'G3', 'E4'], MF)
    legato_pedal(score, 4)

    # Bar 6: a fast sixteenth-note run up and back, ff, without pedal for clarity.
    run = ['A4', 'B4', 'C5', 'D5', 'E5', 'F5', 'G5', 'A5', 'B5', 'C6', 'D6', 'E6', 'D6', 'C6', 'B5', 'A5']
    for i, name in enumerate(run):
        score.note(5 * BAR + i * S, S, name, min(FF, F + 2 * i), gap=10)
    score.chord(5 * BAR, 2 * Q, ['A2', 'E3', 'A3'], F)
    score.chord(5 * BAR + 2 * Q, 2 * Q, ['A2', 'E3', 'C4'], F)
    score.pedal(5 * BAR, False)

    # Bar 7: Dm to G7, dying away to p; then a half cadence into silence.
    score.melody(6 * BAR, [('A5', Q), ('F5', Q)], MF)
    score.melody(6 * BAR + 2 * Q, [('G5', Q), ('B4', Q)], P)
    score.chord(6 * BAR, 2 * Q, ['D3', 'A3', 'F4'], MP)
    score.chord(6 * BAR + 2 * Q, 2 * Q, ['G2', 'F3', 'B3'], P)
    legato_pedal(score, 6)

    # Two beats of silence, pedal up.
    score.pedal(7 * BAR, False)

    # The theme returns pp, slowing down.
    score.melody(RETURN, [('A4', Q), ('C5', Q), ('F5', 2 * Q)], PP)
    score.chord(RETURN, BAR, ['F2', 'F3', 'A3', 'C4'], PP)
    score.melody(RETURN + BAR, [('G4', Q), ('B4', Q), ('D5', Q), ('F5', Q)], P)
    score.chord(RETURN + BAR, BAR, ['G2', 'G3', 'B3', 'D4'], P)
    score.pedal(RETURN + 60, True)
    score.pedal(RETURN + BAR, False)
    score.pedal(RETURN + BAR + 60, True)

    # The final C major chord, gently rolled from the bass up and held under the pedal.
    final = ['C2', 'C3', 'G3', 'C4', 'E4', 'G4', 'C5', 'E5']
    for i, name in enumerate(final):
        score.note(FINAL + i * 15, BAR - i * 15, name, MF - 2 * i)
    score.pedal(FINAL, False)
    score.pedal(FINAL + 60, True)
    score.pedal(FINAL + BAR, False)
    return score


def tempo_track():
    track = mido.MidiTrack()
    track.append(mido.MetaMessage('track_name', name='Tempo', time=0))
    track.append(mido.MetaMessage('time_signature', numerator=4, denominator=4, time=0))
    track.append(mido.MetaMessage('key_signature', key='C', time=0))
    # General MIDI System On, as many real files begin.
    track.append(mido.Message('sysex', data=[0x7E, 0x7F, 0x09, 0x01], time=0))
    track.append(mido.MetaMessage('set_tempo', tempo=mido.bpm2tempo(100), time=0))
    # Ritardando over the last two bars.
    track.append(mido.MetaMessage('set_tempo', tempo=mido.bpm2tempo(96), time=RETURN + BAR))
    track.append(mido.MetaMessage('set_tempo', tempo=mido.bpm2tempo(88), time=2 * Q))
    track.append(mido.MetaMessage('set_tempo', tempo=mido.bpm2tempo(84), time=2 * Q))
    track.append(mido.MetaMessage('end_of_track', time=0))
    return track


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), 'demo.mid')
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(tempo_track())
    midi.tracks.append(compose().track('Piano'))
    midi.save(out)
    print(f'{out}: {midi.length:.2f} s')


if __name__ == '__main__':
    main()
