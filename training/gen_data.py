#!/usr/bin/python3
"""Stage 1: procedural piano MIDI -> FluidSynth audio -> conditioning features.

    /usr/bin/python3 training/gen_data.py --out training/work/data --train 100 --eval 6

Each piece is ~30 s of seeded random material mixing: melodies across the whole
keyboard (A0..C8), block chords, fast scales/arpeggios, repeated notes (also
under pedal), pedalled passages, isolated notes at every dynamic, two-hand
textures and silences. Rendered with FluidSynth 2 (reverb and chorus off) using
FluidR3_GM's Acoustic Grand Piano (program 0) at 24 kHz, float, mixed to mono.
Writes per piece: NAME.mid, NAME.wav (float32 24 kHz mono), NAME.npz with
`feat` [frames, 769] (float16) and `silent` [frames]. Skips pieces already done.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (HOP, SOUNDFONT, SR, TEMPO, TPB, features, midi_events, read_wav, silent_frames,  # noqa: E402
                    write_wav)

GAIN = 1.0
TICKS_PER_SEC = TPB * 1e6 / TEMPO   # 960


class Piece:
    def __init__(self, rng):
        self.rng = rng
        self.notes = []     # (on_s, off_s, pitch, vel)
        self.pedal = []     # (t, value)
        self.t = 0.5

    def vel(self, base=None, jitter=12):
        r = self.rng
        base = r.integers(12, 128) if base is None else base
        return int(np.clip(base + r.integers(-jitter, jitter + 1), 1, 127))

    def note(self, t, dur, p, v):
        if 21 <= p <= 108:
            self.notes.append((t, t + max(dur, 0.03), int(p), int(v)))

    def register(self, lo=21, hi=108, span=12):
        c = int(self.rng.integers(lo, hi - span + 1)) if hi - span >= lo else lo
        return c, c + span

    # --- segment kinds ---
    def melody(self):
        r = self.rng
        lo, hi = self.register(span=int(r.integers(7, 25)))
        p = int(r.integers(lo, hi + 1))
        base = int(r.integers(15, 125))
        for _ in range(int(r.integers(6, 20))):
            ioi = float(r.uniform(0.12, 0.6))
            self.note(self.t, ioi * float(r.uniform(0.3, 1.3)), p, self.vel(base))
            self.t += ioi
            p = int(np.clip(p + r.integers(-5, 6), lo, hi))

    def chords(self):
        r = self.rng
        for _ in range(int(r.integers(3, 8))):
            lo, hi = self.register(24, 100, span=int(r.integers(7, 19)))
            ps = r.choice(np.arange(lo, hi + 1), size=int(r.integers(2, 6)), replace=False)
            dur = float(r.uniform(0.2, 1.6))
            base = int(r.integers(15, 125))
            for p in ps:
                self.note(self.t + float(r.uniform(0, 0.015)), dur, p, self.vel(base, 8))
            self.t += dur + float(r.uniform(0.0, 0.4))

    def fast(self):
        r = self.rng
        lo, hi = self.register(21, 108, span=int(r.integers(12, 37)))
        ioi = float(r.uniform(0.05, 0.13))
        base = int(r.integers(25, 120))
        if r.random() < 0.5:    # scale
            steps = [2, 2, 1, 2, 2, 2, 1]
            p, i, seq = lo, 0, []
            while p <= hi:
                seq.append(p)
                p += steps[i % 7]
                i += 1
        else:                   # arpeggio
            root = lo
            seq = [root + o for o in range(0, hi - lo + 1) if (o % 12) in (0, 4, 7)]
        if r.random() < 0.5:
            seq = seq[::-1]
        if r.random() < 0.4:
            seq = seq + seq[::-1][1:]
        for p in seq:
            self.note(self.t, ioi * float(r.uniform(0.7, 1.5)), p, self.vel(base, 10))
            self.t += ioi

    def repeated(self):
        r = self.rng
        p = int(r.integers(28, 100))
        ioi = float(r.uniform(0.07, 0.45))
        use_pedal = r.random() < 0.35
        if use_pedal:
            self.pedal.append((self.t - 0.05, 127))
        for _ in range(int(r.integers(3, 10))):
            self.note(self.t, ioi * float(r.uniform(0.4, 0.95)), p, self.vel())
            self.t += ioi
        if use_pedal:
            self.pedal.append((self.t + float(r.uniform(0.1, 0.8)), 0))
            self.t += 0.3

    def pedalled(self):
        r = self.rng
        self.pedal.append((self.t - 0.05, 127))
        lo, hi = self.register(21, 100, span=int(r.integers(12, 30)))
        base = int(r.integers(20, 120))
        for _ in range(int(r.integers(4, 14))):
            ioi = float(r.uniform(0.1, 0.5))
            self.note(self.t, float(r.uniform(0.05, 0.3)), int(r.integers(lo, hi + 1)), self.vel(base))
            self.t += ioi
        self.t += float(r.uniform(0.2, 1.5))
        self.pedal.append((self.t, 0))
        self.t += float(r.uniform(0.05, 0.5))

    def single(self):
        r = self.rng
        for _ in range(int(r.integers(2, 6))):
            dur = float(r.uniform(0.2, 3.0))
            self.note(self.t, dur, int(r.integers(21, 109)), int(r.integers(1, 128)))
            self.t += dur + float(r.uniform(0.05, 1.2))

    def two_hand(self):
        r = self.rng
        blo, bhi = self.register(21, 60, span=12)
        mlo, mhi = self.register(55, 108, span=14)
        bb, mb = int(r.integers(20, 110)), int(r.integers(20, 125))
        end = self.t + float(r.uniform(2, 5))
        tb = tm = self.t
        while tb < end:
            d = float(r.uniform(0.4, 1.2))
            self.note(tb, d, int(r.integers(blo, bhi + 1)), self.vel(bb))
            tb += d
        while tm < end:
            d = float(r.uniform(0.1, 0.5))
            self.note(tm, d * float(r.uniform(0.5, 1.1)), int(r.integers(mlo, mhi + 1)), self.vel(mb))
            tm += d
        self.t = max(tb, tm)

    def silence(self):
        self.t += float(self.rng.uniform(0.3, 2.5))


KINDS = ["melody", "chords", "fast", "repeated", "pedalled", "single", "two_hand", "silence"]
WEIGHTS = np.array([3, 3, 2.5, 2.5, 2, 2, 2, 1.5])


def make_piece(seed, length):
    rng = np.random.default_rng(seed)
    pc = Piece(rng)
    while pc.t < length:
        kind = KINDS[rng.choice(len(KINDS), p=WEIGHTS / WEIGHTS.sum())]
        if kind in ("chords", "fast", "melody") and rng.random() < 0.25:
            pc.pedal.append((pc.t - 0.05, 127))
            getattr(pc, kind)()
            pc.pedal.append((pc.t + float(rng.uniform(0, 0.5)), 0))
        else:
            getattr(pc, kind)()
        pc.t += float(rng.uniform(0.0, 0.8))
    return pc


def write_midi(pc, path, tail=2.0):
    """Notes of one pitch never overlap (an earlier note ends just before a re-strike)."""
    import mido
    notes = sorted(pc.notes)
    last_on = {}
    fixed = []
    for i, (on, off, p, v) in enumerate(notes):
        fixed.append([on, off, p, v])
    by_pitch = {}
    for n in fixed:
        by_pitch.setdefault(n[2], []).append(n)
    for lst in by_pitch.values():
        for a, b in zip(lst, lst[1:]):
            if a[1] > b[0] - 0.01:
                a[1] = max(a[0] + 0.02, b[0] - 0.01)
    ev = []   # (tick, order, msg)
    tick = lambda s: int(round(max(s, 0.0) * TICKS_PER_SEC))
    for on, off, p, v in fixed:
        if off <= on:
            continue
        ev.append((tick(on), 2, mido.Message("note_on", note=p, velocity=v)))
        ev.append((max(tick(off), tick(on) + 1), 0, mido.Message("note_off", note=p, velocity=0)))
    for t, val in pc.pedal:
        ev.append((tick(t), 1, mido.Message("control_change", control=64, value=val)))
    ev.sort(key=lambda e: (e[0], e[1]))
    mid = mido.MidiFile(ticks_per_beat=TPB)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tr.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
    tr.append(mido.Message("program_change", program=0, time=0))
    now = 0
    for t, _, msg in ev:
        tr.append(msg.copy(time=t - now))
        now = t
    tr.append(mido.MetaMessage("end_of_track", time=int(tail * TICKS_PER_SEC)))
    mid.save(path)


def render(mid_path, wav_path, tmp_path):
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", str(GAIN), "-r", str(SR), "-R", "0", "-C", "0",
                    "-O", "float", "-T", "wav", "-F", tmp_path, SOUNDFONT, mid_path],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    x, rate = read_wav(tmp_path)
    assert rate == SR
    os.remove(tmp_path)
    return x


def process(name, seed, length, out):
    mid = os.path.join(out, name + ".mid")
    npz = os.path.join(out, name + ".npz")
    wav = os.path.join(out, name + ".wav")
    if os.path.exists(npz):
        return
    if seed is not None:
        write_midi(make_piece(seed, length), mid)
    events, dur = midi_events(mid)
    x = render(mid, wav, wav + ".tmp.wav")
    n_frames = int(np.ceil(dur * SR / HOP))
    x = np.pad(x, (0, max(0, n_frames * HOP - len(x))))[:n_frames * HOP]
    feat = features(events, n_frames)
    write_wav(wav, x)
    np.savez_compressed(npz + ".tmp.npz", feat=feat.astype(np.float16), silent=silent_frames(x, n_frames))
    os.replace(npz + ".tmp.npz", npz)
    print(f"{name}: {dur:.1f} s, {len(events)} events, peak {np.abs(x).max():.3f}", flush=True)


def velocity_ladder(path):
    """Held-out test of dynamics, repeated notes and pedal on a few pitches."""
    import mido
    rng = np.random.default_rng(99)
    pc = Piece(rng)
    pc.t = 0.5
    for p in (33, 48, 60, 72, 84, 96):
        for v in rng.permutation([10, 25, 40, 55, 70, 85, 100, 115, 127]):
            pc.note(pc.t, 0.35, p, int(v))
            pc.t += 0.6
    # repeated notes, then the same under the pedal
    for _ in range(6):
        pc.note(pc.t, 0.08, 64, 80)
        pc.t += 0.15
    pc.t += 1.0
    pc.pedal.append((pc.t - 0.05, 127))
    for p in (48, 55, 60, 64):
        pc.note(pc.t, 0.1, p, 70)
        pc.t += 0.2
    pc.t += 2.0
    pc.pedal.append((pc.t, 0))
    pc.t += 1.0
    write_midi(pc, path)


# Real piano music for the test set: the MuseScore demo scores Debian ships (musescore3,
# musescore-common), exported to MIDI headless, every part played by the piano (program 0; the
# drum channel dropped). Licences: Debian's copyright files of those packages (docs/model-card.md).
REAL_SCORES = ["/usr/share/mscore3-3.2/demos/Reunion.mscz", "/usr/share/mscore3-3.2/demos/Unclaimed_Gift.mscx",
               "/usr/share/mscore3-3.2/demos/Fugue_1.mscx", "/usr/share/mscore-2.3/demos/All_Dudes.mscz",
               "/usr/share/mscore-2.3/demos/Triumph.mscz"]


def real_piece(score, mid):
    """Score -> piano MIDI at `mid` (mscore3, QT_QPA_PLATFORM=offscreen). False if the score is missing."""
    import mido
    if not os.path.exists(score):
        return False
    tmp = mid + ".tmp.mid"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    subprocess.run(["mscore3", "-o", tmp, score], check=True, env=env, timeout=300,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    src = mido.MidiFile(tmp)
    for tr in src.tracks:
        for i, msg in enumerate(tr):
            if msg.type == "program_change":
                tr[i] = msg.copy(program=0)
            elif getattr(msg, "channel", None) == 9 and msg.type in ("note_on", "note_off"):
                tr[i] = mido.MetaMessage("text", text="", time=msg.time)
    src.save(mid)
    os.remove(tmp)
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "work", "data"))
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--eval", type=int, default=6)
    ap.add_argument("--test", type=int, default=0, help="procedural test pieces, plus the real scores")
    ap.add_argument("--length", type=float, default=30.0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i in range(args.train):
        process(f"train_{i:04d}", 1000 + i, args.length, args.out)
    for i in range(args.eval):
        process(f"eval_{i:02d}", 900000 + i, 20.0, args.out)
    for i in range(args.test):          # the test set: no design choice reads it
        process(f"test_{i:02d}", 950000 + i, 20.0, args.out)
    if args.test:
        for score in REAL_SCORES:
            name = "real_" + os.path.splitext(os.path.basename(score))[0]
            if not os.path.exists(os.path.join(args.out, name + ".npz")) and \
                    real_piece(score, os.path.join(args.out, name + ".mid")):
                process(name, None, None, args.out)
    ladder = os.path.join(args.out, "eval_ladder.mid")
    if not os.path.exists(os.path.join(args.out, "eval_ladder.npz")):
        velocity_ladder(ladder)
        process("eval_ladder", None, None, args.out)
    open(os.path.join(args.out, "DONE"), "w").write("ok\n")


if __name__ == "__main__":
    main()
