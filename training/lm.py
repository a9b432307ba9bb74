"""The Sostenuto piano LM: a key-factorised autoregressive model over the parametric codec's tokens.

A piano is 88 similar instruments played at once, so the model is one small network
shared by the 88 keys (with a learned key embedding), not one big network over the
whole frame. For frame f and key k it sees:

* the key's MIDI conditioning for frames f..f+LOOKAHEAD (onset and its offset in the
  frame, held, sounding, velocity, note_age as decaying exponentials, the pedal);
* the previous frame's sound, read from its *tokens*: the tokens of frame f-1 (the
  step's input) are turned back into log-amplitudes through the codec's codebooks,
  and the key reads the 16 oscillators of its own partials; and its own level in the
  previous frame (the state). A released note decays from the lower of the two: from
  what was actually played, not from what was planned (see step()).

It predicts the log-amplitudes of its 16 partials: the shared network's output plus a
per-key, per-partial linear term in a few basis functions of the key's own velocity and
age (TONE_BASIS). The network alone is smooth across the keyboard, and a sampled piano
is not: each key's samples have their own partial balance, attack and decay, and the
top octaves came out 10-13 dB quiet without their second partial. The keys' amplitudes are summed
into the codec's 438 oscillators (partials of different keys that share an
oscillator add up), giving the frame's predicted log-amplitude vector y. A small
head predicts whether the frame is silent (the codec's silence token).

The token logits are a distance head over the codec's own product codebooks:
codebook k's logit for codeword c is -beta * |g(y_k) - g(c)|^2, where y_k is y's band k and
g(x) = exp(LOUDNESS_POWER * x) compares amplitudes^0.7, not log-amplitudes (see head_distances).
beta = 1 / (2 sigma^2), sigma^2 the per-dimension error of g(y) on training pieces, so the logits are the
Gaussian likelihood of each codeword. Codebook 0's token 0 (silence) gets the silence head's
logit relative to the best codeword. The clock codebook (the last) is not learned: the next clock token
(prev mod 511) + 1 gets a logit margin of CLOCK_MARGIN.

Trained by regression of y on the codec analysis of the reference audio (not on
quantised tokens), which is what lets a few minutes of one CPU core learn it.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import CLOCK_PERIOD, K, K_CONTENT, LOOKAHEAD, V, feature_slice
from oscillators import KEYS, LOWEST, N_OSC, PARTIALS, partial_map
from pcodec import FLOOR, BandTable

FLOOR_LOG = math.log(FLOOR)      # the codec's log-amplitude of silence
AGE_TAUS = (0.05, 0.25, 1.0, 4.0)
KEY_FEATURES = 6 + len(AGE_TAUS)  # per lookahead frame: onset, offset, held, sounding, velocity, pedal + ages
KEY_EMB = 16
TONE_BASIS_TAUS = (0.05, 0.25, 1.0)   # the attack, the early and the late decay
TONE_BASIS = 2 + len(TONE_BASIS_TAUS)  # per key partial: a level, a velocity slope, one weight per decay
STATE = 2 * PARTIALS               # per key: the current strike's partial levels and the previous strike's
HIDDEN = 112
CLOCK_MARGIN = 80.0
QUIET_PARTIAL = 1e-3              # -60 dBFS: a frame with no partial above it, and nothing played, is silence
SILENCE_MARGIN = 60.0
LOUDNESS_POWER = 0.7              # the token head compares bands as amplitude^0.7 (see head_distances)
MURMUR_LOG = math.log(1.5 * FLOOR)  # predicted oscillators below this count as the floor in the token head
LA_MID, LA_SCALE = -5.0, 2.5      # input normalisation of log-amplitudes


def without_murmur(y):
    """Predicted log-amplitudes under MURMUR_LOG set to the floor (see PianoLM.head_distances)."""
    return torch.where(y < MURMUR_LOG, y * 0.0 + FLOOR_LOG, y)


def key_features(cond):
    """[N, L+1, C] engine features -> [N, KEYS, (L+1) * KEY_FEATURES]."""
    s = lambda n: cond[:, :, feature_slice(n)][:, :, LOWEST:LOWEST + KEYS]      # [N, L+1, KEYS]
    snd = s("note_sounding")
    age = s("note_age")
    pedal = cond[:, :, feature_slice("pedal")] + snd * 0.0      # broadcast; ones_like would lose static shapes in ONNX
    parts = [s("note_onset"), s("onset_offset"), s("note_held"), snd, s("note_velocity"), pedal]
    parts += [torch.exp(age * (-1.0 / t)) * snd for t in AGE_TAUS]
    x = torch.stack(parts, 3)                                                  # [N, L+1, KEYS, F]
    return x.transpose(1, 2).reshape(-1, KEYS, (LOOKAHEAD + 1) * KEY_FEATURES)


class PianoLM(nn.Module):
    def __init__(self, codebooks):
        """codebooks: the codec's [K_CONTENT, V, O] log-amplitude codewords (row 0 = silence)."""
        super().__init__()
        pmap, n_osc = partial_map(), N_OSC
        assert n_osc == codebooks.shape[2], (n_osc, codebooks.shape)
        self.n_osc = n_osc
        valid = pmap >= 0
        self.register_buffer("gather_idx", torch.where(valid, pmap, torch.full_like(pmap, n_osc)).flatten(), persistent=False)
        spread = torch.zeros(KEYS * PARTIALS, n_osc)                           # key partial -> oscillator (sums)
        spread[torch.arange(KEYS * PARTIALS)[valid.flatten()], pmap.flatten()[valid.flatten()]] = 1.0
        self.register_buffer("spread", spread, persistent=False)
        self.register_buffer("valid", valid.to(torch.float32), persistent=False)
        self.bands = BandTable(codebooks)
        self.register_buffer("pitch", ((torch.arange(KEYS, dtype=torch.float32) + LOWEST - 64) / 24).reshape(KEYS, 1),
                             persistent=False)
        self.register_buffer("beta", torch.tensor(2.0))                        # set from held-out error after training
        self.key_emb = nn.Parameter(torch.randn(KEYS, KEY_EMB) * 0.1)
        n_in = (LOOKAHEAD + 1) * KEY_FEATURES + 1 + KEY_EMB
        self.key_tone = nn.Parameter(torch.zeros(KEYS, PARTIALS, TONE_BASIS))
        self.tone = nn.Sequential(nn.Linear(n_in, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, HIDDEN), nn.GELU(),
                                  nn.Linear(HIDDEN, PARTIALS))
        nn.init.constant_(self.tone[-1].bias, FLOOR_LOG + 1.5)
        nn.init.normal_(self.tone[-1].weight, std=0.01)
        self.gate = nn.Sequential(nn.Linear(n_in, 32), nn.GELU(), nn.Linear(32, 1))
        self.release = nn.Sequential(nn.Linear(1 + KEY_EMB + 1, 32), nn.GELU(), nn.Linear(32, PARTIALS))
        self.silence = nn.Sequential(nn.Linear(2 * (LOOKAHEAD + 1) + 2, 16), nn.GELU(), nn.Linear(16, 1))

    # --- tokens <-> log-amplitudes -------------------------------------------------
    def dequantise(self, tokens):
        """tokens [N, K] -> log-amplitudes [N, O], live [N, 1] (0 on silence tokens)."""
        la = self.bands.log_amplitudes(tokens[:, :K_CONTENT])
        live = (tokens[:, 0:1] != 0).to(torch.float32)
        return la * live + FLOOR_LOG * (1.0 - live), live

    # --- the model ----------------------------------------------------------------
    def drive(self, cond):
        """The MIDI's part, computable for all frames at once: cond [N, L+1, C] ->
        tone [N, KEYS, PARTIALS] (log-amplitudes the key would have if it were played now),
        w [N, KEYS, 1] (how much the MIDI decides: 1 while the key sounds or is struck within the
        lookahead, else a learned gate), release [N, KEYS, PARTIALS] (<= 0, a per-frame decay)."""
        kf = key_features(cond)
        ones = kf[:, :, :1] * 0.0 + 1.0                # not torch.ones/ones_like: the export keeps static shapes
        base = torch.cat([kf, self.pitch * ones, self.key_emb * ones], 2)
        key = lambda n: cond[:, :, feature_slice(n)][:, :, LOWEST:LOWEST + KEYS]          # [N, L+1, KEYS]
        snd0, age0 = key("note_sounding")[:, 0], key("note_age")[:, 0]                   # [N, KEYS]
        basis = [ones[:, :, 0], key("note_velocity")[:, 0]] + [torch.exp(age0 * (-1.0 / t)) * snd0 for t in TONE_BASIS_TAUS]
        own = torch.matmul(self.key_tone, torch.stack(basis, 2).unsqueeze(3)).squeeze(3)  # [N, KEYS, PARTIALS]
        tone = torch.clamp(self.tone(base) + own, max=2.0)
        playing = torch.cat([key("note_sounding")[:, :1], key("note_onset")], 1).amax(1).unsqueeze(2)
        w = torch.clamp(playing + torch.sigmoid(self.gate(base)), max=1.0)
        pedal = cond[:, 0, feature_slice("pedal")].unsqueeze(1) * ones
        release = -F.softplus(self.release(torch.cat([self.pitch * ones, self.key_emb * ones, pedal], 2)))
        return tone, w, release

    def step(self, cond, drive, la1, live1, level1):
        """One frame: the MIDI's drive, the previous frame as decoded from its tokens (la1 [N, O],
        live1 [N, 1]) and each key's previous levels [N, KEYS, STATE] ->
        y [N, O] (predicted log-amplitudes), silence logit [N, 1], levels [N, KEYS, STATE] and the
        silence head's inputs [N, 2(L+1)+2].

        Each key has two voices, as a sampled piano does: the current strike and the one before it.
        voice = w * tone + (1 - w) * decayed, decayed = min(own previous level, what was played) + release,
        and never above decayed while the key is not played.
        The previous frame enters only through the decaying branch, and only below the key's own
        level, so the model cannot feed on its own output or on a neighbour's partials: a
        released note dies away from the level it actually reached, and nothing holds without
        the MIDI holding it.
        When the key is struck again, the voice it had moves to the second voice and dies away there
        (release per frame) while the new strike starts from its tone; their amplitudes add. With
        one voice a re-strike replaced a still-ringing note by a fresh attack: the level dipped at the
        onset and did not rise above the old note's, and repeated notes did not re-strike.
        """
        tone, w, release = drive
        voice1, old1 = level1[:, :, :PARTIALS], level1[:, :, PARTIALS:]
        floor = la1[:, :1] * 0.0 + FLOOR_LOG
        played = torch.cat([la1, floor], 1).index_select(1, self.gather_idx).reshape(-1, KEYS, PARTIALS)
        decayed = torch.minimum(voice1, played) + release
        struck = (cond[:, 0, feature_slice("note_onset")][:, LOWEST:LOWEST + KEYS] > 0).to(torch.float32).unsqueeze(2)
        voice = w * tone + (1 - w) * decayed
        # A key that is not played only decays: its gate may hasten that, never hold or raise it.
        # Ungated, a key the model had tuned loud kept a small w times that tone: in 48-frame training
        # runs it never settled, playing on its own it settled into a hum (one held -30 dBFS).
        voice = torch.where(w >= 1.0, voice, torch.minimum(voice, decayed))
        old = struck * decayed + (1 - struck) * (old1 + release)
        level = torch.cat([voice, old], 2)
        over = torch.exp(voice) - FLOOR
        over_old = torch.exp(old) - FLOOR
        amp = F.relu(over) + F.relu(over_old)                                             # at the floor: exactly 0
        if self.training:   # straight-through: a partial below the floor still learns to come back
            amp = over + (F.relu(over) - over).detach() + F.relu(over_old)
        amp = amp * self.valid
        total = torch.matmul(amp.reshape(-1, KEYS * PARTIALS), self.spread)               # [N, O]
        y = torch.log(total + FLOOR)
        snd = cond[:, :, feature_slice("note_sounding")].amax(2)                        # [N, L+1]
        ons = cond[:, :, feature_slice("note_onset")].amax(2)
        s_in = torch.cat([snd, ons, live1, torch.log(total.sum(1, keepdim=True) + 1e-6) / 5], 1)
        return y, self.silence(s_in), level, s_in

    def forward(self, prev, cond, warmup):
        """Teacher forcing over runs of frames: tokens of frame f-1 [B, S, K], cond [B, S, L+1, C]
        -> y [B, S, O], silence logits [B, S, 1]. Key levels start at the floor; the first
        `warmup` frames of each run only settle them (the caller leaves them out of the loss)."""
        B, S = prev.shape[:2]
        tone, w, release = self.drive(cond.flatten(0, 1))
        view = lambda t: t.reshape(B, S, *t.shape[1:])
        tone, w, release = view(tone), view(w), view(release)
        la, live = self.dequantise(prev.flatten(0, 1))
        la, live = view(la), view(live)
        level = torch.full((B, KEYS, STATE), FLOOR_LOG)
        ys, sils = [], []
        for j in range(S):
            y, sil, level, _ = self.step(cond[:, j], (tone[:, j], w[:, j], release[:, j]), la[:, j], live[:, j], level)
            ys.append(y)
            sils.append(sil)
        return torch.stack(ys, 1), torch.stack(sils, 1), tone, w

    def key_targets(self, target):
        """[..., O] log-amplitudes -> [..., KEYS, PARTIALS]: what each key partial's oscillator holds."""
        t = torch.cat([target, target[..., :1] * 0.0 + FLOOR_LOG], -1).index_select(-1, self.gather_idx)
        return t.reshape(*target.shape[:-1], KEYS, PARTIALS)

    def head_distances(self, y):
        """[N, O] predicted log-amplitudes -> [K_CONTENT, N, V-1] distances to each band's sound codewords.

        Two things differ from the codec's encoder (plain squared error of log-amplitudes), because
        y is a conditional mean, not an analysed frame:
        * Bands are compared as amplitude^LOUDNESS_POWER. In log-amplitudes a band's 13 or 14
          oscillators near the floor outvote the one partial that sounds, and the nearest codeword
          was often a quieter one without it: held-out note recall was 79 % greedy through the
          codewords against 96 % for y itself, 93 % compared this way.
        * Oscillators predicted under MURMUR_LOG count as the floor. A key that is not played sits a
          hair above the floor (the analysis reads a little leakage there, and y is its mean); over
          438 oscillators that picked near-floor codewords whose sum is a -60 dBFS murmur, heard
          (and counted as spurious pitches) under a lone pianissimo note."""
        return self.bands.distances(without_murmur(y), LOUDNESS_POWER)

    def nearest(self, y):
        """[N, O] -> [N, O]: the greedy choice of the token head, each band's most likely sound codeword."""
        best = torch.argmin(self.head_distances(y), 2).t() + 1                           # [N, K_CONTENT]
        return self.bands.log_amplitudes(best)

    def loudness(self, y):
        """log-amplitudes -> the domain the token head compares in (for beta)."""
        return torch.exp(LOUDNESS_POWER * without_murmur(y))

    def token_logits(self, y, sil_logit, prev_clock, cond):
        """-> logits [N, K, V]: the distance head (see the module docstring).

        Silence is certain (SILENCE_MARGIN) when no key is struck in the conditioning window and no
        predicted partial reaches QUIET_PARTIAL (-60 dBFS): the learned silence head alone let
        release tails end in a -78 dBFS murmur (near-floor codewords) where the reference is digital
        silence, which the evaluation counted as spurious pitches. Keys that still sound do not
        count: a pianissimo note the model predicts below -60 dBFS (FluidSynth's velocity 2 is
        under -89) played, in frames where the sampler chose sound, near-floor codewords whose sum
        was a -55 dBFS murmur (held-out spurious pitches 6.4 % -> 3.4 %).
        Applied here, not in the trained step, so training and its silence head are unchanged."""
        struck = cond[:, :, feature_slice("note_onset")].amax(2).amax(1, keepdim=True)
        loudest = torch.exp(y).amax(1, keepdim=True)
        certain = ((struck == 0) & (loudest < QUIET_PARTIAL)).to(torch.float32)
        sil_logit = sil_logit + SILENCE_MARGIN * certain
        d = self.head_distances(y)                                                       # [K, N, V-1]
        lg = -self.beta * (d - d.amin(2, keepdim=True))
        # Silence against the best codeword (whose logit is 0): the most likely token is silence
        # exactly when the silence head says more likely than not, so low temperatures keep the
        # silence head's decision instead of drowning it in the spread of the codewords.
        zero0 = sil_logit + lg[0, :, :1] * 0.0
        zeros = lg[1:, :, :1] * 0.0 - 1e4                                                 # silence only via codebook 0
        sound = torch.cat([torch.cat([zero0.unsqueeze(0), zeros], 0), lg], 2).transpose(0, 1)   # [N, K, V]
        nxt = torch.remainder(prev_clock, CLOCK_PERIOD) + 1                              # [N, 1]
        vocab = torch.arange(V, dtype=torch.int64).unsqueeze(0)
        clock = (vocab == nxt).to(torch.float32) * CLOCK_MARGIN
        return torch.cat([sound, clock.unsqueeze(1)], 1)


class PianoLMStep(nn.Module):
    """Exported step: (tokens [B,K] of frame f-1, cond [B,L+1,C], state [B,KEYS,STATE])
    -> (logits [B,K,V], state [B,KEYS,STATE]). The state is each key's levels minus FLOOR_LOG, so the contract's
    all-zeros initial state is silence."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm

    def forward(self, tokens, cond, state_in):
        la, live = self.lm.dequantise(tokens)
        y, sil, level, _ = self.lm.step(cond, self.lm.drive(cond), la, live, state_in + FLOOR_LOG)
        logits = self.lm.token_logits(y, sil, tokens[:, K - 1:K], cond)
        return logits, level - FLOOR_LOG
