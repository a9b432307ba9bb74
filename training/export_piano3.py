#!/usr/bin/python3
"""Stage 4 of sostenuto-piano 3: export the learned codec's decoder and the token LM as a package.

    /usr/bin/python3 training/export_piano3.py --codec training/work3/codec/codec.pt \\
        --lm training/work3/lm/lm.pt --out models/piano3

Writes OUT/model.json, OUT/lm_step.onnx and OUT/decoder.onnx (docs/model-format.md, opset 17,
dim 0 "batch") and checks them, failing loudly on a mismatch: onnx.checker and every manifest
tensor against the graphs; the streaming LM step equals the teacher-forced training model on a
dev piece; silence tokens decode to exact 0.0; decoding in the engine's chunks (window, chunk,
overlap, linear cross-fade) against decoding the whole piece at once, within CHUNKED_TOLERANCE_DB.
The engine itself (`sostenuto info`, then evaluate.py's renders) runs the graphs in ONNX Runtime.
"""
import argparse
import glob
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import C, FEATURES, nice_torch  # noqa: E402

torch = nice_torch()
import ddsp_codec as dc  # noqa: E402
from export_fixture import check_against_manifest, declare_static_dims, export, format_json  # noqa: E402
from token_lm import HIDDEN, LOOKAHEAD, TokenLMStep, load_lm  # noqa: E402
from train_codec import resynthesize  # noqa: E402
from train_token_lm import history, windows  # noqa: E402

VERSION = "3.2.1"
SAMPLING = {"temperature": 1.0, "topK": 0, "topP": 0.95}   # chosen on the dev set (eval_*) by training/sweep_sampling.sh: docs/model-card-piano3.md, "Sampling"
# Chunked against whole decoding: the difference (only inside the cross-faded overlap frames,
# where the earlier chunk had no lookahead yet) must stay this far below the signal.
CHUNKED_TOLERANCE_DB = -20.0

SOURCES = [
    {"name": "Procedurally generated MIDI (training/gen_data.py, seeds 1000..)", "license": "MIT"},
    {"name": "FluidR3_GM.sf2 Acoustic Grand Piano by Frank Wen et al. (Debian fluid-soundfont-gm 3.1)", "license": "MIT"},
    {"name": "Rendered with FluidSynth 2 (LGPL-2.1-or-later; a tool, not part of the model)", "license": "LGPL-2.1-or-later"},
]


def manifest():
    W = dc.DECODER_WINDOW
    return {
        "format": "sostenuto-model",
        "formatVersion": 1,
        "name": "sostenuto-piano",
        "version": VERSION,
        "description": "Piano trained in this repository (training/build_piano3.sh): a token language model (a GRU "
                       "and band-local heads that read the keys of their band) sampled frame by frame from MIDI features, over a learned codec (FSQ tokens of 10 ms frames "
                       "decoded by a network into the controls of a clock-phased oscillator bank, filtered noise and "
                       "transient atoms), trained on FluidSynth renders of procedurally generated piano MIDI. "
                       "See docs/model-card-piano3.md.",
        "license": "MIT",
        "untrained": False,
        "sources": SOURCES,
        "audio": {"sampleRate": dc.SR, "channels": 1, "hopLength": dc.HOP},
        "codec": {"codebooks": dc.K, "codebookSize": dc.V, "silenceTokens": [dc.SILENCE] * dc.K},
        "conditioning": {"lookaheadFrames": LOOKAHEAD, "features": FEATURES},
        "sampling": SAMPLING,
        "lm": {
            "file": "lm_step.onnx",
            "inputs": [
                {"name": "tokens", "role": "tokens", "type": "int64", "shape": ["batch", dc.K]},
                {"name": "cond", "role": "conditioning", "type": "float32", "shape": ["batch", LOOKAHEAD + 1, C]},
                {"name": "state_in", "role": "state", "type": "float32", "shape": ["batch", HIDDEN],
                 "stateOutput": "state_out"},
            ],
            "outputs": [
                {"name": "logits", "role": "logits", "type": "float32", "shape": ["batch", dc.K, dc.V]},
                {"name": "state_out", "role": "state", "type": "float32", "shape": ["batch", HIDDEN]},
            ],
        },
        "decoder": {
            "file": "decoder.onnx",
            "windowFrames": W,
            "chunkFrames": dc.DECODER_CHUNK,
            "overlapFrames": dc.DECODER_OVERLAP,
            "inputs": [{"name": "tokens", "role": "tokens", "type": "int64", "shape": ["batch", dc.K, W]}],
            "outputs": [{"name": "audio", "role": "audio", "type": "float32", "shape": ["batch", 1, W * dc.HOP]}],
        },
    }


def load(codec_path, lm_path):
    return dc.load_codec(codec_path), load_lm(lm_path).eval()      # lm.pt, or a training checkpoint


def write_package(out, codec, lm, man):
    os.makedirs(out, exist_ok=True)
    W = dc.DECODER_WINDOW
    step, dec = TokenLMStep(lm).eval(), dc.DecoderExport(codec).eval()
    with torch.no_grad():
        export(step, (torch.zeros(1, dc.K, dtype=torch.int64), torch.zeros(1, LOOKAHEAD + 1, C),
                           torch.zeros(1, HIDDEN)),
                    os.path.join(out, "lm_step.onnx"), ["tokens", "cond", "state_in"], ["logits", "state_out"])
        declare_static_dims(os.path.join(out, "lm_step.onnx"), "logits", [dc.K, dc.V])
        declare_static_dims(os.path.join(out, "lm_step.onnx"), "state_out", [HIDDEN])
        export(dec, (torch.zeros(1, dc.K, W, dtype=torch.int64),), os.path.join(out, "decoder.onnx"),
                    ["tokens"], ["audio"])
        declare_static_dims(os.path.join(out, "decoder.onnx"), "audio", [1, W * dc.HOP])
    with open(os.path.join(out, "model.json"), "w") as f:
        f.write(format_json(man) + "\n")
    return step, dec


def with_clock(content):
    """content tokens [T, Kc] of frames 0.. -> all K codebooks [K, T] with the clock codebooks."""
    T = len(content)
    hi, lo = dc.clock_tokens(torch.arange(T))
    return np.concatenate([content.T, hi.numpy()[None], lo.numpy()[None]], 0).astype(np.int64)


def chunked_decode(run_window, tokens):
    """The engine's decoding (docs/model-format.md) of tokens [K, T]: chunks of P frames, windows of
    W, overlap O joined by a linear cross-fade -> audio of the finished frames."""
    W, P, O, hop = dc.DECODER_WINDOW, dc.DECODER_CHUNK, dc.DECODER_OVERLAP, dc.HOP
    K, T = tokens.shape
    n = T // P
    out = np.zeros(n * P * hop, np.float32)
    for c in range(n):
        lo = (c + 1) * P - W
        win = np.zeros((K, W), np.int64)
        for i in range(W):
            if lo + i >= 0:
                win[:, i] = tokens[:, lo + i]
        a = run_window(win)
        kept = a[(W - P - O) * hop:]                     # frames c*P-O .. (c+1)*P-1
        start = (c * P - O) * hop
        if c > 0 and O > 0:
            fade = (np.arange(O * hop) + 0.5) / (O * hop)
            out[start:start + O * hop] = out[start:start + O * hop] * (1 - fade) + kept[:O * hop] * fade
            out[start + O * hop:(c + 1) * P * hop] = kept[O * hop:]
        else:
            s = max(start, 0)
            out[s:(c + 1) * P * hop] = kept[s - start:]
    return out[:(n * P - O) * hop]


def verify(out, codec, lm, man, step, dec, tokdir):
    errors = []
    check_against_manifest(os.path.join(out, "lm_step.onnx"), man["lm"])
    check_against_manifest(os.path.join(out, "decoder.onnx"), man["decoder"])
    name = sorted(glob.glob(os.path.join(tokdir, "eval_*.npz")))[0]
    z = np.load(name)
    tok, feat = z["tokens"].astype(np.int64)[:300], z["feat"]
    T = len(tok)
    report = {}
    with torch.no_grad():
        # The streaming step (GRUCell, clock rule) against the teacher-forced model.
        full, _ = lm(torch.tensor(history(tok, 0, T))[None], torch.tensor(windows(feat, 0, T))[None])
        allk = with_clock(tok)
        h = torch.zeros(1, HIDDEN)
        worst = 0.0
        for t in range(T):
            prev = torch.tensor(allk[:, t - 1] if t > 0 else np.zeros(dc.K, np.int64))[None]
            logits, h = step(prev, torch.tensor(windows(feat, t, 1)), h)
            worst = max(worst, (logits[0, :dc.K_CONTENT] - full[0, t]).abs().max().item())
            want = allk[dc.K_CONTENT:, t]
            got = logits[0, dc.K_CONTENT:].argmax(-1).numpy()
            if (got != want).any():
                errors.append(f"clock rule at frame {t}: {got} != {want}")
                break
        report["step_vs_model_max_logit_diff"] = worst
        if worst > 1e-3:
            errors.append(f"LM step != training model: max logit difference {worst}")
        # Silence decodes to exact zero.
        sil = dec(torch.zeros(1, dc.K, dc.DECODER_WINDOW, dtype=torch.int64)).abs().max().item()
        if sil != 0.0:
            errors.append(f"silence tokens decode to {sil}, not 0")
        # Chunked (the engine's way) against whole-sequence decoding.
        run = lambda w: dec(torch.tensor(w)[None])[0, 0].numpy()
        chunked = chunked_decode(run, allk)
        whole = resynthesize(codec, tok)[:len(chunked)]
        diff = chunked - whole
        db = 10 * np.log10((diff ** 2).sum() / max((whole ** 2).sum(), 1e-20) + 1e-20)
        report["chunked_vs_whole_db"] = round(float(db), 1)
        report["chunked_vs_whole_max_abs"] = float(np.abs(diff).max())
        if db > CHUNKED_TOLERANCE_DB:
            errors.append(f"chunked decoding differs from whole decoding by {db:.1f} dB (tolerance {CHUNKED_TOLERANCE_DB})")
    if errors:
        raise SystemExit("export check failed:\n  " + "\n  ".join(errors))
    return report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", required=True)
    ap.add_argument("--lm", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    codec, lm = load(args.codec, args.lm)
    man = manifest()
    step, dec = write_package(args.out, codec, lm, man)
    report = verify(args.out, codec, lm, man, step, dec, args.tokens)
    report["files_bytes"] = {f: os.path.getsize(os.path.join(args.out, f)) for f in sorted(os.listdir(args.out))}
    print(json.dumps(report, indent=1))
    json.dump(report, open(os.path.join(os.path.dirname(args.lm), "export_report.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
