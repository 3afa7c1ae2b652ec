#!/bin/bash
# loop.sh N PAUSE: N runs of the four large AVX2 training shapes, 20 GEMM rounds each, PAUSE s apart
for i in $(seq 1 $1); do
  d=run$(printf %02d $i); mkdir -p $d
  { date -u +%T; cat /proc/loadavg; } > $d/load.txt
  OPENBLAS_CORETYPE=Haswell /work/main/build/kernel_bench --functions none --devices cpu --threads 2 --target AVX2 \
    --gemm-shapes 128x1024x784:nt,1024x784x128:tn,64x1024x1024:nn,64x1024x1024:nt --gemm-rounds 20 --out $d > $d/kb.txt 2>&1
  cat /proc/loadavg >> $d/load.txt
  sleep $2
done
