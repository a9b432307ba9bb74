"""The codec's oscillator bank: the partials of the 88 piano keys and their clock-driven phases.

Each oscillator makes an integer number m of cycles per L = CLOCK_PERIOD * HOP samples,
so its phase at absolute sample t is 2*pi*m*t/L, exact in int64 and continuous across
chunks and across the clock's wrap. The clock codebook's token gives the decoder t.
Why a clock at all: a decoder that only sees sound tokens is shift-invariant, so for a
steady tone it would repeat the same waveform every 20 ms frame, which puts all energy
on multiples of 50 Hz (measured on an early neural decoder: C4 came out at 100/150/250 Hz).
"""
import math

import torch

from common import CLOCK_PERIOD, HOP, SR

PERIOD_SAMPLES = CLOCK_PERIOD * HOP     # L
KEYS = 88
LOWEST = 21                             # MIDI A0
PARTIALS = 16
FMAX = 10000.0
MERGE_RATIO = 1.005


def _partials():
    """[(frequency, key, partial index)] of keys A0..C8 below FMAX, with a generic inharmonicity."""
    out = []
    for k in range(KEYS):
        p = LOWEST + k
        f0 = 440.0 * 2 ** ((p - 69) / 12)
        B = 3.8e-4 * 2 ** ((p - 60) / 12)
        for n in range(1, PARTIALS + 1):
            f = n * f0 * math.sqrt(1 + B * n * n)
            if f < FMAX:
                out.append((f, k, n - 1))
    return sorted(out)


def _merged():
    """Partials of different keys within 0.5 % (8.6 cents) of a kept one are merged into it:
    two oscillators a few tenths of a hertz apart would beat. -> (kept frequencies, key partial -> index)."""
    kept, where = [], {}
    for f, k, n in _partials():
        if not kept or f > kept[-1] * MERGE_RATIO:
            kept.append(f)
        where[(k, n)] = len(kept) - 1
    return kept, where


def oscillators():
    """[O] int64: cycles per L of each oscillator, ascending in frequency."""
    kept, _ = _merged()
    return torch.tensor([int(round(f * PERIOD_SAMPLES / SR)) for f in kept], dtype=torch.int64)


def partial_map():
    """[KEYS, PARTIALS] index of the oscillator each key partial lands on (-1 above FMAX)."""
    _, where = _merged()
    out = torch.full((KEYS, PARTIALS), -1, dtype=torch.int64)
    for (k, n), i in where.items():
        out[k, n] = i
    return out


N_OSC = len(oscillators())


def harmonic_basis(m):
    """[4*O, HOP]: rows (1-l)cos(wn), -(1-l)sin(wn), l cos(wn), -l sin(wn); l = (n+0.5)/HOP."""
    n = torch.arange(HOP, dtype=torch.float64)
    w = 2 * math.pi * m.double()[:, None] / PERIOD_SAMPLES
    lam = (n + 0.5) / HOP
    c, s_ = torch.cos(w * n), torch.sin(w * n)
    return torch.cat([(1 - lam) * c, -(1 - lam) * s_, lam * c, -lam * s_], 0).float()


def clock_phase(clock, m):
    """clock [B,T] int64 tokens -> phase [B,T,O] of each oscillator at the frame's first sample."""
    t0 = (clock - 1) * HOP                                             # absolute sample mod L
    cyc = torch.remainder(t0.unsqueeze(-1) * m, PERIOD_SAMPLES)         # exact in int64
    return cyc.to(torch.float32) * (2 * math.pi / PERIOD_SAMPLES)
