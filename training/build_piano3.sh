#!/usr/bin/env bash
# Rebuild sostenuto-piano 3 (models/piano3) from nothing, resumably, with fixed seeds.
#
#   nohup nice -n 19 bash training/build_piano3.sh > training/work3/build.log 2>&1 &
#
# Every stage skips what exists; the two training stages checkpoint every 2 minutes and resume.
# Intermediate files live in training/work3/ (gitignored). Environment overrides (smoke tests):
# WORK, OUT, TRAIN_PIECES, CODEC_PIECES, CODEC_STEPS, CODEBOOKS, LM_STEPS, LM_INIT, TEST_PIECES.
# LM_INIT: the LM starts from the weights of this one that fit (3.2.0 started from 3.1.0's GRU and
# key maps, training/checkpoints/piano3-3.1.0/lm.pt, the default); LM_INIT= starts from scratch.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
root="$(dirname "$here")"
py=/usr/bin/python3
WORK="${WORK:-$here/work3}"
OUT="${OUT:-$root/models/piano3}"
TRAIN_PIECES="${TRAIN_PIECES:-120}"
CODEC_PIECES="${CODEC_PIECES:-40}"
CODEC_STEPS="${CODEC_STEPS:-2000}"
CODEBOOKS="${CODEBOOKS:-96}"
LM_STEPS="${LM_STEPS:-700}"
LM_INIT="${LM_INIT-$root/training/checkpoints/piano3-3.1.0/lm.pt}"
TEST_PIECES="${TEST_PIECES:-6}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p "$WORK"
stage() { echo "=== $(date -u +%FT%TZ) $*"; }

stage "1/5 data (train, dev eval_*, test test_* and real_*)"
nice -n 19 $py "$here/gen_data.py" --out "$WORK/data" --train "$TRAIN_PIECES" --eval 6 --test "$TEST_PIECES"

stage "2/5 codec (fit, analysis, training, tokens)"
nice -n 19 $py "$here/train_codec.py" --data "$WORK/data" --out "$WORK/codec" --steps "$CODEC_STEPS" --max-train "$CODEC_PIECES" \
  --codebooks "$CODEBOOKS"

stage "3/5 token LM"
init=(); [ -z "$LM_INIT" ] || init=(--init "$LM_INIT")
nice -n 19 $py "$here/train_token_lm.py" --codec "$WORK/codec/codec.pt" --tokens "$WORK/codec/tokens" --out "$WORK/lm" \
  --steps "$LM_STEPS" "${init[@]}"

stage "4/5 export"
nice -n 19 $py "$here/export_piano3.py" --codec "$WORK/codec/codec.pt" --lm "$WORK/lm/lm.pt" --tokens "$WORK/codec/tokens" --out "$OUT"

stage "5/5 evaluate (dev, test, real music; beside sostenuto-piano 2.2.0)"
card=(); [ "$OUT" = "$root/models/piano3" ] && card=(--card "$root/docs/model-card-piano3.md" --png-dir "$root/docs/model-card-piano3")
for split in eval_ test_ real_; do
  nice -n 19 $py "$here/evaluate.py" --data "$WORK/data" --pieces "$split" --codec "$WORK/codec/codec.pt" \
    --model "3.2.1=$OUT" --model "2.2.0=$root/models/piano" --out "$WORK/eval_$split" "${card[@]}"
done
stage "done"
