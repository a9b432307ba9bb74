#!/usr/bin/env bash
# Rebuild the default piano package (models/piano) from nothing, resumably.
#
#   nohup nice -n 19 bash training/build_default.sh > training/work/build.log 2>&1 &
#
# Every stage skips when its output exists; the training stages resume from their
# last checkpoint under training/work/ (gitignored). Fixed seeds throughout.
# Environment overrides (for smoke tests): WORK, OUT, TRAIN_PIECES, EVAL_PIECES,
# LM_STEPS.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
root="$(dirname "$here")"
py=/usr/bin/python3
WORK="${WORK:-$here/work}"
OUT="${OUT:-$root/models/piano}"
TRAIN_PIECES="${TRAIN_PIECES:-100}"
EVAL_PIECES="${EVAL_PIECES:-6}"
LM_STEPS="${LM_STEPS:-2400}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$WORK"
stage() { echo "=== $(date -u +%FT%TZ) $*"; }

stage "1/6 data"
[ -f "$WORK/data/DONE" ] || nice -n 19 $py "$here/gen_data.py" --out "$WORK/data" --train "$TRAIN_PIECES" --eval "$EVAL_PIECES"

stage "2/6 codec"
# The parametric codec (pcodec.py: partial analysis + k-means product VQ + oscillator bank).
nice -n 19 $py "$here/fit_pcodec.py" --data "$WORK/data" --out "$WORK/codec"

stage "3/6 tokenize"
[ -f "$WORK/tokens/DONE" ] || nice -n 19 $py "$here/tokenize_data.py" --data "$WORK/data" --codec "$WORK/codec/codec.pt" --out "$WORK/tokens"

stage "4/6 lm"
nice -n 19 $py "$here/train_lm.py" --tokens "$WORK/tokens" --codec "$WORK/codec/codec.pt" --out "$WORK/lm" --steps "$LM_STEPS"

stage "5/6 export"
nice -n 19 $py "$here/export_piano.py" --codec "$WORK/codec/codec.pt" --lm "$WORK/lm/lm.pt" --tokens "$WORK/tokens" --out "$OUT"

stage "6/6 evaluate"
card=(); [ "$OUT" = "$root/models/piano" ] && card=(--card "$root/docs/model-card.md" --png-dir "$root/docs/model-card")
nice -n 19 $py "$here/evaluate.py" --data "$WORK/data" --codec "$WORK/codec/codec.pt" --model "$OUT" --out "$WORK/eval" "${card[@]}"
stage "done"
