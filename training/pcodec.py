"""The parametric piano codec (the default): partial analysis -> k-means residual VQ -> oscillator-bank decoder.

Why not the neural codec in codec.py: within this machine's budget (~1500 CPU steps)
its decoder never learned to tie the oscillators to the pitch that is playing; it
settled on a pitch-independent spectrum (see docs/model-card.md). This codec makes
the pitch explicit instead of learned:

* Encoder (deterministic, offline): for every frame, the amplitude of each of the
  438 oscillators of codec.py's bank (partials of the 88 keys) read from a 2048-sample
  hann STFT (zero-padded to 8192) centred on the frame's end, with non-maximum
  suppression across neighbouring oscillators; log(amplitude + 1e-4).
* Quantiser: residual VQ, K_CONTENT=4 codebooks x 512 (token 0 = silence), fitted by
  k-means (Lloyd, seeded) on the training frames' log-amplitude vectors.
* Clock codebook: as in codec.py, (f mod 511) + 1.
* Decoder (streamed; no learned weights besides the codebooks): the sum of the four
  codewords is the log-amplitude vector; amplitudes are exp(.) - 1e-4 (>= 0), gated
  to zero on silence tokens, interpolated across the frame from frame f-1 to f and
  played by the clock-phased oscillator bank (phases continuous in absolute time).
  Audio of frame f depends on the tokens of frames f-1 and f only.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from codec import PERIOD_SAMPLES, clock_phase, harmonic_basis, oscillators
from common import HOP, K, K_CONTENT, SR, V

FLOOR = 1e-4
WIN = 2048
NFFT = 8192


class Analysis(nn.Module):
    def __init__(self):
        super().__init__()
        f = oscillators().double() * SR / PERIOD_SAMPLES
        pos = f / (SR / NFFT)
        lo = pos.floor().long()
        frac = (pos - lo).float()
        W = torch.zeros(len(f), NFFT // 2 + 1)
        W[torch.arange(len(f)), lo] = 1 - frac
        W[torch.arange(len(f)), lo + 1] = frac
        self.register_buffer("W", W * (2.0 / (WIN / 2)), persistent=False)   # |X| -> sinusoid amplitude
        self.register_buffer("win", torch.hann_window(WIN), persistent=False)

    @torch.no_grad()
    def forward(self, audio):                   # [B, T*HOP] -> log-amplitudes [B, T, O]
        T = audio.shape[1] // HOP
        xs = F.pad(audio[:, HOP:], (0, HOP))    # centred frame j sits at sample (j+1)*HOP = end of frame j
        sp = torch.stft(xs, NFFT, HOP, win_length=WIN, window=self.win, center=True,
                        return_complex=True).abs()[:, :, :T]
        t = torch.matmul(self.W, sp).transpose(1, 2)
        m = F.max_pool1d(t.reshape(-1, 1, t.shape[-1]), 5, stride=1, padding=2).reshape(t.shape)
        t = torch.where(t >= m, t, t * 0.05)
        return torch.log(t + FLOOR)


class PCodec(nn.Module):
    kind = "parametric"

    def __init__(self):
        super().__init__()
        self.analysis = Analysis()
        O = len(oscillators())
        self.register_buffer("codebooks", torch.zeros(K_CONTENT, V, O))
        self.register_buffer("osc_m", oscillators(), persistent=False)
        self.register_buffer("hbasis", harmonic_basis(oscillators()), persistent=False)

    # --- fitting -----------------------------------------------------------------
    def fit(self, feats, seed=0, iters=12, sample=60000, log=print):
        """feats: [N, O] log-amplitudes of non-silent training frames."""
        rng = np.random.default_rng(seed)
        X = feats[rng.choice(len(feats), min(sample, len(feats)), replace=False)].astype(np.float32)
        res = X.copy()
        for k in range(K_CONTENT):
            C = res[rng.choice(len(res), V - 1, replace=False)].copy()
            for it in range(iters):
                idx = self._nearest(res, C)
                for c in range(V - 1):
                    sel = idx == c
                    if sel.any():
                        C[c] = res[sel].mean(0)
                    else:                         # empty cluster: restart on a far point
                        C[c] = res[rng.integers(len(res))]
            idx = self._nearest(res, C)
            res = res - C[idx]
            self.codebooks[k, 1:] = torch.from_numpy(C)
            log(f"pcodec: codebook {k}: residual rms {np.sqrt((res ** 2).mean()):.3f}")

    @staticmethod
    def _nearest(X, C):
        out = np.empty(len(X), np.int64)
        cn = (C ** 2).sum(1)
        for i in range(0, len(X), 8192):
            d = cn[None] - 2 * X[i:i + 8192] @ C.T
            out[i:i + 8192] = d.argmin(1)
        return out

    # --- coding ------------------------------------------------------------------
    @torch.no_grad()
    def encode_audio(self, audio, silent):      # [S], bool [T] (numpy) -> tokens [K_CONTENT, T]
        T = len(silent)
        x = torch.from_numpy(np.pad(audio, (0, max(0, T * HOP - len(audio))))[:T * HOP])[None]
        res = self.analysis(x)[0].numpy()
        toks = np.zeros((K_CONTENT, T), np.int64)
        for k in range(K_CONTENT):
            C = self.codebooks[k, 1:].numpy()
            idx = self._nearest(res, C)
            res = res - C[idx]
            toks[k] = idx + 1
        toks[:, silent] = 0
        return toks

    def amplitudes(self, tokens):               # [B, K, T] -> [B, T, O]
        la = sum(F.embedding(tokens[:, k], self.codebooks[k]) for k in range(K_CONTENT))
        live = (tokens[:, 0] != 0).to(torch.float32).unsqueeze(-1)
        return torch.clamp(torch.exp(la) - FLOOR, min=0.0) * live

    @torch.no_grad()
    def decode_tokens(self, tokens):            # [B, K, T] (clock last) -> [B, T*HOP]
        a = self.amplitudes(tokens)
        a_prev = F.pad(a, (0, 0, 1, 0))[:, :a.shape[1]]
        ph = clock_phase(tokens[:, K - 1], self.osc_m)
        c, s = torch.cos(ph), torch.sin(ph)
        return torch.matmul(torch.cat([a_prev * c, a_prev * s, a * c, a * s], -1), self.hbasis).flatten(1)


class PDecoderExport(nn.Module):
    """tokens [B,K,W] -> audio [B,1,W*HOP] with static shapes (W a constant)."""

    def __init__(self, pc, window):
        super().__init__()
        self.W = window
        self.register_buffer("table", pc.codebooks.reshape(K_CONTENT * V, -1).clone())
        self.register_buffer("offsets", (torch.arange(K_CONTENT, dtype=torch.int64) * V).reshape(1, K_CONTENT, 1))
        self.register_buffer("osc_m", oscillators())
        self.register_buffer("hbasis", harmonic_basis(oscillators()))

    def forward(self, tokens):
        W = self.W
        la = F.embedding(tokens[:, :K_CONTENT] + self.offsets, self.table).sum(1)          # [B, W, O]
        live = (tokens[:, 0] != 0).to(torch.float32).unsqueeze(2)
        a = torch.clamp(torch.exp(la) - FLOOR, min=0.0) * live
        a_prev = torch.cat([a[:, :1] * 0.0, a[:, :W - 1]], 1)
        ph = clock_phase(tokens[:, K - 1], self.osc_m)
        c, s = torch.cos(ph), torch.sin(ph)
        y = torch.matmul(torch.cat([a_prev * c, a_prev * s, a * c, a * s], 2), self.hbasis)  # [B, W, HOP]
        return torch.clamp(y, -1.0, 1.0).flatten(1).unsqueeze(1)
