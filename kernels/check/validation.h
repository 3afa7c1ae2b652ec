// What "correct" means for a kernel, in one place: the value classes results are sorted into, the
// tolerances a result is judged by, and the inputs it is tried on. Used by the golden-file checker
// (kernel_check.h, check_kernels), by kernel_bench's validation of the CUDA kernel variants
// (experiments/cuda_variants) and by the kernel tests, CPU and CUDA.
//
// Header only, and no dependency beyond the activation table: the CUDA tests and variants link
// the CUDA kernels without the checker library.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/common/activation_list.h"

namespace ip::check {

// ---- value classes -----------------------------------------------------------------------------
// Non-finite results are never judged by a tolerance: their class must match exactly.

enum class ValueClass { Finite, NaN, PosInf, NegInf };

inline ValueClass classify(double v) {
  if (std::isnan(v)) return ValueClass::NaN;
  if (std::isinf(v)) return v > 0 ? ValueClass::PosInf : ValueClass::NegInf;
  return ValueClass::Finite;
}

// The class of a float64 reference as float32 would hold it (overflow rounds to infinity): the
// float32 result of a correct kernel is the reference rounded to float32, so 1e39 is +inf and
// FLT_MAX * (1 + 2^-25) is still finite.
inline ValueClass classify_reference(double v) { return classify(static_cast<float>(v)); }

inline const char* class_name(ValueClass c) {
  switch (c) {
    case ValueClass::Finite: return "finite";
    case ValueClass::NaN: return "nan";
    case ValueClass::PosInf: return "+inf";
    case ValueClass::NegInf: return "-inf";
  }
  return "?";
}

inline bool same_class(float got, float want) { return classify(got) == classify(want); }

// ---- tolerances against PyTorch (golden files, float64 references) ------------------------------
// An element passes when its absolute or its relative error is within tolerance. No function is
// given a looser bound: every scalar form and kernel meets the defaults.

struct Tolerance {
  double abs = 0, rel = 0;
};
inline Tolerance forward_tolerance(FunctionId) { return {1e-6, 2e-6}; }
inline Tolerance grad_tolerance(FunctionId) { return {1e-4, 1e-4}; }

// ---- tolerances against the scalar forms in float (CUDA kernels and their variants) -------------

// Spacing of floats at |v|.
inline double ulp_of(float v) {
  const float a = std::fabs(v);
  return static_cast<double>(std::nextafter(a, std::numeric_limits<float>::infinity())) - a;
}

// An element-wise result against the scalar form's float result. Non-finite: the same class.
// Finite: at most 4 ulp of the reference apart, or at most 1e-6 * scale with
// scale = max(1, |want|, x_scale); x_scale is 0 for forward results and 1 + |x| for gradients.
// The ulp bound covers CUDA's libm (expf and tanhf 2 ulp, erfcf 4 ulp in the CUDA Programming
// Guide) against glibc's (about 1 ulp) and nvcc's FMA contraction of a + b * c (the host does not
// contract). The absolute part covers the formulas that subtract quantities of size about 1
// (1 - tanh^2, 1 - sigmoid, x - tanh x, 1 + tanh in the tanh-GELU's left tail): there a few ulp
// of 1 (6e-8 each) become a large relative error of a small result. In the gradients of Mish,
// SiLU and the tanh-GELU such a difference is multiplied by a factor growing with x (x * sigmoid,
// 0.5 x (1 + 0.134 x^2) * 0.8 until tanh rounds to 1 near x = 5.1), which the 1 + |x| allows
// for; upstream gradients are in [-1, 1].
inline bool elementwise_close(float got, float want, double x_scale) {
  if (!std::isfinite(want) || !std::isfinite(got)) return same_class(got, want);
  const double diff = std::fabs(static_cast<double>(got) - want);
  const double scale = std::max({1.0, std::fabs(static_cast<double>(want)), x_scale});
  return diff <= 4.0 * ulp_of(want) || diff <= 1e-6 * scale;
}

// Bit-identical, except that any NaN equals any NaN (CUDA and x86 give different NaN payloads).
// For results that must not depend on the backend at all (RReLU's random slopes, dropout).
inline bool identical(float got, float want) {
  if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want);
  return std::memcmp(&got, &want, sizeof(float)) == 0;
}

// ---- inputs ------------------------------------------------------------------------------------

// The golden file's edge cases, in the file's order (tests/golden/README.md; regenerate.py reads
// them from `check_kernels --list-functions --json`): zeros of both signs, tiny values, the
// kinks of the table's default parameters (±0.5, ±3, 6, 20), values where exp and softplus
// saturate or overflow (±20, ±30, ±50, ±88, ±88.8, ±100), huge values and non-finite ones.
inline constexpr float kGoldenEdgeCases[] = {
    0.f,   -0.f,  1e-8f, -1e-8f, 1e-30f, 0.5f,   -0.5f,  0.50000006f, -0.50000006f, 1.f,
    -1.f,  2.5f,  -2.5f, 3.f,    -3.f,   6.f,    -6.f,   6.0000005f,  10.f,         -10.f,
    19.99f, 20.f, 20.01f, -20.f, 30.f,   -30.f,  50.f,   -50.f,       88.f,         -88.f,
    88.8f, -88.8f, 100.f, -100.f, 1e4f,  -1e4f,  3.4e38f, -3.4e38f,
    std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
    std::numeric_limits<float>::quiet_NaN()};

// More edge cases for the kernel tests: subnormals, points where the vector forms switch between
// approximations (polynomial ranges, clamps: ±0.7, ±√2, ±1.5, ±5, ±14) and Threshold's 0.1 with
// its float neighbours.
inline constexpr float kKernelEdgeCases[] = {
    -1e-30f, 1e-40f, -1e-40f, 0.7f, -0.7f, 1.4142135f, -1.4142135f, 1.5f, -1.5f, 5.f, -5.f,
    14.f,    -14.f,  0.1f,    -0.1f, 0.09999999f, 0.10000001f, 0.0999999f, 0.1000001f};

// Every edge case: the golden file's, then the kernel tests' own.
inline std::vector<float> edge_case_inputs() {
  std::vector<float> v(std::begin(kGoldenEdgeCases), std::end(kGoldenEdgeCases));
  v.insert(v.end(), std::begin(kKernelEdgeCases), std::end(kKernelEdgeCases));
  return v;
}

// n inputs for an element-wise kernel: the edge cases first, then alternately N(0, 4^2) and
// U(-12, 12) draws, the distributions of the golden file's random inputs.
inline std::vector<float> test_inputs(size_t n, uint32_t seed) {
  const std::vector<float> edges = edge_case_inputs();
  std::vector<float> v(n);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 4.f);
  std::uniform_real_distribution<float> uniform(-12.f, 12.f);
  for (size_t i = 0; i < n; ++i) v[i] = i < edges.size() ? edges[i] : (i % 2 ? normal(rng) : uniform(rng));
  return v;
}

// n values uniform in [lo, hi) (upstream gradients, row-wise inputs).
inline std::vector<float> uniform_values(size_t n, uint32_t seed, float lo, float hi) {
  std::vector<float> v(n);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (float& f : v) f = u(rng);
  return v;
}

}  // namespace ip::check
