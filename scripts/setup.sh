#!/usr/bin/env bash
# Installs everything `make demo` and `make test` need on a fresh Debian machine.
# Idempotent: each step checks before it acts, so a second run costs seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- Debian packages -------------------------------------------------------
# Reference tools the tests compare against (mido, sox, fluidsynth) and the native toolchain;
# JACK for the standalone instrument (standalone/: libjack headers to build it, jackd2 for
# the tests' `jackd -d dummy` server) and pkg-config, which finds libjack for CMake.
APT_PACKAGES=(python3-mido python3-numpy sox fluidsynth fluid-soundfont-gm cmake g++ libgtest-dev ardour
              pkg-config jackd2 libjack-jackd2-dev)
if [ "${SOSTENUTO_TRAINING:-0}" = 1 ]; then
  APT_PACKAGES+=(python3-torch python3-onnx python3-pil)  # python3-pil: the model card's spectrogram PNGs
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

# --- ONNX Runtime native library (from the npm package, install scripts never run) ---
ORT_VERSION=1.30.0
ORT_SHA256=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
ORT_DIR=native/linux-x64
ORT_LIB=$ORT_DIR/libonnxruntime.so.1
if [ ! -f "$ORT_LIB" ] || ! echo "$ORT_SHA256  $ORT_LIB" | sha256sum -c --status; then
  echo "setup: fetching ONNX Runtime $ORT_VERSION native library (npm pack onnxruntime-node)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null && tar xzf onnxruntime-node-$ORT_VERSION.tgz)
  mkdir -p "$ORT_DIR"
  cp "$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$ORT_LIB.tmp"
  echo "$ORT_SHA256  $ORT_LIB.tmp" | sha256sum -c --status || { echo "setup: checksum mismatch for ONNX Runtime" >&2; exit 1; }
  mv "$ORT_LIB.tmp" "$ORT_LIB"
fi

# --- .NET ------------------------------------------------------------------
dotnet restore Plugin.sln --verbosity quiet
