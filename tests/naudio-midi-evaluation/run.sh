#!/usr/bin/env bash
# NAudio.Midi 3.3.0 against the cases Sostenuto's SMF reader passes (docs/midi-files.md), in both
# of NAudio's modes. The mido files are the ones tests/…/Midi/MidoTestFiles.cs writes.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=out/naudio-midi-evaluation
mkdir -p "$out"
/usr/bin/python3 tests/naudio-midi-evaluation/mido_writer.py "$out/format0.mid" 0
/usr/bin/python3 tests/naudio-midi-evaluation/mido_writer.py "$out/format1.mid" 1
dotnet build tests/naudio-midi-evaluation -c Release -v quiet -nologo >/dev/null
for mode in strict lenient; do
  dotnet tests/naudio-midi-evaluation/bin/Release/net10.0/NAudioMidiEvaluation.dll examples/demo.mid "$out/format1.mid" "$out/format0.mid" "$mode"
  echo
done
