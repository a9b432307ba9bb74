#!/usr/bin/env bash
# benchmarks/bridge-overhead/run.sh: what the bridge (shim -> pipe -> engine, ring -> shim) costs
# the host's audio thread per process() call, measured side by side against baselines in one run
# with the same headless host (build/tests/vst3-host/sostenuto-test-host), the same block size,
# rate and call count:
#
#   host no-op    the test host timing an in-process no-op instead of the plug-in's process()
#                 (--no-op: zero the outputs, nothing else): the host's own per-call floor.
#   no-op shim    build/benchmarks/SostenutoNoop.vst3: the same shim sources with NullEngineLink
#                 (no pipe, no ring; plays silence). THE baseline for the bridge: everything but
#                 the engine link is the same code, so "bridge - no-op shim" is pipe + ring alone.
#   bridge idle   build/Sostenuto.vst3 and the engine (`sostenuto serve`, started here on a temp
#                 socket, stopped at the end), no MIDI events: the engine has nothing to play.
#   bridge busy   the same with a MIDI file with notes (--busy-midi), the engine rendering them.
#
# Two pacings: unpaced (blocks back to back: the call's CPU cost, hot caches; the engine cannot
# keep up with a host running ~1000x real time, so the ring is mostly empty), and paced (blocks at
# real time, like a sound card: the ring has audio and the pipe's I/O thread sleeps between blocks,
# so every block wakes it). Two scheduling policies for the host's process() loop: SCHED_OTHER
# and SCHED_FIFO (what DAWs give their audio threads; needs CAP_SYS_NICE or an rtprio limit).
#
# Not part of `make test`. `make bench-bridge` runs it with the defaults.
#
#   benchmarks/bridge-overhead/run.sh [--calls 15000] [--block 128] [--rate 48000] [--rounds 5]
#       [--paced-calls 2000] [--paced-rounds 3] [--sched auto|other|fifo|both] [--rt-priority 10]
#       [--busy-midi FILE|none] [--build-dir build] [--no-build] [--out DIR]
set -euo pipefail

repo="$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)"
cd "$repo"

# 15000 unpaced calls per session: their 16-byte ClockAdvance frames (240 kB) fit in the pipe's
# 256 KiB send queue even if its I/O thread never gets the CPU during the loop, so no call takes
# the cheaper queue-full (message dropped) path. Rounds give the many calls.
calls=15000
block=128
rate=48000
rounds=5
paced_calls=2000      # 5.3 s at 128 frames / 48 kHz, per round
paced_rounds=3
sched=auto
rt_priority=10
busy_midi=examples/demo.mid
build_dir=build
do_build=1
out_dir=""

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --calls) calls="$2"; shift 2 ;;
    --block) block="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --paced-calls) paced_calls="$2"; shift 2 ;;
    --paced-rounds) paced_rounds="$2"; shift 2 ;;
    --sched) sched="$2"; shift 2 ;;
    --rt-priority) rt_priority="$2"; shift 2 ;;
    --busy-midi) busy_midi="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --out) out_dir="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 1 ;;
  esac
done
for v in calls block rate rounds paced_calls paced_rounds rt_priority; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "run.sh: --${v//_/-} must be a whole number" >&2; exit 1; }
done
[ "$calls" -ge 1 ] && [ "$rounds" -ge 1 ] && [ "$paced_rounds" -ge 1 ] ||
  { echo "run.sh: --calls, --rounds and --paced-rounds must be >= 1" >&2; exit 1; }
if [ $((calls * 16)) -gt 250000 ]; then
  echo "run.sh: note: $calls ClockAdvance frames may overflow the pipe's 256 KiB send queue if its I/O thread" \
       "does not run during an unpaced loop; dropped sends are cheaper and would flatter the bridge" >&2
fi
case "$sched" in auto|other|fifo|both) ;; *) echo "run.sh: --sched must be auto, other, fifo or both" >&2; exit 1 ;; esac
if [ "$busy_midi" != none ] && [ ! -f "$busy_midi" ]; then echo "run.sh: no MIDI file $busy_midi" >&2; exit 1; fi

host="$build_dir/tests/vst3-host/sostenuto-test-host"
bundle="$build_dir/Sostenuto.vst3"
noop_bundle="$build_dir/benchmarks/SostenutoNoop.vst3"

if [ "$do_build" = 1 ]; then
  [ -f "$build_dir/CMakeCache.txt" ] || cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$build_dir" -j2 --target sostenuto_vst3 sostenuto_vst3_noop sostenuto-test-host > /dev/null
fi
for f in "$host" "$bundle" "$noop_bundle"; do
  [ -e "$f" ] || { echo "run.sh: $f is missing (build it, or drop --no-build)" >&2; exit 1; }
done
if [ ! -f engine/Sostenuto.Cli/bin/Release/net10.0/sostenuto.dll ]; then
  echo "run.sh: the engine is not built; run 'make build' (or dotnet build Plugin.sln -c Release) first" >&2
  exit 1
fi

# SCHED_FIFO if the system allows it (auto: both policies then, else SCHED_OTHER only).
fifo_ok=0
if command -v chrt > /dev/null && chrt -f "$rt_priority" true 2> /dev/null; then fifo_ok=1; fi
case "$sched" in
  auto) if [ "$fifo_ok" = 1 ]; then policies="other fifo"; else policies="other"; fi ;;
  both) policies="other fifo" ;;
  *) policies="$sched" ;;
esac
if [[ " $policies " == *" fifo "* ]] && [ "$fifo_ok" = 0 ]; then
  echo "run.sh: SCHED_FIFO $rt_priority is not allowed here (CAP_SYS_NICE or 'ulimit -r'); use --sched other" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/sostenuto-bridge-bench.XXXXXX")"
engine_pid=""
cleanup() {
  if [ -n "$engine_pid" ] && kill -0 "$engine_pid" 2> /dev/null; then
    kill -TERM "$engine_pid" 2> /dev/null || true
    for _ in $(seq 1 50); do kill -0 "$engine_pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$engine_pid" 2> /dev/null || true
    wait "$engine_pid" 2> /dev/null || true
  fi
  if [ -n "$out_dir" ]; then
    mkdir -p "$out_dir" && find "$work" -maxdepth 1 -type f -exec cp {} "$out_dir"/ \; || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# An idle engine of our own on a temporary socket (`./sostenuto` execs dotnet: $! is the engine).
socket="$work/engine.sock"
./sostenuto serve --socket "$socket" > "$work/engine.log" 2>&1 &
engine_pid=$!
for _ in $(seq 1 600); do
  [ -S "$socket" ] && break
  kill -0 "$engine_pid" 2> /dev/null || { echo "run.sh: the engine exited:" >&2; cat "$work/engine.log" >&2; exit 1; }
  sleep 0.1
done
[ -S "$socket" ] || { echo "run.sh: the engine did not open $socket within 60 s" >&2; cat "$work/engine.log" >&2; exit 1; }

# The engine's CPU time so far, in clock ticks (utime + stime; the comm field has no spaces here).
engine_ticks() { awk '{print $14 + $15}' "/proc/$engine_pid/stat"; }
sessions=0
# After a bridge run: the engine has finished that session (it may lag the host by a fraction of
# a second), so the next run starts with an idle engine.
wait_engine_idle() {
  for _ in $(seq 1 600); do
    [ "$(grep -c ': closed (' "$work/engine.log" || true)" -ge "$sessions" ] && return 0
    sleep 0.05
  done
  echo "run.sh: the engine did not finish session $sessions within 30 s" >&2
  exit 1
}

# run_one NAME POLICY PACING ROUND N
run_one() {
  local name="$1" policy="$2" pacing="$3" round="$4" n="$5"
  local args=(--rate "$rate" --block "$block" --calls "$n" --mode realtime)
  [ "$pacing" = paced ] && args+=(--paced)
  [ "$policy" = fifo ] && args+=(--rt-priority "$rt_priority")
  case "$name" in
    host-noop) args+=(--plugin "$noop_bundle" --no-op) ;;
    noop-shim) args+=(--plugin "$noop_bundle") ;;
    bridge-idle) args+=(--plugin "$bundle" --engine-socket "$socket" --require-engine) ;;
    bridge-busy) args+=(--plugin "$bundle" --engine-socket "$socket" --require-engine --midi "$busy_midi") ;;
  esac
  local json="$work/$policy-$pacing-$name-$round.json" before after
  before=$(engine_ticks)
  if ! SOSTENUTO_VST3_LOG=0 "$host" "${args[@]}" --stats-json "$json" > "$work/last.txt" 2>&1; then
    echo "run.sh: $name ($policy, $pacing) failed:" >&2
    cat "$work/last.txt" >&2
    exit 1
  fi
  if [[ "$name" == bridge-* ]]; then
    sessions=$((sessions + 1))
    wait_engine_idle
  fi
  after=$(engine_ticks)
  # The engine's CPU during this run (and its drain), beside the host's numbers.
  awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.3f\n", t / hz}' > "${json%.json}.engine_cpu"
}

variants=(host-noop noop-shim bridge-idle)
[ "$busy_midi" != none ] && variants+=(bridge-busy)
nvar=${#variants[@]}

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "bridge overhead: $rounds rounds x $calls calls unpaced, $paced_rounds rounds x $paced_calls calls paced;" \
     "$block frames at $rate Hz; policies: $policies" >&2
# run_rounds POLICY PACING ROUNDS N: every variant once per round, interleaved and rotated each
# round, so drift on a shared machine hits every variant alike.
run_rounds() {
  local policy="$1" pacing="$2" count="$3" n="$4" round i
  for round in $(seq 1 "$count"); do
    for i in $(seq 0 $((nvar - 1))); do
      run_one "${variants[$(((i + round - 1) % nvar))]}" "$policy" "$pacing" "$round" "$n"
    done
    echo "  $policy $pacing round $round/$count done" >&2
  done
}
for policy in $policies; do
  run_rounds "$policy" unpaced "$rounds" "$calls"
  if [ "$paced_calls" -gt 0 ]; then run_rounds "$policy" paced "$paced_rounds" "$paced_calls"; fi
done
load_end="$(cut -d' ' -f1-3 /proc/loadavg)"

cpu_model="$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
clocksource="$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2> /dev/null || echo unknown)"
model="$(grep -o 'serving [^ ]* [^ ]*' "$work/engine.log" | head -1 | cut -d' ' -f2-)"
python3 "$repo/benchmarks/bridge-overhead/report.py" "$work" \
  --nproc "$(nproc)" --cpu "${cpu_model:-unknown}" --kernel "$(uname -sr)" --clocksource "$clocksource" \
  --load-start "$load_start" --load-end "$load_end" --model "${model:-unknown}" --rt-priority "$rt_priority" \
  --busy-midi "$busy_midi" | tee "$work/table.txt"
