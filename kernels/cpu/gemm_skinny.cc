// Skinny x · Bᵀ for the GEMM (gemm.cc hands it products of at most kSkinnyRows rows of A with
// op(B) = Bᵀ): a few rows of A against the rows of B, without packing.
//
// With op(A) = A of at most a few rows and op(B) = Bᵀ (the Linear forward of a small batch), every
// C element is the dot product of two contiguous rows. Packing B would copy all of it (4 MiB for a
// 1024 x 1024 layer) on every call to save nothing, since each B value is used only M times: a
// one-row prediction spent ~2/3 of its time there. Here B is read once per block of kDotRows rows
// of A, in place, J rows of B at a time (tiles of kDotTileRows rows stay in L2 between the row
// blocks).
//
// Determinism: each C element is one dot product in a fixed order (see DotTile) whatever the tile,
// the row block or the thread, so results are bit-identical for any thread count.
#include <algorithm>
#include <cmath>
#include <cstddef>

// No SVE targets here: the register tiles are arrays of vectors and the packed layouts are sized
// at compile time (MaxLanes), neither of which scalable vectors allow. Arm CPUs with SVE run the
// NEON GEMM. (Defined before the first Highway header, which reads it.)
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/gemm_skinny.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
constexpr size_t kLanes = hn::MaxLanes(DF());

constexpr size_t kDotRows = 4;
constexpr size_t kDotTileRows = 64;

// c[m][j] = alpha * dot(a[m, :K], b[j, :K]) (+ beta * c[m][j]) for MB rows of a and J rows of b.
// Each dot product: lane-wise FMAs over k in vector steps, one SumOfLanes, then the K % lanes
// tail in ascending k; the same sequence whatever MB, J or the thread that runs it.
template <size_t MB, size_t J>
HWY_INLINE void DotTile(size_t K, const float* HWY_RESTRICT a, size_t lda,
                        const float* HWY_RESTRICT b, size_t ldb, float* HWY_RESTRICT c,
                        size_t ldc, float alpha, float beta) {
  const DF d;
  using V = hn::Vec<DF>;
  V acc[MB][J];
  HWY_UNROLL(kDotRows)
  for (size_t m = 0; m < MB; ++m) {
    HWY_UNROLL(8)
    for (size_t j = 0; j < J; ++j) acc[m][j] = hn::Zero(d);
  }
  const size_t k_vec = K - K % kLanes;
  for (size_t k = 0; k < k_vec; k += kLanes) {
    V bv[J];
    HWY_UNROLL(8)
    for (size_t j = 0; j < J; ++j) bv[j] = hn::LoadU(d, b + j * ldb + k);
    HWY_UNROLL(kDotRows)
    for (size_t m = 0; m < MB; ++m) {
      const V av = hn::LoadU(d, a + m * lda + k);
      HWY_UNROLL(8)
      for (size_t j = 0; j < J; ++j) acc[m][j] = hn::MulAdd(av, bv[j], acc[m][j]);
    }
  }
  for (size_t m = 0; m < MB; ++m) {
    for (size_t j = 0; j < J; ++j) {
      float dot = hn::GetLane(hn::SumOfLanes(d, acc[m][j]));
      for (size_t k = k_vec; k < K; ++k) dot = std::fma(a[m * lda + k], b[j * ldb + k], dot);
      float* out = c + m * ldc + j;
      *out = beta == 0.0f ? alpha * dot : std::fma(alpha, dot, beta * *out);
    }
  }
}

// One row of a against B rows [j0, j1), one B row at a time (a single stream for the
// prefetchers), four accumulators over k.
HWY_INLINE void DotOneRow(size_t K, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t ldb,
                          size_t j0, size_t j1, float* HWY_RESTRICT c, float alpha, float beta) {
  const DF d;
  using V = hn::Vec<DF>;
  const size_t k_vec = K - K % kLanes, k4 = K - K % (4 * kLanes);
  for (size_t j = j0; j < j1; ++j) {
    const float* brow = b + j * ldb;
    V acc0 = hn::Zero(d), acc1 = hn::Zero(d), acc2 = hn::Zero(d), acc3 = hn::Zero(d);
    size_t k = 0;
    for (; k < k4; k += 4 * kLanes) {
      acc0 = hn::MulAdd(hn::LoadU(d, a + k), hn::LoadU(d, brow + k), acc0);
      acc1 = hn::MulAdd(hn::LoadU(d, a + k + kLanes), hn::LoadU(d, brow + k + kLanes), acc1);
      acc2 = hn::MulAdd(hn::LoadU(d, a + k + 2 * kLanes), hn::LoadU(d, brow + k + 2 * kLanes), acc2);
      acc3 = hn::MulAdd(hn::LoadU(d, a + k + 3 * kLanes), hn::LoadU(d, brow + k + 3 * kLanes), acc3);
    }
    for (; k < k_vec; k += kLanes) acc0 = hn::MulAdd(hn::LoadU(d, a + k), hn::LoadU(d, brow + k), acc0);
    float dot = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(acc0, acc1), hn::Add(acc2, acc3))));
    for (k = k_vec; k < K; ++k) dot = std::fma(a[k], brow[k], dot);
    c[j] = beta == 0.0f ? alpha * dot : std::fma(alpha, dot, beta * c[j]);
  }
}

// Rows m < kDotRows-block of size MB against B rows [j0, j1).
template <size_t MB>
HWY_INLINE void DotRows(size_t K, const float* a, size_t lda, const float* b, size_t ldb,
                        size_t j0, size_t j1, float* c, size_t ldc, float alpha, float beta) {
  // Eight B rows per step for one or two A rows (8-16 independent FMA chains), four for more
  // (16 accumulators + 4 B vectors + 1 A vector fit the 32 registers of AVX-512, and the
  // 16 of AVX2 spill a little, still far below the cost of reading B).
  constexpr size_t J = MB <= 2 ? 8 : 4;
  size_t j = j0;
  for (; j + J <= j1; j += J) DotTile<MB, J>(K, a, lda, b + j * ldb, ldb, c + j, ldc, alpha, beta);
  for (; j < j1; ++j) DotTile<MB, 1>(K, a, lda, b + j * ldb, ldb, c + j, ldc, alpha, beta);
}

// C[0:M, j0:j1] of alpha * A · Bᵀ + beta * C, for M <= kSkinnyRows.
void SkinnyNT(size_t M, size_t K, float alpha, const float* A, size_t lda, const float* B,
              size_t ldb, size_t j0, size_t j1, float beta, float* C, size_t ldc) {
  for (size_t t0 = j0; t0 < j1; t0 += kDotTileRows) {
    const size_t t1 = std::min(j1, t0 + kDotTileRows);
    for (size_t m = 0; m < M; m += kDotRows) {
      const float* a = A + m * lda;
      float* c = C + m * ldc;
      switch (std::min(kDotRows, M - m)) {
        case 1:
          if (M == 1) {
            DotOneRow(K, a, B, ldb, t0, t1, c, alpha, beta);
          } else {
            DotRows<1>(K, a, lda, B, ldb, t0, t1, c, ldc, alpha, beta);
          }
          break;
        case 2: DotRows<2>(K, a, lda, B, ldb, t0, t1, c, ldc, alpha, beta); break;
        case 3: DotRows<3>(K, a, lda, B, ldb, t0, t1, c, ldc, alpha, beta); break;
        default: DotRows<4>(K, a, lda, B, ldb, t0, t1, c, ldc, alpha, beta); break;
      }
    }
  }
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <omp.h>

#include "kernels/cpu/gemm_detail.h"

namespace ip::cpu {
HWY_EXPORT(SkinnyNT);

namespace gemm_detail {

// Parallel tasks are this many rows of B.
constexpr size_t kSkinnyTileRows = 64;

void gemm_skinny_nt(size_t M, size_t N, size_t K, float alpha, const float* A, size_t lda,
                    const float* B, size_t ldb, float beta, float* C, size_t ldc) {
  // Dot products straight from B, split over B's rows. Worth a second thread once B is large
  // enough that reading it dominates the wake-up.
  const long tiles = static_cast<long>(ceil_div(N, kSkinnyTileRows));
  const bool parallel = omp_get_max_threads() > 1 && tiles > 1 && N * K >= (size_t{1} << 17);
#pragma omp parallel for schedule(static) if (parallel)
  for (long t = 0; t < tiles; ++t) {
    const size_t j0 = static_cast<size_t>(t) * kSkinnyTileRows;
    HWY_DYNAMIC_DISPATCH(SkinnyNT)(M, K, alpha, A, lda, B, ldb, j0,
                                   std::min(N, j0 + kSkinnyTileRows), beta, C, ldc);
  }
}

}  // namespace gemm_detail
}  // namespace ip::cpu
#endif  // HWY_ONCE
