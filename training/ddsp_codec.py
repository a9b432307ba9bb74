"""The learned codec of sostenuto-piano 3: encoder -> FSQ tokens -> DDSP decoder, trained on audio.

Nothing here knows what instrument it plays; everything instrument-shaped is learned from
the training audio (the decoder's weights, the transient atoms) or fitted to it
(`fit_inharmonicity`: the stretch of each key's partials). Pieces:

* **Clock.** 10 ms frames (HOP = 240 samples at 24 kHz), so an onset lands at most 10 ms
  from a frame boundary. Two clock codebooks (the last two) carry the absolute frame index
  f mod 4096 as (f // 64 mod 64, f mod 64), each + 1. Oscillators make an integer number of
  cycles per CLOCK_SAMPLES = 4096 * HOP samples, so their phase at absolute sample t is exact
  in int64 and continuous across chunks (why a clock at all: oscillators.py).
* **Analysis front end** (fixed, MIDI-free): the amplitude at each oscillator's frequency of a
  2048-sample hann STFT zero-padded to 8192, and a 64-band log-mel spectrum, both centred on the
  frame's end (the decoder's control point for that frame).
* **Encoder** (learned): 3-frame convolution over the analysis -> LATENTS latents in (-1, 1).
* **Quantiser** (learned with the decoder): FSQ, 8 levels per latent, straight-through.
  Latents pair up into K_CONTENT codebooks of 64 codes (CODEBOOKS below); token 0 of every content
  codebook is reserved for silence, so V = 65. A frame whose reference peak (and its
  successor's) is under -70 dBFS is given the silence tokens.
* **Decoder** (learned, streamed): tokens of frames f-1, f, f+1 -> controls at the end of frame
  f: log-amplitudes of the N_OSC oscillators (partials 1..16 of every key in MIDI 21..108
  below 10 kHz, merged when within 0.5 %), gains of 24 noise bands (deterministic band-limited
  noise looped every 64 frames, indexed by the clock), and gains of 16 learned 20 ms transient
  atoms started at the frame's beginning. Audio of frame f interpolates the controls of
  f-1 and f. Silence tokens force a frame's controls to zero, so silence decodes to exact zero.
  Audio of frame f depends on the tokens of frames f-2 .. f+1: one frame of lookahead, which
  the engine's overlap cross-fade covers (DECODER_* below).
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SR = 24000
HOP = 240
CLOCK_BASE = 64                      # each clock codebook counts 0..63 (token = count + 1)
CLOCK_FRAMES = CLOCK_BASE * CLOCK_BASE
CLOCK_SAMPLES = CLOCK_FRAMES * HOP   # 983040 samples = 40.96 s
FSQ_LEVELS = 8
V = FSQ_LEVELS * FSQ_LEVELS + 1      # 64 codes + silence token 0
# The codec's width: K_CONTENT codebooks (one per band of oscillators) of two latents each, + clock_hi,
# clock_lo. Chosen when a codec is trained (train_codec.py --codebooks) and read back from its weights
# by load_codec (set_codebooks), so every codec checkpoint loads. Module-wide, because the LM, the
# exporter and the evaluation size themselves by dc.K_CONTENT / dc.K.
CODEBOOKS = 96                       # sostenuto-piano 3.2: about 4 oscillators a band (3.1.0 had 48, about 8)
K_CONTENT = LATENTS = K = 0          # set just below


def set_codebooks(k_content):
    global K_CONTENT, LATENTS, K
    K_CONTENT = int(k_content)
    LATENTS = 2 * K_CONTENT
    K = K_CONTENT + 2


set_codebooks(CODEBOOKS)
SILENCE = 0
SILENCE_DB = -70.0

KEYS, LOWEST, PARTIALS, FMAX, MERGE_RATIO = 88, 21, 16, 10000.0, 1.005
N_MELS = 64
N_NOISE = 24
NOISE_FRAMES = 64                    # the noise loop; indexed by clock_lo
N_ATOMS = 16
ATOM_LEN = 2 * HOP
ENC_HIDDEN, ENC_MEL = 48, 32         # per band; the encoder runs only in training and tokenizing
DEC_HIDDEN, DEC_GLOBAL = 48, 128     # per band / shared; the decoder runs in the engine, on every chunk

# Streaming (model.json decoder.*): chunk of 4 frames, 1 overlapped frame, 2 frames of left context.
DECODER_CHUNK, DECODER_OVERLAP, DECODER_WINDOW = 4, 1, 7

AN_WIN, AN_NFFT = 2048, 8192


# --- the oscillator bank ---------------------------------------------------------------
def key_f0(k):
    return 440.0 * 2 ** ((LOWEST + k - 69) / 12)


def partial_freqs(B):
    """B [KEYS] stretch coefficients -> [(frequency, key, partial)] below FMAX."""
    out = []
    for k in range(KEYS):
        for n in range(1, PARTIALS + 1):
            f = n * key_f0(k) * math.sqrt(1 + B[k] * n * n)
            if f < FMAX:
                out.append((f, k, n - 1))
    return sorted(out)


def oscillators(B):
    """The bank: [(frequency, {MIDI notes})] ascending. A partial within MERGE_RATIO of the last
    oscillator's frequency shares that oscillator (and belongs to it, for whoever asks whose it is)."""
    out = []
    for f, k, _ in partial_freqs(B):
        if not out or f > out[-1][0] * MERGE_RATIO:
            out.append((f, set()))
        out[-1][1].add(LOWEST + k)
    return out


def bank_cycles(B):
    """[O] int64 cycles per CLOCK_SAMPLES of each oscillator (ascending; near-duplicates merged)."""
    return torch.tensor([int(round(f * CLOCK_SAMPLES / SR)) for f, _ in oscillators(B)], dtype=torch.int64)


def fit_inharmonicity(spectra, counts, log=print):
    """Fit each key's partial stretch B (f_n = n f0 sqrt(1 + B n^2)) to the training audio.

    spectra [KEYS, AN_NFFT//2+1]: mean magnitude spectrum of frames where that key sounds alone,
    counts [KEYS]: how many frames. For each key with data, B is chosen from a log grid (and 0)
    to maximise the mean log magnitude at partials 2..16; then log B is fitted linearly in pitch
    across keys (weighted by data), which fills keys without data. A harmonic instrument gets B ~ 0.
    """
    grid = np.concatenate([[0.0], np.logspace(-6, -2, 49)])
    bins = np.arange(spectra.shape[1])
    best = np.full(KEYS, np.nan)
    for k in range(KEYS):
        if counts[k] < 10:
            continue
        lm = np.log(spectra[k] + 1e-9)
        scores = []
        for B in grid:
            n = np.arange(2, PARTIALS + 1)
            f = n * key_f0(k) * np.sqrt(1 + B * n * n)
            f = f[f < FMAX]
            if len(f) < 3:
                scores.append(-np.inf)
                continue
            b = np.rint(f * AN_NFFT / SR).astype(int)
            scores.append(np.mean([lm[max(0, i - 1):i + 2].max() for i in b]))
        if np.isfinite(max(scores)):
            best[k] = grid[int(np.argmax(scores))]
    ok = np.isfinite(best) & (best > 0)
    if ok.sum() < 3:
        log(f"inharmonicity: {ok.sum()} keys with a stretch; the bank is harmonic")
        return np.zeros(KEYS)
    p = np.arange(KEYS)[ok]
    w = np.sqrt(counts[ok])
    A = np.stack([np.ones_like(p, dtype=float), p - 44.0], 1)
    coef, *_ = np.linalg.lstsq(A * w[:, None], np.log(best[ok]) * w, rcond=None)
    B = np.exp(coef[0] + coef[1] * (np.arange(KEYS) - 44.0))
    log(f"inharmonicity: {ok.sum()} keys fitted; log B = {coef[0]:.2f} + {coef[1]:.4f} (key - 44); "
        f"B(A0) = {B[0]:.2e}, B(C4) = {B[39]:.2e}, B(C8) = {B[87]:.2e}")
    return B


# --- analysis front end (numpy, offline) ---------------------------------------------
def mel_filterbank(n_fft, n_mels, fmin=30.0, fmax=11000.0):
    mel = lambda f: 2595 * np.log10(1 + f / 700)
    imel = lambda m: 700 * (10 ** (m / 2595) - 1)
    pts = imel(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    freqs = np.arange(n_fft // 2 + 1) * SR / n_fft
    fb = np.zeros((n_mels, len(freqs)), np.float32)
    for i in range(n_mels):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0, None)
    return fb


def frame_spectra(x, n_frames, win, nfft):
    """Magnitude spectra [T, nfft//2+1] of hann windows centred on each frame's end (numpy)."""
    w = np.hanning(win).astype(np.float32)
    pad = win
    xp = np.pad(x.astype(np.float32), (pad, pad + (n_frames + 2) * HOP))
    out = np.zeros((n_frames, nfft // 2 + 1), np.float32)
    for s in range(0, n_frames, 512):
        idx = np.arange(s, min(n_frames, s + 512))
        centre = (idx + 1) * HOP + pad
        seg = xp[centre[:, None] - win // 2 + np.arange(win)[None, :]] * w
        out[idx] = np.abs(np.fft.rfft(seg, nfft, axis=1))
    return out, float(w.sum())


def analyse(x, n_frames, cycles):
    """Audio -> (osc [T, O] log amplitude at each oscillator, mel [T, N_MELS] log magnitude)."""
    S, wsum = frame_spectra(x, n_frames, AN_WIN, AN_NFFT)
    f = cycles.numpy() * SR / CLOCK_SAMPLES
    b = np.rint(f * AN_NFFT / SR).astype(int)
    amp = np.maximum(np.maximum(S[:, b - 1], S[:, b]), S[:, np.minimum(b + 1, S.shape[1] - 1)]) * 2 / wsum
    S2, _ = frame_spectra(x, n_frames, 1024, 1024)
    mel = mel_filterbank(1024, N_MELS) @ S2.T
    return np.log(amp + 1e-4).astype(np.float16), np.log(mel.T + 1e-4).astype(np.float16)


def solo_spectra(x, feat_sounding, n_frames, acc, counts):
    """Accumulate the long-window spectra of frames where exactly one key (MIDI 21..108) sounds."""
    snd = feat_sounding[:n_frames, LOWEST:LOWEST + KEYS] > 0
    solo = snd.sum(1) == 1
    if not solo.any():
        return
    S, _ = frame_spectra(x, n_frames, AN_WIN, AN_NFFT)
    keys = snd.argmax(1)
    for f in np.nonzero(solo)[0]:
        acc[keys[f]] += S[f]
        counts[keys[f]] += 1


def noise_table(seed=0):
    """[N_NOISE, NOISE_FRAMES, HOP] unit-RMS band-limited noise (mel-spaced bands), seamless loop."""
    n = NOISE_FRAMES * HOP
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    fb = mel_filterbank(n, N_NOISE, 40.0, 11500.0)
    bands = np.fft.irfft(spec[None, :] * fb, n)
    bands /= np.sqrt((bands ** 2).mean(1, keepdims=True)) + 1e-12
    return torch.tensor(bands.reshape(N_NOISE, NOISE_FRAMES, HOP), dtype=torch.float32)


# --- the model -------------------------------------------------------------------------
def fsq(z):
    """z (any real) -> (values in [-1, 1] straight-through, level indices 0..7)."""
    zc = torch.tanh(z)
    q = torch.round((zc + 1) * 0.5 * (FSQ_LEVELS - 1))
    v = q * (2.0 / (FSQ_LEVELS - 1)) - 1.0
    return zc + (v - zc).detach(), q.long()


def levels_to_tokens(q):                       # [..., LATENTS] -> [..., K_CONTENT] in 1..64
    q = q.reshape(*q.shape[:-1], K_CONTENT, 2)
    return 1 + q[..., 0] * FSQ_LEVELS + q[..., 1]


class BandLinear(nn.Module):
    """One small linear map per band: [..., bands, n_in] -> [..., bands, n_out] (a grouped layer)."""

    def __init__(self, bands, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(bands, n_in, n_out) / math.sqrt(n_in))
        self.bias = nn.Parameter(torch.zeros(bands, n_out))

    def forward(self, x):
        return torch.einsum("...bi,bio->...bo", x, self.weight) + self.bias


class Codec(nn.Module):
    """Band-local autoencoder: codebook b encodes and decodes the b-th band of about eight
    frequency-sorted oscillators (with the log-mel as shared context); noise and transients are
    decoded from all codebooks together. Locality is what makes the pitch learnable in a CPU budget:
    a dense version of this codec trained here did not tie its output to the pitch in 350 steps."""

    def __init__(self, B):
        super().__init__()
        self.register_buffer("B", torch.tensor(np.asarray(B), dtype=torch.float64))
        self.register_buffer("cycles", bank_cycles(np.asarray(B)))
        O = len(self.cycles)
        self.n_osc = O
        width = -(-O // K_CONTENT)
        idx = torch.full((K_CONTENT, width), O, dtype=torch.int64)          # O = a padding slot
        for b, band in enumerate(np.array_split(np.arange(O), K_CONTENT)):
            idx[b, :len(band)] = torch.tensor(band)
        self.register_buffer("band_index", idx)                              # [Kc, width]
        flat = idx.flatten()
        self.register_buffer("osc_slot", torch.nonzero(flat < O).flatten())  # decoder slot of each oscillator
        self.width = width
        # Encoder: the band's analysis over frames f-1..f+1, plus the log-mel's shared context.
        self.enc_mel = nn.Linear(3 * N_MELS, ENC_MEL)
        self.enc1 = BandLinear(K_CONTENT, 3 * width + ENC_MEL, ENC_HIDDEN)
        self.enc2 = BandLinear(K_CONTENT, ENC_HIDDEN, 2)
        # Decoder: the band's two FSQ values over frames f-1..f+1 -> its oscillators' log-amplitudes;
        # every codebook together -> noise and transient gains.
        tab = torch.zeros(V, 2)
        codes = torch.arange(V - 1)
        tab[1:, 0] = (codes // FSQ_LEVELS).float() * (2.0 / (FSQ_LEVELS - 1)) - 1
        tab[1:, 1] = (codes % FSQ_LEVELS).float() * (2.0 / (FSQ_LEVELS - 1)) - 1
        self.register_buffer("token_values", tab)          # token -> its two FSQ values (0 for silence)
        self.dec1 = BandLinear(K_CONTENT, 3 * 2, DEC_HIDDEN)
        self.dec2 = BandLinear(K_CONTENT, DEC_HIDDEN, width)
        self.dec_g1 = nn.Linear(3 * LATENTS, DEC_GLOBAL)
        self.dec_noise = nn.Linear(DEC_GLOBAL, N_NOISE)
        self.dec_atom = nn.Linear(DEC_GLOBAL, N_ATOMS)
        nn.init.constant_(self.dec2.bias, -7.0)
        nn.init.zeros_(self.dec_noise.weight); nn.init.constant_(self.dec_noise.bias, -9.0)
        nn.init.zeros_(self.dec_atom.weight); nn.init.constant_(self.dec_atom.bias, -9.0)
        g = torch.Generator().manual_seed(7)
        env = torch.exp(-torch.arange(ATOM_LEN, dtype=torch.float32) / 48.0)
        self.atoms = nn.Parameter(torch.randn(N_ATOMS, ATOM_LEN, generator=g) * env * 0.1)
        self.register_buffer("noise", noise_table())
        n = torch.arange(HOP, dtype=torch.float64)
        lam = (n + 0.5) / HOP
        w = 2 * math.pi * self.cycles.double()[:, None] / CLOCK_SAMPLES
        c, s = torch.cos(w * n), torch.sin(w * n)
        self.register_buffer("basis", torch.cat([(1 - lam) * c, -(1 - lam) * s, lam * c, -lam * s], 0).float())
        self.register_buffer("lam", lam.float())

    @staticmethod
    def _three(x):
        """[B, T, ...] -> [B, T-2, 3, ...]: frames f-1, f, f+1 for f = 1 .. T-2."""
        return torch.stack([x[:, :-2], x[:, 1:-1], x[:, 2:]], 2)

    def encode(self, osc, mel):
        """Analysis osc [B, T, O], mel [B, T, M] (log) -> latents [B, T-2, LATENTS] (pre-FSQ) of frames 1..T-2."""
        padded = torch.cat([osc, torch.full_like(osc[..., :1], math.log(1e-4))], -1)
        bands = padded[..., self.band_index]                                  # [B, T, Kc, width]
        x = self._three(bands).permute(0, 1, 3, 2, 4).flatten(-2)            # [B, T-2, Kc, 3*width]
        m = F.gelu(self.enc_mel(self._three(mel).flatten(-2)))               # [B, T-2, ENC_MEL]
        x = torch.cat([x, m.unsqueeze(2).expand(-1, -1, K_CONTENT, -1)], -1)
        h = F.gelu(self.enc1(x))
        return self.enc2(h).flatten(-2)

    def frame_inputs(self, tokens):
        """content tokens [B, T, K_CONTENT] -> (FSQ values [B, T, LATENTS], silence [B, T])."""
        v = self.token_values[tokens].reshape(*tokens.shape[:2], LATENTS)
        sil = (tokens == SILENCE).all(-1).float()
        return v, sil

    def controls(self, v, sil):
        """FSQ values [B, T, LATENTS] (0 on silent frames) and silence [B, T] -> the controls of frames
        1..T-2 (each needs f-1 and f+1): osc amplitudes [B, T-2, O], noise [B, T-2, N_NOISE], atoms [B, T-2, N_ATOMS]."""
        v3 = self._three(v)                                                   # [B, T-2, 3, LATENTS]
        per_band = v3.reshape(*v3.shape[:3], K_CONTENT, 2).permute(0, 1, 3, 2, 4).flatten(-2)   # [B, T-2, Kc, 6]
        h = F.gelu(self.dec1(per_band))
        la = self.dec2(h).flatten(-2)                                         # [B, T-2, Kc*width]
        la = la.index_select(-1, self.osc_slot)                              # [B, T-2, O] (bands are contiguous)
        g = F.gelu(self.dec_g1(v3.flatten(-2)))
        live = (1 - sil[:, 1:-1]).unsqueeze(-1)
        osc = torch.exp(torch.clamp(la, max=0.0)) * live
        noise = torch.exp(torch.clamp(self.dec_noise(g), max=0.0)) * live
        atom = torch.exp(torch.clamp(self.dec_atom(g), max=0.0)) * live
        return osc, noise, atom

    def synth(self, osc, noise, atom, frame0):
        """Controls of frames f0-1 .. f0+T-1 [B, T+1, ...] and the absolute index f0 [B] (int64) of the
        first frame to play -> audio of frames f0 .. f0+T-1 [B, T*HOP]."""
        Bn, T1, O = osc.shape
        T = T1 - 1
        f = frame0[:, None] + torch.arange(T, device=osc.device)[None, :]                 # [B, T]
        t0 = torch.remainder(f, CLOCK_FRAMES) * HOP
        cyc = torch.remainder(t0.unsqueeze(-1) * self.cycles, CLOCK_SAMPLES)             # [B, T, O]
        ph = cyc.to(torch.float32) * (2 * math.pi / CLOCK_SAMPLES)
        c, s = torch.cos(ph), torch.sin(ph)
        a0, a1 = osc[:, :-1], osc[:, 1:]
        coef = torch.cat([a0 * c, a0 * s, a1 * c, a1 * s], -1)                           # [B, T, 4O]
        y = coef @ self.basis                                                             # [B, T, HOP]
        lo = torch.remainder(f, NOISE_FRAMES)                                             # [B, T]
        nz = self.noise[:, lo].permute(1, 2, 0, 3)                                        # [B, T, N, HOP]
        g = noise[:, :-1, :, None] * (1 - self.lam) + noise[:, 1:, :, None] * self.lam   # [B, T, N, HOP]
        y = y + (g * nz).sum(2)
        wave = atom @ self.atoms                                                          # [B, T+1, 2HOP]
        y = y + wave[:, 1:, :HOP] + wave[:, :-1, HOP:]
        return y.reshape(Bn, T * HOP)

    def decode_tokens(self, tokens, frame0):
        """content tokens of frames f0-2 .. f0+T [B, T+3, K_CONTENT] -> audio of frames f0 .. f0+T-1."""
        v, sil = self.frame_inputs(tokens)
        return self.synth(*self.controls(v, sil), frame0)


def load_codec(path):
    """A trained codec from its checkpoint ({"B": stretch coefficients, "model": state dict}), in eval mode.
    Sets the module's codebook count to the checkpoint's (its decoder has one band per codebook)."""
    st = torch.load(path)
    set_codebooks(st["model"]["dec1.weight"].shape[0])
    codec = Codec(st["B"])
    codec.load_state_dict(st["model"])
    return codec.eval()


def clock_tokens(frames):
    """Absolute frame indices (int64 tensor) -> (clock_hi, clock_lo) tokens in 1..64."""
    f = torch.remainder(frames, CLOCK_FRAMES)
    return f // CLOCK_BASE + 1, torch.remainder(f, CLOCK_BASE) + 1


class DecoderExport(nn.Module):
    """The streamed decoder of model.json: tokens [B, K, W] (clock last two) -> audio [B, 1, W*HOP].

    Frame w's audio needs the controls of w-1 and w; the controls of w need tokens w-1..w+1. At the
    window's edges the missing neighbours repeat the edge frame: the first frames are discarded left
    context, and the last frame (no lookahead yet) is provisional, replaced under the cross-fade by
    the next chunk, which decodes it with its lookahead.
    """

    def __init__(self, codec):
        super().__init__()
        self.codec = codec

    def forward(self, tokens):
        c = self.codec
        content = tokens[:, :K_CONTENT, :].transpose(1, 2)                                # [B, W, Kc]
        hi, lo = tokens[:, K_CONTENT, :], tokens[:, K_CONTENT + 1, :]
        # The clock of the window's last frame, which is never before the start (frames before 0 carry
        # the silence tokens, clock 0): absolute frame mod 4096 of the window's first frame.
        last = (hi[:, -1] - 1) * CLOCK_BASE + (lo[:, -1] - 1)
        first = last - (tokens.shape[2] - 1)
        padded = torch.cat([content[:, :1], content[:, :1], content, content[:, -1:]], 1)   # [B, W+3, Kc]
        audio = c.decode_tokens(padded, first)
        return audio.unsqueeze(1)
