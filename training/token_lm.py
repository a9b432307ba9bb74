"""The token LM of sostenuto-piano 3: a GRU and band-local heads that generate the codec's tokens from MIDI.

One step per 10 ms codec frame (ddsp_codec.HOP). Inputs: the tokens of frame f-1 (its own
samples at inference), the conditioning features of frames f .. f+LOOKAHEAD, and its state
(the GRU's hidden vector: bounded, and carries as much history as it learned to, well beyond
one second). Output: logits of frame f's token in each of the K_CONTENT content codebooks,
trained by cross-entropy on the codec's tokens of FluidSynth renders.

Two paths meet in each codebook's head:
* **global**: a GRU over the sum of all codebooks' previous tokens and all conditioning features
  (tempo of the music, pedal, how loud the whole frame is, the room's tail);
* **band-local** (why: the codec is band-local, codebook b codes about eight neighbouring
  oscillators, so what decides its token is the MIDI of the keys whose partials fall in that band
  and the band's own recent tokens): codebook b reads the per-key features of the keys with a
  partial in its band (`band_keys`, derived from the codec's oscillator bank, which is fitted to
  the training audio: nothing piano-specific is wired in), and the previous tokens of itself and
  its two neighbours. Each band has its own small MLP (a grouped layer, as in the codec).
A global-only version (3.0.0) reached 22.5 % note recall on the test pieces against the codec's
own 66 %: routing 88 keys through one vector to 48 heads lost which key sounds where.

Exposure bias: during training the history the model reads is corrupted (HISTORY_NOISE of the
frames have a tenth of their tokens moved by one FSQ level or replaced at random), so at
inference it does not fall apart on its own slightly-off samples.

The graph holds one rule, and the model card lists it: the two clock codebooks are not predicted
but counted (frame f's clock is frame f-1's plus one; the silence tokens before the start are
followed by frame 0), with logits of +/-CLOCK_LOGIT so any sampler picks the count.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import ddsp_codec as dc
from common import C, FEATURE_SIZES, FEATURES, feature_slice

LOOKAHEAD = 2
EMBED = 192
HIDDEN = 256
CONTEXT = 64          # the global path's summary, given to every band's head
OWN = 16              # a band's embedding of its own (and its neighbours') previous token
BAND_HIDDEN = 64
KEY_EMBED = 8         # a key's features over frames f..f+L, summarised by one small map shared by all keys
CLOCK_LOGIT = 50.0
HISTORY_NOISE = 0.5
# The conditioning layout is common.FEATURES': per-key blocks of 128 (onset .. age), then the pedal.
KEY_BLOCKS = FEATURES.index("pedal")
AGE_BLOCK = FEATURES.index("note_age")
PEDAL_AT = feature_slice("pedal").start
assert all(FEATURE_SIZES[f] == 128 for f in FEATURES[:KEY_BLOCKS]) and PEDAL_AT == KEY_BLOCKS * 128
NO_KEY = 128          # padding slot of band_keys: a key whose features are all zero


def band_keys_of(codec):
    """[K_CONTENT, width] int64: the MIDI notes with a partial among codebook b's oscillators (NO_KEY pads)."""
    osc_keys = [keys for _, keys in dc.oscillators(codec.B.numpy())]
    assert len(osc_keys) == codec.n_osc, (len(osc_keys), codec.n_osc)
    bands = []
    for row in codec.band_index.tolist():
        keys = set()
        for o in row:
            if o < codec.n_osc:
                keys |= osc_keys[o]
        bands.append(sorted(keys))
    width = max(len(b) for b in bands)
    return torch.tensor([b + [NO_KEY] * (width - len(b)) for b in bands], dtype=torch.int64)


class TokenLM(nn.Module):
    def __init__(self, band_keys):
        super().__init__()
        self.register_buffer("band_keys", band_keys)                   # [Kc, width]
        width = band_keys.shape[1]
        self.embed = nn.Embedding(dc.K_CONTENT * dc.V, EMBED)        # one table per codebook, flattened
        self.cond = nn.Linear((LOOKAHEAD + 1) * C, EMBED)
        self.gru = nn.GRU(EMBED, HIDDEN, batch_first=True)
        self.context = nn.Linear(HIDDEN + EMBED, CONTEXT)
        self.own = nn.Embedding(dc.K_CONTENT * dc.V, OWN)
        self.key1 = nn.Linear((LOOKAHEAD + 1) * KEY_BLOCKS, 32)
        self.key2 = nn.Linear(32, KEY_EMBED)
        n_in = KEY_EMBED * width + (LOOKAHEAD + 1) + 3 * OWN + CONTEXT
        self.band1 = dc.BandLinear(dc.K_CONTENT, n_in, BAND_HIDDEN)
        self.band2 = dc.BandLinear(dc.K_CONTENT, BAND_HIDDEN, dc.V)
        self.register_buffer("offsets", torch.arange(dc.K_CONTENT) * dc.V)

    def inputs(self, prev, cond):
        """prev [B, T, Kc] tokens of the frames before, cond [B, T, L+1, C] -> GRU input, cond projection [B, T, EMBED]."""
        e = self.embed(prev + self.offsets).sum(-2)
        c = self.cond(cond.flatten(-2))
        return F.gelu(e + c), c

    def band_inputs(self, prev, cond):
        """-> [B, T, Kc, ...]: the embeddings of each band's keys (their features over frames f..f+L),
        the pedal, and the previous tokens of the band and its two neighbours."""
        keys = cond[..., :PEDAL_AT].reshape(*cond.shape[:-1], KEY_BLOCKS, 128)
        age = torch.log1p(keys[..., AGE_BLOCK:, :])                           # seconds, unbounded -> log
        keys = torch.cat([keys[..., :AGE_BLOCK, :], age], -2)                 # [B, T, L+1, 6, 128]
        keys = keys.flatten(2, 3).transpose(-1, -2)                           # [B, T, 128, (L+1)*6]
        e = self.key2(F.gelu(self.key1(keys)))                                # [B, T, 128, KEY_EMBED]
        e = torch.cat([e, torch.zeros_like(e[:, :, :1])], 2)                  # NO_KEY
        per_band = e[:, :, self.band_keys].flatten(-2)                        # [B, T, Kc, width*KEY_EMBED]
        pedal = cond[..., PEDAL_AT].unsqueeze(2).expand(-1, -1, dc.K_CONTENT, -1)
        own = self.own(prev + self.offsets)                                   # [B, T, Kc, OWN]
        z = torch.zeros_like(own[:, :, :1])
        lower, upper = torch.cat([z, own[:, :, :-1]], 2), torch.cat([own[:, :, 1:], z], 2)
        return torch.cat([per_band, pedal, lower, own, upper], -1)

    def logits(self, h, c, prev, cond):
        g = F.gelu(self.context(torch.cat([h, c], -1)))
        x = torch.cat([self.band_inputs(prev, cond), g.unsqueeze(-2).expand(*g.shape[:-1], dc.K_CONTENT, CONTEXT)], -1)
        return self.band2(F.gelu(self.band1(x)))                              # [B, T, Kc, V]

    def forward(self, prev, cond, h0=None):
        """Teacher-forced: [B, T, Kc], [B, T, L+1, C] -> logits [B, T, Kc, V], last state [1, B, H]."""
        x, c = self.inputs(prev, cond)
        h, hn = self.gru(x, h0)
        return self.logits(h, c, prev, cond), hn


def lm_weights(path):
    """The state dict in lm.pt, or in a training checkpoint ({"model": ..., "opt": ..., "step": ...})."""
    st = torch.load(path)
    return st["model"] if "model" in st else st


def load_lm(path):
    """The LM of lm.pt or of a training checkpoint."""
    st = lm_weights(path)
    lm = TokenLM(st["band_keys"])
    lm.load_state_dict(st)
    return lm


def corrupt_history(prev, gen):
    """The exposure-bias remedy: move or replace some of the history's content tokens."""
    B, T, Kc = prev.shape
    frame = torch.rand(B, T, 1, generator=gen) < HISTORY_NOISE
    pick = (torch.rand(B, T, Kc, generator=gen) < 0.1) & frame & (prev != dc.SILENCE)
    code = (prev - 1).clamp(min=0)
    a, b = code // dc.FSQ_LEVELS, code % dc.FSQ_LEVELS
    step = torch.randint(-1, 2, (B, T, Kc), generator=gen)
    which = torch.rand(B, T, Kc, generator=gen) < 0.5
    a = torch.where(which, (a + step).clamp(0, dc.FSQ_LEVELS - 1), a)
    b = torch.where(~which, (b + step).clamp(0, dc.FSQ_LEVELS - 1), b)
    moved = 1 + a * dc.FSQ_LEVELS + b
    rand = torch.randint(1, dc.V, (B, T, Kc), generator=gen)
    replace = torch.rand(B, T, Kc, generator=gen) < 0.2
    new = torch.where(replace, rand, moved)
    return torch.where(pick, new, prev)


class TokenLMStep(nn.Module):
    """The exported step of model.json: (tokens [B, K], cond [B, L+1, C], state [B, H]) ->
    (logits [B, K, V], state [B, H]); K = content codebooks + 2 clock codebooks."""

    def __init__(self, lm):
        super().__init__()
        self.lm = lm
        self.cell = nn.GRUCell(EMBED, HIDDEN)
        self.cell.weight_ih.data = lm.gru.weight_ih_l0.data
        self.cell.weight_hh.data = lm.gru.weight_hh_l0.data
        self.cell.bias_ih.data = lm.gru.bias_ih_l0.data
        self.cell.bias_hh.data = lm.gru.bias_hh_l0.data

    def forward(self, tokens, cond, state_in):
        prev = tokens[:, :dc.K_CONTENT]
        x, c = self.lm.inputs(prev, cond)
        h = self.cell(x, state_in)
        content = self.lm.logits(h[:, None], c[:, None], prev[:, None], cond[:, None])[:, 0]   # [B, Kc, V]
        hi, lo = tokens[:, dc.K_CONTENT], tokens[:, dc.K_CONTENT + 1]
        started = (hi > 0).long()                                             # silence tokens before frame 0
        prev_frame = (hi - 1) * dc.CLOCK_BASE + (lo - 1)
        nxt = torch.remainder(prev_frame + 1, dc.CLOCK_FRAMES) * started      # frame 0 after the silence
        want = torch.stack([nxt // dc.CLOCK_BASE + 1, torch.remainder(nxt, dc.CLOCK_BASE) + 1], 1)   # [B, 2]
        v = torch.arange(dc.V, device=tokens.device)
        clock = torch.where(v[None, None, :] == want[:, :, None], CLOCK_LOGIT, -CLOCK_LOGIT)
        return torch.cat([content, clock.to(content.dtype)], 1), h
