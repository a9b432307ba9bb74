#!/usr/bin/python3
"""Checks that a bounce has its notes where the MIDI file says (numpy, Debian's python3-numpy).

  timing_check.py make-midi OUT.mid
      Writes a test file: 12 short notes, each after silence, at tick positions that land on
      odd sample times, under three tempos (120, 97, 133.5 bpm), the first at tick 0.

  timing_check.py check WAV MIDI [--tolerance-ms 5] [--exact-tolerance 1]
      For every distinct note-on time t (sample = round(seconds x rate), as sostenuto renders):
      - onsets after silence (nothing above -120 dBFS in the 20 ms before t in the bounce, and
        nothing sounding in the MIDI): the onset is the first sample above -120 dBFS from
        t - 20 ms on; its offset from t is exact to a sample.
      - onsets among other sound: the time the amplitude at the fundamental of the highest new
        note (only >= 250 Hz, for time resolution; 2-period demodulation window) reaches half
        its rise; coarser (the instrument's attack delays it by a few ms), it shows the notes
        inside the piece sound where they should.
      - the whole piece: the lag that best aligns the MIDI's note-on train (velocity-weighted,
        1 ms bins) with the audio's onset strength (rise of the log RMS envelope), +-50 ms.
      Prints a summary, and exits 1 if an exact offset exceeds --exact-tolerance samples, a
      note is silent, or the global lag exceeds --tolerance-ms.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smf  # noqa: E402
import wavinfo  # noqa: E402

SILENCE = 1e-6  # -120 dBFS


def make_midi(args):
    ppq = 480
    events = []  # (tick, bytes)
    tempos = [(0, 500000), (8 * ppq, round(60e6 / 97)), (16 * ppq, round(60e6 / 133.5))]
    pitches = [60, 64, 67, 72, 48, 55, 62, 69, 76, 59, 65, 71]
    for k, p in enumerate(pitches):
        tick = k * 2 * ppq + (k * 37) % 211  # every two beats, nudged off the grid
        events.append((tick, bytes([0x90, p, 100])))
        events.append((tick + ppq // 4, bytes([0x80, p, 0])))
    events.sort(key=lambda e: e[0])
    track = bytearray()
    # Format 1: tempo track + note track.
    vlq = smf.vlq_bytes
    tempo_track = bytearray()
    now = 0
    for tick, us in tempos:
        tempo_track += vlq(tick - now) + b'\xff\x51\x03' + us.to_bytes(3, 'big')
        now = tick
    tempo_track += b'\x00\xff\x2f\x00'
    now = 0
    for tick, data in events:
        track += vlq(tick - now) + data
        now = tick
    track += vlq(ppq) + b'\xff\x2f\x00'
    with open(args.out, 'wb') as f:
        f.write(b'MThd' + (6).to_bytes(4, 'big') + (1).to_bytes(2, 'big') + (2).to_bytes(2, 'big') + ppq.to_bytes(2, 'big'))
        for t in (tempo_track, track):
            f.write(b'MTrk' + len(t).to_bytes(4, 'big') + bytes(t))
    print(f'{args.out}: {len(pitches)} notes')


def sounding_intervals(events):
    """[(on, off)] sample intervals of notes, from the MIDI (note-on vel 0 = note-off)."""
    active, spans = {}, []
    for e in events:
        kind, ch = e.data[0] & 0xF0, e.data[0] & 0x0F
        if kind == 0x90 and e.data[2] > 0:
            active.setdefault((ch, e.data[1]), []).append(e.sample)
        elif kind in (0x80, 0x90):
            ons = active.get((ch, e.data[1]))
            if ons:
                spans.append((ons.pop(0), e.sample))
    return spans


def check(args):
    x, rate = wavinfo.read(args.wav)
    mono = np.abs(x).max(axis=1)
    midi = smf.MidiFile(args.midi)
    events = smf.timed_events(midi, rate)
    onsets = sorted({e.sample for e in events if e.is_note_on})
    spans = sounding_intervals(events)
    pre = int(0.020 * rate)

    sig = x.sum(axis=1)
    n_idx = np.arange(len(sig))

    def pitch_amplitude(p, a, b):
        """Amplitude at pitch p's fundamental over samples [a, b): complex demodulation and a
        causal moving average of two periods, shifted back by half its length."""
        f = 440.0 * 2 ** ((p - 69) / 12)
        L = max(1, int(round(2 * rate / f)))
        a0 = max(0, a - L)
        seg = sig[a0:b] * np.exp(-2j * np.pi * f * n_idx[a0:b] / rate)
        c = np.concatenate([[0], np.cumsum(seg)])
        amp = np.abs(c[L:] - c[:-L]) / L  # amp[k] covers [a0 + k, a0 + k + L)
        centers = a0 + np.arange(len(amp)) + L // 2
        return centers, amp

    exact, coarse, missing = [], [], []
    notes_at = {}
    for e in events:
        if e.is_note_on:
            notes_at.setdefault(e.sample, []).append(e.data[1])
    for t in onsets:
        # exact, after silence
        busy = any(a < t <= b + pre for a, b in spans if a != t)
        seg_lo = max(0, t - pre)
        if not busy and (t == 0 or mono[seg_lo:t].max(initial=0) < SILENCE):
            above = np.nonzero(mono[seg_lo:t + pre] >= SILENCE)[0]
            if len(above):
                exact.append((t, seg_lo + above[0] - t))
            else:
                missing.append(t)
        # coarse: half-rise of the highest new note's fundamental (>= 250 Hz for time resolution)
        p = max(notes_at[t])
        if 440.0 * 2 ** ((p - 69) / 12) < 250:
            continue
        w = int(0.025 * rate)
        centers, amp = pitch_amplitude(p, t - w, t + 2 * w)
        before = amp[centers < t - w // 5]
        after = amp[(centers >= t) & (centers < t + w)]
        if len(before) == 0 or len(after) == 0:
            continue
        base, top = before[-1], after.max()
        if top < 2 * base + 1e-6:
            continue  # the pitch was already sounding as loud (e.g. a repeated note): not measurable
        half = base + 0.5 * (top - base)
        k = np.nonzero((centers >= t - w) & (amp >= half))[0]
        coarse.append((t, (centers[k[0]] - t) / rate * 1000))

    # Global lag: cross-correlate the MIDI's note-on train (velocity-weighted, 1 ms bins) with
    # the audio's onset strength (positive change of the log RMS envelope in 1 ms bins).
    b = max(1, rate // 1000)
    nb = len(sig) // b
    env = np.sqrt((sig[:nb * b].reshape(nb, b) ** 2).mean(axis=1)) + 1e-7
    flux = np.maximum(0, np.diff(np.log(env), prepend=np.log(env[0])))
    train = np.zeros(nb)
    for e in events:
        if e.is_note_on and e.sample // b < nb:
            train[e.sample // b] += e.data[2] / 127
    lags = np.arange(-50, 51)
    score = [np.dot(train[max(0, -l):nb - max(0, l)], flux[max(0, l):nb - max(0, -l)]) for l in lags]
    global_lag = int(lags[int(np.argmax(score))])

    print(f'{args.wav}: {len(x)} frames at {rate} Hz, {len(onsets)} distinct note-on times in {args.midi}')
    ok = True
    if exact:
        offs = np.array([o for _, o in exact])
        print(f'  exact onsets (after silence): {len(exact)}; offset in samples: '
              f'min {offs.min()}, max {offs.max()}, values {sorted(set(offs.tolist()))}')
        for t, o in exact[:3]:
            print(f'    note-on at sample {t} ({t / rate:.6f} s): first sound at {t + o} (offset {o:+d})')
        ok &= bool(np.abs(offs).max() <= args.exact_tolerance)
    if coarse:
        offs = np.array([o for _, o in coarse])
        print(f'  coarse onsets (half-rise of the new top note, >= 250 Hz): {len(coarse)}; offset ms: '
              f'median {np.median(offs):+.2f}, min {offs.min():+.2f}, max {offs.max():+.2f}, '
              f'|offset| > {args.tolerance_ms} ms: {int((np.abs(offs) > args.tolerance_ms).sum())}')
        # informational: attack time depends on velocity, and partials of lower notes blur
        # the fundamental of the new one inside chords
    print(f'  global lag (note-on train vs onset strength, 1 ms bins, +-50 ms): {global_lag:+d} ms')
    ok &= abs(global_lag) <= args.tolerance_ms
    if missing:
        print(f'  no sound within 20 ms after note-on at samples {missing[:10]}')
        ok = False
    print('  timing: OK' if ok else '  timing: FAILED')
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    m = sub.add_parser('make-midi')
    m.add_argument('out')
    m.set_defaults(fn=make_midi)
    c = sub.add_parser('check')
    c.add_argument('wav')
    c.add_argument('midi')
    c.add_argument('--tolerance-ms', type=float, default=5.0)
    c.add_argument('--exact-tolerance', type=int, default=1)
    c.set_defaults(fn=check)
    args = ap.parse_args()
    sys.exit(args.fn(args) or 0)


if __name__ == '__main__':
    main()
