// Scalar forward and backward math of every function in activation_list.h: the ground truth of
// every backend. CPU vector forms are tested against these, CUDA kernels call them directly, and
// instantiated with double they are the float64 reference of the gradient checks.
//
// Each elementwise function is a struct named like its table Id with
//   forward(x, p)     y = f(x)
//   derivative(x, p)  dy/dx at x; a backward kernel computes dx = dy * derivative(x, p)
// where p holds the table's two parameters. The formulas follow PyTorch 1.13 so that comparisons
// and non-finite inputs give what PyTorch gives (golden file, tests/golden/README.md): e.g. ReLU's
// gradient at NaN is 1 (PyTorch tests x <= 0), Hardtanh's is 0 (it tests min < x < max), and
// SiLU's at +inf is NaN (inf * 0 inside the product rule).
#pragma once

#include <cstddef>
#include <cstdint>
#include <math.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "activation_list.h"

#if defined(__CUDACC__)
#define IP_HD __host__ __device__ __forceinline__
#else
#define IP_HD inline
#endif

namespace ip {

template <typename T>
struct Params {
  T p0 = 0, p1 = 0;
};

// Table defaults as Params<T> (PReLU's p0 is the initial weight).
template <typename T>
constexpr Params<T> default_params(FunctionId id) {
  return {static_cast<T>(function_info(id).param_defaults[0]),
          static_cast<T>(function_info(id).param_defaults[1])};
}

namespace math {

// libm by precision, callable on host and device.
IP_HD float exp_(float x) { return ::expf(x); }
IP_HD double exp_(double x) { return ::exp(x); }
IP_HD float expm1_(float x) { return ::expm1f(x); }
IP_HD double expm1_(double x) { return ::expm1(x); }
IP_HD float log1p_(float x) { return ::log1pf(x); }
IP_HD double log1p_(double x) { return ::log1p(x); }
IP_HD float log_(float x) { return ::logf(x); }
IP_HD double log_(double x) { return ::log(x); }
IP_HD float tanh_(float x) { return ::tanhf(x); }
IP_HD double tanh_(double x) { return ::tanh(x); }
IP_HD float erfc_(float x) { return ::erfcf(x); }
IP_HD double erfc_(double x) { return ::erfc(x); }
IP_HD float abs_(float x) { return ::fabsf(x); }
IP_HD double abs_(double x) { return ::fabs(x); }

// 0 for finite x, NaN for ±inf and NaN: reproduces the NaN that PyTorch's formulas produce at
// infinities (inf - inf, inf * 0) where a rewritten formula would not.
template <typename T>
IP_HD T nan_unless_finite(T x) {
  return x - x;
}

// Sigmoid through -|x| so exp never overflows.
template <typename T>
IP_HD T sigmoid(T x) {
  const T e = exp_(-abs_(x));
  const T r = T(1) / (T(1) + e);
  return x >= T(0) ? r : e * r;
}

// log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)).
template <typename T>
IP_HD T softplus(T x) {
  return (x > T(0) ? x : T(0)) + log1p_(exp_(-abs_(x)));
}

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
constexpr double kSqrt1_2 = 0.70710678118654752440;          // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;       // 1/sqrt(2*pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;      // sqrt(2/pi)
constexpr double kGeluTanhKappa = 0.044715;
// Beyond this |x| the tanh-GELU's tanh is ±1 in float64 too; clamping keeps x^3 finite.
constexpr double kGeluTanhSaturation = 10.0;

}  // namespace math

// ---- element-wise functions (kind Elementwise) ------------------------------------------------

struct CELU {  // p0 = alpha
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    return x > T(0) ? x : p.p0 * math::expm1_(x / p.p0);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    return x > T(0) ? T(1) : math::exp_(x / p.p0);
  }
};

struct ELU {  // p0 = alpha
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    return x > T(0) ? x : p.p0 * math::expm1_(x);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    return x > T(0) ? T(1) : p.p0 * math::exp_(x);
  }
};

struct GELU {  // exact: x * Phi(x); erfc keeps the left tail accurate
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return T(0.5) * x * math::erfc_(-x * T(math::kSqrt1_2));
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    const T cdf = T(0.5) * math::erfc_(-x * T(math::kSqrt1_2));
    const T pdf = T(math::kInvSqrt2Pi) * math::exp_(T(-0.5) * x * x);
    return cdf + x * pdf;
  }
};

struct GELU_tanh {  // PyTorch's approximate='tanh'
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    const T inner = T(math::kSqrt2OverPi) * (x + T(math::kGeluTanhKappa) * x * x * x);
    return T(0.5) * x * (T(1) + math::tanh_(inner));
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    // PyTorch's product rule; x is clamped inside the polynomial only, where tanh has saturated,
    // so float32 x^2 cannot overflow to inf * 0 = NaN for finite x (inf itself still gives NaN).
    const T lim = T(math::kGeluTanhSaturation);
    const T xc = x > lim ? lim : (x < -lim ? -lim : x);
    const T t = math::tanh_(T(math::kSqrt2OverPi) * (xc + T(math::kGeluTanhKappa) * xc * xc * xc));
    const T dinner = T(math::kSqrt2OverPi) * (T(1) + T(3 * math::kGeluTanhKappa) * xc * xc);
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * dinner;
  }
};

struct Hardshrink {  // p0 = lambd
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    return (x >= -p.p0 && x <= p.p0) ? T(0) : x;
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    return (x < -p.p0 || x > p.p0) ? T(1) : T(0);
  }
};

struct Hardtanh {  // p0 = min_val, p1 = max_val
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    return x < p.p0 ? p.p0 : (x > p.p1 ? p.p1 : x);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    return (x > p.p0 && x < p.p1) ? T(1) : T(0);
  }
};

struct LeakyReLU {  // p0 = negative_slope
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    return x > T(0) ? x : x * p.p0;
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    return x > T(0) ? T(1) : p.p0;
  }
};

struct LogSigmoid {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return -math::softplus(-x);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    return math::sigmoid(-x);
  }
};

struct PReLU {  // p0 = the layer's weight
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    return x > T(0) ? x : p.p0 * x;
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    return x > T(0) ? T(1) : p.p0;
  }
  // d y / d weight for one element; the weight gradient is the sum of dy * this.
  template <typename T>
  static IP_HD T weight_derivative(T x) {
    return x > T(0) ? T(0) : x;
  }
};

struct RReLU {  // p0 = lower, p1 = upper; this is eval mode: slope (lower + upper) / 2
  template <typename T>
  static IP_HD T eval_slope(Params<T> p) {
    return (p.p0 + p.p1) / T(2);
  }
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    return x > T(0) ? x : x * eval_slope(p);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    return x > T(0) ? T(1) : eval_slope(p);
  }
  // Train mode: slope for a uniform draw u in [0, 1).
  template <typename T>
  static IP_HD T train_slope(T u, Params<T> p) {
    return p.p0 + (p.p1 - p.p0) * u;
  }
};

struct ReLU {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return x < T(0) ? T(0) : x;  // NaN passes through, as in PyTorch's clamp_min
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    return x <= T(0) ? T(0) : T(1);  // PyTorch's threshold_backward: NaN gives 1
  }
};

struct ReLU6 {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return x < T(0) ? T(0) : (x > T(6) ? T(6) : x);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    return (x > T(0) && x < T(6)) ? T(1) : T(0);
  }
};

struct SELU {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return T(math::kSeluScale) * (x > T(0) ? x : T(math::kSeluAlpha) * math::expm1_(x));
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    return x > T(0) ? T(math::kSeluScale)
                    : T(math::kSeluScale * math::kSeluAlpha) * math::exp_(x);
  }
};

struct Sigmoid {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return math::sigmoid(x);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    const T s = math::sigmoid(x);
    return s * (T(1) - s);
  }
};

struct Softplus {  // p0 = beta, p1 = threshold
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    const T bx = x * p.p0;
    return bx > p.p1 ? x : math::softplus(bx) / p.p0;
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    const T bx = x * p.p0;
    return bx > p.p1 ? T(1) : math::sigmoid(bx);
  }
};

struct Softshrink {  // p0 = lambd
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    return x > p.p0 ? x - p.p0 : (x < -p.p0 ? x + p.p0 : T(0));  // NaN gives 0, as PyTorch
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    return (x > p.p0 || x < -p.p0) ? T(1) : T(0);
  }
};

struct Softsign {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return x / (T(1) + math::abs_(x));
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    const T r = T(1) / (T(1) + math::abs_(x));
    return r * r + math::nan_unless_finite(x);  // PyTorch's quotient rule gives NaN at ±inf
  }
};

struct Tanh {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return math::tanh_(x);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    const T t = math::tanh_(x);
    return T(1) - t * t;
  }
};

struct Tanhshrink {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return x - math::tanh_(x);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    const T t = math::tanh_(x);
    return t * t;
  }
};

struct SiLU {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return x * math::sigmoid(x);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    const T s = math::sigmoid(x);
    return s * (T(1) + x * (T(1) - s));
  }
};

struct Mish {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return x * math::tanh_(math::softplus(x));
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    const T t = math::tanh_(math::softplus(x));
    return t + x * math::sigmoid(x) * (T(1) - t * t);
  }
};

struct Hardswish {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    T r = x + T(3);
    r = r < T(0) ? T(0) : (r > T(6) ? T(6) : r);
    // x * (r / 6), not x * r / 6: for x near FLT_MAX the product x * 6 would overflow to inf
    // where PyTorch's float64 value is x. -inf * 0 still gives NaN, as in PyTorch.
    return x * (r / T(6));
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    // PyTorch's vectorised backward: 0 below -3, 1 from 3 on (so 1 at x = 3, not 3/3 + 0.5),
    // x/3 + 1/2 in between; NaN falls through to the middle branch and stays NaN.
    return x < T(-3) ? T(0) : (x >= T(3) ? T(1) : x / T(3) + T(0.5));
  }
};

struct Hardsigmoid {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    T r = x + T(3);
    r = r < T(0) ? T(0) : (r > T(6) ? T(6) : r);
    return r / T(6);
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T>) {
    return (x > T(-3) && x < T(3)) ? T(1) / T(6) : T(0);
  }
};

struct Identity {
  template <typename T>
  static IP_HD T forward(T x, Params<T>) {
    return x;
  }
  template <typename T>
  static IP_HD T derivative(T, Params<T>) {
    return T(1);
  }
};

struct Threshold {  // p0 = threshold, p1 = value
  template <typename T>
  static IP_HD T forward(T x, Params<T> p) {
    return x <= p.p0 ? p.p1 : x;
  }
  template <typename T>
  static IP_HD T derivative(T x, Params<T> p) {
    return x <= p.p0 ? T(0) : T(1);
  }
};

// ---- row-wise functions (kind Rowwise), over one row of n features --------------------------
// Forward: y = f(x). Backward: dx from the forward output y and the upstream gradient dy.
// A row of all -inf gives NaN, as in PyTorch.

template <typename T>
IP_HD T row_max(const T* x, size_t n, T sign) {
  T m = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    const T v = sign * x[i];
    m = (v > m || v != v) ? v : m;  // NaN wins, so it propagates
  }
  return m;
}

struct Softmax {  // Softmin reuses it with sign -1: softmin(x) = softmax(-x)
  template <typename T>
  static IP_HD void forward_row(const T* x, T* y, size_t n, T sign = T(1)) {
    const T m = row_max(x, n, sign);
    T sum = 0;
    for (size_t i = 0; i < n; ++i) {
      y[i] = math::exp_(sign * x[i] - m);
      sum += y[i];
    }
    const T inv = T(1) / sum;
    for (size_t i = 0; i < n; ++i) y[i] *= inv;
  }
  // dx = y * (dy - sum(dy * y))
  template <typename T>
  static IP_HD void backward_row(const T* y, const T* dy, T* dx, size_t n, T sign = T(1)) {
    T dot = 0;
    for (size_t i = 0; i < n; ++i) dot += dy[i] * y[i];
    for (size_t i = 0; i < n; ++i) dx[i] = sign * y[i] * (dy[i] - dot);
  }
};

struct Softmin {
  template <typename T>
  static IP_HD void forward_row(const T* x, T* y, size_t n) {
    Softmax::forward_row(x, y, n, T(-1));
  }
  template <typename T>
  static IP_HD void backward_row(const T* y, const T* dy, T* dx, size_t n) {
    Softmax::backward_row(y, dy, dx, n, T(-1));
  }
};

struct LogSoftmax {
  // y = x - max - log(sum(exp(x - max)))
  template <typename T>
  static IP_HD void forward_row(const T* x, T* y, size_t n) {
    const T m = row_max(x, n, T(1));
    T sum = 0;
    for (size_t i = 0; i < n; ++i) sum += math::exp_(x[i] - m);
    const T log_sum = math::log_(sum);
    for (size_t i = 0; i < n; ++i) y[i] = x[i] - m - log_sum;
  }
  // dx = dy - exp(y) * sum(dy)
  template <typename T>
  static IP_HD void backward_row(const T* y, const T* dy, T* dx, size_t n) {
    T sum = 0;
    for (size_t i = 0; i < n; ++i) sum += dy[i];
    for (size_t i = 0; i < n; ++i) dx[i] = dy[i] - math::exp_(y[i]) * sum;
  }
};

// ---- dropout (kind Dropout), train mode ------------------------------------------------------
// Every variant is y = keep ? x * scale + offset : x * 0 + dropped_value, with keep decided by
// philox.h from (seed, mask index). PyTorch computes dropped elements as x * 0 too, so inf/NaN
// inputs give NaN there. Constants are rounded to float32 as PyTorch does for float32 tensors.
// A zero offset or dropped_value is not added: PyTorch's plain dropout is the product x * mask *
// scale, which keeps the sign of zero (-0 * s = -0, -2 * 0 = -0), and + 0 would turn -0 into +0.
// Backward: dx = keep ? dy * scale : 0.

struct DropoutConstants {
  uint32_t keep_below;   // keep when the 24-bit draw is < keep_below; (1 - p) * 2^24
  float scale;           // multiplier of kept elements
  float offset;          // added to kept elements (AlphaDropout's b)
  float dropped_value;   // value of dropped elements, before adding x * 0
  bool by_row;           // one mask per row (Dropout3d on 2-D input) instead of per element
};

// AlphaDropout: ATen's hard-coded alpha = SELU scale * alpha.
constexpr double kAlphaDropoutAlpha = 1.7580993408473766;

// Dropout, Dropout2d (element-wise on 2-D input), Dropout3d (whole rows on 2-D input).
inline DropoutConstants scaled_dropout_constants(double p, bool by_row) {
  DropoutConstants c{};
  c.by_row = by_row;
  if (p >= 1.0) return c;  // PyTorch returns x * 0 for p == 1: never keep, dropped value 0
  c.keep_below = static_cast<uint32_t>((1.0 - p) * 16777216.0 + 0.5);
  c.scale = static_cast<float>(1.0 / (1.0 - p));
  return c;
}

struct Dropout {
  static DropoutConstants constants(double p) { return scaled_dropout_constants(p, false); }
};
struct Dropout2d {
  static DropoutConstants constants(double p) { return scaled_dropout_constants(p, false); }
};
struct Dropout3d {
  static DropoutConstants constants(double p) { return scaled_dropout_constants(p, true); }
};

struct AlphaDropout {
  // kept: a * x + b; dropped: a * alpha' + b, alpha' = -alpha; a, b as in ATen (golden README).
  static DropoutConstants constants(double p) {
    DropoutConstants c = scaled_dropout_constants(p, false);
    if (p >= 1.0) return c;
    const double alpha = kAlphaDropoutAlpha;
    const double a = 1.0 / std::sqrt((alpha * alpha * p + 1.0) * (1.0 - p));
    const float alpha_a = static_cast<float>(alpha * a);
    const float b = static_cast<float>(alpha * a * p);
    c.scale = static_cast<float>(a);
    c.offset = b;
    c.dropped_value = -alpha_a + b;  // (d - 1) * (alpha * a) + alpha * a * p, in float32
    return c;
  }
};

template <typename T>
IP_HD T dropout_apply(T x, bool keep, const DropoutConstants& c) {
  if (keep) return c.offset == 0.0f ? x * T(c.scale) : x * T(c.scale) + T(c.offset);
  return c.dropped_value == 0.0f ? x * T(0) : x * T(0) + T(c.dropped_value);
}

template <typename T>
IP_HD T dropout_gradient(T dy, bool keep, const DropoutConstants& c) {
  return keep ? dy * T(c.scale) : T(0);
}

// ---- from a table row to its scalar-form struct (named after the row's Id) ----------------

template <FunctionId kId>
struct MathOf;
#define IP_MATH_OF_ROW(Id, ...) \
  template <>                   \
  struct MathOf<FunctionId::Id> { using type = ::ip::Id; };
INFERENCEPOWER_FUNCTIONS(IP_MATH_OF_ROW)
#undef IP_MATH_OF_ROW

template <FunctionId kId>
using Math = typename MathOf<kId>::type;

// Train-mode constants of a dropout row; throws for other kinds.
inline DropoutConstants dropout_constants(FunctionId id, double p) {
  if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("dropout probability must be in [0, 1]");
  return visit_function(id, [&](auto fid) -> DropoutConstants {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind == KernelKind::Dropout) {
      return Math<decltype(fid)::value>::constants(p);
    } else {
      throw std::invalid_argument(std::string(function_info(id).name) + " is not a dropout");
    }
  });
}

}  // namespace ip
