#!/usr/bin/env python3
"""Key-to-sound times of one recording of isolated keys (keys.py isolated).

  onsets.py OUT.wav KEYS.txt --offset SAMPLES --block N --reported D --label NAME
            [--underruns U] [--json FILE] [--check MARGIN_MS]

OUT.wav is a float WAV; its sample i was output at stream time i + --offset
(the test host drops the reported latency D from its WAV: --offset D; the JACK
probe records from key time 0: --offset 0). A key's stream time is its event
time x rate, as the test host and the probe place it.

Key-to-sound of a key = its onset − its stream time, where the onset is the
first output sample after the key at which the short-window energy crosses the
threshold: the trailing 1 ms RMS of (L, R) reaches max(note level − 20 dB,
−80 dBFS), the note level being the largest such RMS before the next key; the
onset is then the first sample in that window whose magnitude is over the
threshold. A key sounds if its note level reaches −60 dBFS. (The threshold
once had that −60 dBFS floor too: a note peaking just over it then had its
onset measured where it came closest to its peak, not where it began. A soft
high key of the default piano that begins at 14 ms, peaking at −62 dBFS, then
comes back at −59 after its release measured 271 ms.) A key whose output is already over the threshold at its own time is
ambiguous (the previous note had not died away) and counts as not found.

Prints one line per recording (median, p95 and max in ms and in buffer
periods) and, with --json, writes every key's figure. --check MARGIN_MS: exit 1
unless every key has an onset and each is at most D + one buffer + MARGIN_MS
(the harness's smoke test: the figures are real, whatever the machine's speed).
"""
import argparse
import array
import json
import math
import struct
import sys

WINDOW_SECONDS = 0.001
RELATIVE_DB = -20.0
FLOOR_DBFS = -60.0         # a key sounds if its note level reaches this
ONSET_FLOOR_DBFS = -80.0   # the lowest onset threshold (the engine's silence is exact zeros)


def read_float_wav(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SystemExit(f"onsets.py: {path} is not a WAV file")
    pos, rate, channels, fmt, bits = 12, 0, 0, 0, 0
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if fmt == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
                fmt = struct.unpack("<H", body[24:26])[0]
        elif cid == b"data":
            if fmt != 3 or bits != 32:
                raise SystemExit(f"onsets.py: {path} is not 32-bit float")
            samples = array.array("f")
            samples.frombytes(body[:len(body) - len(body) % 4])
            if sys.byteorder != "little":
                samples.byteswap()
            return rate, [samples[c::channels] for c in range(channels)]
        pos += 8 + size + (size & 1)
    raise SystemExit(f"onsets.py: {path} has no data chunk")


def note_ons(path, rate):
    keys = []
    with open(path) as f:
        for line in f:
            fields = line.split("#")[0].split()
            if len(fields) == 4 and int(fields[1], 16) & 0xF0 == 0x90 and int(fields[3]) > 0:
                keys.append({"seconds": float(fields[0]), "pitch": int(fields[2]), "velocity": int(fields[3]),
                             "sample": round(float(fields[0]) * rate)})
    return keys


def quantile(values, q):
    """Nearest rank, as the test host's figures."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q * len(s)) - 1))]


def measure(channels, rate, keys, offset):
    n = len(channels[0])
    window = max(1, round(WINDOW_SECONDS * rate))
    power = [sum(ch[i] * ch[i] for ch in channels) / len(channels) for i in range(n)]
    magnitude = [max(abs(ch[i]) for ch in channels) for i in range(n)]
    # Trailing-window mean power ending at each sample.
    cumulative = [0.0] * (n + 1)
    for i in range(n):
        cumulative[i + 1] = cumulative[i] + power[i]

    def rms(i):
        lo = max(0, i + 1 - window)
        return math.sqrt(max(0.0, cumulative[i + 1] - cumulative[lo]) / (i + 1 - lo))

    floor = 10 ** (FLOOR_DBFS / 20)
    onset_floor = 10 ** (ONSET_FLOOR_DBFS / 20)
    for k, key in enumerate(keys):
        start = max(0, key["sample"] - offset)
        end = min(n, keys[k + 1]["sample"] - offset if k + 1 < len(keys) else n)
        key["onset"] = None
        if start >= end:
            key["problem"] = "not recorded"
            continue
        level = max(rms(i) for i in range(start, end))
        threshold = max(level * 10 ** (RELATIVE_DB / 20), onset_floor)
        key["level_dbfs"] = 20 * math.log10(level) if level > 0 else None
        if level < floor:
            key["problem"] = "no sound"
            continue
        if rms(start) >= threshold:
            key["problem"] = "sounding already at the key (ambiguous)"
            continue
        crossing = next(i for i in range(start, end) if rms(i) >= threshold)
        onset = next(j for j in range(max(start, crossing + 1 - window), crossing + 1) if magnitude[j] >= threshold or j == crossing)
        key["onset"] = onset + offset
        key["latency_samples"] = onset + offset - key["sample"]
    return keys


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("wav")
    p.add_argument("keys")
    p.add_argument("--offset", type=int, required=True)
    p.add_argument("--block", type=int, required=True)
    p.add_argument("--reported", type=int, required=True, help="the latency D the plug-in or sostenuto-jack reported")
    p.add_argument("--label", required=True)
    p.add_argument("--underruns", default="?")
    p.add_argument("--json")
    p.add_argument("--check", type=float, metavar="MARGIN_MS")
    p.add_argument("--check-within", type=float, metavar="MS",
                   help="fail unless every key sounds within one buffer + MS, whatever D was reported (Auto: the live path)")
    a = p.parse_args()

    rate, channels = read_float_wav(a.wav)
    keys = measure(channels, rate, note_ons(a.keys, rate), a.offset)
    found = [k["latency_samples"] for k in keys if k["onset"] is not None]
    ms = lambda samples: 1000.0 * samples / rate
    period = a.block / rate * 1000.0
    budget = 10.0 + period
    line = f"{a.label:<9} {a.block:>5}  {len(found):>2}/{len(keys):<2}"
    if found:
        med, p95, worst = (ms(quantile(found, q)) for q in (0.5, 0.95, 1.0))
        line += "".join(f"  {v:8.2f} ({v / period:6.1f})" for v in (med, p95, worst))
        verdict = "met" if worst <= budget and len(found) == len(keys) else "missed"
    else:
        line += "  (no onsets)"
        verdict = "missed"
    line += f"  {ms(a.reported):8.2f}  {str(a.underruns):>9}  {budget:5.1f} {verdict}"
    print(line)
    for k in keys:
        if k["onset"] is None:
            print(f"          key at {k['seconds']:.3f} s (pitch {k['pitch']}, velocity {k['velocity']}): {k['problem']}")

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"label": a.label, "rate": rate, "block": a.block, "reported_latency_samples": a.reported,
                       "underruns": a.underruns, "keys": keys}, f, indent=1)
    if a.check_within is not None:
        limit = a.block + a.check_within * rate / 1000.0
        bad = [k for k in keys if k["onset"] is None or k["latency_samples"] > limit]
        if bad:
            print(f"onsets.py: {len(bad)} of {len(keys)} keys without an onset within one buffer + {a.check_within} ms "
                  f"({ms(limit):.2f} ms; reported D {ms(a.reported):.2f} ms)", file=sys.stderr)
            sys.exit(1)
    if a.check is not None:
        limit = a.reported + a.block + a.check * rate / 1000.0
        bad = [k for k in keys if k["onset"] is None or k["latency_samples"] > limit]
        if bad:
            print(f"onsets.py: {len(bad)} of {len(keys)} keys without an onset within D + one buffer + {a.check} ms "
                  f"({ms(limit):.2f} ms)", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
