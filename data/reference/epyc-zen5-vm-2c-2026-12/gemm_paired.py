#!/usr/bin/env python3
"""gemm_paired.py DIR BASE NEW: per shape, NEW's GFLOP/s over BASE's in the same round of
gemm_ab.sh (the two runs adjacent in time), median over rounds with the distribution-free 95%
interval of that median (order statistics, sign test), and the verdict."""
import collections, glob, math, re, statistics, sys

d, base, new = sys.argv[1:4]
val = collections.defaultdict(dict)
for f in glob.glob(d + "/*-r*.txt"):
    m = re.match(r"(.*)-r(\d+)\.txt$", f.split("/")[-1])
    name, rnd = m.group(1), int(m.group(2))
    for line in open(f):
        p = line.split()
        if len(p) >= 9 and p[0] == "cpu" and ":" in p[3] and p[4] == "own":
            val[(p[3], p[2], p[1])][(name, rnd)] = float(p[8])

def interval(v):
    v = sorted(v); n = len(v); k = 0
    # largest k with P(Bin(n,1/2) <= k-1) <= 0.025
    cdf = 0.0
    for j in range(n):
        cdf += math.comb(n, j) / 2 ** n
        if cdf > 0.025: break
        k = j + 1
    return (v[k - 1], v[n - k]) if k >= 1 else (float("nan"), float("nan"))

for key in sorted(val):
    rounds = sorted({r for (_, r) in val[key]})
    q = [val[key][(new, r)] / val[key][(base, r)] for r in rounds if (new, r) in val[key] and (base, r) in val[key]]
    lo, hi = interval(q)
    verdict = "faster" if lo > 1 else "slower" if hi < 1 else "level"
    print(f"{key[0]:22s} thr{key[1]} {key[2]:5s} {new}/{base} median {statistics.median(q):.3f} 95% [{lo:.3f}-{hi:.3f}] n={len(q)} {verdict}")
