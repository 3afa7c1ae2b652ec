#!/usr/bin/env bash
# Runs each libFuzzer harness for FUZZ_SECONDS from a scratch copy of its committed seed corpus
# (the repository's corpus is never modified; new inputs libFuzzer finds stay in the scratch
# copy). Fails when any harness reports a crash, a sanitizer error, an uncaught exception, a hang
# (-timeout: one input taking more than FUZZ_TIMEOUT seconds) or running out of memory
# (-rss_limit_mb, or one allocation above -malloc_limit_mb). The input that failed is kept under
# <build>/fuzz-runs/<name>/ and its path printed.
#
#   tests/fuzz/run.sh <build dir> <fuzzer name>...     e.g. tests/fuzz/run.sh build-fuzz idx
set -uo pipefail
cd "$(dirname "$0")/../.."

build=${1:?usage: run.sh <build dir> <fuzzer>...}
shift
seconds=${FUZZ_SECONDS:-60}
timeout_s=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
# No parser may ask for more than this at once: every seed is a few hundred bytes and sizes
# declared beyond what the file can hold must be refused before allocating.
malloc_mb=${FUZZ_MALLOC_MB:-256}

# Sanitizer reports end the process with an error, so libFuzzer records them as crashes.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for name in "$@"; do
  bin="$build/fuzz_$name"
  corpus="tests/fuzz/corpus/$name"
  [[ -x "$bin" ]] || { echo "fuzz: $bin is missing (build it with make fuzz)" >&2; exit 2; }
  [[ -d "$corpus" ]] || { echo "fuzz: seed corpus $corpus is missing" >&2; exit 2; }
  work="$build/fuzz-runs/$name"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp "$corpus"/* "$work/corpus/"
  dict=()
  [[ -f "tests/fuzz/$name.dict" ]] && dict=(-dict="tests/fuzz/$name.dict")
  echo "fuzz: $name for ${seconds}s from $(ls "$corpus" | wc -l) seeds ($(cat "$corpus"/* | wc -c) bytes)"
  if "$bin" "$work/corpus" "${dict[@]}" -max_total_time="$seconds" -timeout="$timeout_s" \
      -rss_limit_mb="$rss_mb" -malloc_limit_mb="$malloc_mb" -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" >"$work/log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$work/log" | sed "s/^/fuzz: $name: /"
  else
    echo "fuzz: $name FAILED; log $work/log, failing input(s):" >&2
    ls "$work"/artifacts/* >&2 2>/dev/null
    tail -n 40 "$work/log" >&2
    failed+=("$name")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all passed ($*)"
