# Sourced by latency.sh and soak.sh: one engine of the harness's own (`sostenuto serve` on a
# socket in the work directory), so that its CPU time can be read and a user's engine is never
# touched. It is the bundle's engine (the build users run, `make bundle`), serving
# the bundle's model unless SOSTENUTO_MODEL names another. Needs $repo and $work; sets $socket
# and $engine_pid.

# SCRIPT: sets $host and $bundle from $build_dir and stops with SCRIPT's message unless they
# and the engine are built.
require_plugin_harness() {
  host="$build_dir/tests/vst3-host/sostenuto-test-host"
  bundle="$build_dir/Sostenuto.vst3"
  engine_exe="$bundle/Contents/Resources/engine/sostenuto"
  for f in "$host" "$bundle" "$engine_exe"; do [ -e "$f" ] || { echo "$1: $f is missing (make bundle)" >&2; exit 1; }; done
}

stop_pid() {  # PID: TERM, then KILL after 5 s
  [ -n "$1" ] && kill -0 "$1" 2> /dev/null || return 0
  kill -TERM "$1" 2> /dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2> /dev/null || true
  wait "$1" 2> /dev/null || true
}

start_engine() {
  socket="$work/engine.sock"
  (cd "$repo" && exec "$engine_exe" serve --socket "$socket") > "$work/engine.log" 2>&1 &
  engine_pid=$!
  for _ in $(seq 1 600); do
    [ -S "$socket" ] && return 0
    kill -0 "$engine_pid" 2> /dev/null || { echo "the engine exited:" >&2; cat "$work/engine.log" >&2; return 1; }
    sleep 0.1
  done
  echo "the engine did not open $socket within 60 s" >&2
  return 1
}

stop_engine() { stop_pid "${engine_pid:-}"; }

# The engine's CPU time so far in seconds (utime + stime of /proc/PID/stat).
engine_cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f\n", ($14 + $15) / hz}' "/proc/$engine_pid/stat"
}

# The model the engine serves ("name version"), from its log.
engine_model() { grep -o 'serving [^ ]* [^ ]*' "$work/engine.log" | head -1 | cut -d' ' -f2-; }

# A value of the test host's --stats-json.
json_value() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); [v := v[k] for k in sys.argv[2:]]; print(v)' "$@"; }
