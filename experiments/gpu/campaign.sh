#!/usr/bin/env bash
# The GPU campaign in one call of at most 8 minutes on one H100/H200: correctness first, then the
# measurements in order of value. Before each step the script compares the step's estimate with
# the time left and skips it (by name, with the reason, in the log and the summary) when it does
# not fit; a step that runs long is cut at its cap (rand_power and mnist_power keep what they
# finished, marked partial).
#
#   bash experiments/gpu/campaign.sh all             # GPU machine, ".gpu" from pack.sh carried
#   bash experiments/gpu/campaign.sh STEP...         # only the steps named (--list shows them)
#   DRY_RUN=1 bash experiments/gpu/campaign.sh all   # every step's command on the CPU, tiny sizes
#
# It writes three files to $OUT (default ./gpu-results; the device tool returns at most 8):
#   summary.txt     one line per step (ok, failed, cut at its cap, skipped and why, seconds), then
#                   the lines of each step's output worth reading first
#   campaign.log    every command and its whole output, with times
#   results.tar.gz  campaign/: every step's result files (rand_power, mnist_power, kernel_bench,
#                   energy check: JSON and CSV), one log per step, nvidia-smi's description of the GPU
# The summary and the tarball are rewritten after every step, so a call cut short still returns
# what finished.
#
# The summary is also printed last, so that the end of the call's output shows it.
#
# Environment: OUT; CAMPAIGN_BUDGET_S (480, wall-clock seconds for everything); GPU_PACK (.gpu);
# CAMPAIGN_WORK (scratch folder, default a new one under /tmp); DRY_RUN=1 (see above; the test
# tests/gpu_campaign_dry_run.sh runs it); CAMPAIGN_MAX_CAP_S (lowers every step's cap: for tests).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

# ---- what the measuring steps run: each binary's arguments in one place ----
# Synchronised timing, every function, in rounds paired with Identity (rand_power's default
# design) at 10^0..10^6 instances within a time budget; then 10^7 with the paper's protocol, one
# run: a 10^7 prediction is 100 chunks of 100000 rows (about 1 s with our SGEMM at an estimated
# 15-30 TFLOP/s fp32), and six rounds of 64 samples would not fit. 10^8 is a step of its own
# below. The models are trained here on the GPU (about 2000 x 0.3 ms = 0.6 s each) and cached in
# the campaign's work folder for the later rand steps: carrying them from the CPU machine is not
# possible (32 x 4.3 MB = 137 MB against the 64 MiB that travels).
RAND_SYNC_ARGS="--functions all --scales 0-6 --budget 110s"
RAND_1E7_ARGS="--functions all --scales 7 --design paper --runs 1"
# The original's unsynchronised timing (its small-scale GPU numbers are launch times), beside the
# synchronised one: the extremes of the paper's GPU files (GELU, RReLU), the cheap and the row-wise
# ones, a dropout, and Identity; the paper's protocol, as the original timed it.
RAND_ASYNC_ARGS="--functions identity,relu,gelu,rrelu,sigmoid,tanh,softmax,dropout --scales 3-6 --design paper --runs 3 --gpu-timing async"
# 10^8 for a few functions, with the time that is left (cut at its cap, finished ones kept).
RAND_1E8_ARGS="--functions identity,relu,gelu,rrelu,softmax,dropout --scales 8 --design paper --runs 1"
# Time to 90% test accuracy: functions that reached it in the paper (our CPU runs took 46-75 epochs
# for the activations measured so far, GELU the most), the slowest to converge last so that a cut
# loses the least.
MNIST_ARGS="--functions identity,relu,selu,gelu"
# Production kernels, every function, forward and backward, at 256 MiB and 1 GiB (fraction of a
# device-to-device copy), and GEMM against cuBLAS at the experiments' shapes and the 100000-row
# prediction chunk.
KERNEL_BENCH_ARGS="--functions all --directions forward,backward --sizes 256MiB,1GiB --gemm-shapes experiments --large-gemm"
# Every numbered kernel variant, one function of each family.
KERNEL_VARIANT_ARGS="--functions gelu,softmax,dropout --directions forward,backward --sizes 256MiB,1GiB --variant all --gemm-shapes none"
# NVML's energy counter against its power sampling: seconds per window (idle, then under load).
ENERGY_CHECK_SECONDS=5

# ---- the dry run: the same commands with the device switched to the CPU and every size shrunk ----
# The value after each flag named here is replaced, flags in DRY_DROP are left out, and DRY_EXTRA
# is appended per binary. (A rand_power flag that sets a time budget belongs here too.)
declare -A DRY_VALUES=([--device]=cpu [--devices]=cpu [--functions]=relu,dropout [--scales]=0-1
  [--sizes]=1MiB [--energy-check]=0.2 [--budget]=1s)
declare -A DRY_DROP=([--large-gemm]=1)
declare -A DRY_EXTRA=([rand_power]="--train-epochs 2" [mnist_power]="--limit-train 256 --max-epochs 1"
  [kernel_bench]="--repeats 2 --warmup 0 --min-sample-ms 0.1")

DRY_RUN=${DRY_RUN:-0}
BUDGET=${CAMPAIGN_BUDGET_S:-480}
# Kept free at the end: the last step's grace after its cap (GRACE) and the final packing.
GRACE=15
RESERVE=20
MAX_CAP=${CAMPAIGN_MAX_CAP_S:-0}
PACK=${GPU_PACK:-.gpu}
BIN=$PACK/bin
OUT=${OUT:-gpu-results}
WORK=${CAMPAIGN_WORK:-$(mktemp -d /tmp/campaign.XXXXXX)}
R=$WORK/campaign  # what goes into results.tar.gz
LOG=$OUT/campaign.log
SUMMARY=$OUT/summary.txt

# name, estimate and cap in seconds (a cap of 0: whatever time is left). Nothing here has run on a
# GPU yet: the estimates are counts for an H100/H200 (fp32 SGEMM 15-30 TFLOP/s, HBM ~3.5 TB/s,
# ~5 us per kernel launch, 1-2 s to start a binary and initialise CUDA), each step's basis in its
# comment. The caps bound what a wrong estimate can cost the steps after it.
STEPS=(
  "device          3    30"   # nvidia-smi: the GPU, driver, clocks, power limits
  "cuda-tests     30    90"   # ip_cuda_tests: kernels against the scalar reference (host references dominate)
  "cuda-vs-cpu    10    60"   # ip_tests' CUDA cases: CPU and CUDA masks bit for bit, training on CUDA
  "golden         10    60"   # check_kernels --device cuda against PyTorch's values
  "energy-check   15    45"   # 1 s settle + 2 x ENERGY_CHECK_SECONDS + setup
  "rand-sync     150   240"   # --budget 110s of rounds at 10^0..10^6 + 32 trainings x ~0.6 s + start
  "rand-1e7       45    90"   # 32 x ~1 s at 10^7 (paper protocol, one run), models from the cache
  "rand-async     25    60"   # 8 x 3 x ~0.15 s (10^3..10^6) + start, models from the cache
  "tables          3    30"   # power_table on both rand steps: spread and cost relative to Identity
  "kernel-bench   45    90"   # ~140 rows x ~50 ms + 2 x 1 GiB random inputs + GEMM rows
  "kernel-variants 25   60"   # every variant of 3 functions x 2 directions x 2 sizes, validated first
  "mnist          75   120"   # ~220 epochs x ~0.3 s (4 functions) + loading MNIST
  "rand-1e8       40    90"   # ~7-14 s per function at 10^8; what the cap allows is kept
  "sanitizer      60     0"   # compute-sanitizer memcheck on ip_cuda_tests, if time is left
)

step_names() { local s; for s in "${STEPS[@]}"; do echo "${s%% *}"; done; }

usage() {
  sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
  echo; echo "Steps, in order:"; step_names | sed 's/^/  /'
}
case "${1:-}" in
  ""|-h|--help) usage; exit 0 ;;
  --list) step_names; exit 0 ;;
esac
selected=" $* "
for s in "$@"; do
  [[ $s == all ]] || step_names | grep -qx -- "$s" || { echo "campaign.sh: unknown step '$s' (--list)" >&2; exit 2; }
done

mkdir -p "$OUT" "$R/logs" "$R/device"
: > "$LOG"
log() { echo "== $(date -u +%H:%M:%S) +${SECONDS}s $*" | tee -a "$LOG"; }
declare -a STATUS=()
status() { STATUS+=("$(printf '%-16s %-8s %s' "$1" "$2" "$3")"); log "$1: $2 $3"; }

# The arguments of one step's command, as run: unchanged on the GPU, shrunk in the dry run.
args_for() {
  local binary=$1; shift
  if [[ $DRY_RUN != 1 ]]; then printf '%s\n' "$@"; return; fi
  while (($#)); do
    if [[ -n ${DRY_DROP[$1]:-} ]]; then shift; continue; fi
    if [[ -n ${DRY_VALUES[$1]:-} ]] && (($# > 1)); then printf '%s\n' "$1" "${DRY_VALUES[$1]}"; shift 2; continue; fi
    if [[ $1 == --gemm-shapes && ${2:-} != none ]]; then printf '%s\n' "$1" 64x64x64:nt; shift 2; continue; fi
    printf '%s\n' "$1"; shift
  done
  # shellcheck disable=SC2086 # DRY_EXTRA holds flags separated by spaces
  [[ -z ${DRY_EXTRA[$binary]:-} ]] || printf '%s\n' ${DRY_EXTRA[$binary]}
}

write_summary() {
  {
    echo "GPU campaign, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), ${SECONDS}s of ${BUDGET}s$([[ $DRY_RUN == 1 ]] && echo ', DRY RUN on the CPU')"
    echo "device: $DEVICE_LINE"
    [[ -z $LIB_PROBLEMS ]] || echo "libraries: $LIB_PROBLEMS"
    echo
    printf '%s\n' "${STATUS[@]}"
    local f
    for f in "$R"/logs/*.highlights; do
      [[ -s $f ]] || continue
      echo; echo "-- $(basename "$f" .highlights)"; cat "$f"
    done
  } > "$SUMMARY.tmp" && mv -f "$SUMMARY.tmp" "$SUMMARY"
}

pack_results() {
  cp -f "$LOG" "$R/campaign.log" 2>/dev/null
  # The model cache stays out: 4.3 MB per function, and nothing reads it afterwards.
  # Exit status 1 is "a file changed as we read it" (the dmon log grows): the archive is still good.
  tar -C "$WORK" --exclude=campaign/models --warning=no-file-changed -czf "$WORK/results.tar.gz.tmp" campaign
  (($? <= 1)) && mv -f "$WORK/results.tar.gz.tmp" "$OUT/results.tar.gz"
  write_summary
}

# Lines of a step's output that the summary shows (the whole output is in the log and the tarball).
highlight() {
  local name=$1 file=$2 pattern
  case "$name" in
    device) pattern='NVIDIA-SMI|Driver Version|^name|MiB|W /' ;;
    cuda-tests|cuda-vs-cpu|sanitizer)
      pattern='^\[(==========|  PASSED  |  FAILED  )\]|^\[  SKIPPED \] [0-9]+ tests?,|ERROR SUMMARY|rror' ;;
    golden) pattern='^summary:| on [^,]+, (forward|grad|weight_grad): |^check_kernels:' ;;
    energy-check) pattern='^energy check|^  nvml' ;;
    rand-*) pattern='^energy:|^estimated|warning|error|interrupted|partial|^rand_power: [0-9]+ measurements' ;;
    mnist) pattern='^energy:|^estimated|: (did not )?reach|warning|error|interrupted|partial' ;;
    tables) pattern='.' ;;
    kernel-*) pattern='error|FAILED|disagreed|^cuda .*copy:|^cuda .*[0-9]+x[0-9]+x[0-9]+:..  ' ;;
  esac
  grep -E -- "$pattern" "$file" | head -40 > "$R/logs/$name.highlights"
}

run_step() {
  local name=$1 estimate=$2 cap=$3; shift 3
  local left=$((BUDGET - RESERVE - SECONDS))
  if ((estimate > left)); then
    status "$name" skipped "needs about ${estimate}s, ${left}s left"; return
  fi
  ((cap == 0 || cap > left)) && cap=$left
  ((MAX_CAP > 0 && cap > MAX_CAP)) && cap=$MAX_CAP
  local steplog=$R/logs/$name.txt t0=$SECONDS rc
  [[ $name == rand-* || $name == mnist || $name == kernel-* || $name == energy-check ]] && mkdir -p "$R/$name"
  log "$name: estimate ${estimate}s, cap ${cap}s: $*"
  timeout -s INT -k "$GRACE" "$cap" "$@" 2>&1 | tee -a "$LOG" > "$steplog"
  rc=${PIPESTATUS[0]}
  highlight "$name" "$steplog"
  case $rc in
    0) status "$name" ok "$((SECONDS - t0))s" ;;
    124|137) status "$name" cut "at its cap of ${cap}s (exit $rc); what finished is kept" ;;
    *) status "$name" failed "exit $rc after $((SECONDS - t0))s (see logs/$name.txt)" ;;
  esac
  pack_results
}

# One step by name: checks what it needs, then runs its command with the step's arguments.
step() {
  local name=$1 estimate=$2 cap=$3 binary=
  [[ $selected == *" all "* || $selected == *" $name "* ]] || return 0
  local -a cmd=()
  local device=cuda
  [[ $DRY_RUN == 1 ]] && device=cpu
  case "$name" in
    device)
      command -v nvidia-smi >/dev/null || { status "$name" skipped "nvidia-smi not found"; return; }
      # The description that goes with the results; the step's status is the first command's.
      cmd=(bash -c "nvidia-smi; rc=\$?; nvidia-smi -q > '$R/device/nvidia-smi-q.txt'
        nvidia-smi --query-gpu=name,pci.bus_id,driver_version,memory.total,power.limit,power.max_limit,clocks.max.sm,clocks.max.mem,compute_cap --format=csv | tee '$R/device/gpu.csv'
        exit \$rc") ;;
    cuda-tests) binary=ip_cuda_tests; cmd=("$BIN/ip_cuda_tests") ;;
    cuda-vs-cpu)
      binary=ip_tests
      cmd=("$BIN/ip_tests" --gtest_filter='CudaVsCpu.*:EngineTensor.Cuda*:EngineNetwork.Cuda*') ;;
    golden)
      binary=check_kernels
      cmd=("$BIN/check_kernels" --golden tests/golden/activations.json --device cuda) ;;
    energy-check)
      binary=kernel_bench
      cmd=("$BIN/kernel_bench" --devices cuda --energy-check "$ENERGY_CHECK_SECONDS" --out "$R/energy-check") ;;
    rand-sync|rand-1e7|rand-async|rand-1e8)
      binary=rand_power
      local a=$RAND_SYNC_ARGS prefix=${TAG}_$device
      [[ $name == rand-1e7 ]] && a=$RAND_1E7_ARGS
      [[ $name == rand-async ]] && a=$RAND_ASYNC_ARGS prefix=${TAG}_${device}-async
      [[ $name == rand-1e8 ]] && a=$RAND_1E8_ARGS
      # shellcheck disable=SC2206 # the variables hold flags separated by spaces
      cmd=("$BIN/rand_power" --device cuda $a --energy auto --model-cache "$R/models"
           --prefix "$prefix" --out "$R/$name") ;;
    tables)
      binary=power_table
      local dirs=() d
      for d in "$R"/rand-sync "$R"/rand-1e7 "$R"/rand-async "$R"/rand-1e8; do compgen -G "$d/*.json" >/dev/null && dirs+=("$d"); done
      ((${#dirs[@]})) || { status "$name" skipped "no rand_power results"; return; }
      cmd=("$BIN/power_table" --tables costs,spread,relative "${dirs[@]}") ;;
    kernel-bench|kernel-variants)
      binary=kernel_bench
      local a=$KERNEL_BENCH_ARGS
      [[ $name == kernel-variants ]] && a=$KERNEL_VARIANT_ARGS
      # shellcheck disable=SC2206
      cmd=("$BIN/kernel_bench" --devices cuda $a --out "$R/$name") ;;
    mnist)
      binary=mnist_power
      [[ -f $PACK/mnist/t10k-labels-idx1-ubyte.gz ]] || { status "$name" skipped "no MNIST files in $PACK/mnist"; return; }
      # shellcheck disable=SC2206
      cmd=("$BIN/mnist_power" --device cuda $MNIST_ARGS --energy auto --data-dir "$PACK/mnist"
           --prefix "mnist_${TAG}_$device" --out "$R/mnist") ;;
    sanitizer)
      binary=ip_cuda_tests
      local sanitizer
      sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
                  /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -1)
      [[ -n $sanitizer ]] || { status "$name" skipped "compute-sanitizer not found"; return; }
      [[ $DRY_RUN == 1 ]] && { status "$name" skipped "no GPU in a dry run"; return; }
      # The production kernels only: the numbered variants are benchmark-only.
      cmd=("$sanitizer" --tool memcheck --error-exitcode 1 "$BIN/ip_cuda_tests" --gtest_filter='-CudaVariants.*') ;;
  esac
  if [[ -n $binary && ! -x $BIN/$binary ]]; then status "$name" skipped "$binary is not in $PACK"; return; fi
  if [[ -n $binary && $name != sanitizer ]]; then
    mapfile -t rest < <(args_for "$binary" "${cmd[@]:1}")
    cmd=("${cmd[0]}" "${rest[@]}")
  fi
  run_step "$name" "$estimate" "$cap" "${cmd[@]}"
}

# ---- before the steps: the pack, the libraries, the GPU ----
DEVICE_LINE="unknown"
LIB_PROBLEMS=""
[[ -d $BIN ]] || { echo "campaign.sh: $BIN missing: run experiments/gpu/pack.sh and carry $PACK" | tee -a "$LOG" >&2
                   DEVICE_LINE="no pack"; STATUS=("nothing ran: $BIN missing"); write_summary; exit 2; }
# pack.sh gzips the binaries: unpacked into the scratch folder (a binary packed unzipped is used
# where it is).
mkdir -p "$WORK/bin"
for f in "$BIN"/*; do
  [[ -e $f ]] || continue
  name=$(basename "$f" .gz)
  rm -f "$WORK/bin/$name"
  if [[ $f == *.gz ]]; then
    gzip -dc -- "$f" > "$WORK/bin/$name" && chmod +x "$WORK/bin/$name" ||
      { rm -f "$WORK/bin/$name"; echo "campaign.sh: could not unpack $f" | tee -a "$LOG" >&2; }
  else
    ln -sf "$(realpath "$f")" "$WORK/bin/$name"
  fi
done
BIN=$WORK/bin
libdirs=$(realpath "$PACK/lib")
if [[ $DRY_RUN != 1 ]]; then
  # cuBLAS is not packed (too big): the GPU machine's own CUDA 13 copy, wherever its image keeps it.
  for lib in libcublas.so.13 libcublasLt.so.13; do
    dir=
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda/lib; do
      [[ -e $d/$lib ]] && { dir=$d; break; }
    done
    [[ -n $dir ]] || dir=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l {print $NF; exit}' | xargs -r dirname)
    [[ -n $dir ]] || dir=$(find /usr/local /opt /usr/lib -name "$lib" -print -quit 2>/dev/null | xargs -r dirname)
    [[ -n $dir && :$libdirs: != *":$dir:"* ]] && libdirs+=":$dir"
  done
fi
export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for b in "$BIN"/*; do
  missing=$(ldd "$b" 2>&1 | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
  [[ -z $missing ]] || LIB_PROBLEMS+="$(basename "$b") lacks ${missing% }; "
done
if [[ $DRY_RUN == 1 ]]; then
  TAG=dryrun
  DEVICE_LINE="none (dry run): $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs"
elif command -v nvidia-smi >/dev/null; then
  name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
  TAG=$(echo "${name:-gpu}" | tr 'A-Z ' 'a-z-' | tr -cd 'a-z0-9.-')
  DEVICE_LINE="$(nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit --format=csv,noheader 2>/dev/null | head -1)"
else
  TAG=gpu
  DEVICE_LINE="nvidia-smi not found"
fi
log "campaign: budget ${BUDGET}s, pack $PACK, work $WORK, out $OUT, LD_LIBRARY_PATH $LD_LIBRARY_PATH"
[[ -z $LIB_PROBLEMS ]] || log "MISSING LIBRARIES: $LIB_PROBLEMS"
log "device: $DEVICE_LINE"

# Power, clocks, utilisation and memory once a second for the whole campaign, beside the steps.
dmon_pid=
if [[ $DRY_RUN != 1 ]] && command -v nvidia-smi >/dev/null; then
  nvidia-smi dmon -s pucm -d 1 -o T > "$R/device/dmon.txt" 2>&1 &
  dmon_pid=$!
fi

for s in "${STEPS[@]}"; do
  # shellcheck disable=SC2086 # name, estimate and cap
  step $s
done

[[ -z $dmon_pid ]] || kill "$dmon_pid" 2>/dev/null
log "campaign: done"
pack_results
echo; cat "$SUMMARY"
# The device tool returns at most 8 files of at most 16 MiB each from $OUT.
count=$(find "$OUT" -type f | wc -l)
big=$(find "$OUT" -type f -size +16M | tr '\n' ' ')
if ((count > 8)) || [[ -n $big ]]; then
  echo "campaign.sh: $OUT holds $count files${big:+, over 16 MiB: $big}: the device tool returns at most 8 of at most 16 MiB" | tee -a "$LOG" >&2
  exit 1
fi
exit 0
