#!/usr/bin/env bash
# Installs what `make test-arm` needs on top of tests/install-deps.sh: Debian's aarch64 cross
# compiler, qemu-user to run its binaries, and the arm64 builds of the libraries the engine links
# (through multiarch, so dpkg gains the arm64 architecture). Idempotent, like install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh

# Header-only dependencies (CLI11, nlohmann-json) serve both architectures as they are.
host_packages=(g++-aarch64-linux-gnu qemu-user)
# libgomp1: the programs run on Debian's arm64 runtime (its ld.so, libc, libstdc++ and libgomp all of
# one release, cmake/aarch64-linux-gnu.cmake says why), and only libgomp is no dependency of the rest.
arm64_packages=(libhwy-dev libgtest-dev zlib1g-dev libgomp1)
# An arm64 library and its amd64 twin are Multi-Arch: same and must have one version. Asking for
# the version already installed for amd64 (when the archive still has it) keeps apt from
# upgrading the x86 build's libraries to add the arm64 ones; the runtime libraries are named too,
# for the same reason.
runtime_twins=(libhwy1 zlib1g)

installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]; }

missing=()
for pkg in "${host_packages[@]}"; do installed "$pkg" || missing+=("$pkg"); done
for pkg in "${arm64_packages[@]}"; do installed "$pkg:arm64" || missing+=("$pkg:arm64"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps-arm: all $(( ${#host_packages[@]} + ${#arm64_packages[@]} )) packages present"
  exit 0
fi

echo "install-deps-arm: missing: ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "install-deps-arm: not root and no password-less sudo; install them with:" >&2
  echo "  sudo dpkg --add-architecture arm64 && sudo apt-get update &&" \
       "sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  "${sudo[@]}" dpkg --add-architecture arm64
fi
"${sudo[@]}" apt-get update -qq

# NAME:arm64, or NAME:arm64=VERSION where the amd64 twin is installed at a VERSION the archive has.
arm64_request() {
  local version
  version=$(dpkg-query -W -f='${Version}' "$1:amd64" 2>/dev/null || true)
  if [[ -n "$version" ]] && apt-cache madison "$1:arm64" | grep -q "| $version |"; then
    echo "$1:arm64=$version"
  else
    echo "$1:arm64"
  fi
}
requests=("${host_packages[@]}")
for pkg in "${arm64_packages[@]}" "${runtime_twins[@]}"; do requests+=("$(arm64_request "$pkg")"); done
# --no-remove: if the arm64 libraries could only be had by removing amd64 packages, fail instead.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends --no-remove "${requests[@]}"
echo "install-deps-arm: installed ${missing[*]}"
