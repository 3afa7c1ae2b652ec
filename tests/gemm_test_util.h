// GEMM test operands and their double-precision reference, shared by the CPU and CUDA GEMM tests.
//
// Tolerance: C[i,j] is a K-term float sum. Its rigorous error bound is about K * u * S with
// u = 2^-24 and S = |alpha| * sum_k |a_ik b_kj| + |beta c_ij|; rounding errors of random data
// add up like a random walk, so we allow (2 * sqrt(K) + 4) * u * S (about 4e-6 * S for K = 1024).
// That is far above what a correct kernel produces and far below what a wrong one does: losing
// or duplicating a single product changes C by about S / K (1e-3 * S at K = 1024).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ip::test {

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
inline constexpr float kSentinel = 12345.0f;  // written into C's padding; must survive every call

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
inline Operands make_operands(bool ta, bool tb, Shape s, float alpha, float beta, size_t pad,
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

// Compares a result with the reference; reports at most a few mismatches.
inline void expect_close(const Operands& o, const std::vector<float>& C, const std::string& what) {
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

}  // namespace ip::test
