#!/usr/bin/python3
"""Stage 2 of sostenuto-piano 3: fit, train and apply the learned codec (ddsp_codec.py).

    /usr/bin/python3 training/train_codec.py --data training/work3/data --out training/work3/codec

1. inharmonicity: each key's partial stretch fitted to frames where that key sounds alone
   (training pieces only) -> the oscillator bank;
2. analysis of every piece (cached in OUT/an/);
3. training, end to end on the waveform: multi-resolution STFT (2048..128) and log-mel L1
   between the decoded audio and the reference, through the FSQ quantiser (straight-through).
   For the first 40 % of the steps an auxiliary L1 ties the decoder's oscillator amplitudes to the
   analysis (it fades to 0), which gets the pitch right before the audio losses refine it.
   Checkpoints every 2 minutes to OUT/ckpt.pt; run again to resume;
4. tokens of every piece (OUT/tokens/NAME.npz: `tokens` [T, K_CONTENT] int16, `feat` [T, C]
   float16 conditioning at the codec's hop, `silent` [T]) for the LM;
5. the codec bound on the dev pieces (resynthesis from tokens vs the reference).
"""
import argparse
import glob
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import features, feature_slice, midi_events, nice_torch, read_wav, run_log, save_atomic, silent_frames  # noqa: E402
import ddsp_codec as dc  # noqa: E402

torch = nice_torch()
import torch.nn.functional as F  # noqa: E402

SEG = 24           # frames of audio per training example
BATCH = 12
FFTS = (2048, 1024, 512, 256, 128)


def pieces(data, prefix):
    return sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(data, prefix + "*.npz")))


def load_piece(data, name):
    x, rate = read_wav(os.path.join(data, name + ".wav"))
    assert rate == dc.SR, name
    events, dur = midi_events(os.path.join(data, name + ".mid"))
    n = len(x) // dc.HOP
    return x[:n * dc.HOP], events, n


def fit_bank(data, train, out, log):
    path = os.path.join(out, "bank.npy")
    if os.path.exists(path):
        return np.load(path)
    acc = np.zeros((dc.KEYS, dc.AN_NFFT // 2 + 1))
    counts = np.zeros(dc.KEYS)
    snd = feature_slice("note_sounding")
    for name in train:
        x, events, n = load_piece(data, name)
        dc.solo_spectra(x, features(events, n, hop=dc.HOP)[:, snd], n, acc, counts)
    spectra = acc / np.maximum(counts, 1)[:, None]
    B = dc.fit_inharmonicity(spectra, counts, log)
    np.save(path, B)
    return B


def analyse_all(data, names, out, cycles):
    os.makedirs(os.path.join(out, "an"), exist_ok=True)
    for name in names:
        p = os.path.join(out, "an", name + ".npz")
        if os.path.exists(p):
            continue
        x, events, n = load_piece(data, name)
        osc, mel = dc.analyse(x, n, cycles)
        feat = features(events, n, hop=dc.HOP)
        np.savez(p + ".tmp.npz", osc=osc, mel=mel, feat=feat.astype(np.float16),
                 silent=silent_frames(x, n, hop=dc.HOP))
        os.replace(p + ".tmp.npz", p)


class Corpus:
    def __init__(self, data, out, names):
        self.names = names
        self.audio, self.osc, self.mel, self.sil = [], [], [], []
        for name in names:
            z = np.load(os.path.join(out, "an", name + ".npz"))
            x, _ = read_wav(os.path.join(data, name + ".wav"))
            self.osc.append(z["osc"])
            self.mel.append(z["mel"])
            self.sil.append(z["silent"])
            self.audio.append(x[:len(z["silent"]) * dc.HOP])

    def batch(self, rng, n):
        osc, mel, sil, aud, f0 = [], [], [], [], []
        for _ in range(n):
            while True:
                i = int(rng.integers(len(self.names)))
                T = len(self.sil[i])
                s = int(rng.integers(3, T - SEG - 3))
                if not self.sil[i][s:s + SEG].all() or rng.random() < 0.05:
                    break
            osc.append(self.osc[i][s - 3:s + SEG + 2])
            mel.append(self.mel[i][s - 3:s + SEG + 2])
            sil.append(self.sil[i][s - 2:s + SEG + 1])
            aud.append(self.audio[i][s * dc.HOP:(s + SEG) * dc.HOP])
            f0.append(s)
        t = lambda a, dt=torch.float32: torch.tensor(np.stack(a)).to(dt)
        return t(osc), t(mel), t(sil), t(aud), torch.tensor(f0, dtype=torch.int64)


def run_codec(codec, osc, mel, sil, f0):
    """Training path: analysis (with one extra frame each side) -> FSQ -> controls -> audio."""
    z = codec.encode(osc, mel)                               # frames s-2 .. s+SEG
    v, _ = dc.fsq(z)
    o, nz, at = codec.controls(v * (1 - sil).unsqueeze(-1), sil)   # frames s-1 .. s+SEG-1
    return codec.synth(o, nz, at, f0), o


_windows = {}


def stft(x, n):
    if n not in _windows:
        _windows[n] = torch.hann_window(n)
    return torch.stft(x, n, n // 4, window=_windows[n], return_complex=True).abs()


_mel = torch.tensor(dc.mel_filterbank(1024, 80, 30.0, 11500.0))


def audio_loss(y, x):
    total = 0.0
    for n in FFTS:
        Y, X = stft(y, n), stft(x, n)
        total = total + (torch.log(Y + 1e-5) - torch.log(X + 1e-5)).abs().mean()
        total = total + torch.linalg.norm(Y - X) / (torch.linalg.norm(X) + 1e-6)
    My, Mx = _mel @ stft(y, 1024), _mel @ stft(x, 1024)
    return total / len(FFTS) + (torch.log(My + 1e-5) - torch.log(Mx + 1e-5)).abs().mean()


def train(codec, corpus, out, steps, log):
    ck = os.path.join(out, "ckpt.pt")
    opt = torch.optim.Adam(codec.parameters(), lr=1e-3)
    step = 0
    if os.path.exists(ck):
        st = torch.load(ck)
        codec.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step = st["step"]
        log(f"resumed at step {step}")
    rng = np.random.default_rng(1234 + step)
    torch.manual_seed(1234 + step)
    last_save, t0, run = time.time(), time.time(), []
    while step < steps:
        lr = 1e-4 + 0.5 * (1e-3 - 1e-4) * (1 + np.cos(np.pi * step / steps))
        for g in opt.param_groups:
            g["lr"] = lr
        osc, mel, sil, aud, f0 = corpus.batch(rng, BATCH)
        y, o = run_codec(codec, osc, mel, sil, f0)
        loss = audio_loss(y, aud)
        w_aux = max(0.0, 1 - step / (0.4 * steps))
        if w_aux > 0:
            target = osc[:, 2:-2]                              # analysis at the end of frames s-1 .. s+SEG-1
            loss_aux = (torch.log(o + 1e-4) - target).abs().mean()
            loss = loss + w_aux * loss_aux
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(codec.parameters(), 1.0)
        opt.step()
        step += 1
        run.append(loss.item())
        if step % 50 == 0:
            log(f"step {step}/{steps} loss {np.mean(run):.4f} lr {lr:.2e} ({(time.time() - t0) / len(run):.2f} s/step)")
            run, t0 = [], time.time()
        if time.time() - last_save > 120 or step == steps:
            save_atomic(ck, {"model": codec.state_dict(), "opt": opt.state_dict(), "step": step})
            last_save = time.time()


@torch.no_grad()
def tokenize(codec, out, names):
    os.makedirs(os.path.join(out, "tokens"), exist_ok=True)
    for name in names:
        p = os.path.join(out, "tokens", name + ".npz")
        z = np.load(os.path.join(out, "an", name + ".npz"))
        edge = lambda a: torch.tensor(np.concatenate([a[:1], a, a[-1:]]).astype(np.float32))[None]
        _, q = dc.fsq(codec.encode(edge(z["osc"]), edge(z["mel"]))[0])     # the piece's edges repeated
        tok = dc.levels_to_tokens(q).numpy()
        tok[z["silent"]] = dc.SILENCE
        np.savez(p + ".tmp.npz", tokens=tok.astype(np.int16), feat=z["feat"], silent=z["silent"])
        os.replace(p + ".tmp.npz", p)


@torch.no_grad()
def resynthesize(codec, tokens):
    """Whole-piece decoding of content tokens [T, Kc] from frame 0 (silence before it)."""
    t = torch.tensor(tokens.astype(np.int64))
    T = len(t)
    pad = torch.cat([torch.zeros(2, dc.K_CONTENT, dtype=torch.int64), t, t[-1:]], 0)[None]
    return codec.decode_tokens(pad, torch.zeros(1, dtype=torch.int64))[0].numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--max-train", type=int, default=1000)
    ap.add_argument("--codebooks", type=int, default=dc.CODEBOOKS, help="content codebooks, one per band of oscillators "
                    "(two latents each); a trained codec in OUT keeps its own")
    args = ap.parse_args()
    dc.set_codebooks(args.codebooks)
    os.makedirs(args.out, exist_ok=True)
    log = run_log(args.out)
    train_names = pieces(args.data, "train_")[:args.max_train]
    all_names = pieces(args.data, "")
    final = os.path.join(args.out, "codec.pt")
    # A trained codec (e.g. the committed training/checkpoints/piano3-*/codec.pt) brings its own bank.
    trained = os.path.exists(final)
    codec = dc.load_codec(final) if trained else dc.Codec(fit_bank(args.data, train_names[:60], args.out, log))
    log(f"oscillators: {codec.n_osc}; parameters: {sum(p.numel() for p in codec.parameters())}")
    analyse_all(args.data, all_names, args.out, codec.cycles)
    if not trained:
        train(codec, Corpus(args.data, args.out, train_names), args.out, args.steps, log)
        save_atomic(final, {"B": codec.B.numpy(), "model": codec.state_dict()})
    codec.eval()
    tokenize(codec, args.out, all_names)
    dev = [n for n in all_names if n.startswith("eval_")]
    for name in dev:
        z = np.load(os.path.join(args.out, "tokens", name + ".npz"))
        y = torch.tensor(resynthesize(codec, z["tokens"]))[None]
        x, _ = read_wav(os.path.join(args.data, name + ".wav"))
        x = torch.tensor(x[:y.shape[1]])[None]
        log(f"codec bound {name}: audio loss {audio_loss(y, x).item():.4f}")
    open(os.path.join(args.out, "DONE"), "w").write("ok\n")


if __name__ == "__main__":
    main()
