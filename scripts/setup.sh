#!/usr/bin/env bash
# Installs everything `make demo` and `make test` need on a fresh Debian machine.
# Idempotent: each step checks before it acts, so a second run costs seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- Debian packages -------------------------------------------------------
# Reference tools the tests compare against (mido, sox, fluidsynth) and the native toolchain;
# JACK for the standalone instrument (standalone/: libjack headers to build it, jackd2 for
# the tests' `jackd -d dummy` server) and pkg-config, which finds libjack for CMake; clang and
# zlib1g-dev link the bundle's engine, which `make bundle` compiles ahead of time (PublishAot).
APT_PACKAGES=(python3-mido python3-numpy sox fluidsynth fluid-soundfont-gm cmake g++ libgtest-dev ardour
              pkg-config jackd2 libjack-jackd2-dev clang zlib1g-dev)
if [ "${SOSTENUTO_TRAINING:-0}" = 1 ]; then
  # python3-pil: the model card's spectrogram PNGs; musescore3 (+ its demo scores) and musescore-common:
  # the real piano music of the piano's test set (training/gen_data.py exports the demo scores to MIDI)
  APT_PACKAGES+=(python3-torch python3-onnx python3-pil musescore3 musescore3-common musescore-common)
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- .NET ------------------------------------------------------------------
# NuGet packages, ONNX Runtime among them (Microsoft.ML.OnnxRuntime: the managed API and the
# native library for each platform, which builds and `make bundle` copy next to the engine).
dotnet restore Plugin.sln --verbosity quiet
