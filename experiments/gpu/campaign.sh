#!/usr/bin/env bash
# Runs one phase of the GPU campaign on a lent GPU machine, from the repository root, with the
# .gpu/ folder made by experiments/gpu/pack.sh carried along. Each phase fits the device tool's
# 10-minute limit per command; results go to $OUT (the device tool's folder) or ./gpu-results.
#   bash experiments/gpu/campaign.sh check      # nvidia-smi, CUDA tests, check_kernels on CUDA
#   bash experiments/gpu/campaign.sh sanitize   # compute-sanitizer memcheck + racecheck on ip_cuda_tests
#   bash experiments/gpu/campaign.sh bench      # kernel_bench on the GPU (GB/s vs D2D copy, GEMM vs cuBLAS)
#   bash experiments/gpu/campaign.sh rand       # rand_power; FUNCTIONS (all), SCALES (0-8), RUNS (3)
#   bash experiments/gpu/campaign.sh rand-async # the same with --gpu-timing async at scales 0-6
#   bash experiments/gpu/campaign.sh mnist      # mnist_power on the GPU (MNIST_FUNCTIONS, default all)
set -uo pipefail
cd "$(dirname "$0")/../.."
phase=${1:?usage: campaign.sh check|sanitize|bench|rand|rand-async|mnist}
out=${OUT:-gpu-results}
mkdir -p "$out"
export LD_LIBRARY_PATH="$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=.gpu/bin
[[ -x $bin/ip_cuda_tests ]] || { echo "campaign.sh: $bin missing: run experiments/gpu/pack.sh here and carry .gpu" >&2; exit 2; }
log() { echo "== $* ($(date -u +%H:%M:%S))"; }

case "$phase" in
  check)
    log "device"; nvidia-smi | tee "$out/nvidia-smi.txt"
    log "CUDA tests"; $bin/ip_cuda_tests 2>&1 | tee "$out/ip_cuda_tests.txt"
    log "CPU tests on this machine"; $bin/ip_tests --gtest_brief=1 2>&1 | tail -5 | tee "$out/ip_tests_tail.txt"
    log "golden check"; $bin/check_kernels --golden tests/golden/activations.json --device all 2>&1 | tee "$out/check_kernels.txt"
    ;;
  sanitize)
    for tool in memcheck racecheck; do
      log "compute-sanitizer $tool"
      compute-sanitizer --tool "$tool" --error-exitcode 1 $bin/ip_cuda_tests 2>&1 | tail -40 | tee "$out/sanitizer_$tool.txt"
    done
    ;;
  bench)
    log "kernel_bench"; $bin/kernel_bench --devices cuda --sizes 16MiB,256MiB,1GiB --out "$out" 2>&1 | tee "$out/kernel_bench.txt"
    ;;
  rand)
    log "rand_power sync"
    $bin/rand_power --device cuda --functions "${FUNCTIONS:-all}" --scales "${SCALES:-0-8}" --runs "${RUNS:-3}" --out "$out" \
      --model-cache "$out/models" --prefix "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '_')_cuda" \
      --breakdown 2>&1 | tail -60
    ;;
  rand-async)
    log "rand_power async"
    $bin/rand_power --device cuda --functions "${FUNCTIONS:-all}" --scales "${SCALES:-0-6}" --runs "${RUNS:-3}" --out "$out" \
      --model-cache "$out/models" --gpu-timing async --prefix gpu_async 2>&1 | tail -40
    ;;
  mnist)
    [[ -f .gpu/mnist/t10k-labels-idx1-ubyte.gz ]] || { echo "no MNIST files in .gpu/mnist: skipped"; exit 0; }
    log "mnist_power"
    $bin/mnist_power --device cuda --functions "${MNIST_FUNCTIONS:-all}" --data-dir .gpu/mnist --out "$out" 2>&1 | tail -60
    ;;
  *) echo "campaign.sh: unknown phase '$phase'" >&2; exit 2 ;;
esac
