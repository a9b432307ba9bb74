"""The Sostenuto piano LM: a causal dilated-convolution (TCN) model over codec frames,
conditioned on MIDI features.

Step f sees the K tokens of frame f-1 (summed embeddings) and the conditioning
features of frames f..f+LOOKAHEAD (the model turns note_age into a few decaying
exponentials so that long-held notes stay in range). Layers are gated residual
convolutions of kernel 2 with dilations 1..64 (receptive field 129 frames =
2.56 s of token history). It trains in parallel over time like a convnet and
streams like an RNN: the state is, per layer, a FIFO of its last `dilation`
inputs, all packed in one fixed-shape tensor [STATE_FRAMES, DIM], so a step
costs the same anywhere in a piece. The K_CONTENT sound-codebook heads are
independent, as the engine samples them. The clock codebook (the last) is not
learned: the exported step gives the next clock token (prev mod 511) + 1 a logit
margin of CLOCK_MARGIN, so it is deterministic at any sane temperature.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import CLOCK_PERIOD, FEATURES, K, K_CONTENT, LOOKAHEAD, V, feature_slice

DIM = 192
EMB = 128
DILATIONS = (1, 2, 4, 8, 16, 32, 64, 1)
STATE_FRAMES = sum(DILATIONS)
RF = 1 + sum(DILATIONS)
AGE_TAUS = (0.05, 0.25, 1.0, 4.0)
CLOCK_MARGIN = 80.0
P = 128
# per frame: onset, offset, held, sounding, velocity, len(AGE_TAUS) age decays, pedal
FRAME_IN = P * (5 + len(AGE_TAUS)) + 1
COND_IN = (LOOKAHEAD + 1) * FRAME_IN


def transform_cond(cond):
    """[..., C] raw engine features -> [..., FRAME_IN] network inputs."""
    s = lambda n: cond[..., feature_slice(n)]
    snd = s("note_sounding")
    age = s("note_age")
    parts = [s("note_onset"), s("onset_offset"), s("note_held"), snd, s("note_velocity")]
    parts += [torch.exp(age * (-1.0 / t)) * snd for t in AGE_TAUS]
    parts.append(s("pedal"))
    return torch.cat(parts, -1)


class Layer(nn.Module):
    def __init__(self, dilation):
        super().__init__()
        self.d = dilation
        self.norm = nn.LayerNorm(DIM)
        self.w1 = nn.Linear(2 * DIM, 2 * DIM)     # [past, now] -> gate, value
        self.w2 = nn.Linear(DIM, DIM)

    def mix(self, past, now):
        g, v = self.w1(torch.cat([past, now], -1)).chunk(2, -1)
        return self.w2(torch.sigmoid(g) * torch.tanh(v))

    def forward(self, x):                         # [B,T,DIM], zero history before t=0
        h = self.norm(x)
        past = F.pad(h, (0, 0, self.d, 0))[:, :h.shape[1]]
        return x + self.mix(past, h)


class PianoLM(nn.Module):
    def __init__(self):
        super().__init__()
        assert FEATURES[-1] == "pedal"
        self.embed = nn.Embedding(K_CONTENT * V, EMB)
        self.cond1 = nn.Linear(COND_IN, DIM)
        self.cond2 = nn.Linear(DIM, DIM)
        self.inp = nn.Linear(EMB, DIM, bias=False)
        self.layers = nn.ModuleList([Layer(d) for d in DILATIONS])
        self.norm = nn.LayerNorm(DIM)
        self.out1 = nn.Linear(DIM, DIM)
        self.heads = nn.Linear(DIM, K_CONTENT * V)
        self.register_buffer("offsets", torch.arange(K_CONTENT, dtype=torch.int64) * V, persistent=False)

    def frame_input(self, prev_tokens, cond_win):
        c = transform_cond(cond_win).flatten(-2)
        ch = self.cond2(F.gelu(self.cond1(c)))
        e = self.embed(prev_tokens[..., :K_CONTENT] + self.offsets).sum(-2)   # the clock is not an input
        return ch + self.inp(e), ch

    def head(self, h, ch):
        o = F.gelu(self.out1(self.norm(h) + ch))
        return self.heads(o)

    def forward(self, prev_tokens, cond_win):
        """Training: prev_tokens [B,T,K], cond_win [B,T,L+1,C] -> logits [B,T,K_CONTENT,V]."""
        x, ch = self.frame_input(prev_tokens, cond_win)
        for layer in self.layers:
            x = layer(x)
        logits = self.head(x, ch)
        return logits.reshape(*logits.shape[:-1], K_CONTENT, V)


class PianoLMStep(nn.Module):
    """Exported step: (tokens [B,K], cond [B,L+1,C], state [B,STATE_FRAMES,DIM]) -> (logits [B,K,V], state).

    State rows [o, o+d) hold a layer's normalised inputs of the last d frames, oldest first.
    """

    def __init__(self, lm):
        super().__init__()
        self.lm = lm
        self.register_buffer("vocab", torch.arange(V, dtype=torch.int64).unsqueeze(0), persistent=False)

    def forward(self, tokens, cond, state_in):
        x, ch = self.lm.frame_input(tokens, cond)            # [B, DIM]
        new_state = []
        o = 0
        for layer in self.lm.layers:
            d = layer.d
            h = layer.norm(x)
            past = state_in[:, o, :]                          # input of d frames ago
            x = x + layer.mix(past, h)
            new_state.append(state_in[:, o + 1:o + d, :])
            new_state.append(h.unsqueeze(1))
            o += d
        state_out = torch.cat(new_state, dim=1)
        logits = self.lm.head(x, ch)
        nxt = torch.remainder(tokens[:, K - 1:K], CLOCK_PERIOD) + 1                     # [B, 1]
        clock = (self.vocab == nxt).to(torch.float32) * CLOCK_MARGIN                      # [B, V]
        logits = torch.stack([logits[:, k * V:(k + 1) * V] for k in range(K_CONTENT)] + [clock], dim=1)
        return logits, state_out
