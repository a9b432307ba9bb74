"""The token LM of sostenuto-piano 3: a GRU that generates the codec's tokens from MIDI features.

One step per 10 ms codec frame (ddsp_codec.HOP). Inputs: the tokens of frame f-1 (its own
samples at inference), the conditioning features of frames f .. f+LOOKAHEAD, and its state
(the GRU's hidden vector: bounded, and carries as much history as it learned to, well beyond
one second). Output: logits of frame f's token in each of the K_CONTENT content codebooks,
trained by cross-entropy on the codec's tokens of FluidSynth renders.

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
from common import C

LOOKAHEAD = 2
EMBED = 192
HIDDEN = 256
HEAD = 128
CLOCK_LOGIT = 50.0
HISTORY_NOISE = 0.5


class TokenLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(dc.K_CONTENT * dc.V, EMBED)       # one table per codebook, flattened
        self.cond = nn.Linear((LOOKAHEAD + 1) * C, EMBED)
        self.gru = nn.GRU(EMBED, HIDDEN, batch_first=True)
        self.head1 = nn.Linear(HIDDEN + EMBED, HEAD)
        self.head2 = nn.Linear(HEAD, dc.K_CONTENT * dc.V)
        self.register_buffer("offsets", torch.arange(dc.K_CONTENT) * dc.V)

    def inputs(self, prev, cond):
        """prev [B, T, Kc] tokens of the frames before, cond [B, T, L+1, C] -> [B, T, EMBED] each."""
        e = self.embed(prev + self.offsets).sum(-2)
        c = self.cond(cond.flatten(-2))
        return F.gelu(e + c), c

    def logits(self, h, c):
        y = F.gelu(self.head1(torch.cat([h, c], -1)))
        y = self.head2(y)
        return y.reshape(*y.shape[:-1], dc.K_CONTENT, dc.V)

    def forward(self, prev, cond, h0=None):
        """Teacher-forced: [B, T, Kc], [B, T, L+1, C] -> logits [B, T, Kc, V], last state [1, B, H]."""
        x, c = self.inputs(prev, cond)
        h, hn = self.gru(x, h0)
        return self.logits(h, c), hn


def load_lm(path):
    """LM weights from lm.pt (a state dict) or a training checkpoint ({"model": ..., "opt": ..., "step": ...})."""
    st = torch.load(path)
    lm = TokenLM()
    lm.load_state_dict(st["model"] if "model" in st else st)
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
        x, c = self.lm.inputs(tokens[:, :dc.K_CONTENT], cond)
        h = self.cell(x, state_in)
        content = self.lm.logits(h, c)                                        # [B, Kc, V]
        hi, lo = tokens[:, dc.K_CONTENT], tokens[:, dc.K_CONTENT + 1]
        started = (hi > 0).long()                                             # silence tokens before frame 0
        prev = (hi - 1) * dc.CLOCK_BASE + (lo - 1)
        nxt = torch.remainder(prev + 1, dc.CLOCK_FRAMES) * started            # frame 0 after the silence
        want = torch.stack([nxt // dc.CLOCK_BASE + 1, torch.remainder(nxt, dc.CLOCK_BASE) + 1], 1)   # [B, 2]
        v = torch.arange(dc.V, device=tokens.device)
        clock = torch.where(v[None, None, :] == want[:, :, None], CLOCK_LOGIT, -CLOCK_LOGIT)
        return torch.cat([content, clock.to(content.dtype)], 1), h
