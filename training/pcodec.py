"""The parametric piano codec (the default): partial analysis -> k-means residual VQ -> oscillator-bank decoder.

Why not a neural codec: two were trained here (a Vocos-style iSTFT decoder, then one
with this oscillator bank as its head); within this machine's budget (~1500 CPU steps)
neither learned to tie its output to the pitch that is playing (see docs/model-card.md).
This codec makes the pitch explicit instead of learned:

* Encoder (deterministic, offline): for every frame, the amplitude of each of the
  438 oscillators of oscillators.py (partials of the 88 keys) read from a 2048-sample
  hann STFT (zero-padded to 8192) centred on the frame's end, with non-maximum
  suppression across neighbouring oscillators, informed by the MIDI (see Analysis);
  log(amplitude + FLOOR).
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

from oscillators import KEYS, LOWEST, PERIOD_SAMPLES, clock_phase, harmonic_basis, oscillators, partial_map
from common import HOP, K, K_CONTENT, SR, V, feature_slice

FLOOR = 5e-4           # amplitude floor (-66 dBFS): below it partials are inaudible, and k-means must not spend codewords on them
WIN = 2048
NFFT = 8192
HEARD_BEFORE, HEARD_AFTER = 2, 50   # frames a key counts as heard before its note sounds (the centred window) and after
UNHEARD_WEIGHT = 0.25               # an oscillator of no heard key wins a neighbourhood only 12 dB louder than one of a heard key


def heard_oscillators(feat):
    """[T, C] conditioning features -> [T, O] bool: oscillators that are a partial of a key sounding
    within the window around the frame (the note, its release tail, the analysis window's spread)."""
    snd = feat[:, feature_slice("note_sounding")][:, LOWEST:LOWEST + KEYS].astype(np.float32) > 0   # [T, KEYS]
    T = len(snd)
    heard = np.zeros_like(snd)
    for d in range(-HEARD_AFTER, HEARD_BEFORE + 1):           # heard[f] |= snd[f + d]
        lo, hi = max(0, -d), min(T, T - d)
        if lo < hi:
            heard[lo:hi] |= snd[lo + d:hi + d]
    pm = partial_map().numpy()
    owner = np.zeros((KEYS, len(oscillators())), bool)
    for k, n in zip(*np.nonzero(pm >= 0)):
        owner[k, pm[k, n]] = True
    return (heard.astype(np.float32) @ owner.astype(np.float32)) > 0


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

    def distances(self, y, power):              # [N, O] -> [K_CONTENT, N, V-1]: |g(band) - g(codeword)|^2, sound codewords
        """Compared as amplitude^power (g(x) = exp(power * x) on log-amplitudes), see lm.LOUDNESS_POWER."""
        C = torch.exp(power * self.codewords()[:, 1:])                                   # [K, V-1, width]
        yb = torch.exp(power * self.split(y)).transpose(0, 1)                             # [K, N, width]
        return (yb * yb).sum(2, keepdim=True) - 2 * torch.matmul(yb, C.transpose(1, 2)) + (C * C).sum(2).unsqueeze(1)

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
        # lobe[d + 2][o]: oscillator o + d lies within the window's main lobe (or 2 %) of oscillator o
        fo = f.float()
        lobe = torch.zeros(5, len(f))
        for d in range(-2, 3):
            fn = torch.roll(fo, -d)
            ok = (fn - fo).abs() < torch.clamp(0.02 * fo, min=2.0 * SR / WIN)
            if d > 0:
                ok[-d:] = False
            elif d < 0:
                ok[:-d] = False
            lobe[d + 2] = ok.float()
        self.register_buffer("lobe", lobe, persistent=False)

    @torch.no_grad()
    def forward(self, audio, heard):            # [B, T*HOP], bool [B, T, O] (heard_oscillators) -> log-amplitudes [B, T, O]
        """Non-maximum suppression keeps the loudest of 5 neighbouring oscillators and takes the others
        26 dB down: one partial leaks into every oscillator within the window's main lobe (+-23 Hz), and
        resynthesised in all of them it would beat. But oscillators closer than that are common (a high
        key's fundamental and a lower key's inharmonic upper partials, a few hertz apart), and plain
        suppression gave a sounding key's partial to whichever of them read a hair louder: often a key
        that was not playing, whose oscillator the LM (each key writes its own partials) can never
        predict. So the MIDI decides ties: an oscillator of a key that is not heard wins only when it
        is clearly louder (UNHEARD_WEIGHT)."""
        T = audio.shape[1] // HOP
        xs = F.pad(audio[:, HOP:], (0, HOP))    # centred frame j sits at sample (j+1)*HOP = end of frame j
        sp = torch.stft(xs, NFFT, HOP, win_length=WIN, window=self.win, center=True,
                        return_complex=True).abs()[:, :, :T]
        t = torch.matmul(self.W, sp).transpose(1, 2)
        score = t * torch.where(heard, 1.0, UNHEARD_WEIGHT)
        m = F.max_pool1d(score.reshape(-1, 1, t.shape[-1]), 5, stride=1, padding=2).reshape(t.shape)
        # The winner takes the loudest reading within its main lobe: a sample tuned away from the
        # oscillator's nominal frequency (stretch tuning at the top) reads loudest a neighbour over.
        near = torch.stack([torch.roll(t, -d, 2) * self.lobe[d + 2] for d in range(-2, 3)]).amax(0)
        t = torch.where(score >= m, near, t * 0.05)
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
    def analyse(self, audio, feat):             # [S], [T, C] features (numpy) -> log-amplitudes [T, O] (numpy)
        T = len(feat)
        x = torch.from_numpy(np.pad(audio, (0, max(0, T * HOP - len(audio))))[:T * HOP])[None]
        return self.analysis(x, torch.from_numpy(heard_oscillators(feat))[None])[0].numpy()

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
