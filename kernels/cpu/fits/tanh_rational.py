#!/usr/bin/env python3
"""The coefficients of vmath::Tanh (kernels/cpu/math-inl.h): tanh(x) = x P(x^2) / Q(x^2), P and Q of
degree 4, Q(0) = 1, fitted for the least maximum relative error on [0, 9] (Loeb's linearised least
squares, its weights updated as in Lawson's iteration), then rounded to float32 and checked the
way the kernel evaluates them (float32, fused multiply-adds, x clamped to +-9.1, the quotient
bounded to [-1, 1]) against numpy's tanh over every float in [2^-30, 12).

  python3 kernels/cpu/fits/tanh_rational.py [--check-only] [--no-fma]     (needs python3-numpy)

The check takes a few minutes; --check-only skips the fit and checks the coefficients in
math-inl.h; --no-fma evaluates each multiply-add as a product and a sum, each rounded (the SSE
targets).
"""
import argparse

import numpy as np

RANGE = 9.0   # fitted on [0, RANGE]; tanh rounds to 1 in float32 from 9.01 on
CLAMP = 9.1   # the kernel clamps x here: the float32 quotient is >= 1 there
DEGREE = 4
# The coefficients in math-inl.h (P from t^0, Q from t^0), for --check-only.
KERNEL_P = [1.0, 1.338100880e-01, 3.495567944e-03, 2.060875158e-05, 1.335421462e-08]
KERNEL_Q = [1.0, 4.671432376e-01, 2.587690577e-02, 3.285601852e-04, 7.776372399e-07]


def fit(points=4000, iterations=200):
    u = (1 - np.cos(np.linspace(0, np.pi, points))) / 2  # denser at both ends
    x = RANGE * u
    x[0] = 1e-4
    s = (x / RANGE) ** 2  # t / RANGE^2 in [0, 1]: a well-conditioned basis
    target = np.tanh(x) / x
    weights = np.ones(points)
    q_prev = np.ones(points)
    best = None
    for _ in range(iterations):
        # P(s) - target Q(s) = 0 in the unknowns p0..p4, q1..q4, each row divided by the target
        # and the last Q (relative error of P / Q), weighted.
        columns = [s ** k for k in range(DEGREE + 1)] + [-target * s ** k for k in range(1, DEGREE + 1)]
        a = np.stack(columns, axis=1)
        scale = np.sqrt(weights) / (target * q_prev)
        coef, *_ = np.linalg.lstsq(a * scale[:, None], target * scale, rcond=None)
        p = coef[:DEGREE + 1]
        q = np.concatenate([[1.0], coef[DEGREE + 1:]])
        pv, qv = np.polyval(p[::-1], s), np.polyval(q[::-1], s)
        err = pv / qv / target - 1
        worst = np.max(np.abs(err))
        if best is None or worst < best[0]:
            best = (worst, p.copy(), q.copy())
        q_prev = qv
        weights = weights * np.abs(err)
        weights = weights / weights.sum() * points + 1e-300
    worst, p, q = best
    # back to t = x^2
    return worst, [p[k] / RANGE ** (2 * k) for k in range(DEGREE + 1)], [q[k] / RANGE ** (2 * k) for k in range(DEGREE + 1)]


FUSED = True


def fma32(a, b, c):  # products of floats are exact in double; one rounding to float32 (double rounding aside)
    if not FUSED:
        return (a * b).astype(np.float32) + np.float32(c)
    return (a.astype(np.float64) * b.astype(np.float64) + np.float64(c)).astype(np.float32)


def tanh32(x, p, q):
    xc = np.minimum(np.maximum(x, np.float32(-CLAMP)), np.float32(CLAMP))
    t = xc * xc
    pv = np.full_like(t, p[DEGREE])
    qv = np.full_like(t, q[DEGREE])
    for k in range(DEGREE - 1, -1, -1):
        pv = fma32(pv, t, p[k])
        qv = fma32(qv, t, q[k])
    return np.minimum(np.maximum((xc * pv) / qv, np.float32(-1)), np.float32(1))


def check(p, q):
    p32 = [np.float32(v) for v in p]
    q32 = [np.float32(v) for v in q]
    lo, hi = np.array([2.0 ** -30, 12.0], np.float32).view(np.uint32)
    worst = 0.0
    for start in range(int(lo), int(hi), 1 << 24):  # in slices: memory
        x = np.arange(start, min(start + (1 << 24), int(hi)), dtype=np.uint32).view(np.float32)
        ref = np.tanh(x.astype(np.float64))
        err = np.abs(tanh32(x, p32, q32) - ref) / (ref * 2.0 ** -23)
        worst = max(worst, float(err.max()))
    at_clamp = float(tanh32(np.array([CLAMP], np.float32), p32, q32)[0])
    how = "with FMA" if FUSED else "without FMA"
    print(f"float32 {how}: max error {worst:.2f} x 2^-23 relative; tanh({CLAMP}) = {at_clamp!r}")
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--no-fma", action="store_true")
    args = ap.parse_args()
    global FUSED
    FUSED = not args.no_fma
    p, q = KERNEL_P, KERNEL_Q
    if not args.check_only:
        worst, p, q = fit()
        print(f"fit: max relative error {worst:.3e} with exact coefficients")
        print("P:", ", ".join(f"{np.float32(v):.9e}" for v in p))
        print("Q:", ", ".join(f"{np.float32(v):.9e}" for v in q))
    check(p, q)


if __name__ == "__main__":
    main()
