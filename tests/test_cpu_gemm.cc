// CPU GEMM, bias add and bias gradient against plain double-precision loops, on every SIMD target
// (operands, reference and tolerance: gemm_test_util.h).
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

#include "kernels/cpu/gemm_detail.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/linalg.h"
#include "tests/gemm_test_util.h"

namespace {

using ip::cpu::gemm;
using ip::test::expect_close;
using ip::test::kNaN;
using ip::test::kSentinel;
using ip::test::make_operands;
using ip::test::Operands;
using ip::test::Shape;

std::vector<float> run(const Operands& o) {
  std::vector<float> C = o.C0;
  gemm(o.ta, o.tb, o.M, o.N, o.K, o.alpha, o.A.data(), o.lda, o.B.data(), o.ldb, o.beta, C.data(),
       o.ldc);
  return C;
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
                        // op(A) read in place (N within one B sliver), split over row blocks
                        {{false, true}, {64, 16, 1024}},
                        {{false, true}, {2000, 16, 1000}},
                        {{false, false}, {640, 10, 1000}},
                        // op(B) read in place (at most 2 row tiles), two K slices, and packed
                        // from 3 row tiles on (AVX2's 6-row tiles)
                        {{true, false}, {10, 1024, 128}},
                        {{false, false}, {12, 2048, 300}},
                        {{true, false}, {16, 1024, 64}},
                        // shallow K: the block walked row tile by row tile
                        {{false, false}, {128, 1024, 10}},
                        {{true, true}, {67, 1001, 16}},
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

// Small products go parallel only where OpenMP's idle threads spin; libgomp's GOMP_SPINCOUNT
// decides before OMP_WAIT_POLICY, and an unparsable count is ignored as libgomp ignores it.
TEST(CpuGemm, ParallelThresholdFollowsHowIdleThreadsWait) {
  using ip::cpu::gemm_detail::parallel_min_flops;
  EXPECT_EQ(parallel_min_flops(nullptr, nullptr), 1e6);
  EXPECT_EQ(parallel_min_flops("active", nullptr), 1e6);
  EXPECT_EQ(parallel_min_flops("passive", nullptr), 1e7);
  EXPECT_EQ(parallel_min_flops("PASSIVE", nullptr), 1e7);
  EXPECT_EQ(parallel_min_flops(nullptr, "0"), 1e7);
  EXPECT_EQ(parallel_min_flops("active", "0k"), 1e7);
  EXPECT_EQ(parallel_min_flops("passive", "10000"), 1e6);
  EXPECT_EQ(parallel_min_flops("passive", "INFINITE"), 1e6);
  EXPECT_EQ(parallel_min_flops("passive", "bogus"), 1e7);
  EXPECT_EQ(parallel_min_flops(nullptr, "bogus"), 1e6);
  EXPECT_EQ(parallel_min_flops(nullptr, ""), 1e6);
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
  // kernel_bench ends OpenBLAS's threads before timing ours: its next calls, threaded ones
  // included, start them again and compute the same products.
  ip::cpu::blas_set_threads(2);
  if (ip::cpu::blas_stop_threads()) {
    expect_close(o, run(o), "blas after its threads were stopped " + describe(o));
    EXPECT_TRUE(ip::cpu::blas_stop_threads());
    expect_close(o, run(o), "blas after its threads were stopped twice " + describe(o));
  }
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
