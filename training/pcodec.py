"""The parametric piano codec (the default): partial analysis -> k-means residual VQ -> oscillator-bank decoder.

Why not a neural codec: two were trained here (a Vocos-style iSTFT decoder, then one
with this oscillator bank as its head); within this machine's budget (~1500 CPU steps)
neither learned to tie its output to the pitch that is playing (see docs/model-card.md).
This codec makes the pitch explicit instead of learned:

* Encoder (deterministic, offline): for every frame, the amplitude of each of the
  438 oscillators of oscillators.py (partials of the 88 keys) read from a 2048-sample
  hann STFT (zero-padded to 8192) centred on the frame's end, with non-maximum
  suppression across neighbouring oscillators; log(amplitude + 1e-4).
* Quantiser: product VQ, K_CONTENT=16 codebooks x 512 (token 0 = silence), one per band of
  ~27 frequency-sorted oscillators, each fitted by k-means (Lloyd, seeded) on the training
  frames' log-amplitudes of its band.
* Clock codebook: (f mod 511) + 1, the absolute time the oscillator phases need (oscillators.py).
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

from oscillators import PERIOD_SAMPLES, clock_phase, harmonic_basis, oscillators
from common import HOP, K, K_CONTENT, SR, V

FLOOR = 5e-4           # amplitude floor (-66 dBFS): below it partials are inaudible, and k-means must not spend codewords on them
WIN = 2048
NFFT = 8192


def bands(n_osc):
    """The K_CONTENT contiguous bands of oscillator indices, one per codebook."""
    return np.array_split(np.arange(n_osc), K_CONTENT)


class BandTable(nn.Module):
    """The product-VQ codebooks stored compactly, [K_CONTENT * V, widest band], with the
    index maps between bands and oscillators (so the exported graphs carry 14 numbers per
    codeword, not 438)."""

    def __init__(self, codebooks):
        super().__init__()
        n_osc = codebooks.shape[2]
        bs = bands(n_osc)
        width = max(len(b) for b in bs)
        table = torch.zeros(K_CONTENT, V, width)
        band_idx = torch.full((K_CONTENT, width), n_osc, dtype=torch.int64)   # n_osc = a zero pad column
        position = torch.zeros(n_osc, dtype=torch.int64)
        for k, b in enumerate(bs):
            table[k, :, :len(b)] = codebooks[k][:, torch.from_numpy(b)]
            band_idx[k, :len(b)] = torch.from_numpy(b)
            position[torch.from_numpy(b)] = k * width + torch.arange(len(b))
        self.n_osc, self.width = n_osc, width
        self.register_buffer("table", table.reshape(K_CONTENT * V, width))
        self.register_buffer("band_idx", band_idx.flatten(), persistent=False)
        self.register_buffer("position", position, persistent=False)
        self.register_buffer("offsets", torch.arange(K_CONTENT, dtype=torch.int64) * V, persistent=False)

    def log_amplitudes(self, tokens):           # [..., K_CONTENT] -> [..., O]: the codewords' bands joined
        e = F.embedding(tokens + self.offsets, self.table)                                 # [..., K, width]
        return e.reshape(*e.shape[:-2], K_CONTENT * self.width).index_select(-1, self.position)

    def split(self, y):                         # [N, O] -> [N, K_CONTENT, width] (zeros in the padding)
        y = torch.cat([y, y[:, :1] * 0.0], 1)                 # (zeros_like would lose static shapes in ONNX)
        return y.index_select(1, self.band_idx).reshape(y.shape[0], K_CONTENT, self.width)

    def distances(self, y):                     # [N, O] -> [K_CONTENT, N, V-1]: |band - codeword|^2, sound codewords
        C = self.codewords()[:, 1:]                                                       # [K, V-1, width]
        yb = self.split(y).transpose(0, 1)                                                # [K, N, width]
        return (yb * yb).sum(2, keepdim=True) - 2 * torch.matmul(yb, C.transpose(1, 2)) + (C * C).sum(2).unsqueeze(1)

    def nearest(self, y):                       # [N, O] -> [N, O]: each band replaced by its nearest sound codeword
        best = torch.argmin(self.distances(y), 2).t() + 1                                 # [N, K]
        return self.log_amplitudes(best)

    def codewords(self):                        # [K_CONTENT, V, width]
        return self.table.reshape(K_CONTENT, V, self.width)


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
        """feats: [N, O] log-amplitudes of non-silent training frames.

        Product quantisation: codebook k owns the k-th of K_CONTENT contiguous bands of the
        (frequency-sorted) oscillators and is zero elsewhere, so the sum of a frame's codewords
        is the concatenation of its bands. Each band is fitted by k-means on its own ~27
        dimensions, which keeps quiet notes inside chords that a whole-vector residual VQ
        averages away; and the bands are independent, as the engine samples them.
        """
        rng = np.random.default_rng(seed)
        X = feats[rng.choice(len(feats), min(sample, len(feats)), replace=False)].astype(np.float32)
        err = 0.0
        for k, band in enumerate(bands(X.shape[1])):
            Xb = X[:, band]
            C = Xb[rng.choice(len(Xb), V - 1, replace=False)].copy()
            for it in range(iters):
                idx = self._nearest(Xb, C)
                for c in range(V - 1):
                    sel = idx == c
                    if sel.any():
                        C[c] = Xb[sel].mean(0)
                    else:                         # empty cluster: restart on a random point
                        C[c] = Xb[rng.integers(len(Xb))]
            idx = self._nearest(Xb, C)
            err += float(((Xb - C[idx]) ** 2).sum())
            self.codebooks[k, 1:, torch.from_numpy(band)] = torch.from_numpy(C)
            log(f"pcodec: band {k} (oscillators {band[0]}..{band[-1]}): rms error {np.sqrt(((Xb - C[idx]) ** 2).mean()):.3f}")
        log(f"pcodec: rms error {np.sqrt(err / X.size):.3f}")

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
    def analyse(self, audio, T):                # [S] (numpy) -> log-amplitudes [T, O] (numpy)
        x = torch.from_numpy(np.pad(audio, (0, max(0, T * HOP - len(audio))))[:T * HOP])[None]
        return self.analysis(x)[0].numpy()

    def quantise(self, la, silent):             # [T, O], bool [T] -> tokens [K_CONTENT, T] (nearest codeword per band)
        toks = np.zeros((K_CONTENT, len(silent)), np.int64)
        for k, band in enumerate(bands(la.shape[1])):
            toks[k] = self._nearest(la[:, band], self.codebooks[k, 1:][:, torch.from_numpy(band)].numpy()) + 1
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
        self.table = BandTable(pc.codebooks)
        self.register_buffer("osc_m", oscillators())
        self.register_buffer("hbasis", harmonic_basis(oscillators()))

    def forward(self, tokens):
        W = self.W
        la = self.table.log_amplitudes(tokens[:, :K_CONTENT].transpose(1, 2))              # [B, W, O]
        live = (tokens[:, 0] != 0).to(torch.float32).unsqueeze(2)
        a = torch.clamp(torch.exp(la) - FLOOR, min=0.0) * live
        a_prev = torch.cat([a[:, :1] * 0.0, a[:, :W - 1]], 1)
        ph = clock_phase(tokens[:, K - 1], self.osc_m)
        c, s = torch.cos(ph), torch.sin(ph)
        y = torch.matmul(torch.cat([a_prev * c, a_prev * s, a * c, a * s], 2), self.hbasis)  # [B, W, HOP]
        return torch.clamp(y, -1.0, 1.0).flatten(1).unsqueeze(1)
