#!/usr/bin/env python3
"""gemm_rounds.py DIR: the GEMM rows of gemm_ab.sh's rounds in DIR (files kb-<binary>-r<round>.txt).
Per shape, thread count, target and binary: the median, min and max over the rounds of GFLOP/s
(each round's value is kernel_bench's median sample), OpenBLAS pooled over all binaries' runs as
'blas'; then own/ref (ours over OpenBLAS in the same run) per round."""
import collections
import glob
import re
import statistics
import sys

d = sys.argv[1]
gflops = collections.defaultdict(list)
ratio = collections.defaultdict(list)
for f in sorted(glob.glob(d + "/*-r*.txt")):
    name = re.sub(r"-r\d+\.txt$", "", f.split("/")[-1])
    for line in open(f):
        p = line.split()
        if len(p) >= 9 and p[0] == "cpu" and ":" in p[3] and p[4] in ("own", "openblas"):
            who = name if p[4] == "own" else "blas"
            gflops[(p[3], p[2], p[1], who)].append(float(p[8]))
            if p[4] == "own" and len(p) >= 10:
                ratio[(p[3], p[2], p[1], name)].append(float(p[9]))
print("GFLOP/s: median [min-max] over rounds")
for k in sorted(gflops):
    v = gflops[k]
    print(f"{k[0]:22s} thr{k[1]} {k[2]:5s} {k[3]:14s} {statistics.median(v):8.1f} [{min(v):.1f}-{max(v):.1f}] n={len(v)}")
print("\nown/ref per round (ours / OpenBLAS in the same run)")
for k in sorted(ratio):
    v = ratio[k]
    print(f"{k[0]:22s} thr{k[1]} {k[2]:5s} {k[3]:14s} med {statistics.median(v):.3f}  " + " ".join(f"{x:.3f}" for x in v))
