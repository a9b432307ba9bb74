#!/usr/bin/python3
"""Stage 5: export the trained codec decoder and LM to a Sostenuto model package.

    /usr/bin/python3 training/export_piano.py --codec training/work/codec/codec.pt --lm training/work/lm/lm.pt --out models/piano

Writes OUT/model.json, OUT/lm_step.onnx, OUT/decoder.onnx (docs/model-format.md,
opset 17, dim 0 "batch") and verifies them, failing loudly on any mismatch:
onnx.checker and every manifest tensor against the graphs (as export_fixture.py);
the streaming LM step equals the parallel training model; both graphs run by the
real ONNX Runtime (ctypes, the engine's library) equal PyTorch; silence tokens
decode to exact 0.0; decoding in the engine's chunks (window/chunk/overlap)
equals decoding the whole sequence at once; a second export is byte-identical.
"""
import argparse
import json
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import C, CLOCK_PERIOD, FEATURES, HOP, K, K_CONTENT, LOOKAHEAD, SR, V, nice_torch  # noqa: E402

torch = nice_torch()
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from codec import BINS, DEC_KERNEL, DEC_RF, N_FFT, SUB_HOP, SUBS, Codec, clock_phase  # noqa: E402
from export_fixture import check_against_manifest, format_json  # noqa: E402
from lm import DIM, STATE_FRAMES, PianoLM, PianoLMStep  # noqa: E402

OPSET = 17
CHUNK = 8
OVERLAP = 0                    # the decoder is causal: no cross-fade needed
# Left context >= the decoder's receptive field: 1 frame for the parametric decoder
# (amplitudes interpolate from frame f-1), DEC_RF frames for the neural one.
WINDOWS = {"parametric": CHUNK + OVERLAP + 2, "neural": CHUNK + OVERLAP + 12}
assert WINDOWS["neural"] - CHUNK - OVERLAP >= DEC_RF
WINDOW = WINDOWS["parametric"]  # set from the codec checkpoint in main()

SOURCES = [
    {"name": "Procedurally generated MIDI (training/gen_data.py, seeds 1000.. and 900000..)", "license": "MIT"},
    {"name": "FluidR3_GM.sf2 Acoustic Grand Piano by Frank Wen et al. (Debian fluid-soundfont-gm 3.1)", "license": "MIT"},
    {"name": "Rendered with FluidSynth 2 (LGPL-2.1-or-later; a tool, not part of the model)", "license": "LGPL-2.1-or-later"},
]


class DecoderExport(nn.Module):
    """tokens [B,K,W] -> audio [B,1,W*HOP]; pure function of the window."""

    def __init__(self, codec):
        super().__init__()
        self.dec = codec.decoder
        self.register_buffer("codebooks", codec.rvq.codebooks.clone())
        self.register_buffer("offsets", (torch.arange(K_CONTENT, dtype=torch.int64) * V).reshape(1, K_CONTENT, 1))

    def forward(self, tokens):
        W = WINDOW                 # a Python constant, so every slice below exports static
        zq = F.embedding(tokens[:, :K_CONTENT] + self.offsets,
                         self.codebooks.reshape(K_CONTENT * V, -1)).sum(1)                  # [B, W, D]
        live = (tokens[:, 0] != 0).to(torch.float32).unsqueeze(2)                           # [B, W, 1]
        d = self.dec
        h = d.inp(zq.transpose(1, 2))
        for blk in d.blocks:
            # causal conv as symmetric padding + keep the first W outputs (F.pad would lose static shapes)
            n = blk.norm(h.transpose(1, 2)).transpose(1, 2)
            c = F.conv1d(n, blk.conv.weight, blk.conv.bias, padding=DEC_KERNEL - 1)[:, :, :W]
            h = h + blk.pw(F.gelu(c))
        hid = d.norm(h.transpose(1, 2))                                                     # [B, W, DEC_DIM]
        # harmonic branch: oscillator phases from the clock codebook (int64, exact)
        a = torch.exp(torch.clamp(d.harm(hid), max=5.0) - 6.0) * live                      # [B, W, O]
        a_prev = torch.cat([a[:, :1] * 0.0, a[:, :W - 1]], 1)
        ph = clock_phase(tokens[:, K - 1], d.osc_m)
        c, s_ = torch.cos(ph), torch.sin(ph)
        out = torch.matmul(torch.cat([a_prev * c, a_prev * s_, a * c, a * s_], 2), d.hbasis)  # [B, W, HOP]
        # noise/transient branch: iSTFT of two sub-frames per frame, phases from a constant table
        h = torch.exp(torch.clamp(d.head(hid), max=6.0)) * live                             # [B, W, SUBS*BINS]
        nph = F.embedding(tokens[:, K - 1], d.noise_phase)                                  # [B, W, SUBS*BINS]
        basis = d.basis[:, 0, :]                                                            # [2*BINS, N_FFT]
        for s in range(SUBS):
            # Only constant slices and cat below, so the exported shapes stay static.
            mag = h[:, :, s * BINS:(s + 1) * BINS]
            ph = nph[:, :, s * BINS:(s + 1) * BINS]
            frames = torch.matmul(torch.cat([mag * torch.cos(ph), mag * torch.sin(ph)], 2), basis)  # [B, W, N_FFT]
            # sub-frame s of token frame f starts at sample f*HOP + s*SUB_HOP: overlap-add in HOP blocks
            # (zeros are made as x[..] * 0 and joined with cat: F.pad exports computed pads, losing static shapes)
            front = s * SUB_HOP
            back = (-(front + N_FFT)) % HOP
            parts = ([frames[:, :, :front] * 0.0] if front else []) + [frames] + ([frames[:, :, :back] * 0.0] if back else [])
            frames = torch.cat(parts, 2) if len(parts) > 1 else frames
            for blk in range(frames.shape[2] // HOP):
                part = frames[:, :, blk * HOP:(blk + 1) * HOP]                              # lands in frame f+blk
                if blk:
                    part = torch.cat([part[:, :blk] * 0.0, part[:, :W - blk]], 1)
                out = out + part
        return torch.clamp(out, -1.0, 1.0).flatten(1).unsqueeze(1)                          # [B, 1, W*HOP]


def manifest(args):
    state_shape = ["batch", STATE_FRAMES, DIM]
    return {
        "format": "sostenuto-model",
        "formatVersion": 1,
        "name": "sostenuto-piano",
        "version": args.version,
        "description": ("Piano trained in this repository (training/build_default.sh): a causal dilated-convolution "
                        "token LM conditioned on MIDI, over a parametric codec (438 piano-partial oscillators, "
                        "log-amplitudes quantised by a 4x512 k-means residual VQ, plus a frame-clock codebook that "
                        "keeps oscillator phases continuous), trained on FluidSynth renders of procedurally "
                        "generated piano MIDI. See docs/model-card.md."),
        "license": "MIT",
        "untrained": False,
        "sources": SOURCES,
        "audio": {"sampleRate": SR, "channels": 1, "hopLength": HOP},
        "codec": {"codebooks": K, "codebookSize": V, "silenceTokens": [0] * K},
        "conditioning": {"lookaheadFrames": LOOKAHEAD, "features": FEATURES},
        "sampling": {"temperature": args.temperature, "topK": args.top_k, "topP": args.top_p},
        "lm": {
            "file": "lm_step.onnx",
            "inputs": [
                {"name": "tokens", "role": "tokens", "type": "int64", "shape": ["batch", K]},
                {"name": "cond", "role": "conditioning", "type": "float32", "shape": ["batch", LOOKAHEAD + 1, C]},
                {"name": "state_in", "role": "state", "type": "float32", "shape": state_shape, "stateOutput": "state_out"},
            ],
            "outputs": [
                {"name": "logits", "role": "logits", "type": "float32", "shape": ["batch", K, V]},
                {"name": "state_out", "role": "state", "type": "float32", "shape": state_shape},
            ],
        },
        "decoder": {
            "file": "decoder.onnx",
            "windowFrames": WINDOW,
            "chunkFrames": CHUNK,
            "overlapFrames": OVERLAP,
            "inputs": [{"name": "tokens", "role": "tokens", "type": "int64", "shape": ["batch", K, WINDOW]}],
            "outputs": [{"name": "audio", "role": "audio", "type": "float32", "shape": ["batch", 1, WINDOW * HOP]}],
        },
    }


def load(args):
    from tokenize_data import load_codec
    codec = load_codec(args.codec)
    lm = PianoLM()
    lm.load_state_dict(torch.load(args.lm)["model"])
    return codec.eval(), lm.eval()


def export_onnx(module, ex, path, ins, outs):
    torch.onnx.export(module, ex, path, opset_version=OPSET, input_names=ins, output_names=outs,
                      dynamic_axes={n: {0: "batch"} for n in ins + outs}, do_constant_folding=True)


def write_package(out, codec, lm, man):
    os.makedirs(out, exist_ok=True)
    if getattr(codec, "kind", "") == "parametric":
        from pcodec import PDecoderExport
        dec = PDecoderExport(codec, WINDOW).eval()
    else:
        dec = DecoderExport(codec).eval()
    step = PianoLMStep(lm).eval()
    with torch.no_grad():
        export_onnx(step, (torch.zeros(1, K, dtype=torch.int64), torch.zeros(1, LOOKAHEAD + 1, C),
                           torch.zeros(1, STATE_FRAMES, DIM)),
                    os.path.join(out, "lm_step.onnx"), ["tokens", "cond", "state_in"], ["logits", "state_out"])
        export_onnx(dec, (torch.zeros(1, K, WINDOW, dtype=torch.int64),), os.path.join(out, "decoder.onnx"),
                    ["tokens"], ["audio"])
    with open(os.path.join(out, "model.json"), "w") as f:
        f.write(format_json(man) + "\n")
    return step, dec


def chunked_decode(run_window, tokens):
    """The engine's chunking (docs/model-format.md) over tokens [K, T] -> audio [T*HOP]."""
    T = tokens.shape[1]
    n_chunks = T // CHUNK
    out = np.zeros(n_chunks * CHUNK * HOP, np.float32)
    for c in range(n_chunks):
        lo = (c + 1) * CHUNK - WINDOW
        win = np.zeros((K, WINDOW), np.int64)
        for i in range(WINDOW):
            if lo + i >= 0:
                win[:, i] = tokens[:, lo + i]
        a = run_window(win)
        keep = (WINDOW - CHUNK - OVERLAP) * HOP
        out[(c * CHUNK - OVERLAP) * HOP + OVERLAP * HOP:(c + 1) * CHUNK * HOP] = a[keep + OVERLAP * HOP:]
    return out


def verify(out, codec, lm, man, step, dec, tokdir):
    from ort_ctypes import Ort
    ok = True

    def check(cond, msg):
        nonlocal ok
        print(("  ok   " if cond else "  FAIL ") + msg, flush=True)
        ok = ok and bool(cond)

    print("manifest vs ONNX graphs:")
    check_against_manifest(os.path.join(out, "lm_step.onnx"), man["lm"])
    check_against_manifest(os.path.join(out, "decoder.onnx"), man["decoder"])

    import glob
    from train_lm import prev_tokens, windows
    d = np.load(sorted(glob.glob(os.path.join(tokdir, "eval_*.npz")))[0])
    tok = d["tokens"].astype(np.int64)                 # [K, T]
    feat = d["feat"]
    T = 96
    f0 = int(np.argmax(tok[0] != 0))                   # start where there is sound
    f0 = max(0, min(f0, tok.shape[1] - T - 1))
    seg = tok[:, f0:f0 + T]
    ort = Ort()

    # LM: streaming step (torch and ORT) == parallel model
    prev = prev_tokens(tok.T, 0, f0 + T)
    cw = windows(feat, 0, f0 + T)
    with torch.no_grad():
        full = lm(torch.from_numpy(prev)[None], torch.from_numpy(cw)[None])[0].numpy()   # [T, K, V]
    sess = ort.session(os.path.join(out, "lm_step.onnx"))
    st_t = torch.zeros(1, STATE_FRAMES, DIM)
    st_o = np.zeros((1, STATE_FRAMES, DIM), np.float32)
    d_t = d_o = 0.0
    clock_ok = True
    for f in range(f0 + T):
        with torch.no_grad():
            lt, st_t = step(torch.from_numpy(prev[f:f + 1]), torch.from_numpy(cw[f:f + 1]), st_t)
        lo, st_o = ort.run(sess, {"tokens": prev[f:f + 1], "cond": cw[f:f + 1], "state_in": st_o},
                           [("logits", (1, K, V)), ("state_out", (1, STATE_FRAMES, DIM))])
        d_t = max(d_t, float(np.abs(lt[0, :K_CONTENT].numpy() - full[f]).max()))
        d_o = max(d_o, float(np.abs(lo[0, :K_CONTENT] - full[f]).max()))
        clock_ok = clock_ok and int(lo[0, K - 1].argmax()) == int(tok[K - 1, f]) and \
            float(np.sort(lo[0, K - 1])[-1] - np.sort(lo[0, K - 1])[-2]) >= 40

    check(d_t < 1e-3, f"torch LM step x{f0 + T} == parallel LM (max |d| {d_t:.2e})")
    check(d_o < 1e-3, f"lm_step.onnx (ORT) x{f0 + T} == parallel LM (max |d| {d_o:.2e})")
    check(clock_ok, "clock codebook: the step's argmax is the next clock token, by a margin >= 40 logits")
    lb = ort.run(sess, {"tokens": np.repeat(prev[f0:f0 + 1], 3, 0), "cond": np.repeat(cw[f0:f0 + 1], 3, 0),
                        "state_in": np.zeros((3, STATE_FRAMES, DIM), np.float32)},
                 [("logits", (3, K, V)), ("state_out", (3, STATE_FRAMES, DIM))])[0]
    check(np.abs(lb - lb[0:1]).max() < 1e-5, "lm_step.onnx runs with batch 3")

    # Decoder: ORT window == torch; silence exact; chunked == whole
    dsess = ort.session(os.path.join(out, "decoder.onnx"))
    run_ort = lambda w: ort.run(dsess, {"tokens": w[None]}, [("audio", (1, 1, WINDOW * HOP))])[0][0, 0]
    win = seg[:, :WINDOW].copy()
    with torch.no_grad():
        a_t = dec(torch.from_numpy(win)[None])[0, 0].numpy()
        a_fft = codec.decode_tokens(torch.from_numpy(win)[None])[0].numpy()
    a_o = run_ort(win)
    check(np.abs(a_o - a_t).max() < 1e-4, f"decoder.onnx (ORT) == torch export module (max |d| {np.abs(a_o - a_t).max():.2e})")
    check(np.abs(np.clip(a_fft, -1, 1) - a_t).max() < 1e-4,
          f"export module == the decoder used in training/tokenizing (max |d| {np.abs(np.clip(a_fft, -1, 1) - a_t).max():.2e})")
    sil = np.zeros((K, WINDOW), np.int64)
    sil[K - 1] = np.arange(WINDOW) % CLOCK_PERIOD + 1                   # silent sound tokens, running clock
    check(bool((run_ort(sil) == 0.0).all()), "all-silence window decodes to exactly 0.0 (ORT)")
    mixed = win.copy()
    mixed[:K_CONTENT, WINDOW - 5:] = 0
    check(bool((run_ort(mixed)[(WINDOW - 3) * HOP:] == 0.0).all()) and bool((run_ort(mixed)[:(WINDOW - 5) * HOP] != 0).any()),
          "sound then silence tokens: from the 3rd silent frame on the audio is exactly 0.0 (ORT)")
    whole = tok[:, :f0 + T]
    with torch.no_grad():
        ref = np.clip(codec.decode_tokens(torch.from_numpy(whole)[None])[0].numpy(), -1, 1)
    ch = chunked_decode(run_ort, whole)
    n = len(ch)
    dd = float(np.abs(ch - ref[:n]).max())
    check(dd < 1e-4, f"engine-style chunked decoding (W={WINDOW}, P={CHUNK}, O={OVERLAP}) == whole-sequence decode "
                     f"(max |d| {dd:.2e} over {n // HOP} frames)")
    if not ok:
        raise SystemExit("verification FAILED")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", required=True)
    ap.add_argument("--lm", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "work", "tokens"))
    ap.add_argument("--version", default="1.0.0")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--no-determinism-check", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    codec, lm = load(args)
    global WINDOW
    WINDOW = WINDOWS["parametric" if getattr(codec, "kind", "") == "parametric" else "neural"]
    man = manifest(args)
    step, dec = write_package(args.out, codec, lm, man)
    print(f"wrote {args.out}: " + ", ".join(f"{n} ({os.path.getsize(os.path.join(args.out, n)) / 1e6:.2f} MB)"
                                           for n in ("model.json", "lm_step.onnx", "decoder.onnx")))
    verify(args.out, codec, lm, man, step, dec, args.tokens)
    if not args.no_determinism_check:
        with tempfile.TemporaryDirectory() as tmp:
            write_package(tmp, codec, lm, man)
            same = all(open(os.path.join(tmp, n), "rb").read() == open(os.path.join(args.out, n), "rb").read()
                       for n in ("model.json", "lm_step.onnx", "decoder.onnx"))
        print(("  ok   " if same else "  FAIL ") + "second export is byte-identical")
        if not same:
            raise SystemExit("export is not deterministic")
    print("piano package OK")


if __name__ == "__main__":
    main()
