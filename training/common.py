"""Shared pieces of the Sostenuto piano training pipeline.

Everything here follows docs/model-format.md. The conditioning features are a
line-by-line port of the engine's ConditioningTracker (engine/Sostenuto.Engine/
Streaming/ConditioningTracker.cs), so training sees exactly what inference sees.
"""
import os
import struct

import numpy as np

SR = 24000            # audio.sampleRate
HOP = 480             # audio.hopLength: 20 ms frames, 50 frames/s
K_CONTENT = 32        # product-VQ codebooks carrying the sound (one per band of oscillators)
K = K_CONTENT + 1     # + 1 clock codebook (the last): token of frame f is (f mod CLOCK_PERIOD) + 1
V = 512               # codebook size; token 0 of every content codebook is reserved for silence
CLOCK_PERIOD = V - 1  # frames (10.22 s); the decoder's oscillators are periodic over it
SILENCE_TOKEN = 0
LOOKAHEAD = 2         # conditioning.lookaheadFrames
FEATURES = ["note_onset", "onset_offset", "note_held", "note_sounding", "note_velocity", "note_age", "pedal"]
FEATURE_SIZES = {"note_onset": 128, "onset_offset": 128, "note_held": 128, "note_sounding": 128,
                 "note_velocity": 128, "note_age": 128, "pedal": 1}
C = sum(FEATURE_SIZES[f] for f in FEATURES)   # 769
SILENCE_DB = -70.0    # a frame whose own and next frame's peak is below this gets the silence tokens

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
TPB = 480             # MIDI ticks per beat; tempo 120 bpm => 960 ticks per second, 25 model samples per tick
TEMPO = 500000

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work")


def nice_torch():
    import torch
    torch.set_num_threads(1)
    if not getattr(torch, "_sostenuto_threads_set", False):   # may be called twice per process
        torch.set_num_interop_threads(1)
        torch._sostenuto_threads_set = True
    return torch


def save_atomic(path, obj):
    """torch.save through a temporary file, so an interrupted job never leaves a half-written checkpoint."""
    import torch
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def run_log(out):
    """log(msg): print and append to OUT/log.txt (a training stage's record, kept across resumes)."""
    f = open(os.path.join(out, "log.txt"), "a")

    def log(msg):
        print(msg, flush=True)
        f.write(msg + "\n")
        f.flush()
    return log


# --- WAV ---------------------------------------------------------------------
def read_wav(path):
    """Mono float32 and sample rate from a PCM16/PCM24/float32 WAV (channels averaged)."""
    data = open(path, "rb").read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", path
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            pcm = body
        pos += 8 + size + (size & 1)
    tag, ch, rate, bits = fmt
    if tag == 3 and bits == 32:
        x = np.frombuffer(pcm, "<f4").astype(np.float32)
    elif tag == 1 and bits == 16:
        x = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
    elif tag == 1 and bits == 24:
        b = np.frombuffer(pcm[:len(pcm) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    else:
        raise ValueError(f"{path}: unsupported WAV format {fmt}")
    x = x[:len(x) // ch * ch].reshape(-1, ch).mean(axis=1)
    return x.astype(np.float32), rate


def write_wav(path, x, rate=SR):
    """float32 mono WAV."""
    x = np.asarray(x, dtype="<f4")
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + 4 * len(x)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32))
        f.write(b"data" + struct.pack("<I", 4 * len(x)) + x.tobytes())


def resample_half(x):
    """48 kHz -> 24 kHz (windowed-sinc low-pass at 11 kHz, then decimate)."""
    n = np.arange(-128, 129)
    h = 2 * 11000 / 48000 * np.sinc(2 * 11000 / 48000 * n) * np.kaiser(len(n), 10.0)
    h /= h.sum()
    return np.convolve(x, h, mode="same")[::2].astype(np.float32)


def load_audio_24k(path):
    x, rate = read_wav(path)
    if rate == 48000:
        x = resample_half(x)
    elif rate != SR:
        raise ValueError(f"{path}: rate {rate} (need 24000 or 48000)")
    return x


# --- MIDI -> events -> conditioning features ----------------------------------
def midi_events(path):
    """[(model_sample(float), kind, a, b)] in file order; kind in on/off/cc. All channels alike."""
    import mido
    mid = mido.MidiFile(path)
    t = 0.0
    out = []
    for msg in mid:                      # merged tracks, seconds (tempo map applied)
        t += msg.time
        m = t * SR
        if msg.type == "note_on" and msg.velocity > 0:
            out.append((m, "on", msg.note, msg.velocity))
        elif msg.type == "note_off" or (msg.type == "note_on" and msg.velocity == 0):
            out.append((m, "off", msg.note, 0))
        elif msg.type == "control_change":
            out.append((m, "cc", msg.control, msg.value))
    return out, t


def features(events, n_frames, hop=HOP):
    """[n_frames, C] float32 features in FEATURES order (port of ConditioningTracker), frames of `hop` samples."""
    P = 128
    held = np.zeros(P, bool)
    sounding = np.zeros(P, bool)
    velocity = np.zeros(P, np.float32)
    onset_sample = np.zeros(P, np.float64)
    pedal = False
    out = np.zeros((n_frames, C), np.float32)
    ei = 0
    n_ev = len(events)
    for f in range(n_frames):
        onset = np.zeros(P, np.float32)
        onset_off = np.zeros(P, np.float32)
        held_in = held.copy()
        end = (f + 1) * hop
        while ei < n_ev and events[ei][0] < end:
            m, kind, a, b = events[ei]
            ei += 1
            if kind == "on":
                v = np.float32(b / 127.0)
                held[a] = True
                held_in[a] = True
                sounding[a] = True
                velocity[a] = v
                onset_sample[a] = m
                if v >= onset[a]:
                    onset[a] = v
                    onset_off[a] = np.float32((m - f * hop) / hop) if m >= f * hop else 0.0
            elif kind == "off":
                held[a] = False
                if not pedal:
                    sounding[a] = False
            elif kind == "cc":
                if a == 64:
                    down = b >= 64
                    if pedal and not down:
                        sounding[:] = held
                    pedal = down
                elif a in (120, 123):
                    held[:] = False
                    sounding[:] = False
                    pedal = False
        snd = sounding | (onset > 0)
        row = out[f]
        at = 0
        for name in FEATURES:
            if name == "note_onset":
                row[at:at + P] = onset
            elif name == "onset_offset":
                row[at:at + P] = onset_off
            elif name == "note_held":
                row[at:at + P] = (held_in | held)
            elif name == "note_sounding":
                row[at:at + P] = snd
            elif name == "note_velocity":
                row[at:at + P] = np.where(snd, velocity, 0.0)
            elif name == "note_age":
                row[at:at + P] = np.where(snd, (end - onset_sample) / SR, 0.0)
            elif name == "pedal":
                row[at] = 1.0 if pedal else 0.0
            at += FEATURE_SIZES[name]
    return out


def feature_slice(name):
    at = 0
    for f in FEATURES:
        if f == name:
            return slice(at, at + FEATURE_SIZES[f])
        at += FEATURE_SIZES[f]
    raise KeyError(name)


def silent_frames(audio, n_frames, hop=HOP):
    """bool[n_frames]: frame f and f+1 (of `hop` samples) both below SILENCE_DB peak."""
    x = np.zeros((n_frames + 2) * hop, np.float32)
    x[:min(len(audio), len(x))] = audio[:len(x)]
    peak = np.abs(x).reshape(-1, hop).max(axis=1)
    q = peak < 10 ** (SILENCE_DB / 20)
    return q[:n_frames] & q[1:n_frames + 1]


def clock_tokens(n_frames, start=0):
    return (np.arange(start, start + n_frames) % CLOCK_PERIOD + 1).astype(np.int64)
