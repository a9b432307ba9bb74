#!/usr/bin/python3
"""Stage 4: train the token LM (teacher forcing) on the tokenized pieces.

    nice -n 19 /usr/bin/python3 training/train_lm.py --tokens training/work/tokens --out training/work/lm --steps 3000

Resumable like the codec (checkpoint every --ckpt-secs; batch of step s drawn
from an RNG seeded with (seed, s)). Writes OUT/lm.pt at the end. A fraction of
the previous-frame tokens fed to the model is replaced by random tokens so the
LM leans on the MIDI and recovers from its own sampling mistakes.
"""
import argparse
import glob
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import K, K_CONTENT, LOOKAHEAD, V, nice_torch  # noqa: E402

torch = nice_torch()
import torch.nn.functional as F  # noqa: E402
from lm import PianoLM  # noqa: E402


def load(tokdir, prefix):
    items = []
    for p in sorted(glob.glob(os.path.join(tokdir, prefix + "*.npz"))):
        d = np.load(p)
        items.append((d["tokens"].astype(np.int64).T, d["feat"]))   # [T,K], [T,C] f16
    return items


def windows(feat, f0, n):
    """cond windows [n, L+1, C] for frames f0..f0+n-1 (zeros past the end)."""
    T, C = feat.shape
    pad = np.zeros((n + LOOKAHEAD, C), np.float32)
    seg = feat[f0:f0 + n + LOOKAHEAD].astype(np.float32)
    pad[:len(seg)] = seg
    return np.stack([pad[i:i + n] for i in range(LOOKAHEAD + 1)], 1)


def prev_tokens(tok, f0, n):
    prev = np.zeros((n, K), np.int64)
    if f0 > 0:
        prev[0] = tok[f0 - 1]
    prev[1:] = tok[f0:f0 + n - 1]
    return prev


def make_batch(items, rng, bsz, frames, corrupt):
    lens = np.array([len(t) for t, _ in items], np.float64)
    P, Cw, Y = [], [], []
    for _ in range(bsz):
        i = rng.choice(len(items), p=lens / lens.sum())
        tok, feat = items[i]
        f0 = int(rng.integers(0, max(1, len(tok) - frames)))
        if rng.random() < 0.1:
            f0 = 0
        n = min(frames, len(tok) - f0)
        warm = 0 if f0 == 0 else min(32, n)   # mid-piece crops: first frames lack history, no loss
        prev = prev_tokens(tok, f0, n)
        if corrupt > 0:
            m = rng.random(prev.shape) < corrupt
            m[:, K_CONTENT:] = False                    # the clock input is never corrupted
            prev[m] = rng.integers(1, V, int(m.sum()))
        y = tok[f0:f0 + n, :K_CONTENT].copy()
        y[:warm] = -100
        cw = windows(feat, f0, n)
        if n < frames:
            prev = np.pad(prev, ((0, frames - n), (0, 0)))
            y = np.pad(y, ((0, frames - n), (0, 0)), constant_values=-100)
            cw = np.pad(cw, ((0, frames - n), (0, 0), (0, 0)))
        P.append(prev)
        Cw.append(cw)
        Y.append(y)
    return torch.from_numpy(np.stack(P)), torch.from_numpy(np.stack(Cw)), torch.from_numpy(np.stack(Y))


@torch.no_grad()
def evaluate(model, items):
    model.eval()
    tot, n, acc = 0.0, 0, 0.0
    for tok, feat in items:
        T = len(tok)
        logits = model(torch.from_numpy(prev_tokens(tok, 0, T))[None], torch.from_numpy(windows(feat, 0, T))[None])
        y = torch.from_numpy(tok[:, :K_CONTENT])[None]
        tot += F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum").item()
        acc += (logits.argmax(-1) == y).float().sum().item()
        n += y.numel()
    model.train()
    return tot / n, acc / n


def save(path, obj):
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=6)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--corrupt", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--ckpt-secs", type=float, default=180)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    final = os.path.join(args.out, "lm.pt")
    if os.path.exists(final):
        print("lm: done already")
        return
    torch.manual_seed(args.seed)
    model = PianoLM()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    sched = lambda s: args.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(s, args.steps) / args.steps))) * min(1.0, (s + 1) / 100)
    ckpt = os.path.join(args.out, "ckpt.pt")
    step = 0
    if os.path.exists(ckpt):
        st = torch.load(ckpt)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        if "torch_rng" in st:
            torch.set_rng_state(st["torch_rng"])
        print(f"lm: resuming at step {step}")
    items = load(args.tokens, "train_")
    held = load(args.tokens, "eval_")
    print(f"lm: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params, "
          f"{len(items)} pieces, {sum(len(t) for t, _ in items)} frames", flush=True)
    t_last, t0, s0 = time.time(), time.time(), step
    run = {}
    while step < args.steps:
        rng = np.random.default_rng([args.seed, step])
        prev, cw, y = make_batch(items, rng, args.batch, args.frames, args.corrupt)
        for g in opt.param_groups:
            g["lr"] = sched(step)
        logits = model(prev, cw)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        with torch.no_grad():
            m = y >= 0
            acc = (logits.argmax(-1) == y)[m].float().mean()
        for k, v in (("ce", loss), ("acc", acc)):
            run[k] = 0.98 * run.get(k, float(v)) + 0.02 * float(v)
        if step % 25 == 0 or step == args.steps:
            fps = (step - s0) * args.batch * args.frames / (time.time() - t0)
            print(f"step {step} ce {run['ce']:.4f} acc {run['acc']:.3f} {fps:.0f} frames/s", flush=True)
        if step % 500 == 0 or step == args.steps:
            ce, acc = evaluate(model, held)
            print(f"step {step} held-out ce {ce:.4f} acc {acc:.3f}", flush=True)
        if time.time() - t_last > args.ckpt_secs or step == args.steps:
            save(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "torch_rng": torch.get_rng_state()})
            t_last = time.time()
    save(final, {"model": model.state_dict(), "step": step, "args": vars(args)})
    print("lm: finished", flush=True)


if __name__ == "__main__":
    main()
