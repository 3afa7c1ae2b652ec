#!/usr/bin/env bash
# The GPU campaign's dry run, here and without a GPU, so that the one call on a lent GPU does not
# fail on a typo: pack.sh packs this build (and the pack must fit the 64 MiB that travels), then
# experiments/gpu/campaign.sh runs with DRY_RUN=1, every step's command on the CPU with tiny sizes
# or skipped by name, with the same argument variables as the real run. Checked: each step's
# outcome, that the commands carry those variables' flags, the files in $OUT (at most 8, at most
# 16 MiB each) and what the tarball holds. Then: the real, unshrunk commands must fail here only
# for want of a GPU (so their sizes and shapes parse too); a budget too small for most steps must
# skip them by name; a step that outlasts its cap must be cut and the next one run.
#   tests/gpu_campaign_dry_run.sh BUILD_DIR        (ctest runs it as gpu_campaign_dry_run)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: gpu_campaign_dry_run.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d /tmp/ip_campaign_test.XXXXXX)
trap '[[ -n ${KEEP_TMP:-} ]] || rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
campaign=$src/experiments/gpu/campaign.sh

# MNIST: the real files where CI keeps them (so the pack's size is the real one), else a tiny
# stand-in in the same format (IDX, gzip).
if [[ -z ${MNIST_DIR:-} && ! -f $src/../shared/data/mnist/t10k-labels-idx1-ubyte.gz ]]; then
  export MNIST_DIR=$tmp/mnist
  mkdir -p "$MNIST_DIR"
  be32() { printf "\\x$(printf %02x $(($1 >> 24 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 & 255)))"; }
  for split in train:512 t10k:100; do
    name=${split%:*} n=${split#*:}
    { printf '\x00\x00\x08\x03'; be32 "$n"; be32 28; be32 28; head -c $((n * 784)) /dev/urandom; } |
      gzip > "$MNIST_DIR/$name-images-idx3-ubyte.gz"
    { printf '\x00\x00\x08\x01'; be32 "$n"; for ((i = 0; i < n; i++)); do printf "\\x0$((i % 10))"; done; } |
      gzip > "$MNIST_DIR/$name-labels-idx1-ubyte.gz"
  done
fi

# ---- the pack ----
# PACK_SIZE_UNCHECKED (set by ctest for sanitized builds): the 64 MiB is not checked.
limit=$((64 * 1024 * 1024))
if [[ -n ${PACK_SIZE_UNCHECKED:-} ]]; then
  limit=$((1 << 40))
  echo "sanitized build: the pack's size is not checked against 64 MiB"
fi
if ! (cd "$src" && PACK_LIMIT_BYTES=$limit bash experiments/gpu/pack.sh --from "$build" --to "$tmp/pack") > "$tmp/pack.txt" 2>&1; then
  cat "$tmp/pack.txt" >&2
  fail "pack.sh --from $build failed"
fi
cat "$tmp/pack.txt"
grep -q 'of the 64 MiB' "$tmp/pack.txt" || fail "pack.sh did not report the size that travels"
packed=$(du -sb "$tmp/pack" | cut -f1)
((packed < limit)) || fail "the pack alone is $packed bytes, over 64 MiB"
[[ -d $tmp/pack/bin && -d $tmp/pack/lib ]] || fail "the pack lacks bin/ or lib/"
for b in "$tmp"/pack/bin/*; do [[ $b == *.gz ]] || fail "the pack holds $(basename "$b") uncompressed"; done
[[ -f $tmp/pack/bin/ip_tests.gz ]] || fail "the pack lacks ip_tests.gz"
! ls "$tmp/pack/lib" | grep -Eq '^lib(cublas|cublasLt|stdc\+\+|c)\.so' || fail "the pack holds a library it must leave out"

# ---- unknown step, listing ----
# A scratch folder of the test's own: the campaign makes one under /tmp otherwise, left behind.
CAMPAIGN_WORK="$tmp/list.work" bash "$campaign" --list > "$tmp/steps.txt" || fail "--list failed"
set +e
DRY_RUN=1 OUT=$tmp/bad CAMPAIGN_WORK="$tmp/bad.work" bash "$campaign" no-such-step > /dev/null 2>&1
[[ $? == 2 ]] || fail "an unknown step is not refused with exit status 2"
set -e

# ---- the dry run with the full budget: every step runs or is skipped by name ----
run() {  # run OUT_DIR PACK STEPS [VAR=value...]
  local out=$1 pack=$2 steps=$3; shift 3
  # shellcheck disable=SC2086 # the steps
  (cd "$src" && env "$@" DRY_RUN=1 OUT="$out" GPU_PACK="$pack" CAMPAIGN_WORK="$out.work" \
     bash experiments/gpu/campaign.sh $steps) > "$out.stdout" 2>&1
}
start=$SECONDS
rc=0; run "$tmp/out" "$tmp/pack" all || rc=$?
echo "dry run: exit $rc in $((SECONDS - start)) s"
[[ $rc == 0 ]] || { tail -40 "$tmp/out.stdout" >&2; fail "the dry run exited $rc"; }
summary=$tmp/out/summary.txt
if [[ -f $summary ]]; then cat "$summary"; else fail "no summary.txt"; fi

outcome() { awk -v s="$1" '$1 == s {print $2; exit}' "$summary"; }
while read -r name; do
  got=$(outcome "$name")
  case "$name" in
    device|sanitizer) want=skipped ;;  # no nvidia-smi, no GPU for compute-sanitizer
    cuda-tests) [[ -f $tmp/pack/bin/ip_cuda_tests.gz ]] && want=ok || want=skipped ;;
    *) want=ok ;;
  esac
  [[ $got == "$want" ]] || fail "step $name: '$got', expected '$want' (summary line: $(grep "^$name " "$summary"))"
done < "$tmp/steps.txt"
grep -Eq '^device +skipped +nvidia-smi not found' "$summary" || fail "the device step is not skipped by name"

# Each measuring step ran with its variable's flags (sizes shrunk, the rest as on the GPU).
eval "$(grep -E '^(RAND_[A-Z0-9]+|MNIST|KERNEL_[A-Z]+)_ARGS=' "$campaign")"
for pair in rand-sync:RAND_SYNC_ARGS rand-1e7:RAND_1E7_ARGS rand-async:RAND_ASYNC_ARGS rand-1e8:RAND_1E8_ARGS mnist:MNIST_ARGS \
            kernel-bench:KERNEL_BENCH_ARGS kernel-variants:KERNEL_VARIANT_ARGS; do
  name=${pair%%:*} var=${pair#*:}
  [[ -n ${!var:-} ]] || { fail "campaign.sh defines no $var"; continue; }
  line=$(grep -E "^== .* $name: estimate " "$tmp/out/campaign.log" | head -1)
  [[ -n $line ]] || { fail "no command logged for $name"; continue; }
  for flag in ${!var}; do
    [[ $flag == --* && $flag != --large-gemm ]] || continue
    [[ " $line " == *" $flag "* ]] || fail "$name ran without $flag of $var: $line"
  done
  [[ $line == *"--device cpu"* || $line == *"--devices cpu"* ]] || fail "$name did not run on the CPU: $line"
done

# What comes back: at most 8 files of at most 16 MiB, the tarball with every step's results.
files=$(find "$tmp/out" -type f | wc -l)
((files <= 8)) || fail "$files files in OUT (at most 8 come back)"
[[ -z $(find "$tmp/out" -type f -size +16M) ]] || fail "a file in OUT is over 16 MiB"
for f in summary.txt campaign.log results.tar.gz; do [[ -f $tmp/out/$f ]] || fail "OUT lacks $f"; done
tar -tzf "$tmp/out/results.tar.gz" > "$tmp/tar.txt" || fail "results.tar.gz is not a tar.gz"
for want in 'campaign/rand-sync/dryrun_cpu\.all\..*\.json' 'campaign/rand-1e7/dryrun_cpu\.all\..*\.json' \
            'campaign/rand-async/dryrun_cpu-async\.all\..*\.json' \
            'campaign/rand-1e8/dryrun_cpu\.all\..*\.json' 'campaign/mnist/mnist_dryrun_cpu_.*\.json' \
            'campaign/kernel-bench/kernel_bench_.*\.json' 'campaign/kernel-variants/kernel_bench_.*\.json' \
            'campaign/energy-check/energy_check_.*\.json' 'campaign/logs/golden\.txt' 'campaign/campaign\.log'; do
  grep -Eq "^$want$" "$tmp/tar.txt" || fail "results.tar.gz lacks $want"
done
! grep -q '^campaign/models/.' "$tmp/tar.txt" || fail "results.tar.gz holds the model cache"
grep -q '^energy check: not possible here' "$tmp/out/campaign.log" || fail "the energy check did not say why it cannot run here"

# ---- a budget too small for most steps: skipped by name, with the reason ----
rc=0; run "$tmp/short" "$tmp/pack" all CAMPAIGN_BUDGET_S=35 || rc=$?
[[ $rc == 0 ]] || fail "the short-budget run exited $rc"
grep -Eq '^rand-sync +skipped +needs about [0-9]+s, -?[0-9]+s left' "$tmp/short/summary.txt" ||
  fail "rand-sync not skipped by its estimate: $(grep '^rand-sync' "$tmp/short/summary.txt")"
grep -Eq '^cuda-vs-cpu +ok' "$tmp/short/summary.txt" || fail "a step that fits did not run in the short budget"
! grep -Eq '^[a-z0-9-]+ +(failed|cut) ' "$tmp/short/summary.txt" || fail "a step failed in the short budget"
(($(find "$tmp/short" -type f | wc -l) <= 8)) || fail "the short run left more than 8 files"

# ---- the real commands, unshrunk, on this machine without a GPU ----
# Each measuring step must fail for want of a GPU, not on its arguments (sizes, scales and shapes
# that the dry run replaces are parsed here), and the device step's commands run against a stand-in
# nvidia-smi. Skipped where a GPU is present: there this would be the real campaign.
if nvidia-smi -L > /dev/null 2>&1; then
  echo "a GPU is present: the real-command check is skipped"
else
  mkdir -p "$tmp/fakebin"
  printf '#!/bin/sh\necho "stand-in nvidia-smi $*"\n' > "$tmp/fakebin/nvidia-smi"
  chmod +x "$tmp/fakebin/nvidia-smi"
  rc=0
  (cd "$src" && PATH="$tmp/fakebin:$PATH" OUT="$tmp/real" GPU_PACK="$tmp/pack" CAMPAIGN_WORK="$tmp/real.work" \
     bash experiments/gpu/campaign.sh all) > "$tmp/real.stdout" 2>&1 || rc=$?
  [[ $rc == 0 ]] || fail "the real commands without a GPU: campaign.sh exited $rc"
  grep -Eq '^device +ok' "$tmp/real/summary.txt" || fail "the device step failed on a stand-in nvidia-smi"
  for name in golden rand-sync rand-1e7 rand-async rand-1e8 kernel-bench kernel-variants mnist; do
    [[ -f $tmp/real.work/campaign/logs/$name.txt ]] || continue  # not packed (no CUDA build) or no MNIST
    why=$(tail -1 "$tmp/real.work/campaign/logs/$name.txt")
    grep -Eiq 'cuda.*(unavailable|no cuda driver|without)' <<< "$why" ||
      fail "$name failed for another reason than the missing GPU: $why"
  done
  grep -q '^energy check: not possible here' "$tmp/real.work/campaign/logs/energy-check.txt" ||
    fail "the energy check did not say why it cannot run here"
fi

# ---- a step that outlasts its cap is cut, and the next one runs ----
cp -r "$tmp/pack" "$tmp/slow"
rm -f "$tmp/slow/bin/check_kernels.gz"  # an unzipped stand-in instead (campaign.sh takes both forms)
printf '#!/bin/sh\nsleep 60\n' > "$tmp/slow/bin/check_kernels"
chmod +x "$tmp/slow/bin/check_kernels"
start=$SECONDS
rc=0; run "$tmp/cut" "$tmp/slow" "golden energy-check" CAMPAIGN_MAX_CAP_S=1 || rc=$?
[[ $rc == 0 ]] || fail "the run with a step cut at its cap exited $rc"
grep -Eq '^golden +cut +at its cap of 1s' "$tmp/cut/summary.txt" || fail "golden not cut: $(grep '^golden' "$tmp/cut/summary.txt")"
grep -Eq '^energy-check +ok' "$tmp/cut/summary.txt" || fail "the step after a cut one did not run"
((SECONDS - start < 20)) || fail "cutting a step took $((SECONDS - start)) s"

echo "dry-run test: $fails failure(s), $((SECONDS)) s"
((fails == 0))
