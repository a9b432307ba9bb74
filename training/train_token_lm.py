#!/usr/bin/python3
"""Stage 3 of sostenuto-piano 3: train the token LM (token_lm.py) by cross-entropy on the codec's tokens.

    /usr/bin/python3 training/train_token_lm.py --codec training/work3/codec/codec.pt \
        --tokens training/work3/codec/tokens --out training/work3/lm

Training pieces are `train_*`; `eval_*` are the dev set (watched during training: NLL per token);
`test_*` and `real_*` are read only by the final report, never by a design choice. Sequences of SEQ
frames (2.4 s) start anywhere; away from a piece's start the first WARM frames only warm the state up
and are not scored. Checkpoints every 2 minutes (OUT/ckpt.pt); run again to resume.
Writes OUT/lm.pt and OUT/nll.json (mean NLL per content token, nats, teacher-forced, per split).
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import nice_torch, run_log, save_atomic  # noqa: E402
import ddsp_codec as dc  # noqa: E402

torch = nice_torch()
# Debian's torch 1.13 on this CPU: nn.GRU's oneDNN backward returns different, sometimes huge,
# input gradients for the same batch (measured: embedding gradient norms from 1e-2 to 5e12), which
# made the loss NaN within 25 steps. The native kernels are exact and repeatable.
torch.backends.mkldnn.enabled = False
import torch.nn.functional as F  # noqa: E402
from token_lm import LOOKAHEAD, TokenLM, band_keys_of, corrupt_history, lm_weights  # noqa: E402

SEQ, WARM, BATCH = 240, 40, 8
# Scheduled sampling, in parallel form (Duckworth et al. 2019): a first, gradient-free pass samples
# each frame's tokens from the model given the true history; the scored pass then reads those samples
# as its history in a fraction of the frames (SAMPLED_HISTORY, ramped in over the first half of the
# steps), so it learns to go on from its own mistakes: a missed onset, a band that drifted.
# Why: teacher-forced, the band heads learn to copy their previous token (it is right most of the
# time), and free-running they then follow their own errors: at 175 steps without it, NLL 0.51 but
# note recall 11.8 % on eval_00, below the global-only LM's 29.4 %.
SAMPLED_HISTORY, SAMPLE_TEMPERATURE = 0.5, 1.0


def load(tokdir, prefix):
    out = {}
    for p in sorted(glob.glob(os.path.join(tokdir, prefix + "*.npz"))):
        z = np.load(p)
        out[os.path.basename(p)[:-4]] = (z["tokens"].astype(np.int64), z["feat"])
    return out


def windows(feat, start, n):
    """Conditioning windows of frames start .. start+n-1: [n, L+1, C] (past the end: the last frame)."""
    idx = np.minimum(np.arange(start, start + n)[:, None] + np.arange(LOOKAHEAD + 1)[None, :], len(feat) - 1)
    return feat[idx].astype(np.float32)


def history(tok, start, n):
    """Tokens of frames start-1 .. start+n-2 (silence before frame 0)."""
    prev = np.zeros((n, dc.K_CONTENT), np.int64)
    lo = max(start - 1, 0)
    prev[lo - (start - 1):] = tok[lo:start + n - 1]
    return prev


def batch(pieces, rng):
    names = list(pieces)
    prev, cond, tgt, mask = [], [], [], []
    for _ in range(BATCH):
        tok, feat = pieces[names[int(rng.integers(len(names)))]]
        s = 0 if rng.random() < 0.1 else int(rng.integers(0, len(tok) - SEQ))
        prev.append(history(tok, s, SEQ))
        cond.append(windows(feat, s, SEQ))
        tgt.append(tok[s:s + SEQ])
        m = np.ones(SEQ, np.float32)
        if s > 0:
            m[:WARM] = 0
        mask.append(m)
    t = torch.tensor
    return t(np.stack(prev)), t(np.stack(cond)), t(np.stack(tgt)), t(np.stack(mask))


@torch.no_grad()
def with_sampled_history(lm, hist, cond, rate, gen):
    """The history with `rate` of its frames (all codebooks of a frame together) replaced by the
    model's own samples of the frame before, drawn given `hist`."""
    logits, _ = lm(hist, cond)
    probs = torch.softmax(logits[:, :-1] / SAMPLE_TEMPERATURE, -1)            # frames 0 .. T-2 -> history of 1 .. T-1
    drawn = torch.multinomial(probs.reshape(-1, dc.V), 1, generator=gen).reshape(probs.shape[:-1])
    use = torch.rand(hist.shape[0], hist.shape[1] - 1, 1, generator=gen) < rate
    out = hist.clone()
    out[:, 1:] = torch.where(use, drawn, hist[:, 1:])
    return out


@torch.no_grad()
def nll(lm, pieces):
    """Teacher-forced mean NLL per content token over whole pieces (from the zero state)."""
    tot, n = 0.0, 0
    for tok, feat in pieces.values():
        T = len(tok)
        logits, _ = lm(torch.tensor(history(tok, 0, T))[None], torch.tensor(windows(feat, 0, T))[None])
        tot += F.cross_entropy(logits[0].reshape(-1, dc.V), torch.tensor(tok).reshape(-1), reduction="sum").item()
        n += tok.size
    return tot / max(n, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", required=True, help="codec.pt: its oscillator bank decides which keys each band's head reads")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", default=None, help="start from the weights of this LM (lm.pt or a checkpoint) that "
                    "have the same name and shape here (e.g. a committed checkpoint, or an older LM's GRU)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    log = run_log(args.out)

    train, dev = load(args.tokens, "train_"), load(args.tokens, "eval_")
    torch.manual_seed(args.seed)
    lm = TokenLM(band_keys_of(dc.load_codec(args.codec)))
    opt = torch.optim.Adam(lm.parameters(), lr=2e-3)
    ck, final = os.path.join(args.out, "ckpt.pt"), os.path.join(args.out, "lm.pt")
    step = 0
    if args.init and not os.path.exists(ck):
        st = lm_weights(args.init)
        own = lm.state_dict()
        same = {k: v for k, v in st.items() if k in own and own[k].shape == v.shape}
        lm.load_state_dict(same, strict=False)
        log(f"initialised from {args.init}: {sorted(same)}; new: {sorted(set(own) - set(same))}")
    if os.path.exists(final):
        lm.load_state_dict(torch.load(final))
        step = args.steps
    elif os.path.exists(ck):
        st = torch.load(ck)
        lm.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        log(f"resumed at step {step}")
    log(f"{len(train)} training pieces, {len(dev)} dev; parameters {sum(p.numel() for p in lm.parameters())}")
    rng = np.random.default_rng(args.seed + step)
    gen = torch.Generator().manual_seed(args.seed + step)
    last, t0, run = time.time(), time.time(), []
    while step < args.steps:
        lr = 1e-4 + 0.5 * (2e-3 - 1e-4) * (1 + np.cos(np.pi * step / args.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        prev, cond, tgt, mask = batch(train, rng)
        hist = corrupt_history(prev, gen)
        rate = SAMPLED_HISTORY * min(1.0, step / (0.5 * args.steps))
        if rate > 0:
            hist = with_sampled_history(lm, hist, cond, rate, gen)
        logits, _ = lm(hist, cond)
        ce = F.cross_entropy(logits.reshape(-1, dc.V), tgt.reshape(-1), reduction="none").reshape(tgt.shape)
        loss = (ce.mean(-1) * mask).sum() / mask.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step()
        step += 1
        run.append(loss.item())
        if step % 25 == 0:
            log(f"step {step}/{args.steps} train NLL {np.mean(run):.4f} lr {lr:.2e} ({(time.time() - t0) / len(run):.2f} s/step)")
            run, t0 = [], time.time()
        if step % 300 == 0:
            log(f"step {step}: dev NLL {nll(lm, dev):.4f}")
        if time.time() - last > 120 or step == args.steps:
            save_atomic(ck, {"model": lm.state_dict(), "opt": opt.state_dict(), "step": step})
            last = time.time()
    if not os.path.exists(final):
        save_atomic(final, lm.state_dict())
    res = {split: nll(lm, load(args.tokens, split + "_")) for split in ("train", "eval", "test", "real")
           if glob.glob(os.path.join(args.tokens, split + "_*.npz"))}
    log(f"NLL per content token (nats, teacher-forced): {res}")
    json.dump(res, open(os.path.join(args.out, "nll.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
