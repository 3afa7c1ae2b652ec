// Vector math helpers for the CPU activation forms (float32 lanes), compiled once per Highway
// target. exp, expm1, tanh and log1p on [0, 1] are our own (one shared range reduction and short
// fitted polynomials, below): Highway 1.0.3's contrib versions cost about twice the vector ops and
// their edge cases are wrong for our purposes (Exp(200) = 0, Exp(NaN) = 0, Tanh(NaN) finite). Every
// helper clamps its argument into its polynomial's valid range and restores NaN itself, or says
// that its caller does. erf/erfc have no Highway version; ours are fitted below.
//
// Per-target include guard, as in Highway's skeleton-inl.h: this file is re-included for each
// target by foreach_target.h and must be expanded once per target.
#if defined(IP_KERNELS_CPU_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef IP_KERNELS_CPU_MATH_INL_H_
#undef IP_KERNELS_CPU_MATH_INL_H_
#else
#define IP_KERNELS_CPU_MATH_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
// A namespace of its own: other kernel families define helpers in ip::cpu::HWY_NAMESPACE too, and
// two different inline functions with one name would silently merge at link time.
namespace ip::cpu::HWY_NAMESPACE::vmath {
namespace hn = hwy::HWY_NAMESPACE;

// x where x is NaN, else `value`: restores NaN after helpers whose polynomial loses it.
template <class D, class V>
HWY_INLINE V KeepNaN(D /*d*/, V x, V value) {
  return hn::IfThenElse(hn::IsNaN(x), x, value);
}

// -|x| as one OR of the sign bit (Neg(Abs(x)) is two logic ops). NaN stays NaN.
template <class D, class V>
HWY_INLINE V NegAbs(D d, V x) {
  return hn::Or(x, hn::SignBit(d));
}

// 1 / y for finite y in [1, 2^100] (callers' denominators: 1 + e, max(a, 1), Mish's n + 2).
// On AVX-512 a division is one instruction but the divider accepts a 512-bit divide only every
// ~10 cycles, the cost of ~20 other vector operations; rcp14 (relative error < 2^-14) plus one
// Newton step (error ~2^-28 before rounding: within about 1 ulp) uses the FMA ports instead.
// Not valid for 0, inf or NaN (rcp14(inf) = 0 makes the Newton step NaN). Other targets divide:
// their approximate reciprocal has only 12 bits, and their divides are cheaper per lane.
template <class D, class V>
HWY_INLINE V Reciprocal(D d, V y) {
#if HWY_TARGET <= HWY_AVX3
  const V r0 = hn::ApproximateReciprocal(y);
  return hn::MulAdd(r0, hn::NegMulAdd(y, r0, hn::Set(d, 1.0f)), r0);
#else
  return hn::Div(hn::Set(d, 1.0f), y);
#endif
}

// ---- exp family: one range reduction, one polynomial ------------------------------------
// Highway 1.0.3's Exp costs ~25 vector ops (sign-dependent rounding, a float -> int -> float round
// trip, an Estrin polynomial, 2^n built in two halves, a range select), Expm1 more. Ours:
//   x = n ln2 + r, |r| <= ln2/2, n = round(x / ln2). ln2 is split Cody-Waite style into 0.693359375
//   (9 significant bits: n * part is exact for |n| < 2^15, so the reduction is exact even on
//   targets without FMA) and a small remainder.
//   expm1(r) = r P(r), P of degree 5 (Chebyshev interpolation of expm1(r)/r), exp(r) = 1 + r P(r).
//   exp(x) = 2^n exp(r); expm1(x) = 2^n r P(r) + (2^n - 1).
// A dense sweep in float32 with FMA measured max 0.95 ulp for exp on [-104, 89] (including the
// subnormal range) and 1.3 ulp for expm1 on [-104, 0].
template <class D, class V>
struct ExpReduced {
  V n, r, p;  // x = n ln2 + r, expm1(r) = r P(r) with p = P(r)
  HWY_INLINE ExpReduced(D d, V x) {  // x in [-104, 89]: |n| <= 150
    n = hn::Round(hn::Mul(x, hn::Set(d, 1.44269504088896341f)));
    r = hn::MulAdd(n, hn::Set(d, -0.693359375f), x);
    r = hn::MulAdd(n, hn::Set(d, 2.12194440e-4f), r);
    p = hn::Set(d, 1.393364998e-03f);
    p = hn::MulAdd(p, r, hn::Set(d, 8.369155668e-03f));
    p = hn::MulAdd(p, r, hn::Set(d, 4.166646493e-02f));
    p = hn::MulAdd(p, r, hn::Set(d, 1.666650520e-01f));
    p = hn::MulAdd(p, r, hn::Set(d, 5.000000013e-01f));
    p = hn::MulAdd(p, r, hn::Set(d, 1.000000011e+00f));
  }
  HWY_INLINE V ExpR(D d) const { return hn::MulAdd(r, p, hn::Set(d, 1.0f)); }  // exp(r), one rounding
};

// y * 2^n for integral n in [-150, 128]: overflows to inf and underflows to subnormals or 0 with
// one rounding, as the exact product would. AVX-512 has this as one instruction (vscalefps); the
// other targets build 2^n in two normal halves (each exponent within [-75, 64]) and multiply twice.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
HWY_INLINE hn::Vec512<float> MulPow2(hn::Full512<float> /*d*/, hn::Vec512<float> y, hn::Vec512<float> n) {
  return hn::Vec512<float>{_mm512_scalef_ps(y.raw, n.raw)};
}
#endif
template <class D, class V>
HWY_INLINE V MulPow2(D d, V y, V n) {
  const hn::RebindToSigned<D> di;
  const auto ni = hn::ConvertTo(di, n);
  const auto half = hn::ShiftRight<1>(ni);
  const auto bias = hn::Set(di, 127);
  const V f1 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(half, bias)));
  const V f2 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::Sub(ni, half), bias)));
  return hn::Mul(hn::Mul(y, f1), f2);
}

// exp(x) for x <= 0 whose NaN the caller restores (or whose NaN does not matter): 0 far below.
// Clamping to -104 keeps n within MulPow2's range; exp(-104) already rounds to 0.
template <class D, class V>
HWY_INLINE V ExpNonPositive(D d, V x) {
  const ExpReduced<D, V> e(d, hn::Max(x, hn::Set(d, -104.0f)));
  return MulPow2(d, e.ExpR(d), e.n);
}

// exp(x) for every float: +inf above ln(FLT_MAX), 0 far below, NaN for NaN. exp(89) overflows
// to inf already, so clamping there gives inf for every larger x.
template <class D, class V>
HWY_INLINE V Exp(D d, V x) {
  const V xc = hn::Min(hn::Max(x, hn::Set(d, -104.0f)), hn::Set(d, 89.0f));
  const ExpReduced<D, V> e(d, xc);
  return KeepNaN(d, x, MulPow2(d, e.ExpR(d), e.n));
}

// exp(x) - 1 for x <= 0 and NaN (NaN restored), -1 far below; x > 0 is computed as 0: the callers
// (ELU family, Tanh) use another expression there. Relative accuracy near 0: for n = 0 the result
// is r P(r) itself, with no 1 + ... - 1 cancellation.
template <class D, class V>
HWY_INLINE V Expm1NonPositive(D d, V x) {
  const V xc = hn::Max(hn::Min(x, hn::Zero(d)), hn::Set(d, -104.0f));
  const ExpReduced<D, V> e(d, xc);
  const V s = MulPow2(d, hn::Set(d, 1.0f), e.n);  // 2^n, exact (n <= 0)
  return KeepNaN(d, x, hn::MulAdd(s, hn::Mul(e.r, e.p), hn::Sub(s, hn::Set(d, 1.0f))));
}

// tanh(x) = -m / (2 + m) with m = expm1(-2|x|) in (-1, 0], sign restored: one exp, no
// cancellation near 0 (m is accurate in relative terms there) and 1 at saturation. ~3 ulp over a
// dense float sweep, against Highway's Tanh at ~2x the vector ops. NaN: m is NaN, so is the result.
template <class D, class V>
HWY_INLINE V Tanh(D d, V x) {
  const V ax = hn::Abs(x);
  const V m = Expm1NonPositive(d, hn::Mul(ax, hn::Set(d, -2.0f)));
  const V t = hn::Neg(hn::Mul(m, Reciprocal(d, hn::Add(m, hn::Set(d, 2.0f)))));  // 2 + m in (1, 2]
  return hn::CopySignToAbs(t, x);
}

// e = exp(-|x|) and r = 1 / (1 + e): the pieces of sigmoid through -|x|, so exp never overflows.
// sigmoid(x) = x >= 0 ? r : e * r and sigmoid(-x) = x >= 0 ? e * r : r, both accurate in relative
// terms (no 1 - s cancellation). NaN is not restored here; callers do it once.
template <class D, class V>
struct SigmoidParts {
  V e, r;
  HWY_INLINE SigmoidParts(D d, V x) {
    e = ExpNonPositive(d, NegAbs(d, x));
    r = Reciprocal(d, hn::Add(hn::Set(d, 1.0f), e));  // 1 + e in [1, 2]
  }
  HWY_INLINE V Positive(D d, V x) const {  // sigmoid(x)
    return hn::IfThenElse(hn::Ge(x, hn::Zero(d)), r, hn::Mul(e, r));
  }
  HWY_INLINE V Negative(D d, V x) const {  // sigmoid(-x) = 1 - sigmoid(x)
    return hn::IfThenElse(hn::Ge(x, hn::Zero(d)), hn::Mul(e, r), r);
  }
};

template <class D, class V>
HWY_INLINE V Sigmoid(D d, V x) {
  return KeepNaN(d, x, SigmoidParts<D, V>(d, x).Positive(d, x));
}

// log1p(e) for e in [0, 1] (and NaN, which passes): e P(e), P of degree 9 (Chebyshev
// interpolation of log1p(e)/e; 1.6 ulp max over a dense float sweep, relative accuracy down to the
// smallest e). Highway's Log1p serves the whole float range (exponent split, division) at ~2x
// the vector ops; softplus only ever needs [0, 1].
template <class D, class V>
HWY_INLINE V Log1pUnit(D d, V e) {
  V p = hn::Set(d, -3.176056929e-03f);
  p = hn::MulAdd(p, e, hn::Set(d, 1.954252686e-02f));
  p = hn::MulAdd(p, e, hn::Set(d, -5.637361209e-02f));
  p = hn::MulAdd(p, e, hn::Set(d, 1.054362372e-01f));
  p = hn::MulAdd(p, e, hn::Set(d, -1.526966703e-01f));
  p = hn::MulAdd(p, e, hn::Set(d, 1.966327424e-01f));
  p = hn::MulAdd(p, e, hn::Set(d, -2.495161626e-01f));
  p = hn::MulAdd(p, e, hn::Set(d, 3.332971050e-01f));
  p = hn::MulAdd(p, e, hn::Set(d, -4.999989265e-01f));
  p = hn::MulAdd(p, e, hn::Set(d, 9.999999947e-01f));
  return hn::Mul(e, p);
}

// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): log1p's argument stays in [0, 1] and nothing
// overflows.
template <class D, class V>
HWY_INLINE V Softplus(D d, V x) {
  const V y = hn::Add(hn::ZeroIfNegative(x), Log1pUnit(d, ExpNonPositive(d, NegAbs(d, x))));
  return KeepNaN(d, x, y);
}

// log(sigmoid(x)) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|)), written out so that neither x
// nor the result needs negating.
template <class D, class V>
HWY_INLINE V LogSigmoid(D d, V x) {
  const V y = hn::Sub(hn::Min(x, hn::Zero(d)), Log1pUnit(d, ExpNonPositive(d, NegAbs(d, x))));
  return KeepNaN(d, x, y);
}
// x*x = hi + lo exactly. Targets with FMA get lo from one fused op; the others split x in halves
// of 12 bits (Veltkamp) so every partial product is exact. |x| must be below ~1e30 (no overflow).
template <class D, class V>
HWY_INLINE void SquareExact(D d, V x, V& hi, V& lo) {
  hi = hn::Mul(x, x);
#if HWY_NATIVE_FMA
  (void)d;
  lo = hn::MulSub(x, x, hi);
#else
  const V c = hn::Mul(x, hn::Set(d, 4097.0f));
  const V xh = hn::Sub(c, hn::Sub(c, x));
  const V xl = hn::Sub(x, xh);
  lo = hn::Add(hn::Add(hn::Sub(hn::Mul(xh, xh), hi), hn::Mul(hn::Add(xh, xh), xl)),
               hn::Mul(xl, xl));
#endif
}

// exp(-x*x/2) with x*x taken exactly: rounding x*x first would cost x^2/2 * 2^-24 relative error
// (1e-6 at x = 5), which the GELU left tail cannot afford. |x| <= 16 expected (callers clamp);
// beyond 14.5 the result underflows to 0 anyway.
template <class D, class V>
HWY_INLINE V ExpHalfSquareNeg(D d, V x) {
  V hi, lo;
  SquareExact(d, x, hi, lo);
  const V half_neg = hn::Set(d, -0.5f);
  const V e = ExpNonPositive(d, hn::Mul(hi, half_neg));  // -hi/2 is exact
  return hn::MulAdd(e, hn::Mul(lo, half_neg), e);       // exp(-lo/2) ~ 1 - lo/2, |lo/2| < 2^-16
}

// ---- erfc, one piece ---------------------------------------------------------------------
// erfc(a) = exp(-a^2) t Q(t) with t = 1 / (1 + 0.4 a), for a in [0, 11.4]: Q(t) = erfc(a) exp(a^2) / t
// is smooth on t in [0.18, 1] and tends to a constant (0.4 / sqrt pi) as a grows, so one
// polynomial (degree 9 in s = (t - mid) / half, fitted by Chebyshev interpolation, interpolation
// error 2.5e-8 relative, 0.2 ulp) keeps full relative accuracy from a = 0 down to erfc's underflow
// (a ~ 10.05). It replaces two pieces (erf on a <= 1, erfc beyond) that every vector evaluated in
// full, with a select between them. a enters only through t, whose rounding Q barely amplifies;
// exp(-a^2), where a rounded a would cost 2 a^2 ulp, is the caller's, taken from an exact square.
// Returns erfc(a) / 2 (the coefficients are halved, exactly), the form Phi needs.
template <class D, class V>
HWY_INLINE V HalfErfc(D d, V t, V exp_neg_a2) {
  const V s = hn::MulAdd(t, hn::Set(d, float(1 / 0.410071942)), hn::Set(d, float(-0.589928058 / 0.410071942)));
  V q = hn::Set(d, -5.139694730e-06f);
  q = hn::MulAdd(q, s, hn::Set(d, 1.610995228e-05f));
  q = hn::MulAdd(q, s, hn::Set(d, 6.400865395e-05f));
  q = hn::MulAdd(q, s, hn::Set(d, -2.212820924e-04f));
  q = hn::MulAdd(q, s, hn::Set(d, -9.700675210e-04f));
  q = hn::MulAdd(q, s, hn::Set(d, 1.683413204e-03f));
  q = hn::MulAdd(q, s, hn::Set(d, 2.078671381e-02f));
  q = hn::MulAdd(q, s, hn::Set(d, 7.415943930e-02f));
  q = hn::MulAdd(q, s, hn::Set(d, 1.615946134e-01f));
  q = hn::MulAdd(q, s, hn::Set(d, 2.428921921e-01f));
  return hn::Mul(hn::Mul(exp_neg_a2, t), q);
}

// Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 and density phi(x) = exp(-x^2/2)/sqrt(2 pi),
// sharing one exp. exp(-x^2/2) is taken from x itself (exactly squared), not from the rounded
// x/sqrt(2), which keeps the left tail of GELU accurate. Phi(-|x|) = erfc(a)/2 directly and
// Phi(|x|) = 1 - erfc(a)/2 (at most 1/2 subtracted: no cancellation). NaN is not restored
// (callers multiply by x, which carries it).
template <class D, class V>
struct NormalParts {
  V cdf, pdf;
  HWY_INLINE NormalParts(D d, V x) {
    const V ax = hn::Min(hn::Abs(x), hn::Set(d, 16.0f));  // Phi(-16) and phi(16) are 0 in float
    const V e = ExpHalfSquareNeg(d, ax);                   // exp(-x^2/2) = exp(-a^2), a = |x|/sqrt 2
    // t = 1 / (1 + 0.4 a) = 1 / (1 + (0.4 / sqrt 2) |x|); 1 + ... in [1, 5.6].
    const V t = Reciprocal(d, hn::MulAdd(ax, hn::Set(d, float(0.4 / 1.41421356237309504880)), hn::Set(d, 1.0f)));
    const V lower = HalfErfc(d, t, e);  // Phi(-|x|)
    cdf = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), lower, hn::Sub(hn::Set(d, 1.0f), lower));
    pdf = hn::Mul(e, hn::Set(d, 0.39894228040143267794f));
  }
};

}  // namespace ip::cpu::HWY_NAMESPACE::vmath
HWY_AFTER_NAMESPACE();

#endif  // IP_KERNELS_CPU_MATH_INL_H_
