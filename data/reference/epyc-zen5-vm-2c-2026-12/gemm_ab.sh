#!/bin/bash
# gemm_ab.sh OUT ROUNDS BIN... : alternate binaries (rotated each round), one-thread and two-thread GEMM rows at AVX2
out=$1; rounds=$2; shift 2
bins=("$@")
mkdir -p $out
n=${#bins[@]}
for r in $(seq 1 $rounds); do
  for i in $(seq 0 $((n-1))); do
    b=${bins[$(( (i + r) % n ))]}
    name=$(basename $b)
    echo "round $r $name $(cat /proc/loadavg)" >> $out/run.log
    $b --functions none --gemm-shapes ${SHAPES:-64x1024x1024:nn,128x1024x784:nt,1024x784x128:tn,128x784x1024:nn} --threads ${THREADS:-1} --repeats 21 --target ${TARGET:-AVX2} > $out/$name-r$r.txt 2>&1
  done
done
