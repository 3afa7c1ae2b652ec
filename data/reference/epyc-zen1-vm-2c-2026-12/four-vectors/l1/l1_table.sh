#!/bin/bash
# l1_table.sh BASE NEW ROUNDS: cycles per 8 elements of each compute-bound element-wise row, the two
# l1_elem binaries alternated (order swapped each round); prints each side's rounds.
base=$1; new=$2; rounds=${3:-3}
for f in celu elu selu gelu gelu_tanh log_sigmoid mish sigmoid silu softplus tanh tanhshrink softsign relu; do
  for dir in forward backward; do
    line="$f $dir"
    for r in $(seq 1 $rounds); do
      if (( r % 2 )); then order="$base $new"; else order="$new $base"; fi
      for b in $order; do
        v=$(OMP_NUM_THREADS=1 $b $f $dir 1000 | awk '{print $12}')
        [ "$b" = "$base" ] && B="$B $v" || N="$N $v"
      done
    done
    echo "$line base:$B new:$N"; B=""; N=""
  done
done
