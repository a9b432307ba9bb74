#!/usr/bin/python3
"""Stage 4: train the key-factorised piano LM (lm.py) on the tokenized pieces.

    nice -n 19 /usr/bin/python3 training/train_lm.py --tokens training/work/tokens --codec training/work/codec/codec.pt --out training/work/lm

Teacher forcing over runs of --seq consecutive frames (each frame sees its
conditioning window and the true tokens of the frame before it; the key levels,
the model's state, are carried through the run, the first --warmup frames only
settling them), batches of runs from random places in all pieces. Target: the codec
analysis of the reference. Loss: a robust regression of the predicted
log-amplitudes on it, silent frames included (near the codec floor only over-prediction counts:
the codec cannot hear below it) plus the silence head's binary cross-entropy.

Resumable: a checkpoint every --ckpt-secs; the batch of step s is drawn from an
RNG seeded with (seed, s). At the end the silence head is refitted on the model's own playing,
beta (the distance head's sharpness) is set from the error on BETA_PIECES training pieces, and
OUT/lm.pt is written. The held-out pieces are only watched (the log's held-out lines), never fitted.
"""
import argparse
import glob
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import K, LOOKAHEAD, feature_slice, nice_torch, save_atomic  # noqa: E402

torch = nice_torch()
import torch.nn.functional as F  # noqa: E402
from lm import FLOOR_LOG, STATE, PianoLM  # noqa: E402
from oscillators import KEYS, LOWEST  # noqa: E402

ONSET_WEIGHT = 3.0
QUIET = FLOOR_LOG + 0.05  # log-amplitudes below this are inaudible: only over-prediction counts there
BETA_PIECES = "train_000"   # train_0000 .. train_0009: where beta's error is measured


class Frames:
    """All frames of a set of pieces, padded so every frame has two previous frames and L future ones."""

    def __init__(self, tokdir, prefix):
        toks, feats, las, index = [], [], [], []
        for i, p in enumerate(sorted(glob.glob(os.path.join(tokdir, prefix + "*.npz")))):
            d = np.load(p)
            tok = d["tokens"].astype(np.int64).T                              # [T, K]
            T = len(tok)
            toks.append(np.concatenate([np.zeros((2, K), np.int64), tok]))   # frames -2, -1 are silence
            feats.append(np.concatenate([d["feat"], np.zeros((LOOKAHEAD, d["feat"].shape[1]), d["feat"].dtype)]))
            las.append(d["la"])
            index += [(i, f) for f in range(T)]
        self.toks, self.feats, self.las = toks, feats, las
        self.index = np.array(index, np.int64)

    def sequences(self, rng, n, length):
        """n random runs of `length` consecutive frames: (piece, first frame) rows, each run in one piece."""
        out = []
        while len(out) < n * length:
            i, f = self.index[rng.integers(0, len(self.index))]
            if f + length <= len(self.las[i]):
                out += [(i, f + j) for j in range(length)]
        return np.array(out, np.int64)

    def batch(self, rows):
        p1, cw, y, sil = [], [], [], []
        for i, f in rows:
            tok = self.toks[i]
            p1.append(tok[f + 1])
            cw.append(self.feats[i][f:f + LOOKAHEAD + 1])
            y.append(self.las[i][f])
            sil.append(tok[f + 2, 0] == 0)
        t = lambda a, dt: torch.from_numpy(np.asarray(a, dt))
        return t(p1, np.int64), t(cw, np.float32), t(y, np.float32), t(sil, np.float32)


def losses(model, batch, n_seq, length, warmup):
    """Runs of `length` frames; the first `warmup` of each only settle the key levels."""
    p1, cw, target, sil = (t.reshape(n_seq, length, *t.shape[1:]) for t in batch)
    y, sil_logit, tone, w = model(p1, cw, warmup)
    y, sil_logit, target, sil = y[:, warmup:], sil_logit[:, warmup:, 0], target[:, warmup:], sil[:, warmup:]
    # Silent frames count too (their target is the floor everywhere): otherwise nothing keeps the
    # keys that are not playing quiet, and 438 oscillators just above the floor are a -50 dB hiss.
    reg = robust(y, target).mean()
    # The played keys' tones, straight in the log domain against what their partials' oscillators hold:
    # through the sum of exponentials alone a tone that fell far below the floor would get no gradient.
    tone, w = tone[:, warmup:], w[:, warmup:]
    played = (w == 1).to(torch.float32) * model.valid
    # The first 160 ms of a note count ONSET_WEIGHT times: they are what a listener (and note recall)
    # judges a strike by, and a few frames among a long decay's many would otherwise be fitted last.
    age = cw[:, warmup:, 0, feature_slice("note_age")][..., LOWEST:LOWEST + KEYS].unsqueeze(3)
    snd = cw[:, warmup:, 0, feature_slice("note_sounding")][..., LOWEST:LOWEST + KEYS].unsqueeze(3)
    played = played * (1.0 + (ONSET_WEIGHT - 1.0) * snd * (age < 0.16).to(torch.float32))
    aux = (robust(tone, model.key_targets(target)) * played).sum() / (played.sum() + 1)
    bce = F.binary_cross_entropy_with_logits(sil_logit, sil)
    return reg + 0.5 * aux, bce, y, sil_logit


def robust(y, target):
    """Smooth L1 of log-amplitudes; near the codec floor only over-prediction counts."""
    err = torch.where(target <= QUIET, F.relu(y - QUIET), y - torch.clamp(target, min=QUIET))
    return F.smooth_l1_loss(err, torch.zeros_like(err), beta=0.1, reduction="none")


@torch.no_grad()
def evaluate(model, held):
    """held-out regression loss and silence accuracy over whole pieces, codebook-0 agreement and the
    per-dimension error of y against the dequantised true tokens (what sets beta)."""
    model.eval()
    reg_s = silacc = tokacc = mse = 0.0
    n = nt = 0
    for i in range(len(held.toks)):
        rows = held.index[held.index[:, 0] == i]
        b = held.batch(rows)
        reg, _, y, sl = losses(model, b, 1, len(rows), 0)
        y, sl, sil = y[0], sl[0], b[3]
        cur = torch.from_numpy(held.toks[i][2:])
        sound = sil == 0
        reg_s += float(reg) * len(rows)
        silacc += float(((sl > 0).float() == sil).float().sum())
        logits = model.token_logits(y, sl.unsqueeze(1), b[0][:, K - 1:K], b[1])
        tokacc += float((logits[:, 0].argmax(1) == cur[:, 0])[sound].float().sum())
        q, _ = model.dequantise(cur)
        mse += float(((model.loudness(y) - model.loudness(q)) ** 2)[sound].mean(1).sum())
        n += len(rows)
        nt += int(sound.sum())
    model.train()
    return reg_s / n, silacc / n, tokacc / max(1, nt), mse / max(1, nt)


@torch.no_grad()
def play(model, frames, pieces):
    """The model playing `pieces` on its own, as the engine runs it (each frame quantised to its
    nearest codewords, silent when the silence head says so, fed back): the silence head's inputs
    [frames, F] and the true silence flags [frames]."""
    n = min(len(frames.las[i]) for i in pieces)
    cond = torch.from_numpy(np.stack([np.stack([frames.feats[i][f:f + LOOKAHEAD + 1] for f in range(n)])
                                      for i in pieces]).astype(np.float32))             # [B, n, L+1, C]
    B = len(pieces)
    la = torch.full((B, model.n_osc), FLOOR_LOG)
    live = torch.zeros(B, 1)
    level = torch.full((B, KEYS, STATE), FLOOR_LOG)
    xs = []
    for f in range(n):
        y, sl, level, s_in = model.step(cond[:, f], model.drive(cond[:, f]), la, live, level)
        xs.append(s_in)
        live = (sl > 0).to(torch.float32)
        la = model.nearest(y) * live + FLOOR_LOG * (1 - live)
    truth = np.stack([frames.toks[i][2:2 + n, 0] == 0 for i in pieces], 1)             # [n, B]
    return torch.stack(xs).flatten(0, 1), torch.from_numpy(truth.reshape(-1).astype(np.float32))


def calibrate_silence(model, frames, seed, rounds=2, pieces=16):
    """Refit the silence head on the model's own playing. Teacher-forced, it leans on "was the
    previous frame silent", which holds on the reference and nowhere else; playing on its own the
    model must decide from the MIDI and the energy it predicts."""
    rng = np.random.default_rng([seed, 1])
    chosen = rng.choice(len(frames.toks), min(pieces, len(frames.toks)), replace=False)
    opt = torch.optim.Adam(model.silence.parameters(), lr=3e-3)
    for r in range(rounds):
        x, t = play(model, frames, chosen)
        for _ in range(300):
            loss = F.binary_cross_entropy_with_logits(model.silence(x)[:, 0], t)
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = float(((model.silence(x)[:, 0] > 0).float() == t).float().mean())
        print(f"lm: silence head refit on its own playing, round {r + 1}: bce {float(loss):.4f} accuracy {acc:.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--codec", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1600)
    ap.add_argument("--batch", type=int, default=384)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seq", type=int, default=48, help="frames per training run")
    ap.add_argument("--warmup", type=int, default=16, help="frames at the start of a run that only settle the key levels")
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--ckpt-secs", type=float, default=120)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    final = os.path.join(args.out, "lm.pt")
    if os.path.exists(final):
        print("lm: done already")
        return
    torch.manual_seed(args.seed)
    codebooks = torch.load(args.codec)["codebooks"]
    model = PianoLM(codebooks)
    # The per-key tone table learns 10x faster and without decay: each entry sees only its own key's
    # frames, and its job is to hold that key's level exactly, not to stay small.
    shared = [p for n, p in model.named_parameters() if p.requires_grad and n != "key_tone"]
    opt = torch.optim.AdamW([{"params": shared, "weight_decay": 1e-4, "lr_scale": 1.0},
                             {"params": [model.key_tone], "weight_decay": 0.0, "lr_scale": 10.0}], lr=args.lr)
    sched = lambda s: args.lr * (0.03 + 0.97 * 0.5 * (1 + np.cos(np.pi * min(s, args.steps) / args.steps))) * min(1.0, (s + 1) / 100)
    ckpt = os.path.join(args.out, "ckpt.pt")
    step = 0
    if os.path.exists(ckpt):
        st = torch.load(ckpt)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        print(f"lm: resuming at step {step}")
    train = Frames(args.tokens, "train_")
    held = Frames(args.tokens, "eval_")
    print(f"lm: {sum(p.numel() for p in model.parameters()) / 1e6:.3f} M params, "
          f"{len(train.index)} training frames, {len(held.index)} held-out", flush=True)
    t_last, t0, s0 = time.time(), time.time(), step
    run = {}
    while step < args.steps:
        rng = np.random.default_rng([args.seed, step])
        n_seq = args.batch // args.seq
        batch = train.batch(train.sequences(rng, n_seq, args.seq))
        for g in opt.param_groups:
            g["lr"] = sched(step) * g["lr_scale"]
        reg, bce, _, _ = losses(model, batch, n_seq, args.seq, args.warmup)
        loss = reg + 0.1 * bce
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        for k, v in (("reg", reg), ("bce", bce)):
            run[k] = 0.98 * run.get(k, float(v)) + 0.02 * float(v)
        if step % 50 == 0 or step == args.steps:
            fps = (step - s0) * args.batch / (time.time() - t0)
            print(f"step {step} reg {run['reg']:.4f} bce {run['bce']:.4f} {fps:.0f} frames/s", flush=True)
        if step % 500 == 0 or step == args.steps:
            r, sa, ta, mse = evaluate(model, held)
            print(f"step {step} held-out reg {r:.4f} silence acc {sa:.3f} "
                  f"codebook-0 agreement {ta:.3f} mse vs tokens {mse:.3f}", flush=True)
        if time.time() - t_last > args.ckpt_secs or step == args.steps:
            save_atomic(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step})
            t_last = time.time()
    model.eval()
    calibrate_silence(model, train, args.seed)
    _, _, _, mse = evaluate(model, Frames(args.tokens, BETA_PIECES))
    model.beta.fill_(1.0 / (2.0 * mse))
    print(f"lm: beta = 1 / (2 * {mse:.3e}) = {float(model.beta):.3f}", flush=True)
    save_atomic(final, {"model": model.state_dict(), "step": step, "args": vars(args)})
    print("lm: finished", flush=True)


if __name__ == "__main__":
    main()
