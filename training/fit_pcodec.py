#!/usr/bin/python3
"""Stage 2: fit the parametric codec (pcodec.py) on the training audio.

    /usr/bin/python3 training/fit_pcodec.py --data training/work/data --out training/work/codec

Analyses every training piece into per-frame oscillator log-amplitudes and fits
the 4x512 residual VQ by seeded k-means. Writes OUT/codec.pt. A few minutes on
one core.
"""
import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import nice_torch, read_wav  # noqa: E402

torch = nice_torch()
from pcodec import PCodec  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iters", type=int, default=12)
    ap.add_argument("--sample", type=int, default=60000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    final = os.path.join(args.out, "codec.pt")
    if os.path.exists(final):
        print("pcodec: done already")
        return
    pc = PCodec()
    feats = []
    for npz in sorted(glob.glob(os.path.join(args.data, "train_*.npz"))):
        x, _ = read_wav(npz[:-4] + ".wav")
        d = np.load(npz)
        silent = d["silent"]
        la = pc.analyse(x, d["feat"])
        feats.append(la[~silent])
    feats = np.concatenate(feats)
    print(f"pcodec: {len(feats)} sounding frames x {feats.shape[1]} oscillators", flush=True)
    pc.fit(feats, seed=args.seed, iters=args.iters, sample=args.sample, log=lambda s: print(s, flush=True))
    torch.save({"kind": "parametric", "codebooks": pc.codebooks, "args": vars(args)}, final + ".tmp")
    os.replace(final + ".tmp", final)
    print("pcodec: finished", flush=True)


if __name__ == "__main__":
    main()
