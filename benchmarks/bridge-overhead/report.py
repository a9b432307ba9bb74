#!/usr/bin/env python3
"""Prints the table of benchmarks/bridge-overhead/run.sh from the test host's --stats-json files.

Files in WORK: <policy>-<pacing>-<variant>-<round>.json (sostenuto-test-host --stats-json) and
the same name with .engine_cpu (engine CPU seconds during that run). Per variant: the median over
rounds of each round's p50 and p99 (nearest-rank over that round's calls), the max over all calls,
the spread of the rounds' p50, the share of calls that found the ring short (underruns), and the
engine's CPU time. Standard library only.
"""
import argparse
import glob
import json
import os
import statistics

VARIANTS = [
    ("host-noop", "host no-op (in-process, no shim)"),
    ("noop-shim", "no-op shim (NullEngineLink)"),
    ("bridge-idle", "bridge, engine idle"),
    ("bridge-busy", "bridge, engine busy"),
]
POLICIES = {"other": "SCHED_OTHER", "fifo": "SCHED_FIFO"}


def load(work):
    runs = {}
    for path in sorted(glob.glob(os.path.join(work, "*.json"))):
        base = os.path.basename(path)[: -len(".json")]
        policy, pacing, rest = base.split("-", 2)
        variant, _, round_ = rest.rpartition("-")
        with open(path) as f:
            data = json.load(f)
        cpu_path = os.path.join(work, base + ".engine_cpu")
        data["engine_cpu_seconds"] = float(open(cpu_path).read()) if os.path.exists(cpu_path) else None
        data["round"] = int(round_)
        runs.setdefault((policy, pacing, variant), []).append(data)
    return runs


def summarize(rounds):
    t = [r["process_us"] for r in rounds]
    calls = sum(r["calls"] for r in rounds)
    cpu = [r["engine_cpu_seconds"] for r in rounds if r["engine_cpu_seconds"] is not None]
    return {
        "rounds": len(rounds),
        "calls": calls,
        "p50": statistics.median(x["p50"] for x in t),
        "p99": statistics.median(x["p99"] for x in t),
        "max": max(x["max"] for x in t),
        "p50_lo": min(x["p50"] for x in t),
        "p50_hi": max(x["p50"] for x in t),
        "connected": all(r["engine_connected"] for r in rounds),
        "underrun_share": sum(r["underrun_blocks"] for r in rounds) / calls if calls else 0.0,
        "events": sum(r["events_sent"] for r in rounds),
        "engine_cpu": statistics.median(cpu) if cpu else None,
        "wall": statistics.median(r["wall_seconds"] for r in rounds),
    }


def diff(a, b, key):
    d = a[key] - b[key]
    ratio = f"x{a[key] / b[key]:.2f}" if b[key] > 0 else "x-"
    return f"{d:+8.3f} us ({ratio})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    for name in ("nproc", "cpu", "kernel", "clocksource", "load-start", "load-end", "model", "rt-priority", "busy-midi"):
        ap.add_argument("--" + name, default="?")
    a = ap.parse_args()
    runs = load(a.work)
    if not runs:
        raise SystemExit("report.py: no results in " + a.work)
    any_run = next(iter(runs.values()))[0]
    rate, block = any_run["rate"], any_run["block"]
    budget = 1e6 * block / rate

    print(f"Sostenuto bridge overhead per process() call: {block} frames at {rate:.0f} Hz (block budget {budget:.1f} us)")
    print(f"machine  {a.nproc} CPUs (nproc), {a.cpu}; {a.kernel}; clocksource {a.clocksource}")
    print(f"load     {a.load_start} (1/5/15 min) at the start, {a.load_end} at the end")
    print(f"engine   {a.model} (`sostenuto serve`, one engine for all runs, a fresh session per run);"
          f" busy = {os.path.basename(a.busy_midi)}")
    print("times    microseconds per call, steady_clock around IAudioProcessor::process in the test host")

    for policy in ("other", "fifo"):
        for pacing in ("unpaced", "paced"):
            present = [(v, label) for v, label in VARIANTS if (policy, pacing, v) in runs]
            if not present:
                continue
            s = {v: summarize(runs[(policy, pacing, v)]) for v, _ in present}
            first = s[present[0][0]]
            sched = POLICIES[policy] + (f" {a.rt_priority}" if policy == "fifo" else "")
            how = ("blocks back to back" if pacing == "unpaced" else "blocks at real time")
            what = (f"{first['rounds']} rounds x {first['calls'] // first['rounds']} calls, median of the rounds"
                    if first["rounds"] > 1 else f"{first['calls']} calls")
            print()
            print(f"== {sched}, {pacing} ({how}): {what}")
            print(f"   {'variant':<34} {'p50':>8} {'p99':>8} {'max':>9}  {'p50 rounds':>15}  {'ring short':>10}  engine CPU")
            for v, label in present:
                r = s[v]
                bridge = v.startswith("bridge")
                short = f"{100 * r['underrun_share']:.1f}%" if bridge else "-"
                if bridge and r["engine_cpu"] is not None:
                    cpu = f"{r['engine_cpu']:.2f} s"
                    if pacing == "paced" and r["wall"] > 0:
                        cpu += f" ({100 * r['engine_cpu'] / r['wall']:.0f}% of a core)"
                else:
                    cpu = "-"
                spread = f"{r['p50_lo']:.3f}-{r['p50_hi']:.3f}" if r["rounds"] > 1 else ""
                note = "" if (not bridge or r["connected"]) else "  (NOT CONNECTED)"
                print(f"   {label:<34} {r['p50']:8.3f} {r['p99']:8.3f} {r['max']:9.1f}  {spread:>15}  {short:>10}  {cpu}{note}")
            pairs = [
                ("bridge-idle", "noop-shim", "bridge idle - no-op shim   = pipe + ring"),
                ("bridge-idle", "host-noop", "bridge idle - host no-op   = shim + pipe + ring"),
                ("noop-shim", "host-noop", "no-op shim - host no-op    = the shim alone"),
                ("bridge-busy", "bridge-idle", "bridge busy - bridge idle  = a busy engine"),
            ]
            for x, y, label in pairs:
                if x in s and y in s:
                    print(f"   {label:<48} p50 {diff(s[x], s[y], 'p50')}   p99 {diff(s[x], s[y], 'p99')}")
            if "bridge-idle" in s:
                r = s["bridge-idle"]
                print(f"   bridge idle p99 = {100 * r['p99'] / budget:.2f}% of the block budget")
    print()
    print("ring short: calls that found less audio in the ring than the block needs (the shim fades and")
    print("counts an underrun). Unpaced, the host runs ~1000x real time and the engine cannot keep up, so")
    print("those calls take the short read path; paced, the ring has audio. The no-op shim has no ring.")


if __name__ == "__main__":
    main()
