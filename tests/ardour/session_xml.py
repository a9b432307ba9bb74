#!/usr/bin/python3
"""The non-Lua half of bounce.sh: MIDI preparation and .ardour XML edits (Python stdlib only).

  session_xml.py prepare IN.mid --rate R --timing exact|file --out SESSION.mid
      Writes the MIDI file the Ardour region will play and prints one JSON line describing it:
      tempos (the "tick:bpm,..." list make_session.lua sets), region length in Ardour ticks,
      end of the MIDI in samples, and the note-on times sostenuto would use.

      exact (default): the file's tempo map is flattened. Every channel event is placed at the
        sample `sostenuto render` computes (round(seconds x rate), half away from zero), and the
        session tempo is set so one Ardour tick (1/1920 quarter) is exactly one sample
        (bpm = rate x 60 / 1920: 1500 at 48 kHz, 1378.125 at 44.1 kHz). Any tempo map works.
      file: the session tempo map copies the file's (constant segments, no ramps) and events
        keep their musical position (ticks rescaled to 1920 per quarter). What a user's import
        would give; event times are then quantised to Ardour's tick grid (~0.26 ms at 120 bpm),
        so they can differ from sostenuto's by a few samples. SMPTE-timed files: exact only.

  session_xml.py inject DIR NAME --mid SESSION.mid --length-ticks N --end-samples E --rate R
      Copies SESSION.mid into DIR/interchange/*/midifiles/, adds a MIDI Source, a whole-file
      Region and a playlist Region at position 0 on the one MIDI track, and the session range
      [0, E) to DIR/NAME.ardour. Times: region in beats ("b<ticks>"), range in superclocks
      ("a<superclock>", 282240000 per second).
"""
import argparse
import json
import os
import shutil
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smf  # noqa: E402

ARDOUR_PPQN = 1920
SUPERCLOCK_RATE = 282240000


def die(msg):
    print(f'bounce: {msg}', file=sys.stderr)
    sys.exit(2)


def prepare(args):
    try:
        midi = smf.MidiFile(args.midi)
    except (OSError, smf.MidiError) as e:
        die(str(e))
    rate = args.rate
    events = smf.timed_events(midi, rate)
    end_sample = smf.to_sample(midi.duration_seconds, rate)
    if events:
        end_sample = max(end_sample, events[-1].sample)
    notes = [e.sample for e in events if e.is_note_on]

    if args.timing == 'exact':
        if (SUPERCLOCK_RATE % rate) != 0:
            die(f'--timing exact needs a rate that divides {SUPERCLOCK_RATE} (44100, 48000, 88200, 96000 do)')
        bpm = rate * 60 / ARDOUR_PPQN
        timed = [(e.sample, e.data) for e in events]
        # One tick past the last event, so an event at the very end is inside the region.
        length = end_sample + 1
        tempos = [(0, bpm)]
        smf.write_smf(args.out, ARDOUR_PPQN, timed, length, us_per_quarter=round(60e6 / bpm))
        quantisation = 0
    else:
        if midi.smpte:
            die('--timing file needs a metrical (ticks per quarter) MIDI file; use --timing exact')
        ppq = midi.ppq

        def at(tick):
            return (tick * ARDOUR_PPQN + ppq // 2) // ppq  # nearest Ardour tick
        timed = [(at(e.tick), e.data) for e in sorted(midi.events, key=lambda e: (e.tick, e.order))]
        length = max(at(midi.end_tick), timed[-1][0] if timed else 0) + 1
        tempos = [(at(t), 60e6 / us) for t, us in midi.tempo_segments]
        smf.write_smf(args.out, ARDOUR_PPQN, timed, length, us_per_quarter=midi.tempo_segments[0][1])
        quantisation = None  # depends on Ardour's own tempo arithmetic; see README
    plan = {
        'timing': args.timing,
        'rate': rate,
        'tempos': ','.join(f'{t}:{bpm!r}' for t, bpm in tempos),
        'length_ticks': length,
        'end_samples': end_sample,
        'duration_seconds': midi.duration_seconds,
        'events': len(events),
        'note_on_samples': notes,
        'event_quantisation_samples': quantisation,
    }
    print(json.dumps(plan))


def inject(args):
    path = os.path.join(args.dir, args.name + '.ardour')
    tree = ET.parse(path)
    root = tree.getroot()
    next_id = int(root.get('id-counter'))

    def new_id():
        nonlocal next_id
        next_id += 1
        return str(next_id)

    playlists = [p for p in root.iter('Playlist') if p.get('type') == 'midi']
    if len(playlists) != 1:
        die(f'{path}: expected exactly one MIDI playlist, found {len(playlists)}')
    playlist = playlists[0]

    # Ardour made exactly one folder under interchange/ (named after the session directory, not
    # the snapshot) and refuses to load a session with more than one.
    interchange = os.path.join(args.dir, 'interchange')
    subdirs = [d for d in os.listdir(interchange) if os.path.isdir(os.path.join(interchange, d))]
    if len(subdirs) != 1:
        die(f'{interchange}: expected one folder, found {subdirs}')
    mid_dir = os.path.join(interchange, subdirs[0], 'midifiles')
    os.makedirs(mid_dir, exist_ok=True)
    src_name = 'bounce.mid'
    shutil.copyfile(args.mid, os.path.join(mid_dir, src_name))

    src_id = new_id()
    sources = root.find('Sources')
    ET.SubElement(sources, 'Source', {
        'name': src_name, 'type': 'midi', 'flags': '', 'id': src_id, 'origin': ''})

    length = f'b{args.length_ticks}@b0'

    def region(rid, whole):
        return {
            'name': 'bounce' if whole else 'bounce.1',
            'muted': '0', 'opaque': '1', 'locked': '0', 'video-locked': '0', 'automatic': '0',
            'whole-file': '1' if whole else '0', 'import': '1', 'external': '0',
            'sync-marked': '0', 'left-of-split': '0', 'right-of-split': '0', 'hidden': '0',
            'position-locked': '0', 'valid-transients': '0',
            'start': 'b0', 'length': length, 'sync-position': 'b0',
            'ancestral-start': 'b0', 'ancestral-length': length,
            'stretch': '1', 'shift': '1', 'layering-index': '0', 'layer': '0', 'tags': '',
            'contents': '1', 'id': rid, 'type': 'midi', 'first-edit': 'nothing',
            'source-0': src_id, 'master-source-0': src_id,
        }
    ET.SubElement(root.find('Regions'), 'Region', region(new_id(), True))
    ET.SubElement(playlist, 'Region', region(new_id(), False))

    end_sc = args.end_samples * SUPERCLOCK_RATE // args.rate
    if args.end_samples * SUPERCLOCK_RATE % args.rate:
        end_sc += 1
    locations = root.find('Locations')
    for loc in list(locations):
        if 'IsSessionRange' in loc.get('flags', ''):
            locations.remove(loc)
    ET.SubElement(locations, 'Location', {
        'id': new_id(), 'name': 'session', 'start': 'a0', 'end': f'a{end_sc}',
        'flags': 'IsSessionRange', 'locked': '0', 'timestamp': str(int(time.time())), 'cue': '0'})
    root.set('id-counter', str(next_id + 1))
    tree.write(path, encoding='UTF-8', xml_declaration=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('prepare')
    p.add_argument('midi')
    p.add_argument('--rate', type=int, required=True)
    p.add_argument('--timing', choices=('exact', 'file'), default='exact')
    p.add_argument('--out', required=True)
    p.set_defaults(fn=prepare)
    q = sub.add_parser('inject')
    q.add_argument('dir')
    q.add_argument('name')
    q.add_argument('--mid', required=True)
    q.add_argument('--length-ticks', type=int, required=True)
    q.add_argument('--end-samples', type=int, required=True)
    q.add_argument('--rate', type=int, required=True)
    q.set_defaults(fn=inject)
    args = ap.parse_args()
    args.fn(args)


if __name__ == '__main__':
    main()
