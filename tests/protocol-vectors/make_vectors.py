#!/usr/bin/env python3
"""Writes the protocol example vectors (tests/protocol-vectors/*.hex).

The committed .hex files are the contract that the C++ (native-bridge) and C#
(engine) tests both decode and re-encode; this script is only how they were
written, independently of either implementation (plain `struct`). Running it
again must leave `git diff` empty. See docs/protocol.md, "Example vectors".
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

TYPES = {
    "Hello": 0x0001, "MidiEvents": 0x0002, "ClockAdvance": 0x0003, "ParameterChange": 0x0004,
    "Transport": 0x0005, "ProcessMode": 0x0006, "Goodbye": 0x0007,
    "Welcome": 0x0101, "Status": 0x0102, "Error": 0x0103,
}


class Vector:
    def __init__(self, name, description, expect="ok"):
        self.name, self.description, self.expect = name, description, expect
        self.fields = []   # (name, value) as the tests compare them
        self.parts = []    # (comment, bytes)

    def field(self, name, value):
        self.fields.append((name, value))

    def part(self, comment, data):
        self.parts.append((comment, bytes(data)))

    def write(self):
        lines = [f"# {self.description}", f"# expect: {self.expect}"]
        lines += [f"# field: {n} = {v}" for n, v in self.fields]
        for comment, data in self.parts:
            lines.append(f"# {comment}")
            if data:
                lines.append(" ".join(f"{b:02x}" for b in data))
        with open(os.path.join(HERE, self.name + ".hex"), "w") as f:
            f.write("\n".join(lines) + "\n")


def header(v, type_name, payload_len, type_number=None, reserved=0, note=""):
    t = TYPES[type_name] if type_number is None else type_number
    v.part(f"header: payload length {payload_len}, type 0x{t:04x} {type_name}, reserved {reserved}{note}",
           struct.pack("<IHH", payload_len, t, reserved))


def string_part(v, label, text_bytes, declared_len=None):
    n = len(text_bytes) if declared_len is None else declared_len
    v.part(f"{label}: u16 length {n}", struct.pack("<H", n))
    if text_bytes:
        v.part(f"{label}: UTF-8 bytes", text_bytes)


def message(name, description, type_name, build, expect="ok", fields=(), **header_kw):
    """build(v) -> list of (comment, bytes) for the payload"""
    v = Vector(name, description, expect)
    for f in fields:
        v.field(*f)
    payload_parts = []
    build(payload_parts)
    payload_len = sum(len(b) for _, b in payload_parts)
    header(v, type_name, header_kw.pop("declared_len", payload_len), **header_kw)
    for c, b in payload_parts:
        v.part(c, b)
    v.write()
    return v


def hello_parts(magic=b"SOST", version=1, sample_rate=48000, block=512, process_mode=0, latency_mode=0,
                lookahead=0, slack=256, instance=0x0123456789ABCDEF, shm=b"/sostenuto-1000-0123456789abcdef",
                shm_declared=None):
    def build(p):
        p.append((f"magic \"{magic.decode('latin-1')}\"", magic))
        p.append((f"protocol version u16 {version}", struct.pack("<H", version)))
        p.append((f"sample rate u32 {sample_rate}", struct.pack("<I", sample_rate)))
        p.append((f"max block size u32 {block}", struct.pack("<I", block)))
        p.append((f"process mode u8 {process_mode} (0 realtime, 1 offline)", struct.pack("<B", process_mode)))
        p.append((f"latency mode u8 {latency_mode} (0 live, 1 studio)", struct.pack("<B", latency_mode)))
        p.append((f"requested lookahead samples u32 {lookahead}", struct.pack("<I", lookahead)))
        p.append((f"compute slack samples u32 {slack}", struct.pack("<I", slack)))
        p.append((f"instance id u64 0x{instance:016x}", struct.pack("<Q", instance)))
        n = len(shm) if shm_declared is None else shm_declared
        p.append((f"shared-memory name: u16 length {n}", struct.pack("<H", n)))
        p.append((f"shared-memory name: UTF-8 \"{shm.decode('utf-8', 'replace')}\"", shm))
    return build


def midi_parts(events, declared_count=None):
    def build(p):
        n = len(events) if declared_count is None else declared_count
        p.append((f"event count u16 {n}", struct.pack("<H", n)))
        for i, (t, s, d1, d2) in enumerate(events):
            p.append((f"event {i}: stream time u64 {t}, status 0x{s:02x}, data1 {d1}, data2 {d2}, reserved 0",
                      struct.pack("<QBBBB", t, s, d1, d2, 0)))
    return build


def welcome_parts(version=1, total=2048, lookahead=1024, capacity=16384, name=b"sostenuto-fixture",
                  model_version=b"0.1.0", flags=1):
    def build(p):
        p.append((f"protocol version u16 {version}", struct.pack("<H", version)))
        p.append((f"accepted total latency samples u32 {total} (lookahead + slack)", struct.pack("<I", total)))
        p.append((f"lookahead samples u32 {lookahead}", struct.pack("<I", lookahead)))
        p.append((f"ring capacity frames u32 {capacity}", struct.pack("<I", capacity)))
        p.append((f"model name: u16 length {len(name)}", struct.pack("<H", len(name))))
        p.append((f"model name: UTF-8 \"{name.decode()}\"", name))
        p.append((f"model version: u16 length {len(model_version)}", struct.pack("<H", len(model_version))))
        p.append((f"model version: UTF-8 \"{model_version.decode()}\"", model_version))
        p.append((f"flags u32 0x{flags:08x} (bit 0 untrained)", struct.pack("<I", flags)))
    return build


def main():
    # ---- well-formed, plugin -> engine ----
    shm = "/sostenuto-1000-0123456789abcdef"
    message("hello", "Hello (plugin -> engine): 48 kHz, blocks up to 512, realtime, live, no lookahead, 256 samples slack",
            "Hello", hello_parts(), fields=[
                ("protocol_version", 1), ("sample_rate", 48000), ("max_block_size", 512),
                ("process_mode", "realtime"), ("latency_mode", "live"), ("requested_lookahead_samples", 0),
                ("compute_slack_samples", 256), ("instance_id", 0x0123456789ABCDEF), ("shared_memory_name", f'"{shm}"')])
    message("hello_offline_studio", "Hello (plugin -> engine): 44.1 kHz, offline, studio latency, 4096 lookahead",
            "Hello", hello_parts(sample_rate=44100, block=1024, process_mode=1, latency_mode=1, lookahead=4096,
                                 slack=2048, instance=0xFFFFFFFFFFFFFFFF, shm=b"/sostenuto-1000-ffffffffffffffff"),
            fields=[("protocol_version", 1), ("sample_rate", 44100), ("max_block_size", 1024),
                    ("process_mode", "offline"), ("latency_mode", "studio"), ("requested_lookahead_samples", 4096),
                    ("compute_slack_samples", 2048), ("instance_id", 0xFFFFFFFFFFFFFFFF),
                    ("shared_memory_name", '"/sostenuto-1000-ffffffffffffffff"')])
    events = [(1000, 0x90, 60, 100), (1000, 0xB0, 64, 127), (1512, 0x80, 60, 0)]
    message("midi_events", "MidiEvents (plugin -> engine): note-on C4, sustain pedal down, note-off C4",
            "MidiEvents", midi_parts(events),
            fields=[("count", 3)] + [(f"event[{i}]", f"{t} 0x{s:02x} {a} {b}") for i, (t, s, a, b) in enumerate(events)])
    message("midi_events_empty", "MidiEvents (plugin -> engine): an empty batch (allowed)", "MidiEvents",
            midi_parts([]), fields=[("count", 0)])
    message("clock_advance", "ClockAdvance (plugin -> engine): every event before stream time 2048 has been sent",
            "ClockAdvance", lambda p: p.append(("stream time u64 2048", struct.pack("<Q", 2048))),
            fields=[("stream_time", 2048)])
    message("clock_advance_large", "ClockAdvance (plugin -> engine): a stream time above 2^32",
            "ClockAdvance", lambda p: p.append(("stream time u64 0x0000000100000000", struct.pack("<Q", 1 << 32))),
            fields=[("stream_time", 1 << 32)])
    message("parameter_change", "ParameterChange (plugin -> engine): parameter 7 to 0.75 at stream time 4096",
            "ParameterChange", lambda p: p.extend([
                ("stream time u64 4096", struct.pack("<Q", 4096)),
                ("parameter id u32 7", struct.pack("<I", 7)),
                ("value f32 0.75 (bits 0x3f400000)", struct.pack("<f", 0.75))]),
            fields=[("stream_time", 4096), ("parameter_id", 7), ("value", "0.75")])
    message("transport_flush", "Transport (plugin -> engine): flush (stop or jump) at stream time 96000",
            "Transport", lambda p: p.extend([
                ("kind u8 0 (flush)", b"\x00"), ("stream time u64 96000", struct.pack("<Q", 96000))]),
            fields=[("kind", "flush"), ("stream_time", 96000)])
    message("process_mode_offline", "ProcessMode (plugin -> engine): offline from stream time 48000",
            "ProcessMode", lambda p: p.extend([
                ("mode u8 1 (offline)", b"\x01"), ("stream time u64 48000", struct.pack("<Q", 48000))]),
            fields=[("mode", "offline"), ("stream_time", 48000)])
    message("goodbye", "Goodbye (plugin -> engine): empty payload", "Goodbye", lambda p: None)

    # ---- well-formed, engine -> plugin ----
    message("welcome", "Welcome (engine -> plugin): 2048 samples latency of which 1024 lookahead, untrained fixture",
            "Welcome", welcome_parts(), fields=[
                ("protocol_version", 1), ("total_latency_samples", 2048), ("lookahead_samples", 1024),
                ("ring_capacity_frames", 16384), ("model_name", '"sostenuto-fixture"'), ("model_version", '"0.1.0"'),
                ("flags", 1)])
    message("welcome_utf8", "Welcome (engine -> plugin): a trained model with a non-ASCII name (Flügel)",
            "Welcome", welcome_parts(total=256, lookahead=0, capacity=8192, name="Flügel".encode(),
                                     model_version=b"2.0", flags=0), fields=[
                ("protocol_version", 1), ("total_latency_samples", 256), ("lookahead_samples", 0),
                ("ring_capacity_frames", 8192), ("model_name", '"Flügel"'), ("model_version", '"2.0"'), ("flags", 0)])
    message("status", "Status (engine -> plugin): rendered until 123456, 2 underruns, 1 late event",
            "Status", lambda p: p.extend([
                ("rendered until (render time) u64 123456", struct.pack("<Q", 123456)),
                ("underruns u32 2", struct.pack("<I", 2)), ("late events u32 1", struct.pack("<I", 1))]),
            fields=[("rendered_until", 123456), ("underruns", 2), ("late_events", 1)])
    msg = b"model package models/x is missing lm_step.onnx"
    message("error", "Error (engine -> plugin): code 4 model_unavailable", "Error", lambda p: p.extend([
        ("code u16 4 (model_unavailable)", struct.pack("<H", 4)),
        (f"message: u16 length {len(msg)}", struct.pack("<H", len(msg))),
        (f"message: UTF-8 \"{msg.decode()}\"", msg)]),
        fields=[("code", 4), ("message", f'"{msg.decode()}"')])

    # ---- malformed ----
    v = Vector("bad_truncated_header", "malformed: only 5 of the 8 header bytes", "error truncated_frame")
    v.part("first 5 bytes of a ClockAdvance header", struct.pack("<IHH", 8, 3, 0)[:5])
    v.write()
    v = Vector("bad_truncated_payload", "malformed: ClockAdvance header says 8 payload bytes, 4 follow",
               "error truncated_frame")
    header(v, "ClockAdvance", 8)
    v.part("4 of the 8 stream time bytes", struct.pack("<Q", 2048)[:4])
    v.write()
    v = Vector("bad_oversize", "malformed: payload length 65537, one above the 65536 limit (refused from the header alone)",
               "error oversize_payload")
    header(v, "MidiEvents", 65537)
    v.part("(no payload follows: the header alone is refused)", b"")
    v.write()
    v = Vector("bad_unknown_type", "malformed: type 0x0042 is not in the message table", "error unknown_message_type")
    header(v, "ClockAdvance", 8, type_number=0x0042, note=" (unknown)")
    v.part("8 payload bytes", struct.pack("<Q", 0))
    v.write()
    v = Vector("bad_reserved", "malformed: header reserved field is 1, must be 0", "error nonzero_reserved")
    header(v, "ClockAdvance", 8, reserved=1)
    v.part("stream time u64 0", struct.pack("<Q", 0))
    v.write()
    message("bad_hello_magic", "malformed: Hello with magic \"SOSX\"", "Hello", hello_parts(magic=b"SOSX"),
            expect="error bad_magic")
    message("bad_hello_version", "malformed: Hello with protocol version 2", "Hello", hello_parts(version=2),
            expect="error unsupported_version")
    message("bad_welcome_version", "malformed: Welcome with protocol version 0", "Welcome", welcome_parts(version=0),
            expect="error unsupported_version")
    message("bad_hello_process_mode", "malformed: Hello with process mode 2", "Hello", hello_parts(process_mode=2),
            expect="error invalid_value")
    message("bad_hello_shm_name_overrun", "malformed: Hello whose shared-memory name length (200) runs past the payload",
            "Hello", hello_parts(shm_declared=200), expect="error payload_too_short")
    message("bad_hello_shm_name_path", "malformed: Hello whose shared-memory name is a path (\"/../etc/x\" has a second '/')",
            "Hello", hello_parts(shm=b"/../etc/x"), expect="error invalid_value")
    message("bad_midi_events_count", "malformed: MidiEvents says 3 events, carries 2", "MidiEvents",
            midi_parts(events[:2], declared_count=3), expect="error payload_too_short")
    message("bad_midi_events_system_message", "malformed: MidiEvents with status 0xF8 (system messages are never sent)",
            "MidiEvents", midi_parts([(0, 0xF8, 0, 0)]), expect="error invalid_value")
    message("bad_midi_events_order", "malformed: MidiEvents whose stream times go backwards", "MidiEvents",
            midi_parts([(2000, 0x90, 60, 100), (1000, 0x80, 60, 0)]), expect="error invalid_value")
    message("bad_clock_advance_trailing", "malformed: ClockAdvance with 2 bytes after its only field",
            "ClockAdvance", lambda p: p.extend([("stream time u64 2048", struct.pack("<Q", 2048)),
                                                 ("2 extra bytes", b"\x00\x00")]),
            expect="error payload_too_long")
    message("bad_goodbye_payload", "malformed: Goodbye with a 1-byte payload", "Goodbye",
            lambda p: p.append(("1 extra byte", b"\x00")), expect="error payload_too_long")
    message("bad_transport_kind", "malformed: Transport kind 7", "Transport", lambda p: p.extend([
        ("kind u8 7 (unknown)", b"\x07"), ("stream time u64 0", struct.pack("<Q", 0))]), expect="error invalid_value")
    message("bad_parameter_nan", "malformed: ParameterChange value NaN", "ParameterChange", lambda p: p.extend([
        ("stream time u64 0", struct.pack("<Q", 0)), ("parameter id u32 1", struct.pack("<I", 1)),
        ("value f32 NaN (bits 0x7fc00000)", struct.pack("<I", 0x7FC00000))]), expect="error invalid_value")
    message("bad_welcome_lookahead", "malformed: Welcome lookahead 4096 above total latency 2048", "Welcome",
            welcome_parts(lookahead=4096), expect="error invalid_value")
    bad = b"caf\xc3"  # a 2-byte sequence cut after its lead byte
    message("bad_error_utf8", "malformed: Error message that is not UTF-8", "Error", lambda p: p.extend([
        ("code u16 6", struct.pack("<H", 6)), (f"message: u16 length {len(bad)}", struct.pack("<H", len(bad))),
        ("message: bytes 63 61 66 c3 (cut UTF-8 sequence)", bad)]), expect="error invalid_utf8")


if __name__ == "__main__":
    main()
