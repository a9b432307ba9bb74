#!/usr/bin/python3
"""Finds Ardour's VST3 cache entry for an installed module and checks that Ardour will use it.

  vst3_cache.py MODULE.so      prints name=, uid=, vendor=, cache= lines; exit 1 if unusable

Ardour 7 (libs/ardour/vst3_scan.cc) keeps one XML file per module in
~/.cache/ardour7/vst/<sha1 of the module path>.v3i and uses it only when its mtime is strictly
greater (whole seconds) than the module's; headless Ardour (ardour7-lua, ardour7-export) never
scans, so without a valid entry the plug-in is simply not there.
"""
import hashlib
import os
import sys
import xml.etree.ElementTree as ET


def main():
    module = os.path.abspath(sys.argv[1])
    cache_dir = os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'ardour7', 'vst')
    cache = os.path.join(cache_dir, hashlib.sha1(module.encode()).hexdigest() + '.v3i')
    if not os.path.isfile(cache):
        print(f'no cache file {cache} for {module}', file=sys.stderr)
        return 1
    m_so, m_cache = int(os.stat(module).st_mtime), int(os.stat(cache).st_mtime)
    if not m_so < m_cache:
        print(f'stale cache: {cache} (mtime {m_cache}) is not newer than {module} (mtime {m_so})', file=sys.stderr)
        return 1
    root = ET.parse(cache).getroot()
    infos = list(root.iter('VST3Info'))
    if not infos:
        print(f'{cache} lists no plug-in (the scanner found no class it could use)', file=sys.stderr)
        return 1
    for i in infos[:1]:
        print(f"name={i.get('name')}")
        print(f"uid={i.get('uid')}")
        print(f"vendor={i.get('vendor')}")
        print(f"io=audio in {i.get('n_inputs')} out {i.get('n_outputs')}, midi in {i.get('n_midi_inputs')} out {i.get('n_midi_outputs')}")
    print(f'cache={cache}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
