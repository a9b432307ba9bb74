#!/usr/bin/env bash
# `make demo`: bounces examples/demo.mid through the real plug-in, loaded by the headless VST3
# test host in offline mode (as a DAW's export does), to out/demo.wav. The plug-in starts the
# engine that ships inside the bundle, exactly as it does in a DAW; a private runtime directory
# keeps this run away from an engine the user may already have running.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
runtime="$(mktemp -d /tmp/sostenuto-demo.XXXXXX)"
chmod 0700 "$runtime"
trap 'pkill -f -- "--socket $runtime/" 2> /dev/null || true; rm -rf "$runtime"' EXIT
XDG_RUNTIME_DIR="$runtime" build/tests/vst3-host/sostenuto-test-host \
    --plugin build/Sostenuto.vst3 --midi examples/demo.mid --rate 48000 --block 512 --mode offline \
    --require-engine -o out/demo.wav
