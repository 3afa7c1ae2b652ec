#!/usr/bin/env bash
# Prepares a GPU campaign on a lent GPU machine (see README "GPU runs"): builds the CUDA backend
# here for Hopper (sm_90, plus sm_80 and PTX), then gathers into .gpu/ (git-ignored) what the
# bare GPU machine lacks: the binaries, the non-system shared libraries they load, and the MNIST
# files. The GPU machine reaches no package registry, so nothing is built or installed there.
#   experiments/gpu/pack.sh                # then carry ".gpu" with every device run
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${GPU_BUILD_DIR:-build-gpu}
pack=.gpu

command -v nvcc >/dev/null || { echo "pack.sh: nvcc not found; the CUDA backend cannot be built" >&2; exit 1; }
bash tests/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="80-real;90-real;90-virtual" >/dev/null
cmake --build "$build" -j "$(nproc)"

rm -rf "$pack" && mkdir -p "$pack/bin" "$pack/lib" "$pack/mnist"
binaries=(ip_tests ip_cuda_tests check_kernels kernel_bench rand_power mnist_power power_table)
for b in "${binaries[@]}"; do cp "$build/$b" "$pack/bin/"; done
# Libraries outside glibc/libstdc++'s core that a CUDA image may lack (Highway, OpenMP, zlib,
# OpenBLAS, gfortran runtime...). The CUDA driver library comes from the GPU machine itself.
for b in "${binaries[@]}"; do ldd "$pack/bin/$b"; done | awk '/=> \//{print $3}' | sort -u |
  grep -Ev '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libcuda)\.so' |
  while read -r lib; do cp -L "$lib" "$pack/lib/"; done
for dir in "${MNIST_DIR:-}" ../shared/data/mnist data/mnist; do
  if [[ -n "$dir" && -f "$dir/t10k-labels-idx1-ubyte.gz" ]]; then cp "$dir"/*-ubyte.gz "$pack/mnist/"; break; fi
done
[[ -f "$pack/mnist/t10k-labels-idx1-ubyte.gz" ]] || echo "pack.sh: no MNIST files found; the mnist phase will be skipped" >&2
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
du -sh "$pack"
echo "pack.sh: ready. On the GPU machine run, with carry [\".gpu\"]:"
echo "  bash experiments/gpu/campaign.sh PHASE   (phases: check tests sanitize bench rand rand-async mnist)"
