// CPU element-wise activation kernels (kernels/cpu/activations.cc) against the scalar forms of
// activation_math.h, on every SIMD target compiled in and supported by this CPU.
//
// Accuracy criterion for finite results. ref64 is the scalar form evaluated in double on the same
// float inputs (the function's true value there), ref32 the scalar form in float, w the upstream
// gradient (1 for forward), M the largest |f| (or |f'| for backward) in double at x +- 0.25 and
// x +- 0.5, and eps = 2^-23:
//   |got - ref64| <= max(4 |ref32 - ref64|, 8 eps |ref64|, 8 eps |w| M) + floor
// - 8 eps |ref64| (8 ulp): where libm is accurate (almost everywhere) this is a few-ulp check, so a
//   wrong formula, constant or branch fails it;
// - 4 |ref32 - ref64|: the vector form may be 4x as far from the truth as the float32 scalar form
//   where that formula is itself ill-conditioned in float32 (e.g. the GELU-tanh tail);
// - 8 eps |w| M: near a zero of f or f' the value is a difference of terms of size ~M (x - tanh x
//   near 0, cdf + x pdf near x = -0.75), which no float32 formula evaluates to better than ~eps M;
// - floor = 1e-15 |w| max(1, |x|), because the float64 scalar forms themselves compute 1 + tanh u,
//   s (1 - s) and 1 - tanh^2 by cancellation and read 0 once the true value is below ~1e-16 of
//   their O(1) (or O(x)) terms.
// Non-finite results must have exactly the scalar float form's class (NaN, +inf, -inf, finite).
#include <omp.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/check/validation.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/reference_kernels.h"
#include "kernels/cpu/kernels.h"
#include "tests/cpu_test_util.h"

namespace ip {
namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> test_inputs() {
  std::vector<float> v = check::edge_case_inputs();
  std::mt19937 rng(12345);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::uniform_real_distribution<float> uni12(-12.0f, 12.0f), uni100(-100.0f, 100.0f);
  for (int i = 0; i < 3000; ++i) v.push_back(normal(rng));
  for (int i = 0; i < 3000; ++i) v.push_back(uni12(rng));
  for (int i = 0; i < 300; ++i) v.push_back(uni100(rng));
  return v;
}

using check::class_name;
using check::classify;
using check::ValueClass;

// The documented criterion (top of file). Returns an empty string when `got` passes.
std::string check_value(float got, float ref32, double ref64, float x = 0.0f, double w = 1.0,
                        double m = 0.0) {
  const ValueClass cg = classify(got), cr = classify(ref32);
  if (cg != cr) return std::string("class ") + class_name(cg) + " != scalar " + class_name(cr);
  if (cg != ValueClass::Finite) return "";
  // The float form may overflow where double does not (or the reverse); judge against it then.
  const double truth = std::isfinite(ref64) ? ref64 : double(ref32);
  const double eps = std::ldexp(1.0, -23);
  const double err = std::fabs(double(got) - truth);
  const double scalar_err = std::fabs(double(ref32) - truth);
  const double floor = 1e-15 * std::fabs(w) * std::max(1.0, std::fabs(double(x)));
  const double tol =
      std::max({4.0 * scalar_err, 8.0 * eps * std::fabs(truth), 8.0 * eps * std::fabs(w) * m}) + floor;
  if (err <= tol) return "";
  char buf[200];
  std::snprintf(buf, sizeof buf, "got %.9g, float scalar %.9g, double %.17g (err %.3g, tol %.3g)",
                double(got), double(ref32), ref64, err, tol);
  return buf;
}

template <FunctionId kId>
struct Eval {
  static float fwd32(float x, Params<float> p) { return Math<kId>::forward(x, p); }
  static double fwd64(float x, Params<double> p) { return Math<kId>::forward(double(x), p); }
  static float der32(float x, Params<float> p) { return Math<kId>::derivative(x, p); }
  static double der64(float x, Params<double> p) { return Math<kId>::derivative(double(x), p); }
};

// Scalar references for one function, at float and double precision.
struct ScalarRefs {
  std::vector<float> fwd32, bwd32;
  std::vector<double> fwd64, bwd64;
  std::vector<double> fwd_m, bwd_m;  // M of the criterion: largest |f|, |f'| near x
};

ScalarRefs scalar_refs(FunctionId id, const std::vector<float>& x, const std::vector<float>& dy,
                       Params<float> p) {
  ScalarRefs r;
  const Params<double> pd{double(p.p0), double(p.p1)};
  visit_function(id, [&](auto fid) {
    constexpr FunctionId kId = decltype(fid)::value;
    if constexpr (FunctionTraits<kId>::kind == KernelKind::Elementwise) {
      for (size_t i = 0; i < x.size(); ++i) {
        r.fwd32.push_back(Eval<kId>::fwd32(x[i], p));
        r.fwd64.push_back(Eval<kId>::fwd64(x[i], pd));
        r.bwd32.push_back(dy[i] * Eval<kId>::der32(x[i], p));
        r.bwd64.push_back(double(dy[i]) * Eval<kId>::der64(x[i], pd));
        double mf = 0, mb = 0;
        for (double off : {-0.5, -0.25, 0.25, 0.5}) {
          const double xn = double(x[i]) + off;
          const double f = Math<kId>::forward(xn, pd), g = Math<kId>::derivative(xn, pd);
          if (std::isfinite(f)) mf = std::max(mf, std::fabs(f));
          if (std::isfinite(g)) mb = std::max(mb, std::fabs(g));
        }
        r.fwd_m.push_back(mf);
        r.bwd_m.push_back(mb);
      }
    }
  });
  return r;
}

// Default parameters and a second set (each parameter x1.5) so the parameter plumbing is tested.
std::vector<Params<float>> param_sets(FunctionId id) {
  const Params<float> def = default_params<float>(id);
  std::vector<Params<float>> sets = {def};
  if (def.p0 != 0.0f || def.p1 != 0.0f) sets.push_back({def.p0 * 1.5f, def.p1 * 1.5f});
  return sets;
}

TEST(CpuActivations, TargetsAreAvailableAndForcible) {
  const std::vector<std::string> targets = cpu::available_targets();
  ASSERT_FALSE(targets.empty());
  for (const std::string& t : targets) {
    CpuDispatchGuard guard(t);
    EXPECT_EQ(cpu::current_target(), t);
  }
}

TEST(CpuActivations, MatchScalarFormsOnEveryTarget) {
  const std::vector<float> x = test_inputs();
  std::vector<float> dy(x.size());
  std::mt19937 rng(777);
  std::uniform_real_distribution<float> uni(-2.0f, 2.0f);
  for (float& v : dy) v = uni(rng);
  dy[0] = 1.0f;

  for (const std::string& target : cpu::available_targets()) {
    CpuDispatchGuard guard(target);
    for (FunctionId id : functions_of_kind(KernelKind::Elementwise)) {
      for (const Params<float>& p : param_sets(id)) {
        SCOPED_TRACE(target + " " + function_info(id).name + " p=(" + std::to_string(p.p0) + ", " +
                     std::to_string(p.p1) + ")");
        const ScalarRefs ref = scalar_refs(id, x, dy, p);
        std::vector<float> y(x.size()), dx(x.size());
        cpu::activation_forward(id, x.data(), y.data(), x.size(), p);
        cpu::activation_backward(id, x.data(), dy.data(), dx.data(), x.size(), p);
        int failures = 0;
        for (size_t i = 0; i < x.size() && failures < 8; ++i) {
          const std::string f = check_value(y[i], ref.fwd32[i], ref.fwd64[i], x[i], 1.0, ref.fwd_m[i]);
          if (!f.empty()) {
            ++failures;
            ADD_FAILURE() << "forward at x = " << x[i] << ": " << f;
          }
          const std::string b = check_value(dx[i], ref.bwd32[i], ref.bwd64[i], x[i], dy[i], ref.bwd_m[i]);
          if (!b.empty()) {
            ++failures;
            ADD_FAILURE() << "backward at x = " << x[i] << ", dy = " << dy[i] << ": " << b;
          }
        }
      }
    }
  }
}

// The criterion itself must reject wrong answers (guards against a tautological test).
TEST(CpuActivations, CriterionRejectsWrongValues) {
  EXPECT_NE(check_value(1.0f + 1e-5f, 1.0f, 1.0), "");
  EXPECT_NE(check_value(0.0f, 2e-9f, 2.0611536e-9, -20.0f, 1.0, 3e-9), "");  // softplus(-20) flushed to 0
  EXPECT_NE(check_value(0.0f, 0.5f, 0.5, 1.0f, 1.0, 0.8), "");
  EXPECT_NE(check_value(1.0f, 0.0f, 0.0, 0.0f, 1.0, 1.0), "");  // ReLU'(0) = 1 instead of 0
  EXPECT_NE(check_value(kNaN, 0.0f, 0.0), "");
  EXPECT_NE(check_value(kInf, kNaN, std::nan("")), "");
  EXPECT_NE(check_value(-kInf, kInf, HUGE_VAL), "");
  EXPECT_EQ(check_value(1.0f, 1.0f, 1.0), "");
  EXPECT_EQ(check_value(kNaN, kNaN, std::nan("")), "");
}

// Every element gets the same vector code whatever its position: results for sizes 0..65 at
// offsets 0..3 from an aligned buffer, in and out of place, equal the full-array results bit for
// bit, and nothing outside [0, n) is written.
TEST(CpuActivations, SizesOffsetsAndInPlace) {
  const std::vector<float> base = test_inputs();
  const size_t kMax = 65;
  std::vector<float> xs(base.begin() + 20, base.begin() + 20 + kMax + 3);  // edge and random values
  xs[5] = kNaN;
  xs[7] = -kInf;
  std::vector<float> dys(xs.size());
  for (size_t i = 0; i < dys.size(); ++i) dys[i] = 0.25f * float(i % 7) - 0.6f;
  const float kGuard = -1234.5f;

  for (const std::string& target : cpu::available_targets()) {
    CpuDispatchGuard guard(target);
    for (FunctionId id : functions_of_kind(KernelKind::Elementwise)) {
      SCOPED_TRACE(target + " " + function_info(id).name);
      const Params<float> p = default_params<float>(id);
      for (size_t off = 0; off < 4; ++off) {
        for (size_t n = 0; n <= kMax; ++n) {
          const float* x = xs.data() + off;
          const float* dy = dys.data() + off;
          std::vector<float> want_y(n), want_dx(n);
          for (size_t i = 0; i < n; ++i) {  // one element at a time: the tail path only
            cpu::activation_forward(id, x + i, &want_y[i], 1, p);
            cpu::activation_backward(id, x + i, dy + i, &want_dx[i], 1, p);
          }
          // 64-byte aligned storage, used from `off` floats in, guards around [off, off + n).
          alignas(64) float out[kMax + 8];
          std::fill(std::begin(out), std::end(out), kGuard);
          cpu::activation_forward(id, x, out + off, n, p);
          for (size_t i = 0; i < kMax + 8; ++i) {
            if (i >= off && i < off + n) {
              ASSERT_EQ(0, std::memcmp(&out[i], &want_y[i - off], sizeof(float)))
                  << "forward n=" << n << " off=" << off << " i=" << i - off;
            } else {
              ASSERT_EQ(out[i], kGuard) << "forward wrote outside, n=" << n << " off=" << off;
            }
          }
          std::fill(std::begin(out), std::end(out), kGuard);
          cpu::activation_backward(id, x, dy, out + off, n, p);
          for (size_t i = 0; i < kMax + 8; ++i) {
            if (i >= off && i < off + n) {
              ASSERT_EQ(0, std::memcmp(&out[i], &want_dx[i - off], sizeof(float)))
                  << "backward n=" << n << " off=" << off << " i=" << i - off;
            } else {
              ASSERT_EQ(out[i], kGuard) << "backward wrote outside, n=" << n << " off=" << off;
            }
          }
          // In place: y == x, then dx == dy and dx == x.
          alignas(64) float buf[kMax + 8], buf2[kMax + 8];
          std::copy(x, x + n, buf + off);
          cpu::activation_forward(id, buf + off, buf + off, n, p);
          ASSERT_EQ(0, n ? std::memcmp(buf + off, want_y.data(), n * sizeof(float)) : 0) << "y == x, n=" << n;
          std::copy(dy, dy + n, buf + off);
          cpu::activation_backward(id, x, buf + off, buf + off, n, p);
          ASSERT_EQ(0, n ? std::memcmp(buf + off, want_dx.data(), n * sizeof(float)) : 0) << "dx == dy, n=" << n;
          std::copy(x, x + n, buf2 + off);
          cpu::activation_backward(id, buf2 + off, dy, buf2 + off, n, p);
          ASSERT_EQ(0, n ? std::memcmp(buf2 + off, want_dx.data(), n * sizeof(float)) : 0) << "dx == x, n=" << n;
        }
      }
    }
  }
}

std::vector<float> big_input(size_t n, uint32_t seed, float scale) {
  std::vector<float> v(n);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  for (float& f : v) f = normal(rng);
  return v;
}

// Runs f with a given OpenMP thread count, restoring the previous one.
template <class F>
void with_threads(int threads, F&& f) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  f();
  omp_set_num_threads(before);
}

TEST(CpuActivations, BitIdenticalForOneAndTwoThreads) {
  const size_t n = (size_t{1} << 20) + 3;
  const std::vector<float> x = big_input(n, 1, 4.0f), dy = big_input(n, 2, 1.0f);
  for (FunctionId id : {FunctionId::GELU, FunctionId::ReLU, FunctionId::Mish, FunctionId::Sigmoid,
                        FunctionId::Softplus}) {
    SCOPED_TRACE(function_info(id).name);
    const Params<float> p = default_params<float>(id);
    std::vector<float> y1(n), y2(n), d1(n), d2(n);
    with_threads(1, [&] {
      cpu::activation_forward(id, x.data(), y1.data(), n, p);
      cpu::activation_backward(id, x.data(), dy.data(), d1.data(), n, p);
    });
    with_threads(2, [&] {
      cpu::activation_forward(id, x.data(), y2.data(), n, p);
      cpu::activation_backward(id, x.data(), dy.data(), d2.data(), n, p);
    });
    EXPECT_EQ(0, std::memcmp(y1.data(), y2.data(), n * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(d1.data(), d2.data(), n * sizeof(float)));
    // And the last element (tail of the last chunk) is the function, not left over.
    std::vector<float> last(1);
    cpu::activation_forward(id, &x[n - 1], last.data(), 1, p);
    EXPECT_EQ(0, std::memcmp(&last[0], &y1[n - 1], sizeof(float)));
  }
  double g1 = 0, g2 = 0;
  with_threads(1, [&] { g1 = cpu::prelu_weight_grad(x.data(), dy.data(), n); });
  with_threads(2, [&] { g2 = cpu::prelu_weight_grad(x.data(), dy.data(), n); });
  EXPECT_EQ(0, std::memcmp(&g1, &g2, sizeof(double)));
  const Params<float> rp = default_params<float>(FunctionId::RReLU);
  std::vector<float> r1(n), r2(n), noise1(n), noise2(n), rd1(n), rd2(n);
  with_threads(1, [&] {
    cpu::rrelu_train_forward(x.data(), r1.data(), noise1.data(), n, rp, 99);
    cpu::rrelu_train_backward(noise1.data(), dy.data(), rd1.data(), n);
  });
  with_threads(2, [&] {
    cpu::rrelu_train_forward(x.data(), r2.data(), noise2.data(), n, rp, 99);
    cpu::rrelu_train_backward(noise2.data(), dy.data(), rd2.data(), n);
  });
  EXPECT_EQ(0, std::memcmp(r1.data(), r2.data(), n * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(noise1.data(), noise2.data(), n * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(rd1.data(), rd2.data(), n * sizeof(float)));
}

TEST(CpuActivations, PReLUWeightGradMatchesDoubleReference) {
  for (const std::string& target : cpu::available_targets()) {
    CpuDispatchGuard guard(target);
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{17}, size_t{1000}, size_t{16385},
                     size_t{100003}}) {
      SCOPED_TRACE(target + " n=" + std::to_string(n));
      const std::vector<float> x = big_input(n, 5 + uint32_t(n), 3.0f), dy = big_input(n, 9, 1.0f);
      const std::vector<double> xd(x.begin(), x.end()), dyd(dy.begin(), dy.end());
      const double want = reference::prelu_weight_grad(xd.data(), dyd.data(), n);
      double magnitude = 0;
      for (size_t i = 0; i < n; ++i) magnitude += std::fabs(dyd[i] * PReLU::weight_derivative(xd[i]));
      const double got = cpu::prelu_weight_grad(x.data(), dy.data(), n);
      EXPECT_NEAR(got, want, 1e-13 * magnitude + 1e-300);
      if (n > 0) {
        EXPECT_NE(got, 0.0);  // half the inputs are negative: a real sum
      }
    }
  }
  // Positive inputs contribute nothing, negative ones dy * x.
  const float x[] = {2.0f, -3.0f, 0.0f, -0.5f};
  const float dy[] = {100.0f, 2.0f, 7.0f, -4.0f};
  EXPECT_EQ(cpu::prelu_weight_grad(x, dy, 4), -6.0 + 0.0 + 2.0);
}

TEST(CpuActivations, RReLUTrainMatchesReferenceBitForBit) {
  const Params<float> p = default_params<float>(FunctionId::RReLU);
  for (const std::string& target : cpu::available_targets()) {
    CpuDispatchGuard guard(target);
    for (size_t n : {size_t{0}, size_t{1}, size_t{5}, size_t{33}, size_t{1025}, size_t{40001}}) {
      SCOPED_TRACE(target + " n=" + std::to_string(n));
      std::vector<float> x = big_input(n, 11, 2.0f);
      if (n > 3) x[1] = kNaN, x[2] = -kInf, x[3] = kInf;
      const std::vector<float> dy = big_input(n, 12, 1.0f);
      std::vector<float> y(n), want_y(n), dx(n), want_dx(n), slope(n), ones(n, 1.0f), noise(n);
      const uint64_t seed = 0x1234567890abcdefull;
      cpu::rrelu_train_forward(x.data(), y.data(), noise.data(), n, p, seed);
      reference::rrelu_train_forward(x.data(), want_y.data(), n, p, seed);
      // Backward from the stored noise equals the reference, which draws the slopes again.
      cpu::rrelu_train_backward(noise.data(), dy.data(), dx.data(), n);
      reference::rrelu_train_backward(x.data(), dy.data(), want_dx.data(), n, p, seed);
      if (n) {
        EXPECT_EQ(0, std::memcmp(y.data(), want_y.data(), n * sizeof(float)));
        EXPECT_EQ(0, std::memcmp(dx.data(), want_dx.data(), n * sizeof(float)));
      }
      // The noise is the factor applied: 1 for a positive element, else its drawn slope (NaN
      // and -inf included, as x > 0 is false for them).
      size_t wrong_noise = 0;
      for (size_t i = 0; i < n; ++i) {
        const float want = x[i] > 0 ? 1.0f : reference::rrelu_train_slope(seed, i, p);
        wrong_noise += std::memcmp(&noise[i], &want, sizeof(float)) != 0;
      }
      EXPECT_EQ(wrong_noise, 0u);
      // Without a noise buffer the output is the same.
      std::vector<float> y_only(n);
      cpu::rrelu_train_forward(x.data(), y_only.data(), nullptr, n, p, seed);
      if (n) {
        EXPECT_EQ(0, std::memcmp(y_only.data(), want_y.data(), n * sizeof(float)));
      }
      // With dy = 1 the gradient of a non-positive element is its slope, inside [lower, upper].
      cpu::rrelu_train_backward(noise.data(), ones.data(), slope.data(), n);
      int negative = 0;
      for (size_t i = 0; i < n; ++i) {
        if (x[i] > 0) {
          EXPECT_EQ(slope[i], 1.0f);
          EXPECT_EQ(y[i], x[i]);
        } else if (!std::isnan(x[i])) {
          ++negative;
          EXPECT_GE(slope[i], p.p0);
          EXPECT_LE(slope[i], p.p1);
          EXPECT_EQ(y[i], x[i] * slope[i]);
        }
      }
      if (n >= 1025) {
        // Slopes really vary (not the eval-mode mean), and another seed draws others.
        float lo = 1, hi = 0;
        for (size_t i = 0; i < n; ++i)
          if (x[i] <= 0 && !std::isnan(x[i])) lo = std::min(lo, slope[i]), hi = std::max(hi, slope[i]);
        EXPECT_LT(lo, p.p0 + 0.01f);
        EXPECT_GT(hi, p.p1 - 0.01f);
        std::vector<float> y2(n);
        cpu::rrelu_train_forward(x.data(), y2.data(), nullptr, n, p, seed + 1);
        EXPECT_NE(0, std::memcmp(y.data(), y2.data(), n * sizeof(float)));
        EXPECT_GT(negative, int(n / 4));
      }
      // In place.
      std::vector<float> inplace = x;
      cpu::rrelu_train_forward(inplace.data(), inplace.data(), noise.data(), n, p, seed);
      if (n) {
        EXPECT_EQ(0, std::memcmp(inplace.data(), want_y.data(), n * sizeof(float)));
      }
    }
  }
}

// Outputs of 64 MiB and more are written with streaming stores (streaming.h), with and without
// a noise buffer: the same bits as the reference on every target.
TEST(CpuActivations, RReLUTrainStreamedLargeOutputsMatchReference) {
  const Params<float> p = default_params<float>(FunctionId::RReLU);
  const size_t n = (size_t{64} << 20) / sizeof(float) + 5;
  const std::vector<float> x = big_input(n, 13, 2.0f);
  const uint64_t seed = 77;
  std::vector<float> want_y(n), want_noise(n), y(n), noise(n);
  reference::rrelu_train_forward(x.data(), want_y.data(), n, p, seed);
  for (size_t i = 0; i < n; ++i) want_noise[i] = x[i] > 0 ? 1.0f : reference::rrelu_train_slope(seed, i, p);
  for (const std::string& target : cpu::available_targets()) {
    CpuDispatchGuard guard(target);
    SCOPED_TRACE(target);
    std::fill(y.begin(), y.end(), 0.0f);
    cpu::rrelu_train_forward(x.data(), y.data(), noise.data(), n, p, seed);
    EXPECT_EQ(0, std::memcmp(y.data(), want_y.data(), n * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(noise.data(), want_noise.data(), n * sizeof(float)));
    std::fill(y.begin(), y.end(), 0.0f);
    cpu::rrelu_train_forward(x.data(), y.data(), nullptr, n, p, seed);
    EXPECT_EQ(0, std::memcmp(y.data(), want_y.data(), n * sizeof(float)));
  }
}

TEST(CpuActivations, RejectsOtherKinds) {
  float x[4] = {1, 2, 3, 4}, y[4], dy[4] = {1, 1, 1, 1};
  const Params<float> p{};
  for (FunctionId id : {FunctionId::Softmax, FunctionId::LogSoftmax, FunctionId::Softmin,
                        FunctionId::Dropout, FunctionId::AlphaDropout}) {
    EXPECT_THROW(cpu::activation_forward(id, x, y, 4, p), std::invalid_argument) << function_info(id).name;
    EXPECT_THROW(cpu::activation_backward(id, x, dy, y, 4, p), std::invalid_argument) << function_info(id).name;
  }
  EXPECT_NO_THROW(cpu::activation_forward(FunctionId::ReLU, x, y, 4, p));
}

// The exp/expm1/log1p/tanh/erf-based forms use our own fitted polynomials (math-inl.h): hold them
// to the criterion over a dense sweep, not only the random inputs above: a uniform grid of step
// 2^-12 over [-20, 20] (every reduction interval of exp many times over, both branches of every
// select) and magnitudes from 1e-38 to 100 of both signs in steps of 0.3% (relative accuracy near 0
// and in the tails). Default parameters, upstream gradient 1.
TEST(CpuActivations, TranscendentalFormsMatchDoubleOverDenseSweep) {
  std::vector<float> x;
  for (int i = -20 * 4096; i <= 20 * 4096; ++i) x.push_back(float(i) / 4096.0f);
  for (float m = 1e-38f; m < 100.0f; m *= 1.003f) {
    x.push_back(m);
    x.push_back(-m);
  }
  const std::vector<float> dy(x.size(), 1.0f);
  const FunctionId ids[] = {FunctionId::CELU, FunctionId::ELU, FunctionId::SELU, FunctionId::Sigmoid,
                            FunctionId::LogSigmoid, FunctionId::Softplus, FunctionId::Tanh,
                            FunctionId::Tanhshrink, FunctionId::SiLU, FunctionId::Mish,
                            FunctionId::GELU, FunctionId::GELU_tanh};
  for (FunctionId id : ids) {
    const Params<float> p = default_params<float>(id);
    const ScalarRefs ref = scalar_refs(id, x, dy, p);
    for (const std::string& target : cpu::available_targets()) {
      CpuDispatchGuard guard(target);
      SCOPED_TRACE(target + " " + function_info(id).name);
      std::vector<float> y(x.size()), dx(x.size());
      cpu::activation_forward(id, x.data(), y.data(), x.size(), p);
      cpu::activation_backward(id, x.data(), dy.data(), dx.data(), x.size(), p);
      int failures = 0;
      for (size_t i = 0; i < x.size() && failures < 4; ++i) {
        const std::string f = check_value(y[i], ref.fwd32[i], ref.fwd64[i], x[i], 1.0, ref.fwd_m[i]);
        const std::string b = check_value(dx[i], ref.bwd32[i], ref.bwd64[i], x[i], 1.0, ref.bwd_m[i]);
        if (!f.empty()) ADD_FAILURE() << "forward at x = " << x[i] << ": " << f;
        if (!b.empty()) ADD_FAILURE() << "backward at x = " << x[i] << ": " << b;
        failures += !f.empty() + !b.empty();
      }
    }
  }
}

// GELU's left tail is where a naive erf loses accuracy: hold it to the golden files' bound.
TEST(CpuActivations, GeluLeftTailWithinGoldenBound) {
  std::vector<float> x;
  for (float v = -14.0f; v <= 14.0f; v += 0.00731f) x.push_back(v);
  for (const std::string& target : cpu::available_targets()) {
    CpuDispatchGuard guard(target);
    std::vector<float> y(x.size());
    cpu::activation_forward(FunctionId::GELU, x.data(), y.data(), x.size(), {});
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = GELU::forward(double(x[i]), Params<double>{});
      const double err = std::fabs(y[i] - want);
      EXPECT_TRUE(err <= 2e-6 * std::fabs(want) || err <= 1e-6) << target << " x=" << x[i];
      if (std::fabs(want) > 1e-36) worst = std::max(worst, err / std::fabs(want));
    }
    EXPECT_LT(worst, 1e-6) << target;  // relative, over the normal float range
  }
}

}  // namespace
}  // namespace ip
