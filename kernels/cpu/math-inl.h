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

// min(x, hi) and max(x, lo) for a non-NaN bound, with NaN x passed through: a clamp that needs
// no KeepNaN afterwards when the NaN then flows through the arithmetic (every op below gives NaN
// for NaN). x86's minps/maxps return their *second* operand when either is NaN, and Highway's
// Min(a, b) / Max(a, b) there are exactly _mm*_min_ps(a, b) / _mm*_max_ps(a, b) (GCC keeps the
// operand order without -ffinite-math-only), so the bound goes first: one instruction. Elsewhere
// (SCALAR, EMU128: Min/Max return the non-NaN operand) the NaN is restored by a select.
#undef IP_VMATH_MINMAX_PASSES_NAN  // re-included once per target
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
#define IP_VMATH_MINMAX_PASSES_NAN 1
#else
#define IP_VMATH_MINMAX_PASSES_NAN 0
#endif
// op is Min (bound = hi) or Max (bound = lo).
template <class D, class V, class Op>
HWY_INLINE V BoundKeepNaN(D d, V x, V bound, Op op) {
#if IP_VMATH_MINMAX_PASSES_NAN
  (void)d;
  return op(bound, x);
#else
  return KeepNaN(d, x, op(x, bound));
#endif
}
template <class D, class V>
HWY_INLINE V MinKeepNaN(D d, V x, V hi) {
  return BoundKeepNaN(d, x, hi, [](V a, V b) { return hn::Min(a, b); });
}
template <class D, class V>
HWY_INLINE V MaxKeepNaN(D d, V x, V lo) {
  return BoundKeepNaN(d, x, lo, [](V a, V b) { return hn::Max(a, b); });
}

// x's sign bit set ? yes : no (-0 and negative NaNs count as negative). One vblendvps from SSE4
// on (no compare: blendv reads the sign bit itself). Highway 1.0.3's SSSE3 IfNegativeThenElse
// hands the raw sign to its and/andnot select, which needs whole-lane masks: that target
// broadcasts the sign first.
template <class D, class V>
HWY_INLINE V IfSignThenElse(D d, V x, V yes, V no) {
#if HWY_TARGET == HWY_SSSE3
  const hn::RebindToSigned<D> di;
  return hn::IfThenElse(hn::MaskFromVec(hn::BitCast(d, hn::BroadcastSignBit(hn::BitCast(di, x)))), yes, no);
#else
  (void)d;
  return hn::IfNegativeThenElse(x, yes, no);
#endif
}

// -|x| as one OR of the sign bit (Neg(Abs(x)) is two logic ops). NaN stays NaN.
template <class D, class V>
HWY_INLINE V NegAbs(D d, V x) {
  return hn::Or(x, hn::SignBit(d));
}

// -min(|x|, bound) for a finite bound > 0: the clamped argument of exp(-|x|). NaN gives -bound on
// every target (callers restore NaN or carry it otherwise). AVX-512DQ's vrangeps does it in one
// instruction (absolute minimum, sign bit set; a quiet NaN operand yields the other operand, as
// maxps here); elsewhere an OR of the sign bit and a max.
template <class D, class V>
HWY_INLINE V NegAbsMin(D d, V x, float bound) {
  return hn::Max(NegAbs(d, x), hn::Set(d, -bound));
}
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
HWY_INLINE hn::Vec512<float> NegAbsMin(hn::Full512<float> d, hn::Vec512<float> x, float bound) {
  return hn::Vec512<float>{_mm512_range_ps(x.raw, hn::Set(d, bound).raw, 0x0E)};  // |min|, sign 1
}
#endif

// num / den for finite den in [1, 2^120] (callers' denominators: 1 + e, (1 + e)^2, tanh's Q,
// Mish's n + 2, 1 + 0.4 a).
// AVX-512: num times rcp14 (relative error < 2^-14) refined by one Newton step (error ~2^-28
// before rounding: within about 1 ulp): the 512-bit divider accepts a divide only every ~10
// cycles, the cost of ~20 other vector operations, where these three ops run on the FMA ports.
// Other targets divide: one instruction, correctly rounded, hence the same bits on every CPU
// (SSE/AVX's rcpps has 12 bits and differs between vendors, so rcpps + Newton would give Intel and
// AMD different results), and cheap enough where it matters: one 256-bit divide every 3.5 cycles
// on Zen 3 and 5 on Skylake and later, overlapping the ~15-25 other ops of the callers' loops.
// Not valid for den = 0, inf or NaN on AVX-512 (rcp14(inf) = 0 makes the Newton step NaN).
template <class D, class V>
HWY_INLINE V Divide(D d, V num, V den) {
#if HWY_TARGET <= HWY_AVX3
  const V r0 = hn::ApproximateReciprocal(den);
  return hn::Mul(num, hn::MulAdd(r0, hn::NegMulAdd(den, r0, hn::Set(d, 1.0f)), r0));
#else
  (void)d;
  return hn::Div(num, den);
#endif
}

// ---- rounding and 2^n -----------------------------------------------------------------------
// AVX-512 rounds with one instruction (vrndscaleps) and scales by 2^n with another (vscalefps y,
// n: one rounding, gradual underflow and overflow to inf as the exact product would have).
// Elsewhere 2^n comes from the exponent field: t + 1.5 * 2^23 rounds t (|t| < 2^22) to the nearest
// integer n in one addition (the sum's ulp is 1), and n sits in the low bits of the sum's
// mantissa. With 127 + kOffset added to that constant, the sum's bits shifted left by 23 are the
// float 2^(n + kOffset) (exponent field n + 127 + kOffset, for n + kOffset in [-126, 127]). So
// round(x c) is one FMA and 2^n one integer shift: no rounding instruction (two uops on Intel),
// no float -> int conversion (Highway's ConvertTo adds three fix-up ops on x86) and no integer
// bias added. The product x c is not rounded before the sum; either way the reduced argument
// stays within the polynomials' fitted range.
#undef IP_VMATH_SCALEF  // re-included once per target
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
#define IP_VMATH_SCALEF 1
#else
#define IP_VMATH_SCALEF 0
#endif
constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23

template <int kOffset>
constexpr float kPow2Magic = kRoundMagic + float(127 + kOffset);

// Returns n = round(x c) and sets pow2_arg, what Pow2 and ScaleByPow2 build 2^n from: n itself for
// vscalefps, elsewhere x c + kPow2Magic<kOffset>, whose bits << 23 are 2^(n + kOffset). Results
// leave through out-parameters, here and below, never in a struct: SVE vectors are sizeless types,
// which cannot be members or array elements.
template <int kOffset, class D, class V>
HWY_INLINE V RoundForPow2(D d, V x, float c, V& pow2_arg) {
#if IP_VMATH_SCALEF
  static_assert(kOffset == 0, "vscalefps scales by 2^n itself");
  pow2_arg = hn::Round(hn::Mul(x, hn::Set(d, c)));
  return pow2_arg;
#else
  pow2_arg = hn::MulAdd(x, hn::Set(d, c), hn::Set(d, kPow2Magic<kOffset>));
  return hn::Sub(pow2_arg, hn::Set(d, kPow2Magic<kOffset>));
#endif
}

// 2^(n + kOffset), exact, from RoundForPow2<kOffset>'s pow2_arg.
template <int kOffset, class D, class V>
HWY_INLINE V Pow2(D d, V pow2_arg) {
#if IP_VMATH_SCALEF
  static_assert(kOffset == 0, "vscalefps scales by 2^n itself");
  return V{_mm512_scalef_ps(hn::Set(d, 1.0f).raw, pow2_arg.raw)};
#else
  const hn::RebindToSigned<D> di;
  return hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, pow2_arg)));
#endif
}

// y * 2^n for results down to the subnormal range, with one rounding; pow2_arg from
// RoundForPow2<kPow2Offset>. AVX-512: vscalefps.
// Elsewhere the exponent field holds 2^(n + 64) for n in [-190, 63] (every caller's n is in
// [-152, 29]) and y comes in scaled by 2^-64: the callers fold kPow2Scale into their polynomial's
// coefficients, which scales every Horner step exactly (all stay far above the subnormal range),
// so one product gives the result.
constexpr int kPow2Offset = IP_VMATH_SCALEF ? 0 : 64;
constexpr float kPow2Scale = IP_VMATH_SCALEF ? 1.0f : 0x1p-64f;

template <class D, class V>
HWY_INLINE V ScaleByPow2(D d, V y_scaled, V pow2_arg) {
#if IP_VMATH_SCALEF
  (void)d;
  return V{_mm512_scalef_ps(y_scaled.raw, pow2_arg.raw)};
#else
  return hn::Mul(y_scaled, Pow2<kPow2Offset>(d, pow2_arg));
#endif
}

// ---- exp family: one range reduction, one polynomial ------------------------------------
// Highway 1.0.3's Exp costs ~25 vector ops (sign-dependent rounding, a float -> int -> float round
// trip, an Estrin polynomial, 2^n built in two halves, a range select), Expm1 more. Ours:
//   x = n ln2 + r, |r| <= ln2/2, n = round(x / ln2) (RoundForPow2). ln2 is split Cody-Waite style
//   into 0.693359375 (9 significant bits: n * part is exact for |n| < 2^15, so the reduction is
//   exact even on targets without FMA) and a small remainder.
//   expm1(r) = r P(r), P of degree 5 (Chebyshev interpolation of expm1(r)/r), exp(r) = 1 + r P(r).
//   exp(x) = 2^n exp(r) (ScaleByPow2); expm1(x) = 2^n r P(r) + (2^n - 1) (2^n exact).
// A dense sweep in float32 with FMA measured max 0.95 ulp for exp on [-104, 89] (including the
// subnormal range) and 1.3 ulp for expm1 on [-104, 0].
//
// kDegree = 4 (ExpNegAbs, Mish): P of degree 4 fitted for exp(r) = 1 + r P(r) itself (minimax of
// the relative error of exp by Lawson's iteration, 1.54 x 2^-24 with exact coefficients; 1.9 ulp
// evaluated in float32 with FMA), one FMA fewer. Not for expm1: its P(0) is 1 - 3e-7, so r P(r)
// is ~5 ulp off in relative terms near 0 (Expm1NonPositive keeps degree 5).
// ExpReduce returns c exp(r) (one rounding) and sets r, p = c P(r) (expm1(r) = r P(r)) and
// pow2_arg (RoundForPow2). kPlainPow2: c = scale and Pow2<0>(pow2_arg) is 2^n itself (exact,
// exponent field n + 127 for n in [-126, 128], 128 giving +inf): for expm1, which needs 2^n, and
// for results that stay normal. Otherwise c = scale * kPow2Scale (`scale`, a constant the caller
// wants the result multiplied by, folded into the coefficients for free) and ScaledExp is
// ScaleByPow2 of the returned value. x in [-104, 89]: |n| <= 150.
template <int kDegree = 5, bool kPlainPow2 = false, class D, class V>
HWY_INLINE V ExpReduce(D d, V x, float scale, V& r, V& p, V& pow2_arg) {
  static_assert(kDegree == 4 || kDegree == 5, "fitted degrees");
  const float c = kPlainPow2 ? scale : scale * kPow2Scale;
  const V n = RoundForPow2<kPlainPow2 ? 0 : kPow2Offset>(d, x, 1.44269504088896341f, pow2_arg);
  r = hn::MulAdd(n, hn::Set(d, -0.693359375f), x);
  r = hn::MulAdd(n, hn::Set(d, 2.12194440e-4f), r);
  if constexpr (kDegree == 5) {
    p = hn::Set(d, 1.393364998e-03f * c);
    p = hn::MulAdd(p, r, hn::Set(d, 8.369155668e-03f * c));
    p = hn::MulAdd(p, r, hn::Set(d, 4.166646493e-02f * c));
    p = hn::MulAdd(p, r, hn::Set(d, 1.666650520e-01f * c));
    p = hn::MulAdd(p, r, hn::Set(d, 5.000000013e-01f * c));
    p = hn::MulAdd(p, r, hn::Set(d, 1.000000011e+00f * c));
  } else {
    p = hn::Set(d, 8.290272206e-03f * c);
    p = hn::MulAdd(p, r, hn::Set(d, 4.189816117e-02f * c));
    p = hn::MulAdd(p, r, hn::Set(d, 1.666763872e-01f * c));
    p = hn::MulAdd(p, r, hn::Set(d, 4.999914765e-01f * c));
    p = hn::MulAdd(p, r, hn::Set(d, 9.999997020e-01f * c));
  }
  return hn::MulAdd(r, p, hn::Set(d, c));
}

// scale * exp(x) for x in [-104, 89].
template <int kDegree = 5, class D, class V>
HWY_INLINE V ScaledExp(D d, V x, float scale = 1.0f) {
  V r, p, pow2_arg;
  const V exp_r = ExpReduce<kDegree>(d, x, scale, r, p, pow2_arg);
  return ScaleByPow2(d, exp_r, pow2_arg);
}

// y * 2^n for integral n in [-150, 128] (the whole range of Exp): overflows to inf and underflows
// to subnormals or 0 with one rounding, as the exact product would. AVX-512: vscalefps. Elsewhere
// 2^n is built in two normal halves (each exponent within [-75, 64]) and multiplied twice; ni is
// n as an integer.
template <class D, class V, class VI>
HWY_INLINE V MulPow2Halves(D d, V y, VI ni) {
  const hn::RebindToSigned<D> di;
  const auto half = hn::ShiftRight<1>(ni);
  const auto bias = hn::Set(di, 127);
  const V f1 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(half, bias)));
  const V f2 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::Sub(ni, half), bias)));
  return hn::Mul(hn::Mul(y, f1), f2);
}

// exp(x) for x <= 0 whose NaN the caller restores (or whose NaN does not matter): 0 far below.
// Clamping to -104 keeps n within ScaleByPow2's range; exp(-104) already rounds to 0.
template <class D, class V>
HWY_INLINE V ExpNonPositive(D d, V x) {
  return ScaledExp(d, hn::Max(x, hn::Set(d, -104.0f)));
}

// scale * exp(-|x|) for any x; NaN gives 0 (exp(-104)): callers restore NaN or carry it (x * ...).
// -|x| and the clamp are one op on AVX-512 (NegAbsMin). The degree-4 exp (1.9 ulp): the
// sigmoid family, softplus and log-sigmoid only use exp itself.
template <class D, class V>
HWY_INLINE V ExpNegAbs(D d, V x, float scale = 1.0f) {
  return ScaledExp<4>(d, NegAbsMin(d, x, 104.0f), scale);
}

// scale * exp(-|x|) with NaN passed through (NaN in, NaN out): -|x| and a clamp that passes NaN,
// two ops on every target (one more than ExpNegAbs on AVX-512, whose vrangeps drops NaN, but it
// saves callers the two-op NaN restore).
template <class D, class V>
HWY_INLINE V ExpNegAbsKeepNaN(D d, V x, float scale = 1.0f) {
  return ScaledExp<4>(d, MaxKeepNaN(d, NegAbs(d, x), hn::Set(d, -104.0f)), scale);
}

// scale * exp(x) for x <= 0 with NaN passed through; x > 0 is computed as exp(0) (the callers,
// the ELU family's derivatives, select another expression there). n <= 0 fits ScaleByPow2's range
// where the whole float range (Exp) would need two halves.
template <class D, class V>
HWY_INLINE V ExpNonPositiveKeepNaN(D d, V x, float scale = 1.0f) {
  const V xc = MaxKeepNaN(d, MinKeepNaN(d, x, hn::Zero(d)), hn::Set(d, -104.0f));
  return ScaledExp(d, xc, scale);
}

// exp(x) for x in [-87, 89] (the caller clamps; NaN passes): a normal float or +inf, never a
// subnormal, so that a quotient by 1 + exp(x) is 0 or a normal float (Intel CPUs take a microcode
// assist of ~100 cycles for a subnormal result unless flush-to-zero is set, which these kernels
// do not assume). Off AVX-512, 2^n is one shift with no offset and is +inf from x = 88.38 on
// (n = 128); AVX-512's vscalefps overflows only past ln(FLT_MAX) = 88.72. Degree 4 (1.9 ulp).
template <class D, class V>
HWY_INLINE V ExpNormalRange(D d, V x) {
#if IP_VMATH_SCALEF
  return ScaledExp<4>(d, x);
#else
  V r, p, pow2_arg;
  const V exp_r = ExpReduce<4, true>(d, x, 1.0f, r, p, pow2_arg);
  return hn::Mul(exp_r, Pow2<0>(d, pow2_arg));
#endif
}

// exp(x) for every float: +inf above ln(FLT_MAX), 0 far below, NaN for NaN. exp(89) overflows
// to inf already, so clamping there gives inf for every larger x.
// NaN passes the clamp (MinKeepNaN / MaxKeepNaN) and then every op: no select afterwards.
// n spans [-150, 128], wider than one exponent field: two halves where there is no vscalefps.
template <class D, class V>
HWY_INLINE V Exp(D d, V x) {
  const V xc = MinKeepNaN(d, MaxKeepNaN(d, x, hn::Set(d, -104.0f)), hn::Set(d, 89.0f));
#if IP_VMATH_SCALEF
  return ScaledExp(d, xc);
#else
  V r, p, pow2_arg;  // unscaled P; pow2_arg's bits are n + 127 + magic
  const V exp_r = ExpReduce<5, true>(d, xc, 1.0f, r, p, pow2_arg);
  const hn::RebindToSigned<D> di;
  const auto ni = hn::Sub(hn::BitCast(di, pow2_arg), hn::BitCast(di, hn::Set(d, kPow2Magic<0>)));
  return MulPow2Halves(d, exp_r, ni);
#endif
}

// exp(x) - 1 for x <= 0 and NaN (NaN passes), -1 far below; x > 0 is computed as 0: the callers
// (ELU family) use another expression there. Relative accuracy near 0: for n = 0 the result
// is r P(r) itself, with no 1 + ... - 1 cancellation. Below -87 (n >= -126: 2^n is a normal
// float, built exactly) expm1 is -1 in float32 anyway (from x < -17.4 on).
template <class D, class V>
HWY_INLINE V Expm1NonPositive(D d, V x) {
  const V xc = MaxKeepNaN(d, MinKeepNaN(d, x, hn::Zero(d)), hn::Set(d, -87.0f));  // NaN passes
  V r, p, pow2_arg;
  ExpReduce<5, true>(d, xc, 1.0f, r, p, pow2_arg);
  const V s = Pow2<0>(d, pow2_arg);  // 2^n, exact
  return hn::MulAdd(s, hn::Mul(r, p), hn::Sub(s, hn::Set(d, 1.0f)));
}

// tanh(x) = x P(x^2) / Q(x^2) with P and Q of degree 4 (a minimax fit of the relative error on
// [0, 9]: 2.1e-8 with exact coefficients; kernels/cpu/fits/tanh_rational.py), x clamped to
// +-9.1, where the quotient is already >= 1 in float32 (tanh rounds to +-1 from 9.01 on).
// Evaluated as here in float32 over every float in [2^-30, 12) (tanh_rational.py): 2.6 x 2^-23
// relative with FMA and a true division (3.1 without FMA; AVX-512's Divide adds ~1 ulp). No exp:
// a rational needs no range reduction and no 2^n, so it takes fewer instructions per vector than
// any exp-based form. Near saturation a rounding can carry the quotient an ulp past 1: the result
// is bounded to [-1, 1], so |tanh| <= 1 and tanh(x) = +-1 exactly from 9.1 on. Odd in x:
// tanh(-0) = -0. NaN passes every op (the bounds keep it).
template <class D, class V>
HWY_INLINE V Tanh(D d, V x) {
  const V one = hn::Set(d, 1.0f);
  const V xc = MinKeepNaN(d, MaxKeepNaN(d, x, hn::Set(d, -9.1f)), hn::Set(d, 9.1f));
  const V t = hn::Mul(xc, xc);
  V p = hn::Set(d, 1.335421462e-08f);
  p = hn::MulAdd(p, t, hn::Set(d, 2.060875158e-05f));
  p = hn::MulAdd(p, t, hn::Set(d, 3.495567944e-03f));
  p = hn::MulAdd(p, t, hn::Set(d, 1.338100880e-01f));
  p = hn::MulAdd(p, t, one);
  V q = hn::Set(d, 7.776372399e-07f);
  q = hn::MulAdd(q, t, hn::Set(d, 3.285601852e-04f));
  q = hn::MulAdd(q, t, hn::Set(d, 2.587690577e-02f));
  q = hn::MulAdd(q, t, hn::Set(d, 4.671432376e-01f));
  q = hn::MulAdd(q, t, one);  // in [1, 440]
  const V y = Divide(d, hn::Mul(xc, p), q);
  return MinKeepNaN(d, MaxKeepNaN(d, y, hn::Neg(one)), one);
}

// Sigmoid through -|x|, so exp never overflows: with e = exp(-|x|) and den = 1 + e in [1, 2],
// sigmoid(x) = (x < 0 ? e : 1) / den and sigmoid(-x) = (x < 0 ? 1 : e) / den, both accurate in
// relative terms (no 1 - s cancellation), one division (or reciprocal) for either or both, and
// sigmoid(x) sigmoid(-x) = e / den^2. The sides are picked by x's sign bit alone (one vblendvps on
// AVX2, no compare: IfSignThenElse); -0 takes the x < 0 side, where both give 1/2.
// kKeepNaN: NaN passes the exp's clamp (one op more on AVX-512) and then every op, so the result
// is NaN for NaN; without it e is 0 for NaN and the caller carries NaN otherwise (x * ...).
// SigmoidParts sets e = scale * exp(-|x|) and den = 1 + e / scale.
template <bool kKeepNaN = true, class D, class V>
HWY_INLINE void SigmoidParts(D d, V x, V& e, V& den, float scale = 1.0f) {
  e = kKeepNaN ? ExpNegAbsKeepNaN(d, x, scale) : ExpNegAbs(d, x, scale);
  den = scale == 1.0f ? hn::Add(e, hn::Set(d, 1.0f)) : hn::MulAdd(e, hn::Set(d, 1.0f / scale), hn::Set(d, 1.0f));
}
template <class D, class V>
HWY_INLINE V SigmoidPositiveNumerator(D d, V x, V e) {  // sigmoid(x) = this / den
  return IfSignThenElse(d, x, e, hn::Set(d, 1.0f));
}
template <class D, class V>
HWY_INLINE V SigmoidNegativeNumerator(D d, V x, V e) {  // sigmoid(-x) = this / den
  return IfSignThenElse(d, x, hn::Set(d, 1.0f), e);
}

template <class D, class V>
HWY_INLINE V Sigmoid(D d, V x) {
  V e, den;
  SigmoidParts(d, x, e, den);
  return Divide(d, SigmoidPositiveNumerator(d, x, e), den);
}

// log1p(e) for e in [0, 1] (and NaN, which passes): e P(e), P of degree 8, a minimax fit of the
// relative error of log1p(e)/e (Lawson's iteration; 0.51 x 2^-24 with exact coefficients, 2.1 ulp
// evaluated in float32 with FMA over a dense sweep of e, relative accuracy down to the smallest e;
// a degree-9 Chebyshev interpolation reaches 1.6 ulp for one FMA more, which no bound needs).
// Highway's Log1p serves the whole float range (exponent split, division) at ~2x the vector ops;
// softplus only ever needs [0, 1].
// Log1pUnitQuotient returns scale * P(e) ~ scale * log1p(e) / e, its coefficients multiplied by
// `scale` (a loop-invariant vector: the products are hoisted out of the caller's loop; with scale
// 1 they are the coefficients themselves). Softplus folds 1 / beta into it that way.
template <class D, class V>
HWY_INLINE V Log1pUnitQuotient(D d, V e, V scale) {
  const auto c = [&](float k) { return hn::Mul(hn::Set(d, k), scale); };
  V p = c(5.221252330e-03f);
  p = hn::MulAdd(p, e, c(-2.945929952e-02f));
  p = hn::MulAdd(p, e, c(7.815098763e-02f));
  p = hn::MulAdd(p, e, c(-1.365687400e-01f));
  p = hn::MulAdd(p, e, c(1.910300553e-01f));
  p = hn::MulAdd(p, e, c(-2.484221458e-01f));
  p = hn::MulAdd(p, e, c(3.331899941e-01f));
  p = hn::MulAdd(p, e, c(-4.999948740e-01f));
  p = hn::MulAdd(p, e, c(9.999999404e-01f));
  return p;
}

// log(sigmoid(x)) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|)), written out so that neither x
// nor the result needs negating: log1p's argument stays in [0, 1] and nothing overflows. NaN:
// ExpNegAbs gives 0 for it, min(x, 0) passes it (MinKeepNaN); no select.
template <class D, class V>
HWY_INLINE V LogSigmoid(D d, V x) {
  const V e = ExpNegAbs(d, x);
  return hn::NegMulAdd(e, Log1pUnitQuotient(d, e, hn::Set(d, 1.0f)), MinKeepNaN(d, x, hn::Zero(d)));
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

// ---- Phi and phi for GELU (exact erf) ------------------------------------------------------
// Standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 and density phi(x) = c exp(-x^2/2),
// c = 1/sqrt(2 pi), sharing one exp. With v = min(|x|, 12.95) and a = v / sqrt 2:
//   pdf = phi(v) = c exp(-v^2/2), Phi(-v) = erfc(a) / 2 = pdf t Q(t) / c.
// erfc(a) = exp(-a^2) t Q(t), t = 1 / (1 + 0.4 a), for a in [0, 11.4]: Q(t) = erfc(a) exp(a^2) / t
// is smooth on t in [0.18, 1] and tends to a constant (0.4 / sqrt pi) as a grows, so one
// polynomial (degree 9 in s = (t - mid) / half, fitted by Chebyshev interpolation, interpolation
// error 2.5e-8 relative, 0.2 ulp) keeps full relative accuracy from a = 0 down to erfc's underflow.
// a enters only through t, whose rounding Q barely amplifies. Its coefficients are those of
// erfc / 2 divided by c (Q / (2c)): the c of pdf then needs no product of its own.
// exp(-v^2/2) needs v^2 exactly (rounding it first costs v^2/2 * 2^-24 relative, 1e-6 at v = 5,
// the golden bound): the reduction is carried in w = -2r = v^2 + 2 n ln2 (n = round(-v^2 log2(e)
// / 2)); with FMA, v^2 + 2 n C1 is one fused op (2 n C1 exact, the sum below ~ln2: one rounding of
// at most 2^-25), so neither the low half of v^2 nor -v^2/2 is formed. exp(r) = 1 + r P(r) with
// r = -w/2 is ExpReduce's degree-4 P (the minimax fit of exp, 1.9 ulp; one FMA fewer than degree
// 5, for a left-tail worst relative error of 3.6e-7 instead of 3.3e-7, both within the 1e-6
// bound), its coefficients times c (-1/2)^(k+1). Targets without FMA add the exact low half of
// v^2 (Veltkamp) instead.
// v <= 12.95 (kCut), and pdf is set to 0 at the cut: below it pdf, pdf t and Phi(-v) are normal
// floats (Phi(-12.97) ~ 1.2e-38), beyond it |GELU| < 3e-37 and the exact values are subnormal or
// 0, which Intel CPUs compute through a microcode assist of ~100 cycles each (measured: GELU
// 25-40% slower on N(0, 4^2) inputs); x * 0 makes ±inf give NaN as the scalar form, huge finite x
// stays finite. Phi(|x|) = 1 - Phi(-|x|) (at most 1/2 subtracted: no cancellation). NaN: v = kCut
// (the clamp returns the bound), cdf = 1 or 0, pdf = 0; callers multiply by x, which carries it.
// x < 0 ? lower : 1 - lower, picked by x's sign bit (a NaN's result is NaN through x * cdf
// anyway). AVX2: a subtraction and one vblendvps; AVX-512: one masked subtraction after the
// compare.
template <class D, class V>
HWY_INLINE V CdfFromLower(D d, V x, V lower) {
  return IfSignThenElse(d, x, lower, hn::Sub(hn::Set(d, 1.0f), lower));
}
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
HWY_INLINE hn::Vec512<float> CdfFromLower(hn::Full512<float> d, hn::Vec512<float> x,
                                          hn::Vec512<float> lower) {
  const __mmask16 not_neg = _mm512_cmp_ps_mask(x.raw, _mm512_setzero_ps(), _CMP_NLT_UQ);
  return hn::Vec512<float>{_mm512_mask_sub_ps(lower.raw, not_neg, hn::Set(d, 1.0f).raw, lower.raw)};
}
#endif

// NormalParts sets cdf = Phi(x) and pdf = phi(x) (see above).
template <class D, class V>
HWY_INLINE void NormalParts(D d, V x, V& cdf, V& pdf) {
  constexpr double kC = 0.39894228040143267794;  // 1/sqrt(2 pi)
  constexpr float kCut = 12.95f;
  const auto k = [&](double coef) { return hn::Set(d, float(coef)); };
  const V v = hn::Min(hn::Abs(x), hn::Set(d, kCut));
  V pow2_arg;
  const V n = RoundForPow2<kPow2Offset>(d, hn::Mul(v, v), -0.5f * 1.44269504088896341f, pow2_arg);
#if HWY_NATIVE_FMA
  V w = hn::MulAdd(v, v, hn::Mul(n, hn::Set(d, 2.0f * 0.693359375f)));  // 2 n C1 exact
#else
  V hi, lo;
  SquareExact(d, v, hi, lo);
  V w = hn::Add(hn::Add(hi, hn::Mul(n, hn::Set(d, 2.0f * 0.693359375f))), lo);  // 1st sum exact
#endif
  w = hn::MulAdd(n, hn::Set(d, -2.0f * 2.12194440e-4f), w);
  const double ks = kC * kPow2Scale;  // ScaleByPow2's factor folded into the coefficients
  V p = k(ks * -8.290272206e-03 / 32);
  p = hn::MulAdd(p, w, k(ks * 4.189816117e-02 / 16));
  p = hn::MulAdd(p, w, k(ks * -1.666763872e-01 / 8));
  p = hn::MulAdd(p, w, k(ks * 4.999914765e-01 / 4));
  p = hn::MulAdd(p, w, k(ks * -9.999997020e-01 / 2));
  const V y = hn::MulAdd(w, p, k(ks));
#if IP_VMATH_SCALEF
  // c exp(-v^2/2), 0 at the cut: the compare feeds vscalefps's zeroing mask.
  const __mmask16 below = _mm512_cmp_ps_mask(v.raw, hn::Set(d, kCut).raw, _CMP_LT_OQ);
  pdf = V{_mm512_maskz_scalef_ps(below, y.raw, n.raw)};
#else
  pdf = hn::IfThenZeroElse(hn::Ge(v, hn::Set(d, kCut)), ScaleByPow2(d, y, pow2_arg));  // c exp(-v^2/2)
#endif
  // t = 1 / (1 + 0.4 a) = 1 / (1 + (0.4 / sqrt 2) v); 1 + ... in [1, 5.2]. A division on every
  // target, AVX-512 included: one 512-bit divide per 16 elements overlaps the ~25 FMA-unit ops
  // around it on Zen 4 (L1 speed: forward unchanged, backward +3% against rcp14 + Newton,
  // which costs two more instructions), and it is correctly rounded.
  const V t = hn::Div(hn::Set(d, 1.0f), hn::MulAdd(v, k(0.4 / 1.41421356237309504880), hn::Set(d, 1.0f)));
  const V s = hn::MulAdd(t, k(1 / 0.410071942), k(-0.589928058 / 0.410071942));
  V q = k(-5.139694730e-06 / kC);
  q = hn::MulAdd(q, s, k(1.610995228e-05 / kC));
  q = hn::MulAdd(q, s, k(6.400865395e-05 / kC));
  q = hn::MulAdd(q, s, k(-2.212820924e-04 / kC));
  q = hn::MulAdd(q, s, k(-9.700675210e-04 / kC));
  q = hn::MulAdd(q, s, k(1.683413204e-03 / kC));
  q = hn::MulAdd(q, s, k(2.078671381e-02 / kC));
  q = hn::MulAdd(q, s, k(7.415943930e-02 / kC));
  q = hn::MulAdd(q, s, k(1.615946134e-01 / kC));
  q = hn::MulAdd(q, s, k(2.428921921e-01 / kC));
  cdf = CdfFromLower(d, x, hn::Mul(hn::Mul(pdf, t), q));  // Phi(-v) = pdf t Q / c
}

}  // namespace ip::cpu::HWY_NAMESPACE::vmath
HWY_AFTER_NAMESPACE();

#endif  // IP_KERNELS_CPU_MATH_INL_H_
