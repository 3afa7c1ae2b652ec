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

#include "hwy/highway.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/cpu/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Shorthands used by every form below.
#define IP_VEC_FORM template <class D, class V> static HWY_INLINE V
#define IP_ONE hn::Set(d, 1.0f)
#define IP_ZERO hn::Zero(d)

struct CELU {  // p0 = alpha
  IP_VEC_FORM forward(D d, V x, V p0, V) {
    const V inv_alpha = hn::Div(IP_ONE, p0);
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), x, hn::Mul(p0, vmath::Expm1NonPositive(d, hn::Mul(x, inv_alpha))));
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V) {
    const V inv_alpha = hn::Div(IP_ONE, p0);
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), IP_ONE, vmath::Exp(d, hn::Mul(x, inv_alpha)));
  }
};

struct ELU {  // p0 = alpha
  IP_VEC_FORM forward(D d, V x, V p0, V) {
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), x, hn::Mul(p0, vmath::Expm1NonPositive(d, x)));
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V) {
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), IP_ONE, hn::Mul(p0, vmath::Exp(d, x)));
  }
};

struct GELU {  // exact: x * Phi(x), Phi from our erf/erfc (math-inl.h)
  IP_VEC_FORM forward(D d, V x, V, V) {
    return hn::Mul(x, vmath::NormalParts<D, V>(d, x).cdf);  // -inf * 0 = NaN, as the scalar form
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    const vmath::NormalParts<D, V> n(d, x);
    return hn::MulAdd(x, n.pdf, n.cdf);  // ±inf * 0 = NaN, as the scalar form
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
    const V v = TwiceInner(d, x);  // ±inf for huge x: sigmoid gives 1 or 0, as tanh's ±1
    // x sigmoid(v) = (v >= 0 ? x : x e) r: the select before the last product, one op fewer than
    // forming sigmoid first. -inf: v = -inf, e = 0, -inf * 0 = NaN as the scalar form; NaN: x e.
    const vmath::SigmoidParts<D, V> s(d, v);
    return hn::Mul(hn::IfThenElse(hn::Ge(v, IP_ZERO), x, hn::Mul(x, s.e)), s.r);
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    // The scalar form clamps x to ±10 inside the polynomial (tanh has saturated there). Min/Max
    // may turn NaN into a bound; the x - x added at the end makes the result NaN anyway.
    const V lim = hn::Set(d, float(math::kGeluTanhSaturation));
    const V xc = hn::Min(hn::Max(x, hn::Neg(lim)), lim);
    const V v = TwiceInner(d, xc);
    const vmath::SigmoidParts<D, V> s(d, v);
    const V sp = s.Positive(d, v), sn = s.Negative(d, v);
    const V dinner = hn::Mul(hn::MulAdd(hn::Mul(xc, xc), hn::Set(d, float(3 * math::kGeluTanhKappa)), IP_ONE),
                             hn::Set(d, float(math::kSqrt2OverPi)));
    // 0.5 x (1 - t^2) dinner = 2 x sp sn dinner. Beyond the clamp the scalar form's 1 - t^2 is
    // exactly 0 (and the true term below 1e-36), while ours is ~1e-38 and x huge: zero it there.
    const V second = hn::IfThenZeroElse(hn::Gt(hn::Abs(x), lim),
                                        hn::Mul(hn::Mul(hn::Add(x, x), hn::Mul(sp, sn)), dinner));
    // That makes ±inf give inf * 0 = NaN in the scalar form; add x - x (NaN exactly for ±inf and
    // NaN, else 0) to match.
    return hn::Add(hn::Add(sp, second), hn::Sub(x, x));
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
    return vmath::KeepNaN(d, x, vmath::SigmoidParts<D, V>(d, x).Negative(d, x));
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

struct SELU {
  IP_VEC_FORM forward(D d, V x, V, V) {
    const V neg = hn::Mul(hn::Set(d, float(math::kSeluAlpha)), vmath::Expm1NonPositive(d, x));
    return hn::Mul(hn::Set(d, float(math::kSeluScale)), hn::IfThenElse(hn::Gt(x, IP_ZERO), x, neg));
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    const V neg = hn::Mul(hn::Set(d, float(math::kSeluScale * math::kSeluAlpha)), vmath::Exp(d, x));
    return hn::IfThenElse(hn::Gt(x, IP_ZERO), hn::Set(d, float(math::kSeluScale)), neg);
  }
};

struct Sigmoid {
  IP_VEC_FORM forward(D d, V x, V, V) { return vmath::Sigmoid(d, x); }
  IP_VEC_FORM derivative(D d, V x, V, V) {  // s (1 - s) = sigmoid(x) sigmoid(-x)
    const vmath::SigmoidParts<D, V> s(d, x);
    return vmath::KeepNaN(d, x, hn::Mul(s.e, hn::Mul(s.r, s.r)));
  }
};

struct Softplus {  // p0 = beta, p1 = threshold
  // softplus(bx) / beta = (max(bx, 0) + log1p(e)) / beta, e = exp(-|bx|). The 1 / beta goes into
  // log1p's coefficients (loop-invariant products), and for beta > 0 max(bx, 0) / beta is
  // max(x, 0) (without bx's rounding): one FMA after the polynomial instead of FMA and multiply.
  // The branch tests a loop-invariant lane (predicted, or unswitched by the compiler); beta <= 0
  // keeps max(bx, 0) / beta. Huge x with beta > 1 (bx = inf): e = 0, y = x, as the scalar form.
  // With beta > 0 and threshold >= 15 (the defaults: 1, 20) the threshold select is skipped: where
  // bx > threshold, y = x + e P(e) / beta with e P(e) / beta < e^-15 / beta < 2^-24 x, so y rounds
  // to x (or its neighbour), which the scalar form returns there.
  IP_VEC_FORM forward(D d, V x, V p0, V p1) {
    const V bx = hn::Mul(x, p0);
    const V inv_beta = hn::Div(IP_ONE, p0);
    const V e = vmath::ExpNegAbs(d, bx);
    const float beta = hn::GetLane(p0);
    // NaN is carried by lin (MaxKeepNaN), e is 0 for it.
    const V lin = beta > 0.0f ? vmath::MaxKeepNaN(d, x, IP_ZERO)
                              : hn::Mul(vmath::MaxKeepNaN(d, bx, IP_ZERO), inv_beta);
    const V y = hn::MulAdd(e, vmath::Log1pUnitQuotient(d, e, inv_beta), lin);
    if (beta > 0.0f && hn::GetLane(p1) >= 15.0f) return y;
    return hn::IfThenElse(hn::Gt(bx, p1), x, y);
  }
  IP_VEC_FORM derivative(D d, V x, V p0, V p1) {
    const V bx = hn::Mul(x, p0);
    return hn::IfThenElse(hn::Gt(bx, p1), IP_ONE, vmath::Sigmoid(d, bx));
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
    // 1 - tanh^2 x = 4 e / (1 + e)^2 with e = exp(-2|x|): accurate where tanh rounds to ±1.
    const V two_x = hn::Add(x, x);
    const vmath::SigmoidParts<D, V> s(d, two_x);
    return vmath::KeepNaN(d, x, hn::Mul(hn::Mul(hn::Set(d, 4.0f), s.e), hn::Mul(s.r, s.r)));
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
  IP_VEC_FORM forward(D d, V x, V, V) {
    return hn::Mul(x, vmath::SigmoidParts<D, V>(d, x).Positive(d, x));  // NaN carried by x
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {  // s (1 + x (1 - s)), with 1 - s = sigmoid(-x)
    const vmath::SigmoidParts<D, V> s(d, x);
    return hn::Mul(s.Positive(d, x), hn::MulAdd(x, s.Negative(d, x), IP_ONE));
  }
};

// tanh(softplus(x)) = n / (n + 2) with n = e^x (e^x + 2): one exp, no log, and relative accuracy
// in the left tail (it tends to e^x). x is clamped to [-104, 20] (the ratio is 1 in float32 at
// 20, e^-104 is 0), NaN passing the clamp and then every op: no NaN select.
struct Mish {
  template <class D, class V>
  static HWY_INLINE V ExpClamped(D d, V x) {
    const V xc = vmath::MaxKeepNaN(d, vmath::MinKeepNaN(d, x, hn::Set(d, 20.0f)), hn::Set(d, -104.0f));
    const vmath::ExpReduced<D, V, 4> e(d, xc);  // degree 4: exp only, no expm1
    return vmath::MulPow2(d, e.ExpR(d), e.n);
  }
  IP_VEC_FORM forward(D d, V x, V, V) {
    const V ex = ExpClamped(d, x);
    const V n = hn::Mul(ex, hn::Add(ex, hn::Set(d, 2.0f)));
    // n + 2 in [2, 2^58]: vmath::Reciprocal's range. -inf: ex = 0, -inf * 0 = NaN (scalar form).
    return hn::Mul(x, hn::Mul(n, vmath::Reciprocal(d, hn::Add(n, hn::Set(d, 2.0f)))));
  }
  IP_VEC_FORM derivative(D d, V x, V, V) {
    // t + x sigmoid(x) (1 - t^2) with 1 - t^2 = 4 (n + 1) / (n + 2)^2 and sigmoid(x) = ex / (1 + ex).
    // n + 1 = (1 + ex)^2, so sigmoid(x) (1 - t^2) = 4 ex (1 + ex) / (n + 2)^2: one reciprocal.
    const V ex = ExpClamped(d, x);
    const V ex1 = hn::Add(ex, IP_ONE);
    const V n = hn::Mul(ex, hn::Add(ex, hn::Set(d, 2.0f)));
    const V r = vmath::Reciprocal(d, hn::Add(n, hn::Set(d, 2.0f)));
    const V t = hn::Mul(n, r);
    const V sig_one_minus_t2 = hn::Mul(hn::Mul(hn::Set(d, 4.0f), hn::Mul(ex, ex1)), hn::Mul(r, r));
    // Above the clamp (x > 20) the true second term x 4 e^-2x is below 1e-15 and the scalar form's
    // 1 - t^2 is exactly 0; ours would stay at 4 e^-40 and grow with x, so zero it.
    const V second = hn::IfThenZeroElse(hn::Gt(x, hn::Set(d, 20.0f)), hn::Mul(x, sig_one_minus_t2));
    const V y = hn::Add(t, second);
    // The scalar form gives inf * 0 = NaN at +inf: x - x restores it (and carries NaN).
    return hn::Add(y, hn::Sub(x, x));
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
