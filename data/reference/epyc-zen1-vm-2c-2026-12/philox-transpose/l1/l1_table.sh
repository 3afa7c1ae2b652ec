#!/usr/bin/env bash
# l1_table.sh BASE NEW ROUNDS: alternates the two builds of l1_cycles.cc (order swapped each round)
base=$1; new=$2; rounds=$3
for r in $(seq 1 "$rounds"); do
  if (( r % 2 )); then order="$base $new"; else order="$new $base"; fi
  echo "round $r load $(cut -d' ' -f1-3 /proc/loadavg)"
  for bin in $order; do
    for w in dropout alpha_dropout rrelu; do
      echo "$bin $(OMP_NUM_THREADS=1 ./$bin $w 200 | head -1)"
    done
  done
done
