"""The Sostenuto piano codec: mel encoder -> residual VQ -> causal frame-rate decoder with an iSTFT head.

Everything runs at the token frame rate (50 frames/s), so it trains fast on a CPU.

* Encoder (offline only: used to tokenize training audio and for the codec
  resynthesis baseline): log-mel at hop 240 (two mel frames per token frame,
  stacked) + a semitone filterbank (A0..C8) of a 4096-point STFT -> non-causal
  1-D convs -> 64-d latent per frame.
* RVQ: K_CONTENT=4 codebooks of V=512 64-d vectors, EMA updates, dead-code
  restarts. Token 0 of every content codebook is reserved for silence: frames
  whose audio (and the next frame's) peaks below -70 dBFS get tokens 0; other
  frames never use token 0.
* Clock codebook (the 5th): the token of frame f is (f mod 511) + 1, a frame
  counter. It is what lets a stateless, windowed decoder keep the phase of a
  sustained partial continuous: a decoder that only sees sound tokens is
  shift-invariant, so for a steady tone it repeats the same waveform every
  frame, which puts all energy on multiples of 50 Hz (wrong pitch).
* Decoder (streamed by the engine): content codebook vectors summed -> causal
  convs -> two heads:
  - harmonic: per frame the amplitude of ~1000 fixed oscillators (the first
    partials of the 88 piano keys, slightly inharmonic), whose phase is
    2*pi*m*t/L at absolute sample t (mod L = 511*480; m integer, so the phase is
    continuous across the clock's wrap). Amplitudes are interpolated across
    the frame from frame f-1 to f.
  - noise/transient: two STFT sub-frames (n_fft 960, hop 240) of log-magnitude
    with fixed pseudo-random phases (a constant table indexed by the clock
    token) -> inverse STFT by overlap-add. Random phases make this branch
    unable to fake steady tones, so tonal energy has to go to the oscillators.
  Audio of frame f depends on tokens of frames f-RF..f only (causal). A frame
  whose codebook-0 token is 0 contributes nothing, so silence tokens decode to
  exact digital silence.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import CLOCK_PERIOD, HOP, K, K_CONTENT, SR, V

N_FFT = 960
SUB_HOP = 240
SUBS = HOP // SUB_HOP           # 2 STFT sub-frames per token frame
BINS = N_FFT // 2 + 1           # 481
N_MELS = 80
LATENT = 64
ENC_DIM = 256
DEC_DIM = 256
DEC_BLOCKS = 4
DEC_KERNEL = 3
# frames of left context a decoded frame depends on: blocks*(kernel-1) + the iSTFT's 2 frames
DEC_RF = DEC_BLOCKS * (DEC_KERNEL - 1) + 2
PERIOD_SAMPLES = CLOCK_PERIOD * HOP     # L


def oscillators(max_partials=16, fmax=10000.0, min_ratio=1.005):
    """Integer cycles-per-L m of the harmonic bank: partials n*f0*sqrt(1+B n^2) of keys A0..C8.

    Partials of different keys that fall within 0.5 % (8.6 cents) of a kept one are
    merged into it: two oscillators a few tenths of a hertz apart would beat.
    """
    fs = []
    for p in range(21, 109):
        f0 = 440.0 * 2 ** ((p - 69) / 12)
        B = 3.8e-4 * 2 ** ((p - 60) / 12)
        for n in range(1, max_partials + 1):
            f = n * f0 * math.sqrt(1 + B * n * n)
            if f < fmax:
                fs.append(f)
    kept = []
    for f in sorted(fs):
        if not kept or f > kept[-1] * min_ratio:
            kept.append(f)
    return torch.tensor([int(round(f * PERIOD_SAMPLES / SR)) for f in kept], dtype=torch.int64)


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


def mel_filterbank(n_fft, n_mels, sr=SR, fmin=20.0, fmax=None):
    fmax = fmax or sr / 2
    hz2mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
    mel2hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)
    pts = mel2hz(np.linspace(hz2mel(fmin), hz2mel(fmax), n_mels + 2))
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, len(freqs)), np.float32)
    for i in range(n_mels):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.maximum(0, np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)))
    return torch.from_numpy(fb)


class LogMel(nn.Module):
    def __init__(self, n_fft=1024, hop=SUB_HOP, n_mels=N_MELS):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fb", mel_filterbank(n_fft, n_mels), persistent=False)

    def forward(self, x):                       # [B, S] -> [B, n_mels, S/hop + 1]
        s = torch.stft(x, self.n_fft, self.hop, window=self.window, center=True, return_complex=True).abs()
        return torch.log(torch.matmul(self.fb, s) + 1e-5)


class ResConv(nn.Module):
    def __init__(self, dim, dilation):
        super().__init__()
        self.c1 = nn.Conv1d(dim, dim, 3, padding=dilation, dilation=dilation)
        self.c2 = nn.Conv1d(dim, dim, 1)

    def forward(self, x):
        return x + self.c2(F.gelu(self.c1(F.gelu(x))))


def semitone_filterbank(n_fft=4096):
    freqs = np.arange(n_fft // 2 + 1) * SR / n_fft
    midi = 69 + 12 * np.log2(np.maximum(freqs, 1e-3) / 440.0)
    fb = np.stack([np.maximum(0, 1 - np.abs(midi - p)) for p in range(21, 109)]).astype(np.float32)
    return torch.from_numpy(fb)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.mel = LogMel()
        self.register_buffer("pwin", torch.hann_window(4096), persistent=False)
        self.register_buffer("pfb", semitone_filterbank(), persistent=False)
        self.inp = nn.Conv1d(SUBS * N_MELS + 88, ENC_DIM, 3, padding=1)
        self.blocks = nn.Sequential(*[ResConv(ENC_DIM, d) for d in (1, 2, 4)])
        self.out = nn.Conv1d(ENC_DIM, LATENT, 1)

    def forward(self, audio):                   # [B, T*HOP] -> [B, T, LATENT]
        T = audio.shape[1] // HOP
        m = self.mel(audio)[:, :, :SUBS * T]    # [B, M, 2T]
        m = m.reshape(m.shape[0], N_MELS, T, SUBS).permute(0, 3, 1, 2).reshape(m.shape[0], SUBS * N_MELS, T)
        m = (m + 5.0) / 4.0
        # semitone bank of a 4096-point STFT centred on each token frame
        xs = F.pad(audio[:, HOP // 2:], (0, HOP // 2))
        sp = torch.stft(xs, 4096, HOP, window=self.pwin, center=True, return_complex=True).abs()[:, :, :T]
        pb = (torch.log(torch.matmul(self.pfb, sp) + 1e-4) + 3.0) / 4.0
        return self.out(self.blocks(self.inp(torch.cat([m, pb], 1)))).transpose(1, 2)


class RVQ(nn.Module):
    """EMA residual VQ; row 0 of each codebook is the (fixed, zero) silence code."""

    def __init__(self, decay=0.99):
        super().__init__()
        self.decay = decay
        self.register_buffer("codebooks", torch.zeros(K_CONTENT, V, LATENT))
        self.register_buffer("ema_count", torch.ones(K_CONTENT, V))
        self.register_buffer("ema_sum", torch.zeros(K_CONTENT, V, LATENT))
        self.register_buffer("initted", torch.zeros(()))

    def lookup(self, tokens):                   # [B, K(>=K_CONTENT), T] -> [B, T, LATENT]
        return sum(F.embedding(tokens[:, k], self.codebooks[k]) for k in range(K_CONTENT))

    def forward(self, z, silent):               # z [B,T,D], silent bool [B,T]
        B, T, D = z.shape
        flat = z.reshape(-1, D)
        live = ~silent.reshape(-1)
        if self.training and not bool(self.initted):
            self._init(flat[live])
        residual = flat
        q_sum = torch.zeros_like(flat)
        idx_all = []
        for k in range(K_CONTENT):
            cb = self.codebooks[k, 1:]
            d = (residual.detach() ** 2).sum(1, keepdim=True) - 2 * residual.detach() @ cb.t() + (cb ** 2).sum(1)[None]
            idx = d.argmin(1) + 1
            idx = torch.where(live, idx, torch.zeros_like(idx))
            q = self.codebooks[k][idx]
            if self.training:
                self._ema(k, residual.detach()[live], idx[live])
            q_sum = q_sum + q
            residual = residual - q
            idx_all.append(idx)
        tokens = torch.stack(idx_all, 0).reshape(K_CONTENT, B, T).permute(1, 0, 2)      # [B, K_CONTENT, T]
        q_sum = q_sum * live[:, None].float()
        commit = ((flat - q_sum.detach()) ** 2)[live].mean() if bool(live.any()) else flat.sum() * 0
        zq = flat + (q_sum - flat).detach()
        zq = zq * live[:, None].float()
        return zq.reshape(B, T, D), tokens, commit

    @torch.no_grad()
    def _init(self, x):
        g = torch.Generator().manual_seed(0)
        res = x.clone()
        for k in range(K_CONTENT):
            pick = res[torch.randint(0, len(res), (V - 1,), generator=g)]
            self.codebooks[k, 1:] = pick
            self.ema_sum[k, 1:] = pick
            d = torch.cdist(res, pick)
            res = res - pick[d.argmin(1)]
        self.codebooks[:, 0] = 0
        self.initted.fill_(1)

    @torch.no_grad()
    def _ema(self, k, x, idx):
        onehot = F.one_hot(idx, V).float()                 # [N, V]
        self.ema_count[k].mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.ema_sum[k].mul_(self.decay).add_(onehot.t() @ x, alpha=1 - self.decay)
        n = self.ema_count[k].sum()
        count = (self.ema_count[k] + 1e-5) / (n + V * 1e-5) * n
        self.codebooks[k] = self.ema_sum[k] / count[:, None]
        # restart dead codes from random residuals of this batch
        dead = (self.ema_count[k] < 0.3).nonzero().flatten()
        dead = dead[dead > 0]
        if len(dead) and len(x):
            pick = x[torch.randint(0, len(x), (len(dead),))]
            self.codebooks[k, dead] = pick
            self.ema_sum[k, dead] = pick
            self.ema_count[k, dead] = 1.0
        self.codebooks[k, 0] = 0


class CausalBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.conv = nn.Conv1d(dim, 2 * dim, DEC_KERNEL)
        self.pw = nn.Conv1d(2 * dim, dim, 1)

    def forward(self, x):                       # [B, C, T]
        h = self.norm(x.transpose(1, 2)).transpose(1, 2)
        h = F.pad(h, (DEC_KERNEL - 1, 0))
        return x + self.pw(F.gelu(self.conv(h)))


def istft_basis():
    """[2*BINS, 1, N_FFT]: conv_transpose1d weights doing irfft * hann / (sum of squared windows)."""
    n = torch.arange(N_FFT, dtype=torch.float64)
    k = torch.arange(BINS, dtype=torch.float64)
    coef = torch.full((BINS,), 2.0, dtype=torch.float64)
    coef[0] = 1.0
    coef[-1] = 1.0
    ang = 2 * math.pi * k[:, None] * n[None] / N_FFT
    w = torch.hann_window(N_FFT, periodic=True, dtype=torch.float64)
    norm = (w ** 2).reshape(-1, SUB_HOP).sum(0).mean()  # 1.5 for hann at 4x overlap
    re = coef[:, None] * torch.cos(ang) * w / N_FFT / norm
    im = -coef[:, None] * torch.sin(ang) * w / N_FFT / norm
    im[0] = 0
    im[-1] = 0
    return torch.cat([re, im], 0).unsqueeze(1).float()


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Conv1d(LATENT, DEC_DIM, 1)
        self.blocks = nn.Sequential(*[CausalBlock(DEC_DIM) for _ in range(DEC_BLOCKS)])
        self.norm = nn.LayerNorm(DEC_DIM)
        self.head = nn.Linear(DEC_DIM, SUBS * BINS)
        self.harm = nn.Linear(DEC_DIM, N_OSC)
        with torch.no_grad():
            self.harm.bias.fill_(-4.0)
            self.head.bias.fill_(-3.0)
        g = torch.Generator().manual_seed(1234)
        self.register_buffer("noise_phase", torch.rand(V, SUBS * BINS, generator=g) * (2 * math.pi), persistent=False)
        self.register_buffer("basis", istft_basis(), persistent=False)
        self.register_buffer("osc_m", oscillators(), persistent=False)
        self.register_buffer("hbasis", harmonic_basis(oscillators()), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def trunk(self, zq):
        return self.norm(self.blocks(self.inp(zq.transpose(1, 2))).transpose(1, 2))   # [B, T, DEC_DIM]

    def amplitudes(self, hid, live):            # [B, T, O]: oscillator amplitudes at the end of each frame
        return torch.exp(torch.clamp(self.harm(hid), max=5.0) - 6.0) * live.unsqueeze(-1)

    def harmonic(self, hid, live, clock):       # -> [B, T*HOP]
        a = self.amplitudes(hid, live)
        a_prev = F.pad(a, (0, 0, 1, 0))[:, :a.shape[1]]
        ph = clock_phase(clock, self.osc_m)
        c, s_ = torch.cos(ph), torch.sin(ph)
        y = torch.matmul(torch.cat([a_prev * c, a_prev * s_, a * c, a * s_], -1), self.hbasis)   # [B, T, HOP]
        return y.flatten(1)

    def spectra(self, hid, live, clock):        # hid [B,T,DEC_DIM], live float [B,T] -> real, imag [B, T*SUBS, BINS]
        B, T, _ = hid.shape
        mag = torch.exp(torch.clamp(self.head(hid), max=6.0)) * live[:, :, None]      # [B, T, SUBS*BINS]
        ph = self.noise_phase[clock]                                                   # [B, T, SUBS*BINS]
        re = (mag * torch.cos(ph)).reshape(B, T * SUBS, BINS)
        im = (mag * torch.sin(ph)).reshape(B, T * SUBS, BINS)
        return re, im

    def forward(self, zq, live, clock):         # training path: FFT-based overlap-add -> [B, T*HOP]
        hid = self.trunk(zq)
        return self.noise(hid, live, clock) + self.harmonic(hid, live, clock)

    def noise(self, hid, live, clock):
        re, im = self.spectra(hid, live, clock)
        B, S, _ = re.shape
        frames = torch.fft.irfft(torch.complex(re, im), n=N_FFT) * self.window / 1.5   # [B, S, N_FFT]
        out = F.fold(frames.transpose(1, 2), output_size=(1, (S - 1) * SUB_HOP + N_FFT),
                     kernel_size=(1, N_FFT), stride=(1, SUB_HOP))
        return out.reshape(B, -1)[:, :S * SUB_HOP]


class Codec(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.rvq = RVQ()
        self.decoder = Decoder()

    def forward(self, audio, silent, clock):
        z = self.encoder(audio)
        zq, tokens, commit = self.rvq(z, silent)
        live = (~silent).float()
        hid = self.decoder.trunk(zq)
        y = self.decoder.noise(hid, live, clock) + self.decoder.harmonic(hid, live, clock)
        log_amps = torch.clamp(self.decoder.harm(hid), max=5.0) - 6.0
        return y, tokens, commit, self.decoder.amplitudes(hid, live), log_amps

    @torch.no_grad()
    def decode_tokens(self, tokens):            # [B,K,T] (clock codebook last) -> [B, T*HOP]
        zq = self.rvq.lookup(tokens)
        return self.decoder(zq, (tokens[:, 0] != 0).float(), tokens[:, K - 1])


class MRSTFTLoss(nn.Module):
    def __init__(self):
        super().__init__()
        self.res = [(512, 128), (1024, 256), (2048, 512)]
        for n, _ in self.res:
            self.register_buffer(f"w{n}", torch.hann_window(n), persistent=False)
        self.mel = LogMel(1024, 256, 80)

    def forward(self, y, x):
        loss = 0.0
        for n, h in self.res:
            w = getattr(self, f"w{n}")
            Y = torch.stft(y, n, h, window=w, return_complex=True).abs() + 1e-7
            X = torch.stft(x, n, h, window=w, return_complex=True).abs() + 1e-7
            sc = torch.linalg.norm(Y - X) / (torch.linalg.norm(X) + 1e-7)
            lm = (torch.log(Y + 1e-5) - torch.log(X + 1e-5)).abs().mean()
            loss = loss + sc + lm
        mel = (self.mel(y) - self.mel(x)).abs().mean()
        return loss / len(self.res), mel


class PartialTargets(nn.Module):
    """Amplitude of each oscillator's frequency in the reference, at the end of each frame.

    A sinusoid of amplitude A gives |X| = A*N/4 at its bin in a hann-windowed N-point
    STFT; the magnitude is read at the oscillator frequency by linear interpolation.
    Used as an auxiliary loss so that every oscillator gets a direct gradient.
    """

    def __init__(self, n_fft=4096):
        super().__init__()
        self.n_fft = n_fft
        f = oscillators().double() * SR / PERIOD_SAMPLES
        pos = f / (SR / n_fft)
        lo = pos.floor().long()
        frac = (pos - lo).float()
        W = torch.zeros(len(f), n_fft // 2 + 1)
        W[torch.arange(len(f)), lo] = 1 - frac
        W[torch.arange(len(f)), lo + 1] = frac
        self.register_buffer("W", W * (4.0 / n_fft), persistent=False)
        self.register_buffer("win", torch.hann_window(n_fft), persistent=False)

    def forward(self, audio):                   # [B, T*HOP] -> [B, T, O]
        T = audio.shape[1] // HOP
        xs = F.pad(audio[:, HOP:], (0, HOP))    # frame j of the centred STFT is at sample (j+1)*HOP
        sp = torch.stft(xs, self.n_fft, HOP, window=self.win, center=True, return_complex=True).abs()[:, :, :T]
        t = torch.matmul(self.W, sp).transpose(1, 2)
        # the window's main lobe leaks a partial into the oscillators next to it: keep only
        # oscillators that are the largest of their +-2 neighbours (non-maximum suppression)
        m = F.max_pool1d(t.reshape(-1, 1, t.shape[-1]), 5, stride=1, padding=2).reshape(t.shape)
        return torch.where(t >= m, t, t * 0.05)
