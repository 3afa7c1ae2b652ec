// CUDA GEMM (own kernel and cuBLAS when compiled in), bias add, bias gradient, SGD and Adam
// against plain double-precision loops on the host. Every test skips, with the reason, when no
// usable GPU is present.
//
// GEMM operands, reference and tolerance: tests/gemm_test_util.h, as for the CPU GEMM.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/kernels.h"
#include "tests/cuda_test_util.h"
#include "tests/gemm_test_util.h"

namespace ip {
namespace {

#define IP_REQUIRE_GPU()                                                           \
  do {                                                                             \
    std::string ip_why_;                                                           \
    if (!cuda::available(&ip_why_)) GTEST_SKIP() << "no usable GPU: " << ip_why_; \
  } while (0)

const double kU = std::ldexp(1.0, -24);

using DeviceFloats = test::DeviceArray<float>;

using test::expect_close;
using test::kNaN;
using test::kSentinel;
using test::make_operands;
using test::Operands;
using test::Shape;

std::vector<float> run(const Operands& o) {
  DeviceFloats A(o.A), B(o.B), C(o.C0);
  cuda::gemm(o.ta, o.tb, o.M, o.N, o.K, o.alpha, A.get(), o.lda, B.get(), o.ldb, o.beta, C.get(), o.ldc);
  cuda::synchronize();
  return C.download();
}

std::string describe(const Operands& o, const char* backend) {
  return std::string(backend) + " " + (o.ta ? "T" : "N") + (o.tb ? "T" : "N") +
         " M=" + std::to_string(o.M) + " N=" + std::to_string(o.N) + " K=" + std::to_string(o.K) +
         " alpha=" + std::to_string(o.alpha) + " beta=" + std::to_string(o.beta);
}

struct Trans {
  bool ta, tb;
};
constexpr Trans kAllTrans[] = {{false, false}, {false, true}, {true, false}, {true, true}};

// The backends this build has: Own always, cuBLAS when set_gemm_backend accepts it.
std::vector<std::pair<cuda::GemmBackend, const char*>> backends() {
  std::vector<std::pair<cuda::GemmBackend, const char*>> list = {{cuda::GemmBackend::Own, "own"}};
  try {
    cuda::set_gemm_backend(cuda::GemmBackend::Cublas);
    list.push_back({cuda::GemmBackend::Cublas, "cublas"});
  } catch (const std::invalid_argument&) {
  }
  cuda::set_gemm_backend(cuda::GemmBackend::Own);
  return list;
}

void check_backends(const Operands& o) {
  for (const auto& [backend, name] : backends()) {
    cuda::set_gemm_backend(backend);
    expect_close(o, run(o), describe(o, name));
  }
  cuda::set_gemm_backend(cuda::GemmBackend::Own);
}

TEST(CudaGemm, ShapesAndTransposes) {
  IP_REQUIRE_GPU();
  const Shape all_trans[] = {{1, 1, 1}, {1, 1024, 16}, {65, 1023, 17}, {64, 1024, 1024}, {129, 130, 9}};
  unsigned seed = 1;
  for (const Shape& s : all_trans)
    for (const Trans& t : kAllTrans) check_backends(make_operands(t.ta, t.tb, s, 1.0f, 0.0f, 0, seed++));
  // Each Linear layer's own case: forward NT, dW = dy^T x (TN), dx = dy W (NN); many row blocks.
  struct Case {
    Trans t;
    Shape s;
  };
  const Case cases[] = {{{false, true}, {128, 1024, 784}}, {{true, false}, {1024, 1024, 64}},
                        {{true, false}, {1024, 784, 128}}, {{false, false}, {128, 784, 1024}},
                        {{false, true}, {2000, 300, 257}}};
  for (const Case& c : cases) check_backends(make_operands(c.t.ta, c.t.tb, c.s, 1.0f, 0.0f, 0, seed++));
}

TEST(CudaGemm, AlphaBetaPaddingOddSizes) {
  IP_REQUIRE_GPU();
  unsigned seed = 100;
  for (const Trans& t : kAllTrans)
    for (float alpha : {1.0f, -0.75f})
      for (float beta : {0.0f, 1.0f, 0.5f})
        for (Shape s : {Shape{3, 5, 7}, Shape{131, 67, 33}, Shape{17, 200, 300}}) {
          check_backends(make_operands(t.ta, t.tb, s, alpha, beta, 1 + seed % 3, seed));
          ++seed;
        }
}

TEST(CudaGemm, EmptyDimensionsAndRepeatability) {
  IP_REQUIRE_GPU();
  // K == 0 with beta == 0 turns NaN into zeros; with beta, C is scaled.
  for (float beta : {0.0f, 0.5f}) {
    std::vector<float> c0(6, beta == 0.0f ? kNaN : 4.0f), one(1, 1.0f);
    DeviceFloats A(one), B(one), C(c0);
    cuda::gemm(false, false, 2, 3, 0, 1.0f, A.get(), 1, B.get(), 3, beta, C.get(), 3);
    for (float c : C.download()) EXPECT_EQ(c, beta == 0.0f ? 0.0f : 2.0f);
  }
  std::vector<float> m(16);
  DeviceFloats A(m), B(m), C(m);
  EXPECT_THROW(cuda::gemm(false, false, 2, 2, 4, 1.0f, A.get(), 3, B.get(), 2, 0.0f, C.get(), 2),
               std::invalid_argument);
  // The own kernel sums each element in a fixed order: two runs agree bit for bit.
  const Operands o = make_operands(false, true, {300, 257, 1000}, 1.0f, 0.0f, 0, 7);
  const std::vector<float> first = run(o), second = run(o);
  EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(float)));
}

TEST(CudaBias, AddBiasAndSumRows) {
  IP_REQUIRE_GPU();
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> U(-1.0f, 1.0f);
  for (Shape s : {Shape{1, 1, 0}, Shape{3, 17, 0}, Shape{128, 1024, 0}, Shape{1000, 33, 0}}) {
    std::vector<float> y(s.M * s.N), bias(s.N), start(s.N);
    for (float& v : y) v = U(rng);
    for (float& v : bias) v = U(rng);
    for (float& v : start) v = U(rng);
    DeviceFloats dy(y), db(bias);
    cuda::add_bias_rows(dy.get(), db.get(), s.M, s.N);
    const std::vector<float> out = dy.download();
    for (size_t i = 0; i < s.M * s.N; ++i) ASSERT_EQ(out[i], y[i] + bias[i % s.N]) << i;
    for (bool accumulate : {false, true}) {
      DeviceFloats src(y), sums(start);
      cuda::sum_rows(src.get(), s.M, s.N, sums.get(), accumulate);
      const std::vector<float> got = sums.download();
      for (size_t j = 0; j < s.N; ++j) {
        double want = accumulate ? start[j] : 0.0, mag = accumulate ? std::fabs(start[j]) : 0.0;
        for (size_t i = 0; i < s.M; ++i) {
          want += y[i * s.N + j];
          mag += std::fabs(y[i * s.N + j]);
        }
        ASSERT_NEAR(got[j], want, (double(s.M) + 1.0) * kU * mag + 1e-30) << "column " << j;
      }
    }
  }
}

TEST(CudaOptim, SgdMatchesDoubleReference) {
  IP_REQUIRE_GPU();
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> U(-1.0f, 1.0f);
  cuda::SgdConfig configs[4];
  configs[0].lr = 0.01f;
  configs[1].lr = 0.01f, configs[1].momentum = 0.9f;
  configs[2].lr = 0.05f, configs[2].momentum = 0.8f, configs[2].dampening = 0.3f, configs[2].weight_decay = 0.01f;
  configs[3].lr = 0.02f, configs[3].momentum = 0.9f, configs[3].nesterov = true, configs[3].weight_decay = 0.001f;
  for (const cuda::SgdConfig& c : configs) {
    const size_t n = 10007;
    std::vector<float> p(n), b(n, -7.0f);
    for (float& x : p) x = U(rng);
    std::vector<double> rp(p.begin(), p.end()), rb(n, 0.0), scale(n);
    for (size_t i = 0; i < n; ++i) scale[i] = std::fabs(p[i]);
    DeviceFloats dp(p), db(b);
    for (int s = 0; s < 5; ++s) {
      std::vector<float> g(n);
      for (float& x : g) x = U(rng);
      DeviceFloats dg(g);
      cuda::sgd_step(dp.get(), dg.get(), c.momentum != 0 ? db.get() : nullptr, n, c, s == 0);
      for (size_t i = 0; i < n; ++i) {
        double gi = g[i];
        if (c.weight_decay != 0) gi += double(c.weight_decay) * rp[i];
        if (c.momentum != 0) {
          rb[i] = s == 0 ? gi : double(c.momentum) * rb[i] + (1.0 - double(c.dampening)) * gi;
          gi = c.nesterov ? gi + double(c.momentum) * rb[i] : rb[i];
        }
        rp[i] -= double(c.lr) * gi;
        scale[i] += std::fabs(rp[i]) + std::fabs(rb[i]) * (1 + c.momentum);
      }
    }
    const std::vector<float> got = dp.download(), buf = db.download();
    for (size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], rp[i], 64 * kU * scale[i]) << i;
      if (c.momentum != 0) {
        ASSERT_NEAR(buf[i], rb[i], 64 * kU * scale[i]) << i;
      }
    }
  }
}

TEST(CudaOptim, AdamMatchesDoubleReference) {
  IP_REQUIRE_GPU();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> U(-1.0f, 1.0f);
  cuda::AdamConfig configs[2];
  configs[0].lr = 1e-4f;
  configs[1].lr = 0.01f, configs[1].weight_decay = 0.1f, configs[1].beta1 = 0.8f, configs[1].beta2 = 0.99f;
  for (const cuda::AdamConfig& c : configs) {
    const size_t n = 10007;
    std::vector<float> p(n), zeros(n, 0.0f);
    for (float& x : p) x = U(rng);
    std::vector<double> rp(p.begin(), p.end()), rm(n, 0.0), rv(n, 0.0), mscale(n, 0.0);
    DeviceFloats dp(p), dm(zeros), dv(zeros);
    const int steps = 6;
    for (int t = 1; t <= steps; ++t) {
      std::vector<float> g(n);
      const float amp = t % 2 ? 1.0f : 1e-7f;  // tiny gradients, where eps matters
      for (float& x : g) x = amp * U(rng);
      DeviceFloats dg(g);
      cuda::adam_step(dp.get(), dg.get(), dm.get(), dv.get(), n, c, t);
      const double b1 = c.beta1, b2 = c.beta2;
      for (size_t i = 0; i < n; ++i) {
        double gi = g[i];
        if (c.weight_decay != 0) gi += double(c.weight_decay) * rp[i];
        rm[i] = b1 * rm[i] + (1 - b1) * gi;
        mscale[i] = b1 * mscale[i] + (1 - b1) * std::fabs(gi);
        rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
        const double denom = std::sqrt(rv[i]) / std::sqrt(1 - std::pow(b2, t)) + double(c.eps);
        rp[i] -= double(c.lr) / (1 - std::pow(b1, t)) * rm[i] / denom;
      }
    }
    const std::vector<float> got = dp.download(), m = dm.download(), v = dv.download();
    for (size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], rp[i], 64 * kU * (std::fabs(rp[i]) + steps * double(c.lr))) << i;
      ASSERT_NEAR(m[i], rm[i], 64 * kU * mscale[i]) << i;
      ASSERT_NEAR(v[i], rv[i], 64 * kU * rv[i]) << i;
    }
  }
}

TEST(CudaOptim, RejectsInvalidArguments) {
  // Argument checks happen before any CUDA call, so they hold without a GPU too.
  cuda::SgdConfig c;
  c.nesterov = true;
  EXPECT_THROW(cuda::sgd_step(nullptr, nullptr, nullptr, 0, c, true), std::invalid_argument);
  EXPECT_THROW(cuda::adam_step(nullptr, nullptr, nullptr, nullptr, 0, {}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace ip
