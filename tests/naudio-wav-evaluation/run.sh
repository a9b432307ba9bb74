#!/usr/bin/env bash
# NAudio.Core 3.3.0's WAV writer and reader against the engine's (docs/wav-files.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=out/naudio-wav-evaluation
mkdir -p "$out"
sox -n -r 8000 -c 2 -b 24 "$out/sox.wav" synth 0.005 sine 440
dotnet build tests/naudio-wav-evaluation -c Release -v quiet -nologo >/dev/null
dotnet tests/naudio-wav-evaluation/bin/Release/net10.0/NAudioWavEvaluation.dll "$out/sox.wav"
