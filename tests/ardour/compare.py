#!/usr/bin/python3
"""Compares a DAW bounce with a reference render (e.g. `sostenuto render`), numpy only.

  compare.py BOUNCE.wav REFERENCE.wav [--max-lag 4096] [--exact]

Finds the integer lag (bounce relative to reference, within +-max-lag samples) that best aligns
the two over their common start, then over the overlap reports: lag, identical samples, max
abs difference, SNR of the difference; and the energy of whatever one file has beyond the
other's end (a DAW bounce ends at its session range, a render when its tail falls silent).
Ardour 7 compensates the latency a plug-in reports, so a correct bounce has lag 0: a non-zero
lag means the reported latency and the real one differ by that much.
Exit 1 if --exact and the overlap is not bit-identical at lag 0, or if the files have
different rates or channel counts.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wavinfo  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('bounce')
    ap.add_argument('reference')
    ap.add_argument('--max-lag', type=int, default=4096)
    ap.add_argument('--exact', action='store_true')
    args = ap.parse_args()
    a, ra = wavinfo.read(args.bounce)
    b, rb = wavinfo.read(args.reference)
    if ra != rb or a.shape[1] != b.shape[1]:
        print(f'different formats: {ra} Hz x{a.shape[1]} vs {rb} Hz x{b.shape[1]}')
        return 1
    # Lag by cross-correlation of the first 10 s (mono), via FFT.
    n = min(len(a), len(b), ra * 10)
    x, y = a[:n].sum(axis=1), b[:n].sum(axis=1)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    xc = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(y, size)), size)
    lags = np.concatenate([np.arange(0, args.max_lag + 1), np.arange(-args.max_lag, 0)])
    lag = int(lags[np.argmax(xc[lags])]) if np.any(x) and np.any(y) else 0
    # bounce[t + lag] ~ reference[t]
    if lag >= 0:
        a2, b2 = a[lag:], b
    else:
        a2, b2 = a, b[-lag:]
    m = min(len(a2), len(b2))
    d = a2[:m] - b2[:m]
    same = int(np.all(d == 0, axis=1).sum())
    sig = float(np.sum(b2[:m] ** 2))
    err = float(np.sum(d ** 2))
    snr = float('inf') if err == 0 else 10 * np.log10(sig / err) if sig > 0 else float('-inf')
    print(f'bounce {len(a)} frames, reference {len(b)} frames, {ra} Hz')
    print(f'lag {lag:+d} samples (bounce later than reference if positive)')
    print(f'overlap {m} frames: {same} identical ({100 * same / max(1, m):.3f} %), '
          f'max |diff| {np.abs(d).max() if m else 0:.3g}, SNR {snr:.1f} dB')
    if m:
        first = np.nonzero(np.any(d != 0, axis=1))[0]
        if len(first):
            print(f'first differing frame {first[0]} ({first[0] / ra:.4f} s)')
    rest_a, rest_b = a2[m:], b2[m:]
    for name, rest in (('bounce', rest_a), ('reference', rest_b)):
        if len(rest):
            print(f'{name} continues {len(rest)} frames past the other, peak {np.abs(rest).max():.3g}')
    if args.exact and not (lag == 0 and same == m):
        print('NOT EQUAL')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
