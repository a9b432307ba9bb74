#!/usr/bin/env python3
"""benchmarks/cost/cost.py: what an instance costs, engine and host CPU, per state.

  cost.py [--seconds 10] [--settle 5] [--instances 1,4,8] [--modes live,studio]
          [--states never,silent,holding,performance,offline] [--block 128] [--rate 48000]
          [--model DIR] [--build-dir build] [--out DIR]

One engine of its own (the bundle's, the build users run: `sostenuto serve` on a private socket, SOSTENUTO_PROFILE set so that it
writes its per-section profile, engine/Sostenuto.Engine/Diagnostics/EngineProfile.cs) serves every
scenario. A scenario is N test hosts (tests/vst3-host, one plug-in instance each, paced to the wall
clock as a sound card paces a DAW), each in one state:

  never        activated, transport running, never a MIDI event
  silent       a chord at 0.2 s, released at 1.2 s, then nothing (the window starts at --settle)
  holding      a four-note chord held through the whole run
  performance  keys.py performance (melody, chords, pedal), a different seed per instance
  offline      the performance bounced: kOffline blocks back to back (the host waits for the engine)

For the realtime states the window is [--settle, --settle + --seconds] after the hosts start; engine
and host CPU (utime + stime from /proc) are read at both ends, and so is the engine's profile. The
figures are per instance: engine CPU / N, and the mean host process's CPU, in % of one core.
Offline: CPU seconds per second of audio bounced (in % of one core per real-time second), and the
bounce's speed.

Baselines in the same run: N hosts running an in-process no-op instead of the plug-in (--no-op:
the host's own floor; the host's cost of the plug-in is host − no-op), and the same engine's `render` of
the same performance (the engine without a plug-in, pipe or ring).

Not part of `make test`; `make bench-cost` runs it. Timing on a shared machine is noisy: compare
columns of one run, not runs of different days.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", ".."))
ENGINE = ""  # the bundle's engine, set in main() from --build-dir
HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), seconds; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / HZ
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def read_profile(path):
    profile = {}
    try:
        with open(path) as f:
            for line in f:
                name, seconds, count = line.split()
                profile[name] = (float(seconds), int(count))
    except FileNotFoundError:
        pass
    return profile


def diff_profile(a, b):
    return {k: (b[k][0] - a.get(k, (0, 0))[0], b[k][1] - a.get(k, (0, 0))[1]) for k in b}


def write_events(path, events, header):
    with open(path, "w") as f:
        f.write("# " + header + "\n")
        for t, status, d1, d2 in sorted(events, key=lambda e: e[0]):
            f.write(f"{t:.6f} {status:02x} {d1} {d2}\n")


def write_smf(path, events):
    """(seconds, status, d1, d2) events as a format-0 SMF, 960 ticks per second (480 PPQ at 500000 us per
    quarter), by the Ardour test's writer (tests/ardour/smf.py)."""
    sys.path.insert(0, os.path.join(REPO, "tests", "ardour"))
    import smf  # noqa: E402
    timed = [(int(round(t * 960)), (status, d1, d2)) for t, status, d1, d2 in sorted(events, key=lambda e: e[0])]
    smf.write_smf(path, 480, timed, timed[-1][0] if timed else 0, us_per_quarter=500000, name="sostenuto cost")


def performance_events(seconds, seed):
    sys.path.insert(0, os.path.join(REPO, "benchmarks", "latency"))
    import keys  # noqa: E402
    return keys.performance(seconds, seed)


# --compare: what main did, by switches in the same build (docs/idle.md): no reuse rule, no rest, the
# thread pool's default spin in the engine; a ClockAdvance with every block in the hosts.
BEFORE_ENGINE_ENV = {"SOSTENUTO_REUSE": "0", "SOSTENUTO_REST": "0", "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit": "70"}
BEFORE_HOST_ENV = {"SOSTENUTO_CLOCK_EVERY_BLOCK": "1"}


class Engine:
    def __init__(self, work, model, name="engine", extra_env=None):
        self.socket = os.path.join(work, f"{name}.sock")
        self.profile = os.path.join(work, f"{name}-profile.txt")
        self.log_path = os.path.join(work, f"{name}.log")
        self.log = open(self.log_path, "w")
        env = dict(os.environ, SOSTENUTO_PROFILE=self.profile, **(extra_env or {}))
        cmd = [ENGINE, "serve", "--socket", self.socket]
        if model:
            cmd += ["--model", model]
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        for _ in range(600):
            if os.path.exists(self.socket):
                break
            if self.proc.poll() is not None:
                raise RuntimeError("the engine exited: " + open(self.log_path).read())
            time.sleep(0.1)
        else:
            raise RuntimeError("the engine did not listen within 60 s")

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def read_profile(self):
        # The engine rewrites the file once a second: wait for a fresh one.
        before = os.path.getmtime(self.profile) if os.path.exists(self.profile) else 0
        for _ in range(30):
            time.sleep(0.1)
            if os.path.exists(self.profile) and os.path.getmtime(self.profile) != before:
                break
        return read_profile(self.profile)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_hosts(args, work, engine, name, count, state, mode, noop=False, host_env=None):
    """Starts COUNT test hosts in STATE; returns the window's figures."""
    total = args.settle + args.seconds + 1.0
    calls = int(total * args.rate / args.block)
    hosts = []
    for i in range(1, count + 1):
        cmd = [args.host, "--plugin", args.bundle, "--calls", str(calls), "--rate", str(args.rate),
               "--block", str(args.block), "--mode", "realtime", "--paced", "--latency-mode", mode,
               "--engine-socket", engine.socket, "--seed", str(i),
               "--stats-json", os.path.join(work, f"{name}-{i}.json")]
        if not noop:
            cmd.append("--require-engine")
        else:
            cmd.append("--no-op")
        midi = state_midi(args, work, state, i, total)
        if midi:
            cmd += ["--midi", midi]
        out = open(os.path.join(work, f"{name}-{i}.txt"), "w")
        hosts.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                      env=dict(os.environ, SOSTENUTO_VST3_LOG="0", **(host_env or {}))))
    start = time.monotonic()
    time.sleep(args.settle)
    p0 = engine.read_profile()
    e0, h0, t0 = engine.cpu(), [cpu_seconds(h.pid) for h in hosts], time.monotonic()
    time.sleep(max(0.0, start + args.settle + args.seconds - time.monotonic()))
    e1, h1, t1 = engine.cpu(), [cpu_seconds(h.pid) for h in hosts], time.monotonic()
    p1 = engine.read_profile()
    underruns = 0
    for i, h in enumerate(hosts, 1):
        if h.wait() != 0:
            raise RuntimeError(f"{name}: host {i} failed: " + open(os.path.join(work, f"{name}-{i}.txt")).read())
        stats = json.load(open(os.path.join(work, f"{name}-{i}.json")))
        underruns += stats.get("underrun_blocks", 0)
    wall = t1 - t0
    if any(x is None for x in h0 + h1):
        raise RuntimeError(f"{name}: a host ended inside the window")
    host = sum(b - a for a, b in zip(h0, h1)) / count / wall
    return {"engine": (e1 - e0) / count / wall, "host": host, "wall": wall, "underruns": underruns,
            "profile": diff_profile(p0, p1)}


def state_midi(args, work, state, i, total):
    path = os.path.join(work, f"{state}-{i}.txt")
    if state == "never":
        return None
    if state == "silent":
        events = [(0.2, 0x90, p, 90) for p in (48, 60, 64, 67)] + [(1.2, 0x80, p, 0) for p in (48, 60, 64, 67)]
    elif state == "holding":
        events = [(0.2, 0x90, p, 90) for p in (48, 60, 64, 67)] + [(total - 0.3, 0x80, p, 0) for p in (48, 60, 64, 67)]
    elif state == "performance":
        events = performance_events(total, i)
    else:
        raise ValueError(state)
    write_events(path, events, f"cost benchmark: {state}, instance {i}")
    return path


def run_offline(args, work, engine, name, count, mode, host_env=None):
    """COUNT hosts bouncing the performance at once; CPU per second of audio."""
    p0 = engine.read_profile()
    e0, t0 = engine.cpu(), time.monotonic()
    hosts = []
    for i in range(1, count + 1):
        midi = os.path.join(work, f"offline-{i}.txt")
        write_events(midi, performance_events(args.seconds, i), "cost benchmark: offline bounce")
        cmd = [args.host, "--plugin", args.bundle, "--midi", midi, "-o", os.path.join(work, f"{name}-{i}.wav"),
               "--rate", str(args.rate), "--block", str(args.block), "--mode", "offline", "--latency-mode", mode,
               "--engine-socket", engine.socket, "--require-engine", "--tail", "1"]
        out = open(os.path.join(work, f"{name}-{i}.txt"), "w")
        hosts.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                      env=dict(os.environ, SOSTENUTO_VST3_LOG="0", **(host_env or {}))))
    host_cpu = 0.0
    for i, h in enumerate(hosts, 1):
        _, status, usage = os.wait4(h.pid, 0)
        h.returncode = status
        if status != 0:
            raise RuntimeError(f"{name}: host {i} failed: " + open(os.path.join(work, f"{name}-{i}.txt")).read())
        host_cpu += usage.ru_utime + usage.ru_stime
    t1, e1 = time.monotonic(), engine.cpu()
    p1 = engine.read_profile()
    audio = (args.seconds + 1.0) * count  # each bounce: the performance and a 1 s tail
    return {"engine": (e1 - e0) / audio, "host": host_cpu / audio, "wall": t1 - t0,
            "speed": audio / count / (t1 - t0), "profile": diff_profile(p0, p1)}


def run_render_baseline(args, work, extra_env=None):
    """The engine's render of instance 1's performance: the engine alone."""
    events = performance_events(args.seconds, 1)
    midi = os.path.join(work, "render.mid")
    write_smf(midi, events)
    cmd = [ENGINE, "render", midi, "-o", os.path.join(work, "render.wav"),
           "--rate", str(args.rate), "--max-tail", "1", "--threads", "1"]
    if args.model:
        cmd += ["--model", args.model]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, SOSTENUTO_PROFILE="1", **(extra_env or {})))
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read()
    if status != 0:
        raise RuntimeError("render failed: " + err)
    m = re.search(r"wrote .*?: ([0-9.]+) s at", err)
    audio = float(m.group(1)) if m else args.seconds
    m = re.search(r"rendered in ([0-9.]+) s: ([0-9.]+)x real time", err)
    profile = {}
    for line in err.split("profile (section seconds count):\n", 1)[-1].splitlines():
        parts = line.split()
        if len(parts) == 3 and re.fullmatch(r"[A-Za-z]+", parts[0]):
            profile[parts[0]] = (float(parts[1]), int(parts[2]))
    return {"audio": audio, "render_wall": float(m.group(1)) if m else 0, "speed": float(m.group(2)) if m else 0,
            "process_cpu": usage.ru_utime + usage.ru_stime, "profile": profile}


def per_frame_lines(profile, title):
    """The profile as µs per model frame (and per wake-up), with the engine's overhead beside ORT's time."""
    p = lambda k: profile.get(k, (0.0, 0))  # noqa: E731
    frames = p("Frame")[1]
    lines = [f"  profile, {title}:"]
    wake = p("Wakeup")[1]
    clocks = p("ClockAdvance")[1]
    batches = p("ClockBatch")[1]
    skipped = p("SkippedFrame")[1]
    if frames == 0:
        lines.append(f"    no model frames; {skipped} frames skipped; wake-ups {wake}, ClockAdvances {clocks}, clock renders {batches}; "
                     f"ring {1e6 * p('Ring')[0]:.0f} us, protocol {1e6 * (p('Decode')[0] + p('Message')[0]):.0f} us, "
                     f"clock work {1e6 * p('ClockWork')[0]:.0f} us in all")
        return lines
    us = lambda k: 1e6 * p(k)[0] / frames  # noqa: E731
    ort = us("LmRun") + us("DecoderRun")
    frame = us("Frame")
    overhead = frame - ort
    lines.append(f"    {frames} frames ({skipped} skipped), per frame in us: LM run {us('LmRun'):.1f}, LM input {us('LmInput'):.1f}, "
                 f"sampling {us('Sampling'):.1f}, features {us('Features'):.1f}, snapshot {us('Snapshot'):.1f}, "
                 f"decoder run {us('DecoderRun'):.1f}, decoder input {us('DecoderInput'):.1f}, cross-fade {us('CrossFade'):.1f}, "
                 f"resampler {us('Resampler'):.1f}; frame total {frame:.1f}")
    lines.append(f"    outside the frame, per frame in us: mix {us('Mix'):.1f}, ring {us('Ring'):.1f}, "
                 f"protocol (decode + handling) {us('Decode') + us('Message'):.1f}")
    lines.append(f"    ORT {ort:.1f} us/frame, engine's own in-frame work {overhead:.1f} us/frame = {overhead / ort if ort else 0:.2f} of ORT's; "
                 f"wake-ups {wake}, ClockAdvances {clocks}, clock renders {batches}")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--instances", default="1,4,8")
    ap.add_argument("--modes", default="live,studio")
    ap.add_argument("--states", default="never,silent,holding,performance,offline")
    ap.add_argument("--block", type=int, default=128)
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--model", default=None)
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--profiles", action="store_true", help="print the per-frame profile of every row")
    ap.add_argument("--compare", action="store_true",
                    help="run every row twice, 'before' (main's behaviour by switches: SOSTENUTO_REUSE=0, SOSTENUTO_REST=0, "
                         "the thread pool's default spin, SOSTENUTO_CLOCK_EVERY_BLOCK=1 in the hosts) and 'after', interleaved")
    args = ap.parse_args()
    args.host = os.path.join(args.build_dir, "tests", "vst3-host", "sostenuto-test-host")
    args.bundle = os.path.join(args.build_dir, "Sostenuto.vst3")
    global ENGINE
    ENGINE = os.path.join(args.bundle, "Contents", "Resources", "engine", "sostenuto")
    for f in (args.host, args.bundle, ENGINE):
        if not os.path.exists(f):
            sys.exit(f"cost.py: {f} is missing (make bundle)")
    counts = [int(x) for x in args.instances.split(",")]
    modes = args.modes.split(",")
    states = args.states.split(",")

    work = tempfile.mkdtemp(prefix="sostenuto-cost.")
    engines = []
    results = []
    try:
        if args.compare:
            builds = [("before", Engine(work, args.model, "before", BEFORE_ENGINE_ENV), BEFORE_HOST_ENV, BEFORE_ENGINE_ENV),
                      ("after", Engine(work, args.model, "after"), {}, {})]
        else:
            builds = [("-", Engine(work, args.model), {}, {})]
        engines = [b[1] for b in builds]
        time.sleep(1.0)
        model = re.search(r"serving (\S+ \S+)", open(engines[0].log_path).read())
        print(f"cost: {args.block} frames at {args.rate} Hz, window {args.seconds:g} s after {args.settle:g} s, "
              f"model {model.group(1) if model else '?'}; {os.cpu_count()} cores, load {' '.join(open('/proc/loadavg').read().split()[:3])}")
        print(f"{'build':6} {'mode':7} {'state':12} {'N':>2}  {'engine %/inst':>13}  {'host %/inst':>11}  {'sum %':>6}  {'underruns':>9}  notes")
        sys.stdout.flush()

        def row(build, mode, state, n, r, note=""):
            total = 100 * (r["engine"] + r["host"])
            print(f"{build:6} {mode:7} {state:12} {n:2d}  {100 * r['engine']:13.2f}  {100 * r['host']:11.2f}  {total:6.2f}  "
                  f"{r.get('underruns', 0):9d}  {note}")
            results.append({"build": build, "mode": mode, "state": state, "instances": n, **{k: v for k, v in r.items()}})
            if args.profiles or n == counts[0]:
                for line in per_frame_lines(r["profile"], f"{build} {mode} {state} x{n}"):
                    print(line)
            sys.stdout.flush()

        for n in counts:
            r = run_hosts(args, work, engines[-1], f"noop-{n}", n, "never", "studio", noop=True)
            row("-", "-", "no-op host", n, r, "baseline: the host's own floor")
        for mode in modes:
            for n in counts:
                for state in states:
                    for build, engine, host_env, _ in builds:
                        name = f"{build or 'x'}-{mode}-{state}-{n}"
                        if state == "offline":
                            r = run_offline(args, work, engine, name, n, mode, host_env)
                            row(build, mode, state, n, r, f"CPU per second bounced; bounce {r['speed']:.1f}x real time per instance")
                        else:
                            r = run_hosts(args, work, engine, name, n, state, mode, host_env=host_env)
                            row(build, mode, state, n, r)
        if "offline" in states:
            for build, _, _, engine_env in builds:
                r = run_render_baseline(args, work, engine_env)
                frac = r["process_cpu"] / r["audio"]
                print(f"{build:6} {'-':7} {'render':12} {1:2d}  {100 * frac:13.2f}  {'-':>11}  {100 * frac:6.2f}  {'-':>9}  "
                      f"baseline: the engine's render --threads 1 of the same performance: {r['speed']:.1f}x real time "
                      f"(render loop), process CPU {r['process_cpu']:.2f} s for {r['audio']:.2f} s incl. start-up")
                for line in per_frame_lines(r["profile"], f"{build} render"):
                    print(line)
                results.append({"build": build, "mode": "-", "state": "render", "instances": 1, **r})
    finally:
        for engine in engines:
            engine.stop()
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "results.json"), "w") as f:
                json.dump(results, f, indent=1, default=str)
            for name in os.listdir(work):
                if name.endswith((".json", ".txt", ".log")):
                    shutil.copy(os.path.join(work, name), args.out)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
