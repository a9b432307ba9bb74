#!/usr/bin/python3
"""Stage 5: export the trained codec decoder and LM to a Sostenuto model package.

    /usr/bin/python3 training/export_piano.py --codec training/work/codec/codec.pt --lm training/work/lm/lm.pt --out models/piano

Writes OUT/model.json, OUT/lm_step.onnx, OUT/decoder.onnx (docs/model-format.md,
opset 17, dim 0 "batch") and verifies them, failing loudly on any mismatch:
onnx.checker and every manifest tensor against the graphs (as export_fixture.py);
the streaming LM step equals the parallel training model; both graphs run by the
real ONNX Runtime (the engine's, through `sostenuto onnx-run`) equal PyTorch; silence tokens
decode to exact 0.0; decoding in the engine's chunks (window/chunk/overlap)
equals decoding the whole sequence at once; a second export is byte-identical.
"""
import argparse
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import C, CLOCK_PERIOD, FEATURES, HOP, K, K_CONTENT, LOOKAHEAD, SR, V, nice_torch  # noqa: E402

torch = nice_torch()

from pcodec import PDecoderExport  # noqa: E402
from export_fixture import check_against_manifest, declare_static_dims, export, format_json  # noqa: E402
from lm import STATE, PianoLM, PianoLMStep  # noqa: E402
from oscillators import KEYS  # noqa: E402

CHUNK = 2                      # 40 ms: a live splice waits for at most 2 frames of generation before it can decode
OVERLAP = 0                    # the decoder is causal: no cross-fade needed
# Left context >= the decoder's receptive field (1 frame: amplitudes interpolate from frame f-1).
WINDOW = CHUNK + OVERLAP + 2

SOURCES = [
    {"name": "Procedurally generated MIDI (training/gen_data.py, seeds 1000.. and 900000..)", "license": "MIT"},
    {"name": "FluidR3_GM.sf2 Acoustic Grand Piano by Frank Wen et al. (Debian fluid-soundfont-gm 3.1)", "license": "MIT"},
    {"name": "Rendered with FluidSynth 2 (LGPL-2.1-or-later; a tool, not part of the model)", "license": "LGPL-2.1-or-later"},
]


def manifest(args):
    state_shape = ["batch", KEYS, STATE]
    return {
        "format": "sostenuto-model",
        "formatVersion": 1,
        "name": "sostenuto-piano",
        "version": args.version,
        "description": ("Piano trained in this repository (training/build_default.sh): a key-factorised "
                        "autoregressive token model conditioned on MIDI (one small network shared by the 88 keys, "
                        "reading the previous frame's tokens and its own per-key levels; a distance head over the "
                        "codec's codebooks gives the logits), over a parametric codec (438 piano-partial oscillators, "
                        "log-amplitudes quantised by a k-means product VQ of 32 bands x 512, plus a frame-clock codebook that "
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
    lm = PianoLM(codec.codebooks)
    lm.load_state_dict(torch.load(args.lm)["model"])
    return codec.eval(), lm.eval()


def write_package(out, codec, lm, man):
    os.makedirs(out, exist_ok=True)
    dec = PDecoderExport(codec, WINDOW).eval()
    step = PianoLMStep(lm).eval()
    with torch.no_grad():
        export(step, (torch.zeros(1, K, dtype=torch.int64), torch.zeros(1, LOOKAHEAD + 1, C),
                           torch.zeros(1, KEYS, STATE)),
                    os.path.join(out, "lm_step.onnx"), ["tokens", "cond", "state_in"], ["logits", "state_out"])
        declare_static_dims(os.path.join(out, "lm_step.onnx"), "state_out", [KEYS, STATE])
        export(dec, (torch.zeros(1, K, WINDOW, dtype=torch.int64),), os.path.join(out, "decoder.onnx"),
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


class EngineOrt:
    """Runs ONNX graphs in the engine's ONNX Runtime: one `sostenuto onnx-run` process per graph
    (needs `make build`), fed .npz requests; run() returns the named outputs, reshaped."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="sostenuto-verify-")
        self.cli = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sostenuto")

    def session(self, path):
        import subprocess
        return subprocess.Popen([self.cli, "onnx-run", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, sess, feeds, outputs):
        i, o = os.path.join(self.tmp, "in.npz"), os.path.join(self.tmp, "out.npz")
        np.savez(i, **{k: np.ascontiguousarray(v) for k, v in feeds.items()})
        sess.stdin.write(f"{i}\t{o}\n")
        sess.stdin.flush()
        reply = sess.stdout.readline().strip()
        if reply != "ok":
            raise SystemExit(f"sostenuto onnx-run: {reply or 'no answer'}")
        with np.load(o) as r:
            return [r[name].reshape(shape) for name, shape in outputs]


def verify(out, codec, lm, man, step, dec, tokdir):
    ok = True

    def check(cond, msg):
        nonlocal ok
        print(("  ok   " if cond else "  FAIL ") + msg, flush=True)
        ok = ok and bool(cond)

    print("manifest vs ONNX graphs:")
    check_against_manifest(os.path.join(out, "lm_step.onnx"), man["lm"])
    check_against_manifest(os.path.join(out, "decoder.onnx"), man["decoder"])

    import glob
    d = np.load(sorted(glob.glob(os.path.join(tokdir, "eval_*.npz")))[0])
    tok = d["tokens"].astype(np.int64)                 # [K, T]
    feat = d["feat"]
    T = 96
    f0 = int(np.argmax(tok[0] != 0))                   # start where there is sound
    f0 = max(0, min(f0, tok.shape[1] - T - 1))
    seg = tok[:, f0:f0 + T]
    ort = EngineOrt()

    # LM: streaming step (torch and ORT) == the teacher-forced training model
    n = f0 + T
    toks = np.concatenate([np.zeros((1, K), np.int64), tok.T[:n]])         # frame -1 is silence
    featp = np.concatenate([feat, np.zeros((LOOKAHEAD, feat.shape[1]), feat.dtype)]).astype(np.float32)
    cw = np.stack([featp[f:f + LOOKAHEAD + 1] for f in range(n)])
    prev = toks[:n]
    with torch.no_grad():
        y, sil, _, _ = lm(torch.from_numpy(prev)[None], torch.from_numpy(cw)[None], 0)
        full = lm.token_logits(y[0], sil[0], torch.from_numpy(prev[:, K - 1:K]), torch.from_numpy(cw)).numpy()   # [n, K, V]
    S = (1, KEYS, STATE)
    sess = ort.session(os.path.join(out, "lm_step.onnx"))
    st_t = torch.zeros(S)
    st_o = np.zeros(S, np.float32)
    d_t = d_o = 0.0
    clock_ok = True
    for f in range(n):
        with torch.no_grad():
            lt, st_t = step(torch.from_numpy(prev[f:f + 1]), torch.from_numpy(cw[f:f + 1]), st_t)
        lo, st_o = ort.run(sess, {"tokens": prev[f:f + 1], "cond": cw[f:f + 1], "state_in": st_o},
                           [("logits", (1, K, V)), ("state_out", S)])
        # compare where it matters (within 60 logits of the best: everything else has probability 0)
        rel = lambda a: np.maximum(a - a.max(-1, keepdims=True), -60)
        d_t = max(d_t, float(np.abs(rel(lt[0].numpy()) - rel(full[f])).max()))
        d_o = max(d_o, float(np.abs(rel(lo[0]) - rel(full[f])).max()))
        clock_ok = clock_ok and int(lo[0, K - 1].argmax()) == int(tok[K - 1, f]) and \
            float(np.sort(lo[0, K - 1])[-1] - np.sort(lo[0, K - 1])[-2]) >= 40

    # The logits are beta times squared distances that float32 computes to ~1e-6 (|y|^2 - 2yc + |c|^2).
    tol = max(1e-2, 1e-6 * float(lm.beta))
    check(d_t < tol, f"torch LM step x{n} == teacher-forced LM (max |d| {d_t:.2e} logits, tolerance {tol:.2e})")
    check(d_o < tol, f"lm_step.onnx (ORT) x{n} == teacher-forced LM (max |d| {d_o:.2e} logits, tolerance {tol:.2e})")
    check(clock_ok, "clock codebook: the step's argmax is the next clock token, by a margin >= 40 logits")
    lb = ort.run(sess, {"tokens": np.repeat(prev[f0:f0 + 1], 3, 0), "cond": np.repeat(cw[f0:f0 + 1], 3, 0),
                        "state_in": np.zeros((3,) + S[1:], np.float32)},
                 [("logits", (3, K, V)), ("state_out", (3,) + S[1:])])[0]
    check(np.abs(lb - lb[0:1]).max() < 1e-4, "lm_step.onnx runs with batch 3")

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
    mixed[:K_CONTENT, WINDOW - 2:] = 0                 # frame f sounds from f-1's tokens to f's: the last frame is silent
    a_mixed = run_ort(mixed)
    check(bool((a_mixed[(WINDOW - 1) * HOP:] == 0.0).all()) and bool((a_mixed[:(WINDOW - 2) * HOP] != 0).any()),
          "sound then silence tokens: from the 2nd silent frame on the audio is exactly 0.0 (ORT)")
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
    ap.add_argument("--version", default="2.2.0")
    ap.add_argument("--temperature", type=float, default=0.1)
    ap.add_argument("--top-k", type=int, default=0)
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--no-determinism-check", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    codec, lm = load(args)
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
