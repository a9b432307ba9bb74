#!/usr/bin/python3
"""Diagnose an LM checkpoint in PyTorch: teacher-forced vs free-running on one held-out piece.

    /usr/bin/python3 training/play_lm.py --lm training/work/lm/lm.pt [--piece eval_00] [--notes]

Plays the piece twice through the LM step, greedily (nearest codewords, silent when the
silence head says more likely than not): once fed the true tokens of the previous frame
(teacher forcing, as in training) and once fed its own (free running, as the engine plays
it). Prints note recall, chroma and silence leak of both against the FluidSynth reference
(evaluate.py's metrics); with --notes, every note's fundamental level against the
reference. A model that is good teacher-forced and poor free-running leans on the
previous frame; one that is poor both ways lacks accuracy.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import K, K_CONTENT, LOOKAHEAD, midi_events, nice_torch, read_wav  # noqa: E402

torch = nice_torch()
import evaluate as ev  # noqa: E402
from lm import STATE, PianoLM, PianoLMStep  # noqa: E402
from oscillators import KEYS  # noqa: E402
from tokenize_data import load_codec  # noqa: E402


@torch.no_grad()
def play(step, tok, feat, teacher_forced):
    T = tok.shape[1]
    featp = np.concatenate([feat, np.zeros((LOOKAHEAD, feat.shape[1]), np.float32)])
    prev = np.zeros((1, K), np.int64)
    state = torch.zeros(1, KEYS, STATE)
    out = np.zeros((K, T), np.int64)
    for f in range(T):
        logits, state = step(torch.from_numpy(prev), torch.from_numpy(featp[f:f + LOOKAHEAD + 1])[None], state)
        lg = logits[0].numpy()
        t = lg.argmax(-1)
        t[0] = lg[0, 1:].argmax() + 1
        if lg[0, 0] > lg[0, 1:].max():            # the silence head: more likely than not
            t[:K_CONTENT] = 0
        out[:, f] = t
        prev = (tok[:, f] if teacher_forced else t)[None].copy()
    return out


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--lm", required=True)
    ap.add_argument("--codec", default=os.path.join(here, "work", "codec", "codec.pt"))
    ap.add_argument("--work", default=os.path.join(here, "work"))
    ap.add_argument("--piece", default="eval_00")
    ap.add_argument("--notes", action="store_true")
    args = ap.parse_args()
    codec = load_codec(args.codec)
    lm = PianoLM(codec.codebooks)
    lm.load_state_dict(torch.load(args.lm)["model"])
    step = PianoLMStep(lm.eval())
    d = np.load(os.path.join(args.work, "tokens", args.piece + ".npz"))
    tok, feat = d["tokens"].astype(np.int64), d["feat"].astype(np.float32)
    base = os.path.join(args.work, "data", args.piece)
    ref, _ = read_wav(base + ".wav")
    notes = ev.notes_of(midi_events(base + ".mid")[0])
    for name, tf in (("teacher-forced", True), ("free-running", False)):
        toks = play(step, tok, feat, tf)
        with torch.no_grad():
            y = np.clip(codec.decode_tokens(torch.from_numpy(toks)[None])[0].numpy(), -1, 1)
        hit, hit_level, total = ev.note_recall(y, ref, notes)
        leak, quiet = ev.silence_leak(y, ref, feat)
        print(f"{args.piece} {name}: note recall {hit}/{total} ({hit / max(1, total):.1%}), level only {hit_level}, "
              f"chroma {ev.chroma_sim(y, ref):.3f}, silence leak {leak}/{quiet}, silent frames {np.mean(toks[0] == 0):.1%} "
              f"(reference {np.mean(tok[0] == 0):.1%})")
        if args.notes and not tf:
            So, Sr = ev.pitch_salience(y), ev.pitch_salience(ref)
            for f, p, v in notes:
                if 3 <= f and f + 8 <= min(len(So), len(Sr)):
                    print(f"  frame {f:5d} pitch {p:3d} velocity {v:3d}: fundamental {So[f:f + 8, p].max():6.1f} dB "
                          f"(reference {Sr[f:f + 8, p].max():6.1f}), peak at +{So[f:f + 8, p].argmax()} frames "
                          f"(reference +{Sr[f:f + 8, p].argmax()}), octave {So[f:f + 8, p + 12].max():6.1f} "
                          f"(reference {Sr[f:f + 8, p + 12].max():6.1f})")


if __name__ == "__main__":
    main()
