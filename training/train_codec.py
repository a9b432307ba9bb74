#!/usr/bin/python3
"""Stage 2: train the codec (encoder + RVQ + streaming decoder) on the rendered audio.

    nice -n 19 /usr/bin/python3 training/train_codec.py --data training/work/data --out training/work/codec --steps 2500

Resumable: a checkpoint (model, optimiser, step) is written every --ckpt-secs
seconds and at the end; rerunning continues from it. The batch of step s is drawn
from an RNG seeded with (seed, s), so a resumed run sees the same data as an
uninterrupted one. Writes OUT/codec.pt when all steps are done.
"""
import argparse
import glob
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HOP, K_CONTENT, clock_tokens, nice_torch, read_wav  # noqa: E402

torch = nice_torch()
from codec import Codec, MRSTFTLoss, PartialTargets  # noqa: E402


def load_set(data, prefix="train_"):
    items = []
    for npz in sorted(glob.glob(os.path.join(data, prefix + "*.npz"))):
        x, _ = read_wav(npz[:-4] + ".wav")
        silent = np.load(npz)["silent"]
        items.append((x, silent))
    return items


def batch(items, rng, bsz, frames):
    xs, ss, cs = [], [], []
    lens = np.array([len(s) for _, s in items], np.float64)
    for _ in range(bsz):
        i = rng.choice(len(items), p=lens / lens.sum())
        x, s = items[i]
        f0 = int(rng.integers(0, max(1, len(s) - frames)))
        # avoid all-silent crops most of the time
        for _ in range(5):
            if s[f0:f0 + frames].mean() < 0.9:
                break
            f0 = int(rng.integers(0, max(1, len(s) - frames)))
        xs.append(x[f0 * HOP:(f0 + frames) * HOP])
        ss.append(s[f0:f0 + frames])
        cs.append(clock_tokens(frames, f0))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ss)), torch.from_numpy(np.stack(cs))


def save(path, obj):
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--batch", type=int, default=6)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ckpt-secs", type=float, default=180)
    ap.add_argument("--aux", type=float, default=0.2, help="weight of the log-amplitude partial loss")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    final = os.path.join(args.out, "codec.pt")
    if os.path.exists(final):
        print("codec: done already")
        return
    torch.manual_seed(args.seed)
    model = Codec()
    lossf = MRSTFTLoss()
    partials = PartialTargets()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.8, 0.99), weight_decay=1e-4)
    sched = lambda s: args.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(s, args.steps) / args.steps))) * min(1.0, (s + 1) / 200)
    ckpt = os.path.join(args.out, "ckpt.pt")
    step = 0
    if os.path.exists(ckpt):
        st = torch.load(ckpt)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        if "torch_rng" in st:
            torch.set_rng_state(st["torch_rng"])
        print(f"codec: resuming at step {step}")
    print(f"codec: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params "
          f"(decoder {sum(p.numel() for p in model.decoder.parameters()) / 1e6:.2f} M)", flush=True)
    items = load_set(args.data)
    print(f"codec: {len(items)} pieces, {sum(len(x) for x, _ in items) / 24000 / 60:.1f} min audio", flush=True)
    model.train()
    t_last, t0, s0 = time.time(), time.time(), step
    skip = 4 * HOP
    run = {}
    while step < args.steps:
        rng = np.random.default_rng([args.seed, step])
        x, silent, clock = batch(items, rng, args.batch, args.frames)
        for g in opt.param_groups:
            g["lr"] = sched(step)
        y, tokens, commit, amps, log_amps = model(x, silent, clock)
        stft, mel = lossf(y[:, skip:], x[:, skip:])
        # auxiliary partial loss: each oscillator's log-amplitude (taken before the exp, so an
        # oscillator that is off still gets a full gradient) against the reference's
        with torch.no_grad():
            tgt = partials(x)
        live = (~silent).float().unsqueeze(-1)
        aux = (((log_amps - torch.log(tgt + 1e-5)) ** 2) * live).mean()
        w_aux = args.aux
        loss = stft + mel + 0.5 * commit + w_aux * aux
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        for k, v in (("loss", loss), ("stft", stft), ("mel", mel), ("commit", commit), ("aux", aux)):
            run[k] = 0.98 * run.get(k, float(v)) + 0.02 * float(v)
        if step % 25 == 0 or step == args.steps:
            used = [(model.rvq.ema_count[k] > 0.5).sum().item() for k in range(K_CONTENT)]
            print(f"step {step} " + " ".join(f"{k} {v:.4f}" for k, v in run.items()) +
                  f" codes_used {used} {(step - s0) / (time.time() - t0):.2f} steps/s", flush=True)
        if time.time() - t_last > args.ckpt_secs or step == args.steps:
            save(ckpt, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                        "torch_rng": torch.get_rng_state()})
            t_last = time.time()
    save(final, {"model": model.state_dict(), "step": step, "args": vars(args)})
    print("codec: finished", flush=True)


if __name__ == "__main__":
    main()
