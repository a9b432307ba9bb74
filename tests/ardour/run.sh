#!/usr/bin/env bash
# The Ardour test: bounces MIDI through instruments in headless Ardour 7.3 and checks the result.
#
#   tests/ardour/run.sh [OUTDIR]
#
# 1. LV2 "ACE Reasonable Synth" (ships with Ardour): examples/demo.mid and a generated
#    isolated-note file under three tempos; timing_check.py must find every onset after silence
#    on its exact sample (first note at sample 0) and no global lag.
# 2. VST3, when SOSTENUTO_VST3=path/to/Sostenuto.vst3 is set (and the plug-in can reach an
#    engine, e.g. SOSTENUTO_ENGINE_SOCKET): the same files through the VST3, timing-checked,
#    and, when SOSTENUTO_REFERENCE_CMD is set, compared sample for sample with the reference
#    it writes: the command is run as `$SOSTENUTO_REFERENCE_CMD IN.mid OUT.wav` (for example
#    a wrapper around `./sostenuto render IN.mid -o OUT.wav --format float`).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY=/usr/bin/python3
out="${1:-$(mktemp -d /tmp/ardour-test.XXXXXX)}"
mkdir -p "$out"
rate=48000

"$PY" "$HERE/timing_check.py" make-midi "$out/isolated.mid" > /dev/null
cp "$ROOT/examples/demo.mid" "$out/demo.mid"

fail=0
for mid in demo isolated; do
    echo "== lv2 $mid"
    "$HERE/bounce.sh" --plugin-type lv2 --plugin "ACE Reasonable Synth" --midi "$out/$mid.mid" \
        --rate "$rate" -o "$out/$mid.lv2.wav" || { fail=1; continue; }
    "$PY" "$HERE/timing_check.py" check "$out/$mid.lv2.wav" "$out/$mid.mid" || fail=1
done

if [ -n "${SOSTENUTO_VST3:-}" ]; then
    for mid in isolated demo; do
        echo "== vst3 $mid"
        "$HERE/bounce.sh" --plugin-type vst3 --plugin "$SOSTENUTO_VST3" --midi "$out/$mid.mid" \
            --rate "$rate" -o "$out/$mid.vst3.wav" || { fail=1; continue; }
        if [ -n "${SOSTENUTO_REFERENCE_CMD:-}" ]; then
            # Sample equality with the engine's own render says more than an onset check can
            # (and the untrained fixture has no clean onsets to find).
            $SOSTENUTO_REFERENCE_CMD "$out/$mid.mid" "$out/$mid.ref.wav"
            "$PY" "$HERE/compare.py" "$out/$mid.vst3.wav" "$out/$mid.ref.wav" --exact || fail=1
        elif [ "$mid" = isolated ]; then
            "$PY" "$HERE/timing_check.py" check "$out/$mid.vst3.wav" "$out/$mid.mid" || fail=1
        fi
    done
else
    echo "== vst3: skipped (set SOSTENUTO_VST3=path/to/Sostenuto.vst3)"
fi
echo "outputs in $out"
[ "$fail" = 0 ] && echo "ardour test: PASS" || { echo "ardour test: FAIL"; exit 1; }
