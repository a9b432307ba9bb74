#!/usr/bin/env python3
"""The MIDI the latency harness plays, as the test host's text event list
("<seconds> <status hex> <data1> <data2>", tests/vst3-host/midi_file.h), which
the JACK probe reads too.

  keys.py isolated --count N [--spacing S] [--hold S] [--lead S] -o KEYS.txt
      isolated keys with silence in between, so that every onset is
      unambiguous: pitches across the keyboard, velocities from soft to hard.
  keys.py performance --seconds T [--seed N] -o PERFORMANCE.txt
      the soak's load: keyboard-range melody and chords, varied velocities,
      the sustain pedal going down and up, for T seconds.

Pure Python (no numpy): the python3 first on PATH may not be Debian's.
"""
import argparse
import random

# Spread over the keyboard and over the velocity range; coprime lengths, so
# that pitch and velocity do not repeat in step.
PITCHES = [60, 36, 84, 48, 72, 43, 91, 55, 67, 79, 50, 96, 40]
VELOCITIES = [100, 40, 127, 70, 20, 110, 55]


def isolated(count, spacing, hold, lead):
    events = []
    for i in range(count):
        t = lead + i * spacing
        pitch = PITCHES[i % len(PITCHES)]
        events.append((t, 0x90, pitch, VELOCITIES[i % len(VELOCITIES)]))
        events.append((t + hold, 0x80, pitch, 0))
    return events


def performance(seconds, seed):
    """Dense enough to keep every instance's model busy: a note or chord every
    0.15-0.6 s, some long, the pedal changing every few seconds."""
    rng = random.Random(seed)
    events = []
    t = 0.2
    pedal_down, next_pedal = False, 1.0
    while t < seconds - 1.0:
        if t >= next_pedal:
            pedal_down = not pedal_down
            events.append((t, 0xB0, 64, 127 if pedal_down else 0))
            next_pedal = t + rng.uniform(1.5, 4.0)
        root = rng.randint(21, 100)
        size = rng.choice([1, 1, 1, 2, 3, 4])
        length = rng.choice([0.1, 0.2, 0.4, 0.8, 1.5])
        for k in range(size):
            pitch = min(108, root + [0, 4, 7, 12][k])
            events.append((t, 0x90, pitch, rng.randint(25, 120)))
            events.append((min(t + length, seconds - 0.5), 0x80, pitch, 0))
        t += rng.uniform(0.15, 0.6)
    events.append((seconds - 0.5, 0xB0, 64, 0))
    return events


def write(path, events, header):
    events = sorted(events, key=lambda e: e[0])
    with open(path, "w") as f:
        f.write("# " + header + "\n")
        for t, status, d1, d2 in events:
            f.write(f"{t:.6f} {status:02x} {d1} {d2}\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kind", required=True)
    k = sub.add_parser("isolated")
    k.add_argument("--count", type=int, default=12)
    k.add_argument("--spacing", type=float, default=1.5, help="seconds from key to key")
    k.add_argument("--hold", type=float, default=0.25, help="seconds each key is held")
    k.add_argument("--lead", type=float, default=1.0, help="seconds of silence before the first key")
    k.add_argument("-o", required=True)
    s = sub.add_parser("performance")
    s.add_argument("--seconds", type=float, required=True)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("-o", required=True)
    a = p.parse_args()
    if a.kind == "isolated":
        write(a.o, isolated(a.count, a.spacing, a.hold, a.lead),
              f"{a.count} isolated keys, every {a.spacing} s, held {a.hold} s, from {a.lead} s")
    else:
        write(a.o, performance(a.seconds, a.seed), f"soak performance, {a.seconds} s, seed {a.seed}")


if __name__ == "__main__":
    main()
