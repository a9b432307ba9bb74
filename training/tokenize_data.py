#!/usr/bin/python3
"""Stage 3: encode every rendered piece into codec tokens.

    /usr/bin/python3 training/tokenize_data.py --data training/work/data --codec training/work/codec/codec.pt --out training/work/tokens

Writes OUT/NAME.npz with `tokens` [K, frames] (int16; the 4 sound codebooks, whose
silent frames are the silence tokens, then the clock codebook) next to a copy of
the piece's features, for the LM.
"""
import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import V, clock_tokens, nice_torch, read_wav  # noqa: E402

torch = nice_torch()
from pcodec import PCodec  # noqa: E402


def load_codec(path):
    st = torch.load(path)
    model = PCodec()
    model.codebooks.copy_(st["codebooks"])
    return model.eval()


def encode(model, x, silent, feat):
    """tokens [K, T] (clock last) and the unquantised log-amplitudes [T, O] the LM regresses."""
    T = len(silent)
    la = model.analyse(x, feat)
    return np.concatenate([model.quantise(la, silent), clock_tokens(T)[None]], 0), la


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--codec", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    model = load_codec(args.codec)
    hist = None
    for npz in sorted(glob.glob(os.path.join(args.data, "*.npz"))):
        name = os.path.basename(npz)[:-4]
        d = np.load(npz)
        x, _ = read_wav(npz[:-4] + ".wav")
        tok, la = encode(model, x, d["silent"], d["feat"])
        np.savez_compressed(os.path.join(args.out, name + ".npz"), tokens=tok.astype(np.int16), feat=d["feat"],
                            la=la.astype(np.float16))
        h = np.stack([np.bincount(t, minlength=V) for t in tok])
        hist = h if hist is None else hist + h
        print(f"{name}: {tok.shape[1]} frames, silent {np.mean(tok[0] == 0):.2f}", flush=True)
    used = (hist > 0).sum(1)
    p = hist / hist.sum(1, keepdims=True)
    ent = -(p * np.log2(np.maximum(p, 1e-12))).sum(1)
    print(f"codes used per codebook {used.tolist()}, entropy bits {np.round(ent, 2).tolist()}")
    open(os.path.join(args.out, "DONE"), "w").write("ok\n")


if __name__ == "__main__":
    main()
