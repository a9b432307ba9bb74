"""Standard MIDI File reading and writing for the Ardour bounce harness (Python stdlib only).

The timing model is the one `sostenuto render` uses (engine/Sostenuto.Engine/Midi/MidiTempoMap.cs
and Streaming/OfflineRender.cs), reproduced operation for operation so the sample positions agree:

    seconds(tick) = seg_seconds + (tick - seg_tick) * seg_seconds_per_tick
    seconds_per_tick = microseconds_per_quarter / 1e6 / ticks_per_quarter     (SMPTE: 1 / (fps * tpf))
    sample(event) = round_half_away_from_zero(seconds * rate)

Tempo changes from every track form one map; a later change at the same tick wins. The file's
duration is the latest end-of-track tick of any track. Meta events (except tempo and end of track)
and sysex are not played (sostenuto skips them too).
"""
import math
import struct

DEFAULT_US_PER_QUARTER = 500_000  # 120 bpm


class MidiError(Exception):
    pass


class Event:
    """A channel message (status byte and data bytes) at a file tick, in file order."""

    __slots__ = ('tick', 'data', 'order', 'seconds', 'sample')

    def __init__(self, tick, data, order):
        self.tick = tick
        self.data = bytes(data)
        self.order = order
        self.seconds = None
        self.sample = None

    @property
    def is_note_on(self):
        return (self.data[0] & 0xF0) == 0x90 and self.data[2] > 0


class MidiFile:
    def __init__(self, path):
        with open(path, 'rb') as f:
            blob = f.read()
        self.path = path
        self.events = []
        self.tempo_changes = []  # (tick, microseconds per quarter), across all tracks
        self.end_tick = 0
        self._parse(blob)
        self._build_tempo_map()
        for e in self.events:
            e.seconds = self.seconds_at(e.tick)
        self.duration_seconds = self.seconds_at(self.end_tick)

    # -- parsing -----------------------------------------------------------------------------
    def _parse(self, blob):
        if blob[:4] != b'MThd':
            raise MidiError(f'{self.path}: not a Standard MIDI File (no MThd header)')
        (hlen,) = struct.unpack('>I', blob[4:8])
        if hlen < 6:
            raise MidiError(f'{self.path}: MThd chunk too short')
        fmt, ntrks, division = struct.unpack('>HHH', blob[8:14])
        if fmt not in (0, 1):
            raise MidiError(f'{self.path}: SMF format {fmt} is not supported (0 or 1 only)')
        self.format = fmt
        if division & 0x8000:
            fps = 256 - (division >> 8)
            self.smpte = (fps, division & 0xFF)
            self.ppq = None
        else:
            self.smpte = None
            self.ppq = division
            if self.ppq == 0:
                raise MidiError(f'{self.path}: zero ticks per quarter note')
        pos = 8 + hlen
        order = 0
        tracks = 0
        while pos + 8 <= len(blob) and tracks < ntrks:
            cid = blob[pos:pos + 4]
            (clen,) = struct.unpack('>I', blob[pos + 4:pos + 8])
            body = blob[pos + 8:pos + 8 + clen]
            if len(body) != clen:
                raise MidiError(f'{self.path}: truncated chunk at byte {pos}')
            pos += 8 + clen
            if cid != b'MTrk':
                continue  # unknown chunks are skipped
            tracks += 1
            order = self._parse_track(body, order)
        if tracks != ntrks:
            raise MidiError(f'{self.path}: header announces {ntrks} tracks, found {tracks}')

    def _parse_track(self, body, order):
        i = 0
        tick = 0
        status = None

        def vlq():
            nonlocal i
            value = 0
            for _ in range(4):
                if i >= len(body):
                    raise MidiError(f'{self.path}: truncated variable-length quantity')
                b = body[i]
                i += 1
                value = (value << 7) | (b & 0x7F)
                if not b & 0x80:
                    return value
            raise MidiError(f'{self.path}: variable-length quantity longer than 4 bytes')

        while i < len(body):
            tick += vlq()
            b = body[i]
            if b == 0xFF:
                mtype = body[i + 1]
                i += 2
                n = vlq()
                data = body[i:i + n]
                i += n
                if mtype == 0x51 and n == 3:
                    self.tempo_changes.append((tick, (data[0] << 16) | (data[1] << 8) | data[2]))
                elif mtype == 0x2F:
                    break
                continue
            if b in (0xF0, 0xF7):
                i += 1
                n = vlq()
                i += n
                status = None
                continue
            if b & 0x80:
                status = b
                i += 1
            elif status is None:
                raise MidiError(f'{self.path}: data byte without running status')
            kind = status & 0xF0
            n = 1 if kind in (0xC0, 0xD0) else 2
            data = body[i:i + n]
            i += n
            self.events.append(Event(tick, bytes([status]) + data, order))
            order += 1
        self.end_tick = max(self.end_tick, tick)
        return order

    # -- timing (mirrors MidiTempoMap.cs) ----------------------------------------------------
    def _seconds_per_tick(self, us):
        if self.smpte:
            fps, tpf = self.smpte
            return 1.0 / (fps * tpf)
        return us / 1e6 / self.ppq

    def _build_tempo_map(self):
        ticks, seconds, spt = [0], [0.0], [self._seconds_per_tick(DEFAULT_US_PER_QUARTER)]
        changes = sorted(self.tempo_changes, key=lambda c: c[0])  # stable: file order at equal ticks
        if not self.smpte:
            for tick, us in changes:
                last = len(ticks) - 1
                if tick == ticks[last]:
                    spt[last] = self._seconds_per_tick(us)
                    continue
                ticks.append(tick)
                seconds.append(seconds[last] + (tick - ticks[last]) * spt[last])
                spt.append(self._seconds_per_tick(us))
        self._seg_ticks, self._seg_seconds, self._seg_spt = ticks, seconds, spt
        # The tempo map as Ardour needs it: (tick, microseconds per quarter), changes only.
        self.tempo_segments = []
        if not self.smpte:
            us_at = {0: DEFAULT_US_PER_QUARTER}
            for tick, us in changes:
                us_at[tick] = us
            for tick in sorted(us_at):
                if not self.tempo_segments or self.tempo_segments[-1][1] != us_at[tick]:
                    self.tempo_segments.append((tick, us_at[tick]))

    def seconds_at(self, tick):
        lo, hi = 0, len(self._seg_ticks) - 1
        while lo < hi:  # last segment starting at or before tick
            mid = (lo + hi + 1) // 2
            if self._seg_ticks[mid] <= tick:
                lo = mid
            else:
                hi = mid - 1
        return self._seg_seconds[lo] + (tick - self._seg_ticks[lo]) * self._seg_spt[lo]


def to_sample(seconds, rate):
    """Math.Round(x, MidpointRounding.AwayFromZero) for x >= 0."""
    x = seconds * rate
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def timed_events(midi, rate):
    """Channel events in the order sostenuto plays them: by tick, then track, then file order."""
    for e in midi.events:
        e.sample = to_sample(e.seconds, rate)
    return sorted(midi.events, key=lambda e: (e.tick, e.order))


def vlq_bytes(value):
    """A variable-length quantity, as SMF delta times and meta lengths are written."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def write_smf(path, ppq, timed, end_tick, us_per_quarter=None, name='Sostenuto bounce'):
    """Writes a format-0 file. timed: (tick, status+data bytes) in play order."""
    track = bytearray()
    track += b'\x00\xff\x03' + vlq_bytes(len(name)) + name.encode('ascii', 'replace')
    if us_per_quarter is not None:
        track += b'\x00\xff\x51\x03' + int(us_per_quarter).to_bytes(3, 'big')
    now = 0
    for tick, data in timed:
        if tick < now:
            raise MidiError('events out of order while writing')
        track += vlq_bytes(tick - now) + bytes(data)  # full status on every event, no running status
        now = tick
    track += vlq_bytes(max(0, end_tick - now)) + b'\xff\x2f\x00'
    with open(path, 'wb') as f:
        f.write(b'MThd' + struct.pack('>IHHH', 6, 0, 1, ppq))
        f.write(b'MTrk' + struct.pack('>I', len(track)) + track)
