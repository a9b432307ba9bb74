#!/usr/bin/env bash
# benchmarks/latency/soak.sh: underruns while several plug-in instances play at once for a long
# time. Each instance is its own test host process (realtime blocks paced to the wall clock, as a
# sound card drives a DAW), all sharing one engine (`sostenuto serve`, the default model, started
# here on a private socket, as the plug-ins of one user share theirs), each playing its own
# generated performance (keys.py performance: melody and chords over the keyboard, varied
# velocities, the sustain pedal). Reports per instance the underruns (blocks the engine's audio
# was not complete for), process() p50/p99/max, and the engine's CPU. Not part of `make test`;
# `make soak SOAK_MINUTES=10` runs it.
#
#   benchmarks/latency/soak.sh [--minutes 10] [--instances 4] [--block 128] [--rate 48000]
#       [--latency-mode live|studio] [--kill-every SECONDS] [--out DIR] [--build-dir build]
#
# --kill-every SECONDS: SIGKILL the engine serving the socket this often. The harness's own engine
# keeps no spare, so after the first kill the plug-ins launch the bundle's (with --spare); after
# later kills that engine's warm spare takes over, if it is warm by then. The plug-ins replay what
# was held. (The engine CPU reported counts the serving engines, not their spares.) Reports per instance the audio missing in each outage (from the loss
# until a second after the new session took over) and the underruns outside outages (the bar: 0),
# and the engine's RSS and open file descriptors just before each kill and at the end.
#
# The process() loops run SCHED_FIFO (priority 10) when the system allows it, as DAWs run their
# audio threads; otherwise SCHED_OTHER (the report says which).
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)"
here="$repo/benchmarks/latency"
# shellcheck source=engine.sh
. "$here/engine.sh"

minutes=10
instances=4
block=128
rate=48000
latency_mode=live
kill_every=0
out_dir=""
build_dir="$repo/build"
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --instances) instances="$2"; shift 2 ;;
    --block) block="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --latency-mode) latency_mode="$2"; shift 2 ;;
    --kill-every) kill_every="$2"; shift 2 ;;
    --out) out_dir="$2"; shift 2 ;;
    --build-dir) build_dir="$(readlink -f "$2")"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "soak.sh: unknown option $1" >&2; usage >&2; exit 1 ;;
  esac
done
require_plugin_harness soak.sh
[[ "$kill_every" =~ ^[0-9]+$ ]] || { echo "soak.sh: --kill-every takes whole seconds" >&2; exit 1; }

seconds=$(awk -v m="$minutes" 'BEGIN{print m * 60}')
calls=$(awk -v s="$seconds" -v r="$rate" -v b="$block" 'BEGIN{printf "%d", s * r / b + 0.5}')
priority=() policy=SCHED_OTHER
if command -v chrt > /dev/null && chrt -f 10 true 2> /dev/null; then priority=(--rt-priority 10) policy="SCHED_FIFO 10"; fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sostenuto-soak.XXXXXX")"
host_pids=()
cleanup() {
  for pid in "${host_pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  stop_engine
  # Engines the plug-ins started after a kill (they would idle on for 30 s).
  [ "$kill_every" = 0 ] || pkill -KILL -f -- "serve --socket $socket" 2> /dev/null || true
  [ -z "$out_dir" ] || { mkdir -p "$out_dir" && cp -r "$work"/. "$out_dir"/; } || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_engine

echo "soak: $instances instances x $minutes min at $block frames, $rate Hz, latency mode $latency_mode," \
     "model $(engine_model); process() loops $policy"
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 1 "$instances"); do
  python3 "$here/keys.py" performance --seconds "$seconds" --seed "$i" -o "$work/performance-$i.txt"
done
cpu_before=$(engine_cpu_seconds)
start=$(date +%s.%N)
for i in $(seq 1 "$instances"); do
  SOSTENUTO_VST3_LOG=0 "$host" --plugin "$bundle" --midi "$work/performance-$i.txt" --calls "$calls" --rate "$rate" \
    --block "$block" --mode realtime --paced "${priority[@]}" --latency-mode "$latency_mode" --engine-socket "$socket" \
    --require-engine --seed "$i" --stats-json "$work/instance-$i.json" > "$work/instance-$i.txt" 2>&1 &
  host_pids+=($!)
done

# The engine serving $socket now: after a kill, the one a plug-in started.
current_engine() { pgrep -o -f -- "serve --socket $socket" || true; }
# RSS (kB) and open file descriptors of the current engine, "rss fds".
engine_resources() {
  local pid; pid=$(current_engine)
  [ -n "$pid" ] || { echo "- -"; return; }
  echo "$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2> /dev/null || echo -) $(ls "/proc/$pid/fd" 2> /dev/null | wc -l)"
}
resources_log="$work/engine-resources.txt"
echo "start $(engine_resources)" > "$resources_log"
cpu_of_killed=0  # CPU seconds of engines killed so far (their /proc entries are gone)

# The engine's CPU every 10 s while they play: the busiest interval beside the mean.
peak=0 last_cpu=$cpu_before last_t=$start tick=0
while true; do
  running=0
  for pid in "${host_pids[@]}"; do kill -0 "$pid" 2> /dev/null && running=1; done
  [ "$running" = 1 ] || break
  sleep 1
  tick=$((tick + 1))
  if [ "$kill_every" != 0 ] && [ $((tick % kill_every)) = 0 ]; then
    victim=$(current_engine)
    if [ -n "$victim" ]; then
      echo "kill-$((tick / kill_every)) $(engine_resources)" >> "$resources_log"
      cpu_of_killed=$(awk -v a="$cpu_of_killed" -v hz="$(getconf CLK_TCK)" '{printf "%.2f", a + ($14 + $15) / hz}' "/proc/$victim/stat")
      kill -KILL "$victim" 2> /dev/null || true
    fi
    engine_pid=""
    continue
  fi
  [ $((tick % 10)) = 0 ] || continue
  [ -n "${engine_pid:-}" ] && kill -0 "$engine_pid" 2> /dev/null || engine_pid=$(current_engine)
  [ -n "$engine_pid" ] || continue
  now_cpu=$(awk -v a="$cpu_of_killed" -v b="$(engine_cpu_seconds)" 'BEGIN{printf "%.2f", a + b}') now_t=$(date +%s.%N)
  peak=$(awk -v p="$peak" -v a="$last_cpu" -v b="$now_cpu" -v s="$last_t" -v e="$now_t" \
    'BEGIN{v = 100 * (b - a) / (e - s); printf "%.0f", (v > p ? v : p)}')
  last_cpu=$now_cpu last_t=$now_t
done
failed=0
for i in $(seq 1 "$instances"); do
  wait "${host_pids[$((i - 1))]}" || { echo "soak.sh: instance $i failed:" >&2; cat "$work/instance-$i.txt" >&2; failed=1; }
done
host_pids=()
echo "end $(engine_resources)" >> "$resources_log"
[ -n "${engine_pid:-}" ] && kill -0 "$engine_pid" 2> /dev/null || engine_pid=$(current_engine)
cpu_after=$(awk -v a="$cpu_of_killed" -v b="$(engine_cpu_seconds 2> /dev/null || echo 0)" 'BEGIN{printf "%.2f", a + b}')
end=$(date +%s.%N)
[ "$failed" = 0 ] || exit 1

total=0
echo "instance  latency ms  underruns  missing frames  process p50 us  p99 us  max us (budget $(awk -v b="$block" -v r="$rate" 'BEGIN{printf "%.0f", 1e6 * b / r}') us)"
for i in $(seq 1 "$instances"); do
  j="$work/instance-$i.json"
  python3 - "$j" "$i" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
p = s["process_us"]
print(f"{sys.argv[2]:>8}  {1000 * s['latency_samples'] / s['rate']:10.2f}  {s['underrun_blocks']:9d}  {s['missing_frames']:14d}"
      f"  {p['p50']:14.1f}  {p['p99']:6.1f}  {p['max']:6.1f}")
PY
  total=$((total + $(json_value "$j" underrun_blocks)))
done
awk -v a="$cpu_before" -v b="$cpu_after" -v s="$start" -v e="$end" -v p="$peak" \
  'BEGIN{printf "engine CPU %.1f s over %.1f s: mean %.0f%% of one core, busiest 10 s %.0f%%\n", b - a, e - s, 100 * (b - a) / (e - s), p}'
echo "underruns: $total in all instances (the bar: 0)"
if [ "$kill_every" != 0 ]; then
  echo "engine killed every $kill_every s: per instance, the outages and the audio each one missed"
  for i in $(seq 1 "$instances"); do
    python3 - "$work/instance-$i.json" "$i" <<'PY'
import json, statistics, sys
s = json.load(open(sys.argv[1]))
ms = [1000 * f / s["rate"] for f in s["outage_missing_frames"]]
if ms:
    print(f"instance {sys.argv[2]}: {len(ms)} outages, {s['outages_recovered']} recovered; audio missing min {min(ms):.0f} ms, "
          f"median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms; {s['missing_frames_outside_outages']} frames missing outside outages")
else:
    print(f"instance {sys.argv[2]}: no outage seen")
PY
  done
  echo "engine RSS (kB) and open file descriptors: at the start, before each kill (the engine serving then), at the end"
  awk '{printf "  %-8s %8s kB %4s fds\n", $1, $2, $3}' "$resources_log"
fi
