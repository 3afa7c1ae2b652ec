#!/usr/bin/env bash
# Installs the Debian packages inferencepower builds and tests with, only those missing.
# Idempotent: when everything is present it changes nothing and needs no root.
# `install-deps.sh fuzz` adds what `make fuzz` needs on top (clang with libFuzzer and OpenMP).
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libhwy-dev            # Highway SIMD (1.0.3 on Debian 12)
  libcli11-dev          # command lines of the experiment binaries
  libgtest-dev          # GoogleTest
  nlohmann-json3-dev    # golden files and result files
  zlib1g-dev            # gzip-compressed MNIST files
  libgnuplot-iostream-dev gnuplot-nox   # figures
  libboost-iostreams-dev libboost-filesystem-dev   # gnuplot-iostream links them
  libopenblas-dev       # optional comparison GEMM backend (our own GEMM is the default)
)
if [[ "${1:-}" == "fuzz" ]]; then
  packages+=(
    clang libclang-rt-14-dev   # clang 14 with libFuzzer, ASan and UBSan runtimes
    libomp-14-dev              # OpenMP for clang (the engine the model-file harness links)
  )
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} Debian packages present"
  exit 0
fi

echo "install-deps: missing Debian packages: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt_get=(sudo apt-get)
else
  echo "install-deps: not root and no password-less sudo; install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
