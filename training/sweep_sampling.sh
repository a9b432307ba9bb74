#!/usr/bin/env bash
# Choose a package's default sampling on the dev set (eval_* only: the test set and real music are
# never read here). Each setting is a copy of the package whose model.json samples differently; one
# evaluate.py run renders them all side by side, with the same seed, beside the codec bound.
#
#   bash training/sweep_sampling.sh PACKAGE WORK CODEC.pt "TEMPERATURE:TOP_P ..." [DATA]
#   e.g. bash training/sweep_sampling.sh models/piano3 training/work3/sweep \
#          training/checkpoints/piano3-3.2.0/codec.pt "0.8:1.0 0.6:1.0 0.4:1.0 0.8:0.9"
#
# DATA defaults to training/work3/data; the codec's tokens (for the bound) are looked up beside
# CODEC.pt, or in $CODEC_TOKENS; $ENGINE is the CLI that renders (default: the checkout's). The table lands in WORK/eval/results.md.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
package="$(readlink -f "$1")" work="$2" codec="$3" settings="$4" data="${5:-$here/work3/data}"
py=/usr/bin/python3
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$work"
models=()
for s in $settings; do
  t="${s%%:*}" p="${s##*:}" dir="$work/t${s%%:*}-p${s##*:}"
  rm -rf "$dir"; mkdir -p "$dir"
  # Copies, not links: the engine refuses ONNX files reached through a symlink.
  cp -r "$package"/. "$dir"/
  $py - "$dir/model.json" "$t" "$p" <<'EOF'
import json, sys
path, t, p = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
m = json.load(open(path))
m["sampling"]["temperature"], m["sampling"]["topP"] = t, p
json.dump(m, open(path, "w"), indent=2)
EOF
  models+=(--model "T$t-p$p=$dir")
done
tokens=(); [ -z "${CODEC_TOKENS:-}" ] || tokens=(--codec-tokens "$CODEC_TOKENS")
engine=(); [ -z "${ENGINE:-}" ] || engine=(--engine "$ENGINE")
nice -n 19 $py "$here/evaluate.py" --data "$data" --pieces eval_ --codec "$codec" "${tokens[@]}" "${engine[@]}" "${models[@]}" \
  --out "$work/eval"
