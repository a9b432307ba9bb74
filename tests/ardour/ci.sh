#!/usr/bin/env bash
# The Ardour test as `make test` runs it: headless Ardour 7.3 bounces MIDI through the real
# Sostenuto bundle (build/Sostenuto.vst3, from `make bundle`), and each bounce must equal
# `./sostenuto render` of the same MIDI sample for sample (run.sh does the work).
#
# The plug-in starts the engine that ships inside the bundle, as it does for a user; the test
# gives it a private runtime directory so it never meets an engine the user already runs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

[ -d "$ROOT/build/Sostenuto.vst3/Contents/Resources/engine" ] || { echo "ardour test: build/Sostenuto.vst3 has no engine; run 'make bundle'" >&2; exit 1; }
command -v ardour7-lua > /dev/null || { echo "ardour test: ardour7-lua missing; run scripts/setup.sh" >&2; exit 1; }

work="$(mktemp -d /tmp/sostenuto-ardour.XXXXXX)"
runtime="$work/runtime"
mkdir -m 0700 "$runtime"
cleanup() {
    # The bundled engine exits by itself when idle; do not leave one behind for the next test either way.
    if [ -f "$runtime/sostenuto-engine.sock.lock" ]; then pkill -f -- "--socket $runtime/" 2> /dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/reference.sh" <<REF
#!/usr/bin/env bash
exec "$ROOT/sostenuto" render "\$1" -o "\$2" --format float --quiet
REF
chmod +x "$work/reference.sh"

XDG_RUNTIME_DIR="$runtime" SOSTENUTO_VST3="$ROOT/build/Sostenuto.vst3" SOSTENUTO_REFERENCE_CMD="$work/reference.sh" \
    "$HERE/run.sh" "$work/out"
