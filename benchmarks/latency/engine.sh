# Sourced by latency.sh and soak.sh: one engine of the harness's own (`sostenuto serve` on a
# socket in the work directory), so that its CPU time can be read and a user's engine is never
# touched. Needs $repo and $work; sets $socket and $engine_pid.

start_engine() {
  socket="$work/engine.sock"
  (cd "$repo" && exec ./sostenuto serve --socket "$socket") > "$work/engine.log" 2>&1 &
  engine_pid=$!
  for _ in $(seq 1 600); do
    [ -S "$socket" ] && return 0
    kill -0 "$engine_pid" 2> /dev/null || { echo "the engine exited:" >&2; cat "$work/engine.log" >&2; return 1; }
    sleep 0.1
  done
  echo "the engine did not open $socket within 60 s" >&2
  return 1
}

stop_engine() {
  [ -n "${engine_pid:-}" ] && kill -0 "$engine_pid" 2> /dev/null || return 0
  kill -TERM "$engine_pid" 2> /dev/null || true
  for _ in $(seq 1 50); do kill -0 "$engine_pid" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$engine_pid" 2> /dev/null || true
  wait "$engine_pid" 2> /dev/null || true
}

# The engine's CPU time so far in seconds (utime + stime of /proc/PID/stat).
engine_cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$engine_pid/stat"
}

# The model the engine serves ("name version"), from its log.
engine_model() { grep -o 'serving [^ ]* [^ ]*' "$work/engine.log" | head -1 | cut -d' ' -f2-; }

# A value of the test host's --stats-json.
json_value() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); [v := v[k] for k in sys.argv[2:]]; print(v)' "$@"; }
