// CPU GEMM, bias add and bias gradient against plain double-precision loops, on every SIMD target.
//
// Tolerance: C[i,j] is a K-term float sum. Its rigorous error bound is about K * u * S with
// u = 2^-24 and S = |alpha| * sum_k |a_ik b_kj| + |beta c_ij|; rounding errors of random data
// add up like a random walk, so we allow (2 * sqrt(K) + 4) * u * S (about 4e-6 * S for K = 1024).
// That is far above what a correct kernel produces and far below what a wrong one does: losing
// or duplicating a single product changes C by about S / K (1e-3 * S at K = 1024).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/linalg.h"

namespace {

using ip::cpu::gemm;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kSentinel = 12345.0f;  // written into C's padding; must survive every call

struct Shape {
  size_t M, N, K;
};

struct Operands {
  bool ta = false, tb = false;
  size_t M = 0, N = 0, K = 0;
  size_t lda = 0, ldb = 0, ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
  std::vector<float> A, B, C0;   // storage with padding; C0 is C before the call
  std::vector<double> ref, mag;  // expected C and its error scale S (valid part, M x N)
};

// Builds operands with `pad` extra columns in every leading dimension. Padding of A and B holds
// NaN (reading it would poison C); C's padding holds a sentinel. With beta == 0, C holds NaN.
Operands make_operands(bool ta, bool tb, Shape s, float alpha, float beta, size_t pad,
                       unsigned seed) {
  Operands o;
  o.ta = ta, o.tb = tb, o.M = s.M, o.N = s.N, o.K = s.K, o.alpha = alpha, o.beta = beta;
  const size_t a_rows = ta ? s.K : s.M, a_cols = ta ? s.M : s.K;
  const size_t b_rows = tb ? s.N : s.K, b_cols = tb ? s.K : s.N;
  o.lda = a_cols + pad, o.ldb = b_cols + pad, o.ldc = s.N + pad;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> U(-1.0f, 1.0f);
  auto fill = [&](std::vector<float>& v, size_t rows, size_t cols, size_t ld, float pad_value,
                  bool valid_nan) {
    v.assign(std::max<size_t>(rows * ld, 1), pad_value);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) v[r * ld + c] = valid_nan ? kNaN : U(rng);
  };
  fill(o.A, a_rows, a_cols, o.lda, kNaN, false);
  fill(o.B, b_rows, b_cols, o.ldb, kNaN, false);
  fill(o.C0, s.M, s.N, o.ldc, kSentinel, beta == 0.0f);

  // op(A) as M x K and op(B) transposed as N x K in double, so each reference entry is a
  // contiguous dot product.
  std::vector<double> a(s.M * s.K), bt(s.N * s.K);
  for (size_t i = 0; i < s.M; ++i)
    for (size_t k = 0; k < s.K; ++k) a[i * s.K + k] = ta ? o.A[k * o.lda + i] : o.A[i * o.lda + k];
  for (size_t j = 0; j < s.N; ++j)
    for (size_t k = 0; k < s.K; ++k) bt[j * s.K + k] = tb ? o.B[j * o.ldb + k] : o.B[k * o.ldb + j];
  o.ref.assign(s.M * s.N, 0.0);
  o.mag.assign(s.M * s.N, 0.0);
  for (size_t i = 0; i < s.M; ++i) {
    for (size_t j = 0; j < s.N; ++j) {
      double sum = 0, abs_sum = 0;
      const double* ar = &a[i * s.K];
      const double* br = &bt[j * s.K];
      for (size_t k = 0; k < s.K; ++k) {
        sum += ar[k] * br[k];
        abs_sum += std::fabs(ar[k] * br[k]);
      }
      double r = double(alpha) * sum, m = std::fabs(double(alpha)) * abs_sum;
      if (beta != 0.0f) {
        r += double(beta) * o.C0[i * o.ldc + j];
        m += std::fabs(double(beta) * o.C0[i * o.ldc + j]);
      }
      o.ref[i * s.N + j] = r;
      o.mag[i * s.N + j] = m;
    }
  }
  return o;
}

std::vector<float> run(const Operands& o) {
  std::vector<float> C = o.C0;
  gemm(o.ta, o.tb, o.M, o.N, o.K, o.alpha, o.A.data(), o.lda, o.B.data(), o.ldb, o.beta, C.data(),
       o.ldc);
  return C;
}

// Compares a result with the reference; reports at most a few mismatches.
void expect_close(const Operands& o, const std::vector<float>& C, const std::string& what) {
  const double u = std::ldexp(1.0, -24);
  const double factor = (2.0 * std::sqrt(double(o.K)) + 4.0) * u;
  int reported = 0;
  size_t bad = 0;
  for (size_t i = 0; i < o.M; ++i) {
    for (size_t j = 0; j < o.ldc; ++j) {
      const float got = C[i * o.ldc + j];
      if (j >= o.N) {  // padding of C must be untouched
        if (got != kSentinel && reported++ < 5) ADD_FAILURE() << what << ": wrote C padding";
        continue;
      }
      const double want = o.ref[i * o.N + j];
      const double tol = factor * o.mag[i * o.N + j] + 1e-30;
      if (!(std::fabs(double(got) - want) <= tol)) {
        ++bad;
        if (reported++ < 5) {
          ADD_FAILURE() << what << ": C[" << i << "," << j << "] = " << got << ", expected "
                        << want << " (tolerance " << tol << ")";
        }
      }
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

std::string describe(const Operands& o) {
  return std::string(o.ta ? "T" : "N") + (o.tb ? "T" : "N") + " M=" + std::to_string(o.M) +
         " N=" + std::to_string(o.N) + " K=" + std::to_string(o.K) +
         " alpha=" + std::to_string(o.alpha) + " beta=" + std::to_string(o.beta) +
         " target=" + ip::cpu::current_target();
}

// Runs the case on every available target, then restores automatic dispatch.
void check_all_targets(const Operands& o) {
  for (const std::string& t : ip::cpu::available_targets()) {
    ip::cpu::force_target(t);
    expect_close(o, run(o), describe(o));
  }
  ip::cpu::force_target("auto");
}

struct Trans {
  bool ta, tb;
};
constexpr Trans kAllTrans[] = {{false, false}, {false, true}, {true, false}, {true, true}};

TEST(CpuGemm, SmallAndOddShapesAllTransposes) {
  const Shape shapes[] = {{1, 1, 1}, {1, 1024, 16}, {65, 1023, 17}, {2, 3, 1000}};
  unsigned seed = 1;
  for (const Shape& s : shapes)
    for (const Trans& t : kAllTrans) check_all_targets(make_operands(t.ta, t.tb, s, 1.0f, 0.0f, 0, seed++));
}

TEST(CpuGemm, ExperimentShapes) {
  // The rand model's batch (64 x 1024 by 1024) in all transposes, then each Linear layer's own
  // case: forward y = x W^T (NT), dW = dy^T x (TN, K = batch), dx = dy W (NN); MNIST's first
  // layer is 128 x 784 -> 1024, its last 1024 -> 10 (dx = dy W with K = 10, dW = dy^T x with
  // M = 10).
  struct Case {
    Trans t;
    Shape s;
  };
  const Case cases[] = {{{false, false}, {64, 1024, 1024}}, {{false, true}, {64, 1024, 1024}},
                        {{true, false}, {64, 1024, 1024}},  {{true, true}, {64, 1024, 1024}},
                        {{false, true}, {128, 1024, 784}},  {{true, false}, {1024, 1024, 64}},
                        {{true, false}, {1024, 784, 128}},  {{false, false}, {128, 784, 1024}},
                        {{false, true}, {64, 16, 1024}},    {{true, false}, {16, 1024, 64}},
                        {{false, false}, {128, 1024, 10}},  {{true, false}, {10, 1024, 128}},
                        // rand_power's small scales: 1 and 10 rows through both layers
                        {{false, true}, {1, 1024, 1024}},   {{false, true}, {10, 16, 1024}}};
  unsigned seed = 50;
  for (const Case& c : cases) check_all_targets(make_operands(c.t.ta, c.t.tb, c.s, 1.0f, 0.0f, 0, seed++));
}

TEST(CpuGemm, SmallOddShapesWithPaddingAlphaBeta) {
  const size_t Ms[] = {1, 2, 3, 5, 7, 8, 9, 13, 17, 33};
  const size_t Ns[] = {1, 3, 15, 16, 17, 47, 48, 49, 100};
  const size_t Ks[] = {1, 2, 7, 129, 300};
  const float alphas[] = {1.0f, -0.75f};
  const float betas[] = {0.0f, 1.0f, 0.5f};
  unsigned seed = 100;
  for (size_t M : Ms)
    for (size_t N : Ns)
      for (size_t K : Ks) {
        // Vary transposes, alpha, beta and padding across the sweep instead of taking all
        // combinations of everything: every pairing still appears many times.
        const Trans t = kAllTrans[seed % 4];
        const float alpha = alphas[(seed / 4) % 2];
        const float beta = betas[(seed / 8) % 3];
        const size_t pad = (seed / 2) % 3;
        check_all_targets(make_operands(t.ta, t.tb, {M, N, K}, alpha, beta, pad, seed));
        ++seed;
      }
}

// x · Bᵀ with at most 12 rows takes the unpacked dot-product path: cover each row-block size
// (1-4 rows, and more than one block), the 8- and 4-row B steps and their single-row remainder,
// the 64-row B tiles, and K below, at and past a vector with a scalar tail.
TEST(CpuGemm, SkinnyProductsEveryBlockAndTail) {
  unsigned seed = 300;
  for (size_t M : {1, 2, 3, 4, 5, 8, 11, 12, 13})
    for (size_t N : {1, 7, 8, 9, 63, 64, 65, 200})
      for (size_t K : {1, 15, 16, 17, 1003}) {
        const float beta = seed % 3 == 0 ? 0.0f : (seed % 3 == 1 ? 1.0f : -0.5f);
        check_all_targets(make_operands(false, true, {M, N, K}, 1.25f, beta, seed % 3, seed));
        ++seed;
      }
}

TEST(CpuGemm, AllAlphaBetaAndTransposeCombinations) {
  unsigned seed = 500;
  for (const Trans& t : kAllTrans)
    for (float alpha : {1.0f, 2.5f, -1.0f})
      for (float beta : {0.0f, 1.0f, -0.5f}) {
        check_all_targets(make_operands(t.ta, t.tb, {37, 131, 259}, alpha, beta, 3, seed++));
      }
}

TEST(CpuGemm, EmptyDimensions) {
  std::vector<float> A(4, 1.0f), B(4, 1.0f), C(4, kNaN);
  // K == 0: C = beta * C; with beta == 0 garbage C becomes 0.
  gemm(false, false, 2, 2, 0, 1.0f, A.data(), 1, B.data(), 2, 0.0f, C.data(), 2);
  for (float c : C) EXPECT_EQ(c, 0.0f);
  C.assign(4, 3.0f);
  gemm(false, true, 2, 2, 0, 1.0f, A.data(), 1, B.data(), 1, 0.5f, C.data(), 2);
  for (float c : C) EXPECT_EQ(c, 1.5f);
  // M == 0 or N == 0: nothing is touched.
  C.assign(4, kSentinel);
  gemm(false, false, 0, 2, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 2);
  gemm(false, false, 2, 0, 2, 1.0f, A.data(), 2, B.data(), 1, 0.0f, C.data(), 1);
  for (float c : C) EXPECT_EQ(c, kSentinel);
  // alpha == 0: A and B are not used (NaN there must not matter).
  std::vector<float> An(4, kNaN);
  C.assign(4, 2.0f);
  gemm(false, false, 2, 2, 2, 0.0f, An.data(), 2, An.data(), 2, 1.0f, C.data(), 2);
  for (float c : C) EXPECT_EQ(c, 2.0f);
}

TEST(CpuGemm, RejectsShortLeadingDimension) {
  std::vector<float> A(16), B(16), C(16);
  EXPECT_THROW(gemm(false, false, 2, 2, 4, 1.0f, A.data(), 3, B.data(), 2, 0.0f, C.data(), 2),
               std::invalid_argument);
  EXPECT_THROW(gemm(false, true, 2, 2, 4, 1.0f, A.data(), 4, B.data(), 2, 0.0f, C.data(), 2),
               std::invalid_argument);
  EXPECT_THROW(gemm(false, false, 2, 4, 2, 1.0f, A.data(), 2, B.data(), 4, 0.0f, C.data(), 3),
               std::invalid_argument);
}

// Each C element's arithmetic must not depend on how the work is split among threads.
TEST(CpuGemm, BitIdenticalForAnyThreadCount) {
  const int saved = omp_get_max_threads();
  struct Case {
    Trans t;
    Shape s;
  };
  const Case cases[] = {{{false, true}, {64, 1024, 1024}},
                        {{true, false}, {1024, 1024, 64}},
                        {{false, false}, {128, 784, 1024}},
                        {{true, true}, {65, 1023, 17}},
                        {{false, true}, {300, 97, 513}},
                        // op(A) large enough (M * K > 4 Mi) to be packed per task, not shared
                        {{false, true}, {4200, 53, 1000}},
                        {{true, false}, {4200, 20, 1001}},
                        // the unpacked skinny path, split over B's rows
                        {{false, true}, {1, 1024, 1024}},
                        {{false, true}, {11, 1000, 1003}}};
  unsigned seed = 900;
  for (const Case& c : cases) {
    const Operands o = make_operands(c.t.ta, c.t.tb, c.s, 1.0f, 0.5f, 1, seed++);
    omp_set_num_threads(1);
    const std::vector<float> one = run(o);
    for (int threads : {2, 3}) {
      omp_set_num_threads(threads);
      const std::vector<float> many = run(o);
      EXPECT_EQ(0, std::memcmp(one.data(), many.data(), one.size() * sizeof(float)))
          << describe(o) << " differs between 1 and " << threads << " threads";
    }
    expect_close(o, one, describe(o));
  }
  omp_set_num_threads(saved);
}

TEST(CpuGemm, BlasBackend) {
  using ip::cpu::GemmBackend;
  if (!ip::cpu::blas_available()) {
    try {
      ip::cpu::set_gemm_backend(GemmBackend::Blas);
      ADD_FAILURE() << "set_gemm_backend(Blas) should throw without OpenBLAS";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("OpenBLAS"), std::string::npos) << e.what();
    }
    EXPECT_EQ(ip::cpu::gemm_backend(), GemmBackend::Own);
    GTEST_SKIP() << "built without OpenBLAS";
  }
  ip::cpu::set_gemm_backend(GemmBackend::Blas);
  EXPECT_EQ(ip::cpu::gemm_backend(), GemmBackend::Blas);
  unsigned seed = 1200;
  for (const Trans& t : kAllTrans) {
    for (float beta : {0.0f, 0.5f}) {
      const Operands o = make_operands(t.ta, t.tb, {65, 1023, 17}, 1.5f, beta, 2, seed++);
      expect_close(o, run(o), "blas " + describe(o));
    }
  }
  const Operands o = make_operands(false, true, {64, 1024, 1024}, 1.0f, 0.0f, 0, seed++);
  expect_close(o, run(o), "blas " + describe(o));
  ip::cpu::set_gemm_backend(GemmBackend::Own);
  EXPECT_EQ(ip::cpu::gemm_backend(), GemmBackend::Own);
}

TEST(CpuBias, AddBiasRows) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> U(-1.0f, 1.0f);
  for (const std::string& t : ip::cpu::available_targets()) {
    ip::cpu::force_target(t);
    for (Shape s : {Shape{1, 1, 0}, Shape{3, 17, 0}, Shape{64, 1024, 0}, Shape{129, 33, 0},
                    Shape{257, 1000, 0}}) {
      std::vector<float> y(s.M * s.N), bias(s.N);
      for (float& v : y) v = U(rng);
      for (float& v : bias) v = U(rng);
      std::vector<float> out = y;
      ip::cpu::add_bias_rows(out.data(), bias.data(), s.M, s.N);
      for (size_t i = 0; i < s.M; ++i)
        for (size_t j = 0; j < s.N; ++j)
          // A single float addition is exact up to rounding: compare with the float sum.
          ASSERT_EQ(out[i * s.N + j], y[i * s.N + j] + bias[j]) << t << " at " << i << "," << j;
    }
  }
  ip::cpu::force_target("auto");
}

TEST(CpuBias, SumRowsMatchesDoubleAndIsThreadInvariant) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> U(-1.0f, 1.0f);
  const int saved = omp_get_max_threads();
  const double u = std::ldexp(1.0, -24);
  for (const std::string& t : ip::cpu::available_targets()) {
    ip::cpu::force_target(t);
    for (Shape s : {Shape{1, 1, 0}, Shape{5, 17, 0}, Shape{128, 1024, 0}, Shape{64, 10, 0},
                    Shape{1000, 300, 0}, Shape{0, 7, 0}}) {
      std::vector<float> dy(s.M * s.N), start(s.N);
      for (float& v : dy) v = U(rng);
      for (float& v : start) v = U(rng);
      for (bool accumulate : {false, true}) {
        omp_set_num_threads(1);
        std::vector<float> one = start;
        ip::cpu::sum_rows(dy.data(), s.M, s.N, one.data(), accumulate);
        omp_set_num_threads(2);
        std::vector<float> two = start;
        ip::cpu::sum_rows(dy.data(), s.M, s.N, two.data(), accumulate);
        EXPECT_EQ(0, std::memcmp(one.data(), two.data(), s.N * sizeof(float))) << t;
        for (size_t j = 0; j < s.N; ++j) {
          double want = accumulate ? start[j] : 0.0, mag = accumulate ? std::fabs(start[j]) : 0.0;
          for (size_t i = 0; i < s.M; ++i) {
            want += dy[i * s.N + j];
            mag += std::fabs(dy[i * s.N + j]);
          }
          // Sequential float sum of M + 1 terms: error <= (M + 1) u * sum |terms|.
          ASSERT_NEAR(one[j], want, (double(s.M) + 1.0) * u * mag + 1e-30)
              << t << " M=" << s.M << " N=" << s.N << " column " << j;
        }
      }
    }
  }
  omp_set_num_threads(saved);
  ip::cpu::force_target("auto");
}

}  // namespace
