#!/usr/bin/python3
"""Evaluate packages on MIDI they never saw, rendered by the ENGINE, against FluidSynth.

    /usr/bin/python3 training/evaluate.py --data training/work3/data --pieces test_ \
        --codec training/work3/codec/codec.pt --model new=models/piano3 --model 2.2.0=models/piano \
        --out training/work3/eval_test [--engine ./sostenuto] [--card docs/model-card-piano3.md]

Pieces are DATA/PREFIX*.mid with their FluidSynth reference (training/gen_data.py): `eval_` is the
dev set (six random pieces and a velocity/repeat/pedal ladder), `test_` the test set that no design
choice reads, `real_` real piano music (MuseScore's demo scores played by the piano). Systems, side
by side with the FluidSynth reference:

* each --model LABEL=DIR - `sostenuto render PIECE.mid --model DIR` (48 kHz, resampled to 24 kHz here)
* analysis - a learned codec's oscillators driven straight by its analysis of the reference (no encoder,
            quantiser or decoder): the bound of the codec's front end, what its tokens could at best carry
* codec   - resynthesis of the reference through the codec (--codec): the upper bound of any LM on it.
            A learned codec (ddsp_codec.py, sostenuto-piano 3) decodes its tokens of the reference;
            the parametric codec of 2.x (pcodec.py) analyses with the MIDI, quantises and decodes
* sine    - additive sines (3 partials) driven by the same MIDI features: the lower bound

Metrics: log-mel L1 distance, multi-resolution STFT distance (spectral convergence +
log-magnitude L1, 3 resolutions), chroma cosine similarity (frames where the
reference sounds), note recall (the note's pitch reaches within 10 dB of the
reference's level in the 160 ms after its onset AND rises there, so repeated notes
must re-strike), spurious-pitch rate (pitch/frame activations of the render that
the reference lacks, ±1 semitone / ±2 frames tolerance), velocity-loudness
Spearman correlation (ladder: per pitch, averaged; pooled: every isolated note of every piece),
attack rise time (isolated notes: onset to 90 % of the peak of the 2-8 kHz envelope, median and
p90), silence leak (frames where the MIDI and the reference are silent but the render is above
-60 dBFS) and pedal sustain (level in the pedal-held tail of the ladder, render minus reference).
Writes OUT/results.json, OUT/results.md, spectrogram PNGs, and (with --card) replaces the
card's section between <!-- results:PREFIX --> and <!-- /results:PREFIX -->.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HOP, SR, feature_slice, load_audio_24k, midi_events, read_wav, write_wav  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- spectral helpers (numpy) ---------------------------------------------------
def stft_mag(x, n_fft, hop):
    w = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    x = np.pad(x, (n_fft // 2, n_fft // 2))
    n = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None] + hop * np.arange(n)[:, None]
    return np.abs(np.fft.rfft(x[idx] * w, axis=1)).astype(np.float32)      # [T, F]


_FB = {}


def mel_fb(n_fft, n_mels=80, fmin=20.0):
    """[n_mels, n_fft/2+1] triangular HTK-mel filterbank from fmin to Nyquist."""
    if (n_fft, n_mels) not in _FB:
        hz2mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
        mel2hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)
        pts = mel2hz(np.linspace(hz2mel(fmin), hz2mel(SR / 2), n_mels + 2))
        freqs = np.linspace(0, SR / 2, n_fft // 2 + 1)
        fb = np.zeros((n_mels, len(freqs)), np.float32)
        for i in range(n_mels):
            lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
            fb[i] = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
        _FB[(n_fft, n_mels)] = fb
    return _FB[(n_fft, n_mels)]


def logmel(x, n_fft=1024, hop=240):
    return np.log(stft_mag(x, n_fft, hop) @ mel_fb(n_fft).T + 1e-5)


def logmel_dist(a, b):
    return float(np.abs(logmel(a) - logmel(b)).mean())


def mrstft_dist(a, b):
    tot = 0.0
    for n, h in ((512, 128), (1024, 256), (2048, 512)):
        A, B = stft_mag(a, n, h) + 1e-7, stft_mag(b, n, h) + 1e-7
        tot += np.linalg.norm(A - B) / (np.linalg.norm(B) + 1e-7) + np.abs(np.log(A + 1e-5) - np.log(B + 1e-5)).mean()
    return float(tot / 3)


N_PITCH_FFT = 4096


def pitch_salience(x):
    """dB salience [frames(hop 480), 128 pitches]: STFT energy within +-0.5 semitone of the fundamental."""
    M = stft_mag(x, N_PITCH_FFT, HOP) ** 2
    freqs = np.arange(M.shape[1]) * SR / N_PITCH_FFT
    midi = 69 + 12 * np.log2(np.maximum(freqs, 1e-3) / 440.0)
    S = np.full((M.shape[0], 128), 1e-12, np.float32)
    for p in range(21, 109):
        sel = np.abs(midi - p) <= 0.5
        if sel.any():
            S[:, p] += M[:, sel].sum(1)
    return 10 * np.log10(S)


def chroma(x):
    M = stft_mag(x, N_PITCH_FFT, HOP) ** 2      # power spectrogram, as librosa's chroma_stft
    freqs = np.arange(M.shape[1]) * SR / N_PITCH_FFT
    ok = (freqs > 26) & (freqs < 4200)
    pc = np.round(69 + 12 * np.log2(freqs[ok] / 440.0)).astype(int) % 12
    Cm = np.zeros((M.shape[0], 12), np.float32)
    for c in range(12):
        Cm[:, c] = M[:, ok][:, pc == c].sum(1)
    return Cm


def chroma_sim(out, ref):
    A, B = chroma(out), chroma(ref)
    e = 20 * np.log10(np.abs(ref).reshape(-1, HOP).max(1) + 1e-9)
    n = min(len(A), len(B), len(e))
    mask = e[:n] > -50
    cos = (A[:n] * B[:n]).sum(1) / (np.linalg.norm(A[:n], axis=1) * np.linalg.norm(B[:n], axis=1) + 1e-9)
    return float(cos[mask].mean())


def active(S, rel_db, abs_db=-75):
    peak = (S >= np.roll(S, 1, 1)) & (S >= np.roll(S, -1, 1))       # local maximum across pitch
    return (S >= S.max(1, keepdims=True) - rel_db) & (S > abs_db) & peak


def spurious_rate(out, ref):
    So, Sr = pitch_salience(out), pitch_salience(ref)
    n = min(len(So), len(Sr))
    Ao = active(So[:n], 30)
    Ar = active(Sr[:n], 45, -85) | (Sr[:n] > So[:n] - 6)
    dil = Ar.copy()
    for dt in (-2, -1, 1, 2):
        dil |= np.roll(Ar, dt, 0)
    dil = dil | np.roll(dil, 1, 1) | np.roll(dil, -1, 1)
    spur = Ao & ~dil
    return int(spur.sum()), int(Ao.sum())


def notes_of(events):
    """[(onset_frame, pitch, velocity)] from the MIDI events."""
    return [(int(m // HOP), a, b) for m, kind, a, b in events if kind == "on"]


def note_recall(out, ref, notes):
    So, Sr = pitch_salience(out), pitch_salience(ref)
    n = min(len(So), len(Sr))
    hit = hit_level = 0
    for f, p, _ in notes:
        if f + 8 > n or f < 3:
            continue
        eo, er = So[f:f + 8, p].max(), Sr[f:f + 8, p].max()
        ro, rr = eo - So[f - 3:f, p].min(), er - Sr[f - 3:f, p].min()
        lvl = eo >= er - 10
        hit_level += lvl
        hit += lvl and (ro >= min(3.0, rr / 2) or rr < 1.0)   # a rise is required where the reference rises
    total = sum(1 for f, _, _ in notes if 3 <= f and f + 8 <= n)
    return hit, hit_level, total


def note_loudness(x, notes, iso=0.3):
    onsets = np.array([f for f, _, _ in notes])
    res = []
    for f, p, v in notes:
        others = np.abs(onsets - f) * HOP / SR
        if (others < iso).sum() > 1:
            continue
        seg = x[f * HOP:f * HOP + int(0.15 * SR)]
        if len(seg):
            res.append((p, v, 10 * np.log10(np.mean(seg ** 2) + 1e-12)))
    return res


def spearman(a, b):
    if len(a) < 3:
        return float("nan")
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def velocity_corr(x, notes):
    res = note_loudness(x, notes)
    per = []
    for p in sorted(set(r[0] for r in res)):
        sel = [r for r in res if r[0] == p]
        if len(sel) >= 5:
            per.append(spearman([r[1] for r in sel], [r[2] for r in sel]))
    pooled = spearman([r[1] for r in res], [r[2] for r in res])
    return (float(np.nanmean(per)) if per else float("nan")), pooled


def silence_leak(out, ref, feat):
    snd = feat[:, feature_slice("note_sounding")].astype(np.float32).max(1) > 0
    n = min(len(snd), len(out) // HOP, len(ref) // HOP)
    rpk = np.abs(ref[:n * HOP]).reshape(n, HOP).max(1)
    opk = np.abs(out[:n * HOP]).reshape(n, HOP).max(1)
    quiet = (~snd[:n]) & (rpk < 10 ** (-70 / 20))
    return int(((opk > 10 ** (-60 / 20)) & quiet).sum()), int(quiet.sum())


# --- renders ---------------------------------------------------------------------
def sine_render(feat, n):
    """Additive sines from the conditioning features: the lower bound."""
    T = feat.shape[0]
    snd = feat[:, feature_slice("note_sounding")].astype(np.float32)
    vel = feat[:, feature_slice("note_velocity")].astype(np.float32)
    age = feat[:, feature_slice("note_age")].astype(np.float32)
    t = np.arange(T * HOP) / SR
    y = np.zeros(T * HOP, np.float32)
    fr = np.arange(T) * HOP
    for p in np.nonzero(snd.max(0))[0]:
        f0 = 440.0 * 2 ** ((p - 69) / 12)
        env = snd[:, p] * vel[:, p] ** 2 * np.exp(-age[:, p] / (1.0 + 4.0 * (108 - p) / 87))
        e = np.interp(np.arange(T * HOP), fr, env).astype(np.float32)
        for h, a in ((1, 1.0), (2, 0.4), (3, 0.2)):
            if h * f0 < SR / 2:
                y += e * a * np.sin(2 * np.pi * h * f0 * t).astype(np.float32)
    return y[:n]


def find_engine(arg):
    if arg:
        return arg
    for cand in (os.path.join(ROOT, "sostenuto"), "/work/main/sostenuto"):
        dll = os.path.join(os.path.dirname(cand), "engine/Sostenuto.Cli/bin/Release/net10.0/sostenuto.dll")
        if os.path.exists(dll):
            return cand
    raise SystemExit("no built engine: run `make build` (the engine CLI renders the evaluation)")


def engine_render(engine, mid, wav, model, seed, extra):
    t0 = time.time()
    r = subprocess.run([engine, "render", mid, "-o", wav, "--model", model, "--seed", str(seed), "-f", "float"] + extra,
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"engine render failed: {r.stdout}\n{r.stderr}")
    speed = [l for l in r.stdout.splitlines() + r.stderr.splitlines() if "real time" in l]
    return load_audio_24k(wav), time.time() - t0, (speed[-1].strip() if speed else "")


def png(path, rows, labels):
    from PIL import Image, ImageDraw
    imgs = []
    lo, hi = -11.5, 1.5
    for M in rows:
        v = np.clip((M.T[::-1] - lo) / (hi - lo), 0, 1)
        r = np.clip(1.5 * v, 0, 1)
        g = np.clip(1.5 * v - 0.5, 0, 1)
        b = np.clip(np.where(v < 0.5, 2 * v, 2 - 2 * v) * 0.8 + 0.2 * v, 0, 1)
        rgb = (np.stack([r, g, b], -1) * 255).astype(np.uint8)
        im = Image.fromarray(rgb).resize((min(1400, rgb.shape[1]), 160))
        imgs.append(im)
    W = max(i.width for i in imgs)
    canvas = Image.new("RGB", (W, sum(i.height + 16 for i in imgs)), (255, 255, 255))
    y = 0
    d = ImageDraw.Draw(canvas)
    for im, lab in zip(imgs, labels):
        d.text((4, y + 2), lab, fill=(0, 0, 0))
        canvas.paste(im, (0, y + 16))
        y += im.height + 16
    canvas.save(path)


def attack_rises(x, ref, events, iso=0.3):
    """Rise times (ms) of isolated notes: onset to 90 % of the peak (within 100 ms) of the 2-8 kHz
    envelope (2 ms RMS). Notes whose reference envelope peaks under -70 dBFS are skipped."""
    notes = [(int(round(m)), a, b) for m, kind, a, b in events if kind == "on"]     # exact onset samples
    onsets = np.array([o for o, _, _ in notes])
    pre, post = int(0.02 * SR), int(0.12 * SR)
    freqs = np.fft.rfftfreq(pre + post, 1 / SR)
    band = (freqs >= 2000) & (freqs <= 8000)
    k = np.ones(48) / 48
    out = []
    for o, p, v in notes:
        if ((np.abs(onsets - o) / SR) < iso).sum() > 1:
            continue
        if o - pre < 0 or o + post > min(len(x), len(ref)):
            continue
        env = []
        for y in (x, ref):
            seg = np.fft.irfft(np.fft.rfft(y[o - pre:o + post]) * band, pre + post)
            env.append(np.sqrt(np.convolve(seg ** 2, k, mode="same")))
        if env[1][pre:pre + int(0.1 * SR)].max() < 10 ** (-70 / 20):
            continue
        e = env[0][pre:pre + int(0.1 * SR)]
        if e.max() <= 0:
            continue
        out.append(1000.0 * int(np.argmax(e >= 0.9 * e.max())) / SR)
    return out


def learned_codec_bound(codec_path, tokens_dir):
    """Resynthesis through the learned codec: decode its tokens of the reference."""
    from common import nice_torch
    nice_torch()
    import ddsp_codec as dc
    from train_codec import resynthesize
    codec = dc.load_codec(codec_path)

    def run(name, ref, silent, feat):
        z = np.load(os.path.join(tokens_dir, name + ".npz"))
        return np.clip(resynthesize(codec, z["tokens"]), -1, 1)
    return run


def learned_codec_front_end(codec_path):
    """The codec's oscillators played with the amplitudes its analysis read from the reference
    (CODEC's dir/an/NAME.npz, written by train_codec.py): no noise, atoms, encoder or quantiser."""
    from common import nice_torch
    torch = nice_torch()
    import ddsp_codec as dc
    codec = dc.load_codec(codec_path)
    an = os.path.join(os.path.dirname(codec_path), "an")

    def run(name, ref, silent, feat):
        z = np.load(os.path.join(an, name + ".npz"))
        amp = np.exp(z["osc"].astype(np.float32)) - 1e-4
        amp[z["silent"]] = 0.0                                   # the codec's own silence (its frames, not 20 ms ones)
        o = torch.tensor(np.concatenate([np.zeros_like(amp[:1]), amp]))[None]
        T = len(amp)
        with torch.no_grad():
            y = codec.synth(o, torch.zeros(1, T + 1, dc.N_NOISE), torch.zeros(1, T + 1, dc.N_ATOMS),
                            torch.zeros(1, dtype=torch.int64))[0].numpy()
        return np.clip(y, -1, 1)
    return run


def parametric_codec_bound(codec_path):
    """Resynthesis through 2.x's parametric codec (it reads the MIDI in its analysis)."""
    from common import nice_torch
    torch = nice_torch()
    from tokenize_data import encode, load_codec
    codec = load_codec(codec_path)

    def run(name, ref, silent, feat):
        with torch.no_grad():
            tok, _ = encode(codec, ref, silent, feat)
            return np.clip(codec.decode_tokens(torch.from_numpy(tok)[None])[0].numpy(), -1, 1)
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--pieces", default="eval_", help="piece name prefix: eval_ (dev), test_, real_")
    ap.add_argument("--codec", required=True, help="codec checkpoint for the resynthesis bound")
    ap.add_argument("--codec-tokens", default=None, help="tokens of a learned codec (default: CODEC's dir/tokens)")
    ap.add_argument("--model", action="append", required=True, help="LABEL=DIR (or DIR), repeatable")
    ap.add_argument("--out", required=True)
    ap.add_argument("--engine", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engine-args", default="", help="extra render options, e.g. '-t 0.7 --top-k 20'")
    ap.add_argument("--card", default=None, help="model card whose results section to rewrite")
    ap.add_argument("--png-dir", default=None)
    args = ap.parse_args()
    from common import nice_torch
    torch = nice_torch()
    os.makedirs(args.out, exist_ok=True)
    engine = find_engine(args.engine)
    models = [m.split("=", 1) if "=" in m else (os.path.basename(m.rstrip("/")), m) for m in args.model]
    front_end = None
    if "B" in torch.load(args.codec):
        bound = learned_codec_bound(args.codec, args.codec_tokens or os.path.join(os.path.dirname(args.codec), "tokens"))
        if os.path.isdir(os.path.join(os.path.dirname(args.codec), "an")):
            front_end = learned_codec_front_end(args.codec)
    else:
        bound = parametric_codec_bound(args.codec)
    labels = [l for l, _ in models]
    systems = labels + (["analysis"] if front_end else []) + ["codec", "sine"]
    titles = {"analysis": "codec front end (analysis to oscillators)", "codec": "codec resynthesis (upper bound)",
              "sine": "additive sines (lower bound)"}
    every = systems + ["reference"]
    acc = {s: {"logmel": [], "mrstft": [], "chroma": [], "hit": 0, "hit_level": 0, "notes": 0, "spur": 0, "act": 0,
               "leak": 0, "quiet": 0, "vel_pitch": float("nan"), "pedal_db": float("nan"), "loud": [], "rise": []}
           for s in every}
    speeds = []
    names = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(args.data, args.pieces + "*.mid")))
    names = [n for n in names if os.path.exists(os.path.join(args.data, n + ".npz"))]
    if not names:
        print(f"evaluate: no pieces {args.pieces}* in {args.data}; nothing to do")
        return
    for name in names:
        mid = os.path.join(args.data, name + ".mid")
        ref, _ = read_wav(os.path.join(args.data, name + ".wav"))
        d = np.load(os.path.join(args.data, name + ".npz"))
        feat, silent = d["feat"], d["silent"]
        events, _ = midi_events(mid)
        notes = notes_of(events)
        n = len(ref)
        outs = {}
        for label, path in models:
            y, secs, speed = engine_render(engine, mid, os.path.join(args.out, f"{name}.{label}.engine.wav"), path,
                                           args.seed, args.engine_args.split())
            speeds.append((name, label, n / SR, secs, speed))
            outs[label] = y
        if front_end:
            outs["analysis"] = front_end(name, ref, silent, feat)
        outs["codec"] = bound(name, ref, silent, feat)
        sine = sine_render(feat, n)
        outs["sine"] = sine * np.sqrt((ref ** 2).mean() / ((sine ** 2).mean() + 1e-12))
        outs["reference"] = ref
        for s, y in outs.items():
            y = np.pad(y, (0, max(0, n - len(y))))[:n].astype(np.float32)
            outs[s] = y
            write_wav(os.path.join(args.out, f"{name}.{s}.wav"), y)
            a = acc[s]
            a["logmel"].append(logmel_dist(y, ref))
            a["mrstft"].append(mrstft_dist(y, ref))
            a["chroma"].append(chroma_sim(y, ref))
            h, hl, t = note_recall(y, ref, notes)
            a["hit"] += h
            a["hit_level"] += hl
            a["notes"] += t
            sp, ac = spurious_rate(y, ref)
            a["spur"] += sp
            a["act"] += ac
            lk, q = silence_leak(y, ref, feat)
            a["leak"] += lk
            a["quiet"] += q
            a["loud"] += note_loudness(y, notes)
            a["rise"] += attack_rises(y, ref, events)
            if name == "eval_ladder":
                a["vel_pitch"], _ = velocity_corr(y, notes)
                # pedal section: the last 2.9 s before the pedal lifts hold released notes
                ped = [m for m, kind, c, v in events if kind == "cc" and c == 64]
                if len(ped) >= 2:
                    lo_, hi_ = int(ped[-1]) - int(1.5 * SR), int(ped[-1])
                    db = lambda z: 10 * np.log10(np.mean(z[lo_:hi_] ** 2) + 1e-12)
                    a["pedal_db"] = db(y) - db(ref)
        if name in ("eval_ladder", "eval_00", names[0]):
            pdir = args.png_dir or args.out
            os.makedirs(pdir, exist_ok=True)
            seg = slice(0, min(n, 12 * SR))
            png(os.path.join(pdir, f"spectrogram_{name}.png"), [logmel(outs[s][seg]) for s in ["reference"] + systems],
                ["FluidSynth reference"] + [f"engine render ({l})" for l in labels] +
                [titles[s] for s in systems[len(labels):]])
            # attack close-up: the first isolated note, 60 ms before to 400 ms after its onset
            iso = [f for f, _, _ in notes if sum(abs(g - f) * HOP / SR < 0.3 for g, _, _ in notes) == 1 and f > 5]
            if iso:
                o = iso[0] * HOP
                seg = slice(max(0, o - int(0.06 * SR)), o + int(0.4 * SR))
                png(os.path.join(pdir, f"attack_{name}.png"),
                    [logmel(outs[s][seg], n_fft=512, hop=48) for s in ["reference"] + systems],
                    ["FluidSynth reference"] + [f"engine render ({l})" for l in labels] +
                    [titles[s] for s in systems[len(labels):]])
        print(f"{name}: logmel " + ", ".join(f"{s} {acc[s]['logmel'][-1]:.3f}" for s in systems), flush=True)
    res = {}
    for s in every:
        a = acc[s]
        rise = np.array(a["rise"]) if a["rise"] else np.array([np.nan])
        res[s] = {"log_mel_distance": float(np.mean(a["logmel"])), "mr_stft_distance": float(np.mean(a["mrstft"])),
                  "chroma_similarity": float(np.mean(a["chroma"])),
                  "note_recall": a["hit"] / max(1, a["notes"]), "note_recall_level_only": a["hit_level"] / max(1, a["notes"]),
                  "spurious_pitch_rate": a["spur"] / max(1, a["act"]),
                  "velocity_loudness_spearman_per_pitch": a["vel_pitch"],
                  "velocity_loudness_spearman_pooled": spearman([r[1] for r in a["loud"]], [r[2] for r in a["loud"]]),
                  "attack_rise_ms_median": float(np.median(rise)), "attack_rise_ms_p90": float(np.percentile(rise, 90)),
                  "attack_notes": len(a["rise"]),
                  "silence_leak_frames": a["leak"], "silent_frames": a["quiet"], "pedal_tail_db_vs_ref": a["pedal_db"]}
    res["_engine_speed"] = [{"piece": p, "model": m, "audio_s": round(a, 2), "wall_s": round(w, 2), "engine": s}
                            for p, m, a, w, s in speeds]
    res["_settings"] = {"models": dict(models), "pieces": args.pieces, "seed": args.seed,
                        "engine_args": args.engine_args, "notes": acc["reference"]["notes"]}
    json.dump(res, open(os.path.join(args.out, "results.json"), "w"), indent=1)
    rows = [("log-mel distance (lower is better)", "log_mel_distance", "{:.3f}"),
            ("multi-resolution STFT distance", "mr_stft_distance", "{:.3f}"),
            ("chroma similarity", "chroma_similarity", "{:.3f}"),
            ("note recall (level and re-strike)", "note_recall", "{:.1%}"),
            ("note recall (level only)", "note_recall_level_only", "{:.1%}"),
            ("spurious-pitch rate", "spurious_pitch_rate", "{:.1%}"),
            ("velocity-loudness Spearman (ladder, per pitch)", "velocity_loudness_spearman_per_pitch", "{:.3f}"),
            ("velocity-loudness Spearman (pooled, isolated notes)", "velocity_loudness_spearman_pooled", "{:.3f}"),
            ("attack rise, median (ms)", "attack_rise_ms_median", "{:.1f}"),
            ("attack rise, p90 (ms)", "attack_rise_ms_p90", "{:.1f}"),
            ("silence leak (frames > -60 dBFS / silent frames)", None, None),
            ("pedal tail level vs reference (dB)", "pedal_tail_db_vs_ref", "{:+.1f}")]
    heads = [f"engine: {l}" for l in labels] + [titles[s] for s in systems[len(labels):]] + ["FluidSynth reference"]
    md = ["| metric | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for label, key, fmt in rows:
        if key is None:
            cells = [f"{res[s]['silence_leak_frames']} / {res[s]['silent_frames']}" for s in every]
        else:
            cells = ["—" if res[s][key] != res[s][key] else fmt.format(res[s][key]) for s in every]
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    md.append("")
    for label in labels:
        tot_a = sum(a for _, m, a, _, _ in speeds if m == label)
        tot_w = sum(w for _, m, _, w, _ in speeds if m == label)
        md.append(f"- {label}: engine `render` wall time {tot_w:.1f} s for {tot_a:.0f} s of audio, including process "
                  f"start-up ({tot_a / max(tot_w, 1e-9):.1f}x real time on this shared machine).")
    md.append(f"- {len(names)} pieces `{args.pieces}*`, {acc['reference']['notes']} notes, "
              f"{res['reference']['attack_notes']} isolated attacks; seed {args.seed}"
              f"{', ' + args.engine_args if args.engine_args else ''}.")
    text = "\n".join(md) + "\n"
    open(os.path.join(args.out, "results.md"), "w").write(text)
    print(text)
    if args.card and os.path.exists(args.card):
        card = open(args.card).read()
        a, b = f"<!-- results:{args.pieces} -->", f"<!-- /results:{args.pieces} -->"
        if a in card and b in card:
            card = card[:card.index(a) + len(a)] + "\n" + text + card[card.index(b):]
            open(args.card, "w").write(card)


if __name__ == "__main__":
    main()
