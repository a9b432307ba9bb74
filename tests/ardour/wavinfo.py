#!/usr/bin/python3
"""WAV reading for the Ardour tests (stdlib; numpy optional).

  wavinfo.py FILE frames|rate|channels     prints one header field
"""
import struct
import sys


def read_header(path):
    """(format tag, channels, rate, bits, data offset, data bytes) of a RIFF/WAVE file."""
    with open(path, 'rb') as f:
        blob = f.read(1 << 16)
        f.seek(0, 2)
        size = f.tell()
    if blob[:4] != b'RIFF' or blob[8:12] != b'WAVE':
        raise ValueError(f'{path}: not a RIFF/WAVE file')
    pos, fmt = 12, None
    while pos + 8 <= len(blob):
        cid, n = blob[pos:pos + 4], struct.unpack('<I', blob[pos + 4:pos + 8])[0]
        if cid == b'fmt ':
            tag, ch, rate, _, _, bits = struct.unpack('<HHIIHH', blob[pos + 8:pos + 24])
            if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
                tag = struct.unpack('<H', blob[pos + 32:pos + 34])[0]
            fmt = (tag, ch, rate, bits)
        elif cid == b'data':
            if fmt is None:
                raise ValueError(f'{path}: data before fmt')
            return fmt + (pos + 8, min(n, size - pos - 8))
        pos += 8 + n + (n & 1)
    raise ValueError(f'{path}: no data chunk')


def read(path):
    """(samples as a float numpy array [frames, channels], rate)."""
    import numpy as np
    tag, ch, rate, bits, off, n = read_header(path)
    with open(path, 'rb') as f:
        f.seek(off)
        raw = f.read(n)
    if tag == 3 and bits == 32:
        x = np.frombuffer(raw, '<f4').astype(np.float64)
    elif tag == 1 and bits == 16:
        x = np.frombuffer(raw, '<i2') / 32768.0
    elif tag == 1 and bits == 24:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v) / 8388608.0
    elif tag == 1 and bits == 32:
        x = np.frombuffer(raw, '<i4') / 2147483648.0
    else:
        raise ValueError(f'{path}: unsupported WAV format tag {tag}, {bits} bits')
    frames = len(x) // ch
    return x[:frames * ch].reshape(frames, ch), rate


if __name__ == '__main__':
    tag, ch, rate, bits, off, n = read_header(sys.argv[1])
    field = sys.argv[2]
    print({'frames': n // (ch * bits // 8), 'rate': rate, 'channels': ch}[field])
