// Highway vector forms of every element-wise function of the table (kind Elementwise), one struct
// per row, named like the row's Id:
//
//   struct Id {
//     template <class D, class V> static V forward(D d, V x, V p0, V p1);     // y = f(x)
//     template <class D, class V> static V derivative(D d, V x, V p0, V p1);  // f'(x)
//   };
//
// p0 / p1 are the row's two parameters broadcast to vectors (Params<float>). The forms follow the
// scalar forms of kernels/common/activation_math.h (the ground truth): same comparisons, so NaN and
// ±inf give the same class of result (NaN / ±inf / finite) as the scalar form, which encodes
// PyTorch's behaviour. Where the scalar formula loses accuracy in float32 (1 - s, 1 + tanh(u),
// 1 - tanh^2 near saturation) the vector form uses an algebraically equal, accurate one.
// Divisions by a parameter are written as a product with its reciprocal, which the compiler hoists
// out of the loop (the reciprocal is loop-invariant).
//
// VecOf<FunctionId::Id>::type maps a table row to its form; it is generated from the table.
#if defined(IP_KERNELS_CPU_ACTIVATIONS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef IP_KERNELS_CPU_ACTIVATIONS_INL_H_
#undef IP_KERNELS_CPU_ACTIVATIONS_INL_H_
#else
#define IP_KERNELS_CPU_ACTIVATIONS_INL_H_
#endif

#include <cstddef>
#include <type_traits>

#include "hwy/highway.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/cpu/inline_lambda.h"
#include "kernels/cpu/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Shorthands used by every form below.
#define IP_VEC_FORM template <class D, class V> static HWY_INLINE V
#define IP_ONE hn::Set(d, 1.0f)
#define IP_ZERO hn::Zero(d)

// The ELU family's forward is max(x, 0) + alpha expm1(min(x, 0)) as one FMA (Expm1NonPositive is 0
// for x > 0, and max(x, 0) + alpha * 0 is x exactly) instead of a compare, a blend and a product;
// NaN passes the expm1. alpha > 0, as the scalar form assumes (x / alpha <= 0 for x <= 0).
struct CELU {  // p0 = alpha
  IP_VEC_FORM forward(D d, V x, V p0, V) {
    const V inv_alpha = hn::Div(IP_ONE, p0);
    return hn::MulAdd(p0, vmath::Expm1NonPositive(d, hn::Mul(x, inv_alpha)), hn::Max(x, IP_ZERO));
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V) {
    const V inv_alpha = hn::Div(IP_ONE, p0);
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), IP_ONE, vmath::ExpNonPositiveKeepNaN(d, hn::Mul(x, inv_alpha)));
  }
};

struct ELU {  // p0 = alpha
  IP_VEC_FORM forward(D d, V x, V p0, V) {
    return hn::MulAdd(p0, vmath::Expm1NonPositive(d, x), hn::Max(x, IP_ZERO));
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V) {
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), IP_ONE, hn::Mul(p0, vmath::ExpNonPositiveKeepNaN(d, x)));
  }
};

struct GELU {  // exact: x * Phi(x), Phi from our erf/erfc (math-inl.h)
  IP_VEC_FORM forward(D d, V x, V, V) {
    V cdf, pdf;
    vmath::NormalParts(d, x, cdf, pdf);
    return hn::Mul(x, cdf);  // -inf * 0 = NaN, as the scalar form
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    V cdf, pdf;
    vmath::NormalParts(d, x, cdf, pdf);
    return hn::MulAdd(x, pdf, cdf);  // ±inf * 0 = NaN, as the scalar form
  }
};

// 0.5 (1 + tanh u) = sigmoid(2u), and 1 - tanh^2 u = 4 sigmoid(2u) sigmoid(-2u): no cancellation
// in the left tail, where 1 + tanh u loses every digit in float32.
struct GELU_tanh {
  template <class D, class V>
  static HWY_INLINE V TwiceInner(D d, V x) {  // 2u = 2 sqrt(2/pi) (x + kappa x^3) = x (c1 + c3 x^2)
    const V c3 = hn::Set(d, float(2 * math::kSqrt2OverPi * math::kGeluTanhKappa));
    return hn::Mul(x, hn::MulAdd(hn::Mul(x, x), c3, hn::Set(d, float(2 * math::kSqrt2OverPi))));
  }
  IP_VEC_FORM forward(D d, V x, V, V) {
    // x sigmoid(2u) = x / (1 + exp(w)), w = -2u = x (-c1 - c3 x^2) clamped to [-87, 89] (NaN
    // passes): below -87, 1 + exp(w) rounds to 1; beyond ln(FLT_MAX) = 88.72 exp(w) is +inf
    // and the quotient is -0, the scalar form's value (its 1 + tanh u is 0 there; on AVX2 2^n is
    // already +inf from 88.38 on, where AVX-512's vscalefps still gives the last finite values:
    // the quotient is then a normal float below 4e-38, within every tolerance of -0). Never a
    // subnormal, which x e^-2u would be for large |x|: Intel CPUs compute those through a
    // microcode assist (x sigmoid(v) as (v < 0 ? x e : x) / (1 + e) measured 3-4x slower on
    // N(0, 4^2) inputs for that reason). ±inf: w = ∓inf, x / 1 = inf and -inf / inf = NaN, as the
    // scalar form. A true division on every target: the denominator reaches +inf, where rcp14 +
    // Newton gives NaN.
    const V w0 = hn::Mul(x, hn::MulAdd(hn::Mul(x, x), hn::Set(d, float(-2 * math::kSqrt2OverPi * math::kGeluTanhKappa)),
                                       hn::Set(d, float(-2 * math::kSqrt2OverPi))));
    const V w = vmath::MaxKeepNaN(d, vmath::MinKeepNaN(d, w0, hn::Set(d, 89.0f)), hn::Set(d, -87.0f));
    return hn::Div(x, hn::Add(vmath::ExpNormalRange(d, w), IP_ONE));
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    // The scalar form clamps x to ±10 inside the polynomial (tanh has saturated there). Min/Max
    // may turn NaN into a bound; the x - x added at the end makes the result NaN anyway.
    const V lim = hn::Set(d, float(math::kGeluTanhSaturation));
    const V xc = hn::Min(hn::Max(x, hn::Neg(lim)), lim);
    const V v = TwiceInner(d, xc);
    V e, den;
    vmath::SigmoidParts<false>(d, v, e, den);
    // 2 u' = 2 sqrt(2/pi) (1 + 3 kappa xc^2), the factor 2 folded into the constants.
    const V twice_du = hn::MulAdd(hn::Mul(xc, xc), hn::Set(d, float(6 * math::kSqrt2OverPi * math::kGeluTanhKappa)),
                                  hn::Set(d, float(2 * math::kSqrt2OverPi)));
    // sp + 0.5 x (1 - t^2) u' = sp + 2 x sp sn u' with sp sn = e / den^2:
    // (num_p den + 2 x e u') / den^2, one division. Beyond the clamp the scalar form's 1 - t^2 is
    // exactly 0 (and the true term below 1e-36), while ours is ~1e-38 and x huge: x is zeroed
    // there (xc != x, NaN included).
    const V x_in = hn::IfThenElseZero(hn::Eq(xc, x), x);
    const V num = hn::MulAdd(vmath::SigmoidPositiveNumerator(d, v, e), den, hn::Mul(hn::Mul(x_in, e), twice_du));
    // That makes ±inf give inf * 0 = NaN in the scalar form; add x - x (NaN exactly for ±inf and
    // NaN, else 0) to match.
    return hn::Add(vmath::Divide(d, num, hn::Mul(den, den)), hn::Sub(x, x));
  }
};

struct Hardshrink {  // p0 = lambd
  IP_VEC_FORM forward(D, V x, V p0, V) {
    return hn::IfThenZeroElse(hn::And(hn::Ge(x, hn::Neg(p0)), hn::Le(x, p0)), x);
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V) {
    return hn::IfThenElseZero(hn::Or(hn::Lt(x, hn::Neg(p0)), hn::Gt(x, p0)), IP_ONE);
  }
};

struct Hardtanh {  // p0 = min_val, p1 = max_val; comparisons, not Min/Max, so NaN passes
  IP_VEC_FORM forward(D, V x, V p0, V p1) {
    return hn::IfThenElse(hn::Lt(x, p0), p0, hn::IfThenElse(hn::Gt(x, p1), p1, x));
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V p1) {
    return hn::IfThenElseZero(hn::And(hn::Gt(x, p0), hn::Lt(x, p1)), IP_ONE);
  }
};

struct LeakyReLU {  // p0 = negative_slope
  IP_VEC_FORM forward(D d, V x, V p0, V) { return hn::IfThenElse(hn::Gt(x, IP_ZERO), x, hn::Mul(x, p0)); }
  IP_VEC_FORM derivative(D d, V x, V p0, V) { return hn::IfThenElse(hn::Gt(x, IP_ZERO), IP_ONE, p0); }
};

struct LogSigmoid {
  IP_VEC_FORM forward(D d, V x, V, V) { return vmath::LogSigmoid(d, x); }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    V e, den;
    vmath::SigmoidParts(d, x, e, den);  // NaN passes
    return vmath::Divide(d, vmath::SigmoidNegativeNumerator(d, x, e), den);
  }
};

struct PReLU {  // p0 = the layer's weight
  IP_VEC_FORM forward(D d, V x, V p0, V) { return hn::IfThenElse(hn::Gt(x, IP_ZERO), x, hn::Mul(p0, x)); }
  IP_VEC_FORM derivative(D d, V x, V p0, V) { return hn::IfThenElse(hn::Gt(x, IP_ZERO), IP_ONE, p0); }
};

struct RReLU {  // eval mode: slope (lower + upper) / 2; train mode has its own kernel
  IP_VEC_FORM forward(D d, V x, V p0, V p1) {
    const V slope = hn::Mul(hn::Add(p0, p1), hn::Set(d, 0.5f));  // == (p0 + p1) / 2 exactly
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), x, hn::Mul(x, slope));
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V p1) {
    const V slope = hn::Mul(hn::Add(p0, p1), hn::Set(d, 0.5f));
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), IP_ONE, slope);
  }
};

struct ReLU {
  IP_VEC_FORM forward(D d, V x, V, V) { return hn::IfThenZeroElse(hn::Lt(x, IP_ZERO), x); }  // NaN passes
  IP_VEC_FORM derivative(D d, V x, V, V) { return hn::IfThenZeroElse(hn::Le(x, IP_ZERO), IP_ONE); }
};

struct ReLU6 {
  IP_VEC_FORM forward(D d, V x, V, V) {
    const V six = hn::Set(d, 6.0f);
    return hn::IfThenZeroElse(hn::Lt(x, IP_ZERO), hn::IfThenElse(hn::Gt(x, six), six, x));
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    return hn::IfThenElseZero(hn::And(hn::Gt(x, IP_ZERO), hn::Lt(x, hn::Set(d, 6.0f))), IP_ONE);
  }
};

struct SELU {  // scale (max(x, 0) + alpha expm1(min(x, 0))), as the ELU family above
  IP_VEC_FORM forward(D d, V x, V, V) {
    return hn::MulAdd(hn::Set(d, float(math::kSeluScale * math::kSeluAlpha)), vmath::Expm1NonPositive(d, x),
                      hn::Mul(hn::Set(d, float(math::kSeluScale)), hn::Max(x, IP_ZERO)));
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {  // scale alpha folded into the exp's coefficients
    const V neg = vmath::ExpNonPositiveKeepNaN(d, x, float(math::kSeluScale * math::kSeluAlpha));
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), hn::Set(d, float(math::kSeluScale)), neg);
  }
};

struct Sigmoid {
  IP_VEC_FORM forward(D d, V x, V, V) { return vmath::Sigmoid(d, x); }
  IP_VEC_FORM derivative(D d, V x, V, V) {  // s (1 - s) = sigmoid(x) sigmoid(-x) = e / den^2
    V e, den;
    vmath::SigmoidParts(d, x, e, den);  // NaN passes
    return vmath::Divide(d, e, hn::Mul(den, den));
  }
};

// softplus(bx) / beta = (max(bx, 0) + log1p(e)) / beta, e = exp(-|bx|). The 1 / beta goes into
// log1p's coefficients (loop-invariant products), and for beta > 0 max(bx, 0) / beta is max(x, 0)
// (without bx's rounding): one FMA after the polynomial instead of FMA and multiply; beta <= 0
// keeps max(bx, 0) / beta. Huge x with beta > 1 (bx = inf): e = 0, y = x, as the scalar form.
// With beta > 0 and threshold >= 15 (the defaults: 1, 20) the threshold select is skipped: where
// bx > threshold, y = x + e P(e) / beta with e P(e) / beta < e^-15 / beta < 2^-24 x, so y rounds
// to x (or its neighbour), which the scalar form returns there.
// Which of these applies depends on the parameters' values: Softplus::Pick chooses the form once
// per chunk (WithForm below), so the loop over the elements has no branch.
enum class SoftplusCase { kNoThreshold, kPositiveBeta, kAny };
template <SoftplusCase kCase>
struct SoftplusForm {  // p0 = beta, p1 = threshold
  IP_VEC_FORM forward(D d, V x, V p0, V p1) {
    const V bx = hn::Mul(x, p0);
    const V inv_beta = hn::Div(IP_ONE, p0);
    const V e = vmath::ExpNegAbs(d, bx);
    // NaN is carried by lin (MaxKeepNaN), e is 0 for it.
    const V lin = kCase != SoftplusCase::kAny ? vmath::MaxKeepNaN(d, x, IP_ZERO)
                                              : hn::Mul(vmath::MaxKeepNaN(d, bx, IP_ZERO), inv_beta);
    const V y = hn::MulAdd(e, vmath::Log1pUnitQuotient(d, e, inv_beta), lin);
    if constexpr (kCase == SoftplusCase::kNoThreshold) return y;
    return hn::IfThenElse(hn::Gt(bx, p1), x, y);
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V p1) {
    const V bx = hn::Mul(x, p0);
    return hn::IfThenElse(hn::Gt(bx, p1), IP_ONE, vmath::Sigmoid(d, bx));
  }
};

struct Softplus : SoftplusForm<SoftplusCase::kAny> {  // valid for any parameters
  template <class Body>
  static HWY_INLINE void Pick(float beta, float threshold, const Body& body) {
    if (beta > 0.0f && threshold >= 15.0f) {
      body(SoftplusForm<SoftplusCase::kNoThreshold>{});
    } else if (beta > 0.0f) {
      body(SoftplusForm<SoftplusCase::kPositiveBeta>{});
    } else {
      body(SoftplusForm<SoftplusCase::kAny>{});
    }
  }
};

struct Softshrink {  // p0 = lambd; NaN gives 0, as the scalar form
  IP_VEC_FORM forward(D, V x, V p0, V) {
    return hn::IfThenElse(hn::Gt(x, p0), hn::Sub(x, p0),
                          hn::IfThenElseZero(hn::Lt(x, hn::Neg(p0)), hn::Add(x, p0)));
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V) {
    return hn::IfThenElseZero(hn::Or(hn::Gt(x, p0), hn::Lt(x, hn::Neg(p0))), IP_ONE);
  }
};

struct Softsign {
  IP_VEC_FORM forward(D d, V x, V, V) { return hn::Div(x, hn::Add(IP_ONE, hn::Abs(x))); }  // inf/inf = NaN
  IP_VEC_FORM derivative(D d, V x, V, V) {
    const V r = hn::Div(IP_ONE, hn::Add(IP_ONE, hn::Abs(x)));
    return hn::Add(hn::Mul(r, r), hn::Sub(x, x));  // NaN at ±inf, as the scalar form
  }
};

struct Tanh {
  IP_VEC_FORM forward(D d, V x, V, V) { return vmath::Tanh(d, x); }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    // 1 - tanh^2 x = 4 e / (1 + e)^2 with e = exp(-2|x|): accurate where tanh rounds to ±1. The
    // 4 is folded into the exp's coefficients (e4 = 4 e, den = 1 + e). NaN passes.
    V e4, den;
    vmath::SigmoidParts(d, hn::Add(x, x), e4, den, 4.0f);
    return vmath::Divide(d, e4, hn::Mul(den, den));
  }
};

struct Tanhshrink {
  IP_VEC_FORM forward(D d, V x, V, V) { return hn::Sub(x, vmath::Tanh(d, x)); }  // inf - 1 = inf
  IP_VEC_FORM derivative(D d, V x, V, V) {
    const V t = vmath::Tanh(d, x);
    return hn::Mul(t, t);
  }
};

struct SiLU {
  IP_VEC_FORM forward(D d, V x, V, V) {  // x num_p / den; NaN carried by x
    V e, den;
    vmath::SigmoidParts<false>(d, x, e, den);
    return vmath::Divide(d, hn::Mul(x, vmath::SigmoidPositiveNumerator(d, x, e)), den);
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    // s + x s (1 - s) with s = num_p / den and s (1 - s) = e / den^2: (num_p den + x e) / den^2.
    V e, den;
    vmath::SigmoidParts<false>(d, x, e, den);  // NaN carried by x e
    return vmath::Divide(d, hn::MulAdd(vmath::SigmoidPositiveNumerator(d, x, e), den, hn::Mul(x, e)), hn::Mul(den, den));
  }
};

// tanh(softplus(x)) = n / (n + 2) with n = e^x (e^x + 2): one exp, no log, and relative accuracy
// in the left tail (it tends to e^x). x is clamped to [-104, 20] (the ratio is 1 in float32 at
// 20, e^-104 is 0), NaN passing the clamp and then every op: no NaN select.
struct Mish {
  template <class D, class V>
  static HWY_INLINE V ExpClamped(D d, V x) {
    const V xc = vmath::MaxKeepNaN(d, vmath::MinKeepNaN(d, x, hn::Set(d, 20.0f)), hn::Set(d, -104.0f));
    return vmath::ScaledExp<4>(d, xc);  // degree 4: exp only, no expm1
  }
  IP_VEC_FORM forward(D d, V x, V, V) {
    const V ex = ExpClamped(d, x);
    const V n = hn::Mul(ex, hn::Add(ex, hn::Set(d, 2.0f)));
    // n + 2 in [2, 2^58]: vmath::Divide's range. -inf: ex = 0, -inf * 0 = NaN (scalar form). The
    // quotient first: x n could overflow where x n / (n + 2) does not.
    return hn::Mul(x, vmath::Divide(d, n, hn::Add(n, hn::Set(d, 2.0f))));
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    // t + x sigmoid(x) (1 - t^2) with t = n / den, den = n + 2, 1 - t^2 = 4 (n + 1) / den^2 and
    // sigmoid(x) = ex / (1 + ex). n + 1 = (1 + ex)^2, so sigmoid(x) (1 - t^2) = 4 ex (1 + ex) / den^2
    // and the whole is (n den + 4 x ex (1 + ex)) / den^2: one division (den^2 <= 2^116).
    const V ex = ExpClamped(d, x);
    const V n = hn::Mul(ex, hn::Add(ex, hn::Set(d, 2.0f)));
    const V den = hn::Add(n, hn::Set(d, 2.0f));
    // Above the clamp (x > 20) the true second term x 4 e^-2x is below 1e-15 and the scalar form's
    // 1 - t^2 is exactly 0; ours would stay at 4 e^-40 and grow with x, so x is zeroed there.
    const V x_in = hn::IfThenZeroElse(hn::Gt(x, hn::Set(d, 20.0f)), x);
    const V num = hn::MulAdd(hn::Mul(x_in, hn::Mul(ex, hn::Add(ex, IP_ONE))), hn::Set(d, 4.0f), hn::Mul(n, den));
    // The scalar form gives inf * 0 = NaN at +inf: x - x restores it (and carries NaN).
    return hn::Add(vmath::Divide(d, num, hn::Mul(den, den)), hn::Sub(x, x));
  }
};

struct Hardswish {
  IP_VEC_FORM forward(D d, V x, V, V) {
    const V six = hn::Set(d, 6.0f);
    V r = hn::Add(x, hn::Set(d, 3.0f));
    r = hn::IfThenZeroElse(hn::Lt(r, IP_ZERO), hn::IfThenElse(hn::Gt(r, six), six, r));
    // x * (r / 6): 6 * float(1/6) rounds to 1, so huge finite x stays finite; -inf * 0 = NaN.
    return hn::Mul(x, hn::Mul(r, hn::Set(d, 1.0f / 6.0f)));
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    const V mid = hn::MulAdd(x, hn::Set(d, 1.0f / 3.0f), hn::Set(d, 0.5f));
    return hn::IfThenZeroElse(hn::Lt(x, hn::Set(d, -3.0f)),
                              hn::IfThenElse(hn::Ge(x, hn::Set(d, 3.0f)), IP_ONE, mid));
  }
};

struct Hardsigmoid {
  IP_VEC_FORM forward(D d, V x, V, V) {
    const V six = hn::Set(d, 6.0f);
    V r = hn::Add(x, hn::Set(d, 3.0f));
    r = hn::IfThenZeroElse(hn::Lt(r, IP_ZERO), hn::IfThenElse(hn::Gt(r, six), six, r));
    return hn::Mul(r, hn::Set(d, 1.0f / 6.0f));
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    return hn::IfThenElseZero(hn::And(hn::Gt(x, hn::Set(d, -3.0f)), hn::Lt(x, hn::Set(d, 3.0f))),
                              hn::Set(d, 1.0f / 6.0f));
  }
};

struct Identity {
  static constexpr bool kDerivativeReadsX = false;  // backward need not fetch x (see below)
  IP_VEC_FORM forward(D, V x, V, V) { return x; }
  IP_VEC_FORM derivative(D d, V, V, V) { return IP_ONE; }
};

struct Threshold {  // p0 = threshold, p1 = value; NaN passes (NaN <= t is false)
  IP_VEC_FORM forward(D, V x, V p0, V p1) { return hn::IfThenElse(hn::Le(x, p0), p1, x); }
  IP_VEC_FORM derivative(D d, V x, V p0, V) { return hn::IfThenZeroElse(hn::Le(x, p0), IP_ONE); }
};

#undef IP_VEC_FORM
#undef IP_ONE
#undef IP_ZERO

// body(G{}) with G the form to run for these parameter values: F itself, or the variant that
// F::Pick(p0, p1, body) chooses where a form's code depends on its parameters' values (once per
// chunk, so that the loop over the elements has no branch).
struct IgnoreForm {
  template <class G>
  void operator()(G) const {}
};
template <class F, class = void>
struct HasPick : std::false_type {};
template <class F>
struct HasPick<F, std::void_t<decltype(F::Pick(0.0f, 0.0f, IgnoreForm{}))>> : std::true_type {};

// Whether F::derivative depends on x: true unless the form says otherwise (Identity). The
// backward loops ask for x's lines ahead only where it does; a prefetch of an array that is never
// read still moves it from memory.
template <class F, class = void>
struct DerivativeReadsX : std::true_type {};
template <class F>
struct DerivativeReadsX<F, std::void_t<decltype(F::kDerivativeReadsX)>>
    : std::bool_constant<F::kDerivativeReadsX> {};

template <class F, class Body>
HWY_INLINE void WithForm(float p0, float p1, const Body& body) {
  if constexpr (HasPick<F>::value) {
    F::Pick(p0, p1, body);
  } else {
    body(F{});
  }
}

// The element-wise loops (activations.cc) take four vectors per step, all four computed before any
// is stored. The transcendental forms are chains of dependent operations (GELU's ~70 cycles deep,
// 40+ instructions per vector) and a core overlaps only as many as its scheduler holds: with one
// vector per step a Zen 1 core ran them at about one instruction per cycle, half of what its FMA
// units take. Four independent chains side by side let the compiler interleave them (GCC does so
// only when it schedules before register allocation: -fschedule-insns, set in CMakeLists.txt).
// compute(at) returns the vector of elements at..at+lanes-1, store(v, at) writes it; returns the
// first element not done (fewer than four vectors remain). Both are lambdas marked
// IP_INLINE_LAMBDA: GCC otherwise kept the larger ones (GELU and GELU_tanh backward) as calls, one
// per vector, with no interleaving: 14-26% slower than one vector per step.
template <class D, class Compute, class Store>
HWY_INLINE size_t StepsOfFourVectors(D d, size_t i, size_t n, const Compute& compute, const Store& store) {
  const size_t lanes = hn::Lanes(d);
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    const auto v0 = compute(i);
    const auto v1 = compute(i + lanes);
    const auto v2 = compute(i + 2 * lanes);
    const auto v3 = compute(i + 3 * lanes);
    store(v0, i);
    store(v1, i + lanes);
    store(v2, i + 2 * lanes);
    store(v3, i + 3 * lanes);
  }
  return i;
}

// Table row -> vector form, for Elementwise rows only (other kinds have kernels of their own).
template <FunctionId kId>
struct VecOf;
#define IP_VEC_OF_Elementwise(Id) \
  template <>                     \
  struct VecOf<FunctionId::Id> {  \
    using type = Id;              \
  };
#define IP_VEC_OF_Rowwise(Id)
#define IP_VEC_OF_Dropout(Id)
#define IP_VEC_OF_ROW(Id, cli, path, args, group, kind, ...) IP_VEC_OF_##kind(Id)
INFERENCEPOWER_FUNCTIONS(IP_VEC_OF_ROW)
#undef IP_VEC_OF_ROW
#undef IP_VEC_OF_Elementwise
#undef IP_VEC_OF_Rowwise
#undef IP_VEC_OF_Dropout

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // IP_KERNELS_CPU_ACTIVATIONS_INL_H_
