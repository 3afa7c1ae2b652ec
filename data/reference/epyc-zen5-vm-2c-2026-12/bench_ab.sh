#!/bin/bash
# bench_ab.sh OUT ROUNDS BASE NEW: make bench's kernel_bench command, the two binaries alternated
out=$1; rounds=$2; base=$3; new=$4
mkdir -p $out
for r in $(seq 1 $rounds); do
  if [ $((r % 2)) -eq 1 ]; then order="base new"; else order="new base"; fi
  for side in $order; do
    bin=$base; [ $side = new ] && bin=$new
    echo "round $r $side $(basename $bin) $(date -u +%T) $(cat /proc/loadavg)" >> $out/run.log
    $bin --functions all --directions forward,backward --sizes 256MiB --threads 2 --gemm-shapes experiments --large-gemm --summary targets --target AVX3,AVX2 --out $out/kb-$side-r$r > $out/$side-r$r.txt 2>&1
  done
done
echo "done $(date -u +%T) $(cat /proc/loadavg)" >> $out/run.log
