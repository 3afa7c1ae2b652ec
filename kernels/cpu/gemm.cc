// Our own SGEMM (Goto/BLIS structure) plus the bias helpers of the Linear layer.
//
// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major.
//
// Structure (loops from outside in):
//   jc: column panels of C, wide enough that op(B)[:, panel] packed whole stays within 64 MiB
//       (one panel for every experiment shape); op(B) is packed into KC x NR slivers: once per
//       panel by all threads together when several row blocks share it, otherwise (M <= MC) by
//       each task for its own chunk, slice by slice, just before use.
//   op(A): packed once and shared when it is small (M x K up to 4 Mi floats: every training
//       shape), otherwise packed per task, MC x KC at a time, into a per-thread buffer.
//   task = (block of MC rows) x (chunk of NR-slivers): the OpenMP work unit, handed out
//       dynamically. Chunks are ~1024 columns (the C block stays in L2 across the KC slices);
//       with shared A they are smaller, about 4 tasks per thread.
//   pc: KC-deep slices of K.
//   jr over the chunk's B slivers, ir over A slivers:
//   micro-kernel: MR x NR register tile (NR = NV Highway vectors), acc += a[r] * b[:] by FMA,
//       C tile prefetched at the start (when read) and merged once at the end; slivers with
//       fewer valid vectors (N = 16, a panel's last sliver) use a narrower tile.
//
// Skinny x · Bᵀ (at most kSkinnyRows rows of A, op(B) = Bᵀ: a prediction of a few instances)
// skips all of that: each C element is a dot product of two contiguous rows (SkinnyNT), so B is
// read in place once per few rows instead of packed on every call.
//
// Determinism: each C element is computed by the same arithmetic no matter which thread or tile
// position handles it (KC slicing depends only on K and the SIMD target; vector lanes are
// independent; edge tiles use the same vector ops on a padded copy; packing only copies), so
// results are bit-identical for any thread count, task partition and schedule.
#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"

#ifndef IP_CPU_GEMM_SHARED_
#define IP_CPU_GEMM_SHARED_
namespace ip::cpu::gemm_detail {

// One call of the macro-kernel: an MC x (chunk) block of C over one KC slice.
struct MacroArgs {
  size_t kc;           // depth of this slice
  size_t mc;           // valid rows of the block
  size_t nc;           // valid columns of the chunk
  const float* a;      // packed A block: ceil(mc/MR) slivers of kc x MR
  const float* b;      // packed B chunk: ceil(nc/NR) slivers of kc x NR, contiguous
  float* c;            // top-left element of the C block
  size_t ldc;
  float alpha;
  float beta;          // 0: overwrite without reading C
};
using MacroFn = void (*)(const MacroArgs&);
// Packs op(A)[i0 : i0+mc, p0 : p0+kc] into MR-row slivers (sliver t: for each k, the MR values of
// rows i0 + t*MR + r, zero beyond mc).
using PackAFn = void (*)(bool trans, const float* A, size_t lda, size_t i0, size_t mc, size_t p0,
                         size_t kc, float* dst);
// Packs slivers s0 <= s < s1 of op(B)[p0 : p0+kc, j0 : j0+nc], one after the other into out:
// sliver s holds, for each k, the NR columns j0 + s*NR ... (zero beyond nc).
using PackBFn = void (*)(bool trans, const float* B, size_t ldb, size_t j0, size_t nc, size_t p0,
                         size_t kc, size_t s0, size_t s1, float* out);

// Register/cache geometry of one SIMD target, fetched together with its kernel so that packing
// and kernel always agree even if the target is forced between calls.
struct KernelInfo {
  size_t mr, nr, kc, mc;
  MacroFn macro;
  PackAFn pack_a;
  PackBFn pack_b;
};

// Elementwise helpers for the bias functions.
using AddBiasFn = void (*)(float* y, const float* bias, size_t n);
using SumRowsFn = void (*)(const float* dy, size_t rows, size_t ld, size_t cols, float* out,
                           bool accumulate);

}  // namespace ip::cpu::gemm_detail
#endif  // IP_CPU_GEMM_SHARED_

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using gemm_detail::KernelInfo;
using gemm_detail::MacroArgs;

// Register tile per target: MR rows x NV vectors. AVX-512 has 32 registers: 8 x 3 = 24
// accumulators + 3 B vectors + 1 broadcast. 16-register x86 targets: 6 x 2 = 12 + 2 + 1.
// KC: 256 measured faster than 128 on a Sapphire-Rapids-class AVX-512 core (fewer passes over C
// per product; the 48 KiB B sliver streams from L2 well). MC x KC of A stays in L2.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr size_t kMR = 8, kNV = 3, kKC = 256, kMC = 192;
#elif HWY_ARCH_X86 && HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR
constexpr size_t kMR = 6, kNV = 2, kKC = 256, kMC = 192;
#else
constexpr size_t kMR = 4, kNV = 2, kKC = 256, kMC = 128;
#endif

using DF = hn::ScalableTag<float>;
constexpr size_t kLanes = hn::MaxLanes(DF());
constexpr size_t kNR = kNV * kLanes;

// out = alpha * acc (+ beta * c). The single formula used for every C element.
template <class V>
HWY_INLINE V Finish(V acc, V alpha, V beta, const float* c, bool read_c) {
  const DF d;
  if (!read_c) return hn::Mul(alpha, acc);
  return hn::MulAdd(alpha, acc, hn::Mul(beta, hn::LoadU(d, c)));
}

// Computes the MR x (NV vectors) tile a(kc x MR) * b(kc x NR, first NV vectors of each row) and
// merges it into C (mr x nr valid). NV < kNV serves slivers with at most NV vectors of valid
// columns (narrow N, the last sliver of a panel): the padding vectors would be wasted FMAs. Each C
// element gets the same FMA sequence whatever NV is (lanes are independent).
template <size_t NV>
HWY_INLINE void MicroKernel(size_t kc, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
                            float* HWY_RESTRICT c, size_t ldc, size_t mr, size_t nr, float alpha,
                            float beta) {
  const DF d;
  using V = hn::Vec<DF>;
  const bool read_c = beta != 0.0f;
  // Ask for the C tile now: it is needed after the k loop, which hides the latency. (Not when C
  // is only written: the stores fetch their lines anyway.)
  if (read_c) {
    for (size_t r = 0; r < mr; ++r) {
      for (size_t j = 0; j < nr; j += 16) hwy::Prefetch(c + r * ldc + j);  // 64-byte lines
      hwy::Prefetch(c + r * ldc + nr - 1);
    }
  }
  // (HWY_UNROLL(kNV) on the NV loops: GCC 12 accepts no template argument there; NV <= kNV.)
  V acc[kMR][NV];
  HWY_UNROLL(kMR)
  for (size_t r = 0; r < kMR; ++r) {
    HWY_UNROLL(kNV)
    for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d);
  }
  for (size_t k = 0; k < kc; ++k) {
    V bv[NV];
    HWY_UNROLL(kNV)
    for (size_t v = 0; v < NV; ++v) bv[v] = hn::Load(d, b + v * kLanes);
    HWY_UNROLL(kMR)
    for (size_t r = 0; r < kMR; ++r) {
      const V ar = hn::Set(d, a[r]);
      HWY_UNROLL(kNV)
      for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(ar, bv[v], acc[r][v]);
    }
    a += kMR;
    b += kNR;
  }

  const V valpha = hn::Set(d, alpha);
  const V vbeta = hn::Set(d, beta);
  if (mr == kMR && nr == NV * kLanes) {
    HWY_UNROLL(kMR)
    for (size_t r = 0; r < kMR; ++r) {
      float* crow = c + r * ldc;
      HWY_UNROLL(kNV)
      for (size_t v = 0; v < NV; ++v) {
        hn::StoreU(Finish(acc[r][v], valpha, vbeta, crow + v * kLanes, read_c), d,
                   crow + v * kLanes);
      }
    }
    return;
  }
  // Edge tile: spill the accumulators with constant indices (so that they stay in registers on
  // the fast path), then, per vector, copy the valid part of C into a padded vector, apply the
  // same Finish and copy the valid lanes back. (Masked loads/stores of Highway 1.0.3 touch the
  // whole vector on some targets, which could race with the thread owning the next columns.)
  alignas(64) float tile[kMR * NV * kLanes];
  HWY_UNROLL(kMR)
  for (size_t r = 0; r < kMR; ++r) {
    HWY_UNROLL(kNV)
    for (size_t v = 0; v < NV; ++v) hn::Store(acc[r][v], d, tile + (r * NV + v) * kLanes);
  }
  alignas(64) float cbuf[kLanes];
  alignas(64) float obuf[kLanes];
  for (size_t r = 0; r < mr; ++r) {
    float* crow = c + r * ldc;
    for (size_t v = 0; v < NV && v * kLanes < nr; ++v) {
      const size_t n = std::min(kLanes, nr - v * kLanes);
      std::fill(cbuf, cbuf + kLanes, 0.0f);
      if (read_c) std::copy(crow + v * kLanes, crow + v * kLanes + n, cbuf);
      const V out = Finish(hn::Load(d, tile + (r * NV + v) * kLanes), valpha, vbeta, cbuf, read_c);
      hn::Store(out, d, obuf);
      std::copy(obuf, obuf + n, crow + v * kLanes);
    }
  }
}

// The row of A slivers times one B sliver with nr valid columns, through the narrowest kernel
// that covers them.
template <size_t NV>
HWY_INLINE void SliverColumn(const MacroArgs& m, const float* b, size_t j, size_t nr) {
  const size_t a_sliver = m.kc * kMR;
  for (size_t i = 0, t = 0; i < m.mc; i += kMR, ++t) {
    const size_t mr = std::min(kMR, m.mc - i);
    MicroKernel<NV>(m.kc, m.a + t * a_sliver, b, m.c + i * m.ldc + j, m.ldc, mr, nr, m.alpha,
                    m.beta);
  }
}

void Macro(const MacroArgs& m) {
  const size_t b_sliver = m.kc * kNR;
  for (size_t j = 0, s = 0; j < m.nc; j += kNR, ++s) {
    const size_t nr = std::min(kNR, m.nc - j);
    const float* b = m.b + s * b_sliver;
    const size_t nv = (nr + kLanes - 1) / kLanes;
    if (nv == 1) {
      SliverColumn<1>(m, b, j, nr);
    } else if (nv == 2 || kNV == 2) {
      SliverColumn<(kNV >= 2 ? 2 : 1)>(m, b, j, nr);
    } else {
      SliverColumn<kNV>(m, b, j, nr);
    }
  }
}

// dst[c * ldd + r] = src[r * lds + c] for an rows x cols block: the transposes of packing. Full
// 4 x 4 blocks go through 128-bit registers (two interleaves and two half-concatenations per
// pair of rows), which every target but SCALAR has; the rest is copied one value at a time.
HWY_INLINE void TransposeBlock(const float* HWY_RESTRICT src, size_t lds, size_t rows,
                               size_t cols, float* HWY_RESTRICT dst, size_t ldd) {
  size_t r = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<float> d4;
  for (; r + 4 <= rows; r += 4) {
    size_t c = 0;
    for (; c + 4 <= cols; c += 4) {
      const float* s = src + r * lds + c;
      const auto v0 = hn::LoadU(d4, s), v1 = hn::LoadU(d4, s + lds);
      const auto v2 = hn::LoadU(d4, s + 2 * lds), v3 = hn::LoadU(d4, s + 3 * lds);
      const auto t0 = hn::InterleaveLower(d4, v0, v1), t1 = hn::InterleaveLower(d4, v2, v3);
      const auto t2 = hn::InterleaveUpper(d4, v0, v1), t3 = hn::InterleaveUpper(d4, v2, v3);
      float* o = dst + c * ldd + r;
      hn::StoreU(hn::ConcatLowerLower(d4, t1, t0), d4, o);
      hn::StoreU(hn::ConcatUpperUpper(d4, t1, t0), d4, o + ldd);
      hn::StoreU(hn::ConcatLowerLower(d4, t3, t2), d4, o + 2 * ldd);
      hn::StoreU(hn::ConcatUpperUpper(d4, t3, t2), d4, o + 3 * ldd);
    }
    for (; c < cols; ++c)
      for (size_t i = r; i < r + 4; ++i) dst[c * ldd + i] = src[i * lds + c];
  }
#endif
  for (; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

void PackA(bool trans, const float* A, size_t lda, size_t i0, size_t mc, size_t p0, size_t kc,
           float* dst) {
  for (size_t t = 0; t * kMR < mc; ++t) {
    float* out = dst + t * kc * kMR;
    const size_t rows = std::min(kMR, mc - t * kMR);
    const size_t row0 = i0 + t * kMR;
    if (rows < kMR) std::fill(out, out + kc * kMR, 0.0f);
    if (!trans) {  // op(A)[i][k] = A[i * lda + k]: rows contiguous in k, a transpose per block
      constexpr size_t kBlock = 64;
      for (size_t kb = 0; kb < kc; kb += kBlock) {
        TransposeBlock(A + row0 * lda + p0 + kb, lda, rows, std::min(kBlock, kc - kb),
                       out + kb * kMR, kMR);
      }
    } else {  // op(A)[i][k] = A[k * lda + i]: the MR values of one k are contiguous
      for (size_t k = 0; k < kc; ++k) {
        const float* src = A + (p0 + k) * lda + row0;
        std::copy(src, src + rows, out + k * kMR);
      }
    }
  }
}

void PackB(bool trans, const float* B, size_t ldb, size_t j0, size_t nc, size_t p0, size_t kc,
           size_t s0, size_t s1, float* out) {
  // Zero the padding columns of a partial last sliver first; the copies below fill the rest.
  if (s1 * kNR > nc) {
    float* last = out + (s1 - 1 - s0) * kc * kNR;
    std::fill(last, last + kc * kNR, 0.0f);
  }
  if (!trans) {
    // op(B)[k][j] = B[k * ldb + j]: rows of B are contiguous in j, so walk k outside and the
    // slivers inside: each row is read as one run, where sliver by sliver the reads would be
    // 192-byte pieces of kc rows, each in its own 4 KiB page when ldb >= 1024 (no prefetcher
    // follows that).
    for (size_t k = 0; k < kc; ++k) {
      const float* src = B + (p0 + k) * ldb + j0;
      for (size_t s = s0; s < s1; ++s) {
        const size_t cols = std::min(kNR, nc - s * kNR);
        std::copy(src + s * kNR, src + s * kNR + cols, out + (s - s0) * kc * kNR + k * kNR);
      }
    }
    return;
  }
  // op(B)[k][j] = B[j * ldb + k]: a transpose per sliver, in blocks of 64 k for locality
  for (size_t s = s0; s < s1; ++s) {
    const size_t col0 = j0 + s * kNR;
    const size_t cols = std::min(kNR, nc - s * kNR);
    float* dst = out + (s - s0) * kc * kNR;
    constexpr size_t kBlock = 64;
    for (size_t kb = 0; kb < kc; kb += kBlock) {
      TransposeBlock(B + col0 * ldb + p0 + kb, ldb, cols, std::min(kBlock, kc - kb),
                     dst + kb * kNR, kNR);
    }
  }
}

// ---- skinny x · Bᵀ: a few rows of A against the rows of B, without packing ----
// With op(A) = A of at most a few rows and op(B) = Bᵀ (the Linear forward of a small batch), every
// C element is the dot product of two contiguous rows. Packing B would copy all of it (4 MiB for a
// 1024 x 1024 layer) on every call to save nothing, since each B value is used only M times: a
// one-row prediction spent ~2/3 of its time there. Here B is read once per block of kDotRows rows
// of A, in place, J rows of B at a time (tiles of kDotTileRows rows stay in L2 between the row
// blocks).
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

// C[0:M, j0:j1] of alpha * A · Bᵀ + beta * C, for M <= kSkinnyRows (see gemm_own).
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

KernelInfo GetKernel() { return KernelInfo{kMR, kNR, kKC, kMC, &Macro, &PackA, &PackB}; }

// y[0..n) += bias[0..n); tail through a padded vector so every element sees the same Add.
void AddBiasRow(float* y, const float* bias, size_t n) {
  const DF d;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    hn::StoreU(hn::Add(hn::LoadU(d, y + i), hn::LoadU(d, bias + i)), d, y + i);
  }
  if (i < n) {
    alignas(64) float yb[kLanes] = {};
    alignas(64) float bb[kLanes] = {};
    std::copy(y + i, y + n, yb);
    std::copy(bias + i, bias + n, bb);
    hn::Store(hn::Add(hn::Load(d, yb), hn::Load(d, bb)), d, yb);
    std::copy(yb, yb + (n - i), y + i);
  }
}

// out[0..cols) = (accumulate ? out : 0) + sum over rows of dy[r * ld + col], rows in ascending
// order for every column (columns are independent lanes, so the order does not depend on cols).
void SumRows(const float* dy, size_t rows, size_t ld, size_t cols, float* out, bool accumulate) {
  const DF d;
  alignas(64) float buf[kLanes];
  for (size_t j = 0; j < cols; j += kLanes) {
    const size_t n = std::min(kLanes, cols - j);
    auto sum = hn::Zero(d);
    if (n == kLanes) {
      for (size_t r = 0; r < rows; ++r) sum = hn::Add(sum, hn::LoadU(d, dy + r * ld + j));
    } else {
      for (size_t r = 0; r < rows; ++r) {
        std::fill(buf, buf + kLanes, 0.0f);
        std::copy(dy + r * ld + j, dy + r * ld + j + n, buf);
        sum = hn::Add(sum, hn::Load(d, buf));
      }
    }
    std::fill(buf, buf + kLanes, 0.0f);
    if (accumulate) {
      std::copy(out + j, out + j + n, buf);
      sum = hn::Add(hn::Load(d, buf), sum);
    }
    hn::Store(sum, d, buf);
    std::copy(buf, buf + n, out + j);
  }
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <omp.h>

#include "hwy/aligned_allocator.h"
#include "kernels/cpu/linalg.h"

#if defined(INFERENCEPOWER_HAVE_BLAS)
#include <cblas.h>
#include <dlfcn.h>
#endif

namespace ip::cpu {
HWY_EXPORT(GetKernel);
HWY_EXPORT(SkinnyNT);
HWY_EXPORT(AddBiasRow);
HWY_EXPORT(SumRows);

namespace {
using gemm_detail::KernelInfo;
using gemm_detail::MacroArgs;

std::atomic<GemmBackend> g_backend{GemmBackend::Own};

#if defined(INFERENCEPOWER_HAVE_BLAS)
// OpenBLAS is opened on first use (dlopen), not linked. A linked OpenBLAS starts its thread pool
// when the program loads, in every binary whether it compares against BLAS or not: those threads
// compete with ours for the cores, and at exit OpenBLAS joins them — under an address-space limit
// one of them looped in a failing malloc, so an out-of-memory error never returned.
struct Blas {
  decltype(&cblas_sgemm) sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  char* (*get_corename)() = nullptr;
  std::string error;  // why sgemm is null
};

const Blas& blas() {
  static const Blas loaded = [] {
    Blas b;
    void* lib = nullptr;
    for (const char* name : {"libopenblas.so.0", "libopenblas.so"})
      if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    if (!lib) {
      b.error = std::string("cannot load OpenBLAS: ") + dlerror();
      return b;
    }
    b.sgemm = reinterpret_cast<decltype(b.sgemm)>(dlsym(lib, "cblas_sgemm"));
    b.set_num_threads = reinterpret_cast<decltype(b.set_num_threads)>(dlsym(lib, "openblas_set_num_threads"));
    b.get_corename = reinterpret_cast<decltype(b.get_corename)>(dlsym(lib, "openblas_get_corename"));
    if (!b.sgemm) b.error = "the loaded OpenBLAS has no cblas_sgemm";
    return b;
  }();
  return loaded;
}
#endif

size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// A grow-only aligned scratch buffer (one per thread that uses it).
struct Scratch {
  hwy::AlignedFreeUniquePtr<float[]> data;
  size_t size = 0;
  float* get(size_t n) {
    if (n > size) {
      data = hwy::AllocateAligned<float>(n);
      if (!data) throw std::bad_alloc();
      size = n;
    }
    return data.get();
  }
};

// Skinny x · Bᵀ products (see SkinnyNT) take at most this many rows of A: measured on one Zen 4
// thread, 1024 x 1024 B, skinny vs packed: 1 row 0.059 vs 0.36 ms, 8 rows 0.23 vs 0.34, 12 rows
// 0.31 vs 0.68, 16 rows 0.55 vs 0.49. Parallel tasks are kSkinnyTileRows rows of B.
constexpr size_t kSkinnyRows = 12;
constexpr size_t kSkinnyTileRows = 64;

void scale_c(size_t M, size_t N, float beta, float* C, size_t ldc) {
  for (size_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + N, 0.0f);
    } else {
      for (size_t j = 0; j < N; ++j) row[j] *= beta;
    }
  }
}

void gemm_own(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
              const float* A, size_t lda, const float* B, size_t ldb, float beta, float* C,
              size_t ldc) {
  if (K == 0 || alpha == 0.0f) {  // nothing to multiply: C = beta * C (BLAS semantics)
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const int threads = omp_get_max_threads();
  if (!trans_a && trans_b && M <= kSkinnyRows) {
    // A prediction of a few rows: dot products straight from B (SkinnyNT), split over B's rows.
    // Worth a second thread once B is large enough that reading it dominates the wake-up.
    const long tiles = static_cast<long>(ceil_div(N, kSkinnyTileRows));
    const bool parallel = threads > 1 && tiles > 1 && N * K >= (size_t{1} << 17);
#pragma omp parallel for schedule(static) if (parallel)
    for (long t = 0; t < tiles; ++t) {
      const size_t j0 = static_cast<size_t>(t) * kSkinnyTileRows;
      HWY_DYNAMIC_DISPATCH(SkinnyNT)(M, K, alpha, A, lda, B, ldb, j0,
                                     std::min(N, j0 + kSkinnyTileRows), beta, C, ldc);
    }
    return;
  }
  const KernelInfo ki = HWY_DYNAMIC_DISPATCH(GetKernel)();
  const size_t MR = ki.mr, NR = ki.nr, MC = ki.mc;
  // K slices of equal depth, at most the target's kc: K = 784 is 4 x 196 rather than 3 x 256 + 16,
  // whose last slice would cost a whole pass over C for 2% of the FMAs. The depth depends only on
  // K and the target, never on threads.
  const size_t nk = ceil_div(K, ki.kc);
  const size_t KC = ceil_div(K, nk);

  // Column panel: all of K times as many NR slivers as fit 16 Mi floats (64 MiB) of packed B.
  const size_t max_slivers = std::max<size_t>(1, (size_t{1} << 24) / (K * NR));
  const size_t panel_cols = std::min(ceil_div(N, NR), max_slivers) * NR;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  // Below ~10 MFLOP (~100 us of one core) a second thread does not pay for waking it: with
  // OMP_WAIT_POLICY=passive each region start and barrier is a futex wake-up, tens of us in this
  // VM. Measured: 64x16x1024 and 128x1024x10 took 30 us on one thread, 45-50 us on two.
  const bool parallel = threads > 1 && flops > 1e7;

  // Small and medium op(A) (the training shapes) are packed once, by all threads together, and
  // shared; then tasks need not repack A, so they can be small, and are handed out dynamically,
  // which keeps a thread that the OS preempts from stalling the call. Large op(A) (inference
  // batches) is packed per task into a per-thread buffer. Both give the same packed values.
  const size_t T = static_cast<size_t>(threads);
  const size_t row_blocks = ceil_div(M, MC);
  const size_t m_pad = ceil_div(M, MR) * MR;
  const bool share_a = m_pad * K <= (size_t{1} << 22);  // up to 16 MiB packed

  // B: with a single row block (M <= MC: every training shape) each chunk of B is used by one
  // task only, so the task packs it itself, slice by slice, right before using it: the packed
  // sliver is still in L2, instead of a packed copy of all of B going out to L3 and coming back.
  // Several row blocks share each packed slice of B, packed up front by all threads together.
  const bool b_in_task = row_blocks == 1;

  // Tasks: row blocks x chunks of slivers. Chunks of ~1024 columns keep the MC x chunk block
  // of C in L2 across the K slices (and bound the repacking of A); with shared A, chunks are
  // made small enough for about 4 tasks per thread.
  const size_t max_ns = ceil_div(panel_cols, NR);
  size_t chunks = ceil_div(max_ns, std::max<size_t>(1, 1024 / NR));
  if (share_a && parallel) chunks = std::min(max_ns, std::max(chunks, ceil_div(4 * T, row_blocks)));
  const size_t chunk_slivers = ceil_div(max_ns, chunks);

  // Scratch is allocated here, outside the parallel region, so that a failed allocation throws
  // in the caller's thread (an exception must not leave an OpenMP region).
  thread_local Scratch b_scratch;
  thread_local Scratch a_shared;
  thread_local std::vector<Scratch> a_scratch, b_task_scratch;
  float* const a_all = share_a ? a_shared.get(m_pad * K) : nullptr;
  float* const bp = b_in_task ? nullptr : b_scratch.get(K * max_ns * NR);
  const size_t bufs = parallel ? T : 1;
  if (a_scratch.size() < bufs) a_scratch.resize(bufs);
  if (b_task_scratch.size() < bufs) b_task_scratch.resize(bufs);
  for (size_t t = 0; t < bufs; ++t) {
    if (!share_a) a_scratch[t].get(ceil_div(MC, MR) * MR * KC);
    if (b_in_task) b_task_scratch[t].get(chunk_slivers * NR * KC);
  }
  // Inside the region a thread_local name would mean each worker's own (empty) copy: go through
  // plain pointers to the caller's buffers.
  Scratch* const a_bufs = a_scratch.data();
  Scratch* const b_bufs = b_task_scratch.data();

  for (size_t j0 = 0; j0 < N; j0 += panel_cols) {
    const size_t nc = std::min(panel_cols, N - j0);
    const size_t ns = ceil_div(nc, NR);
    const size_t panel_chunks = ceil_div(ns, chunk_slivers);
    // Shared packed B: slice p (depth kc_p) starts at p * KC * ns * NR; its slivers are
    // consecutive. Packed in groups of slivers so that NN packing reads runs of each B row.
    // Shared packed A: slice p starts at p * KC * m_pad, row block r at r * MC * kc_p within it.
    constexpr size_t kGroup = 8;
    const size_t groups = ceil_div(ns, kGroup);
    const long b_jobs = static_cast<long>(b_in_task ? 0 : nk * groups);
    const long a_jobs = static_cast<long>(share_a && j0 == 0 ? nk * row_blocks : 0);
    const long tasks = static_cast<long>(row_blocks * panel_chunks);

#pragma omp parallel if (parallel)
    {
      const int me = omp_get_thread_num();
      float* const ap_own = share_a ? nullptr : a_bufs[me].data.get();
      float* const bp_own = b_in_task ? b_bufs[me].data.get() : nullptr;
#pragma omp for schedule(dynamic) nowait
      for (long job = 0; job < a_jobs; ++job) {
        const size_t p = static_cast<size_t>(job) / row_blocks;
        const size_t rb = static_cast<size_t>(job) % row_blocks;
        const size_t p0 = p * KC, kc = std::min(KC, K - p0), i0 = rb * MC;
        ki.pack_a(trans_a, A, lda, i0, std::min(MC, M - i0), p0, kc, a_all + p0 * m_pad + i0 * kc);
      }
#pragma omp for schedule(dynamic) nowait
      for (long job = 0; job < b_jobs; ++job) {
        const size_t p = static_cast<size_t>(job) / groups, g = static_cast<size_t>(job) % groups;
        const size_t p0 = p * KC, kc = std::min(KC, K - p0);
        const size_t s0 = g * kGroup, s1 = std::min(ns, s0 + kGroup);
        ki.pack_b(trans_b, B, ldb, j0, nc, p0, kc, s0, s1, bp + p0 * ns * NR + s0 * kc * NR);
      }
      // Tasks read what the others packed. Without shared packing there is nothing to wait for
      // (the condition is the same in every thread, as OpenMP requires of a barrier).
      if (a_jobs + b_jobs > 0) {
#pragma omp barrier
      }
#pragma omp for schedule(dynamic)
      for (long task = 0; task < tasks; ++task) {
        const size_t rb = static_cast<size_t>(task) / panel_chunks;
        const size_t ch = static_cast<size_t>(task) % panel_chunks;
        const size_t i0 = rb * MC, mc = std::min(MC, M - i0);
        const size_t s0 = ch * chunk_slivers, s1 = std::min(ns, s0 + chunk_slivers);
        const size_t cc0 = s0 * NR, ccols = std::min(nc, s1 * NR) - cc0;
        for (size_t p0 = 0; p0 < K; p0 += KC) {
          const size_t kc = std::min(KC, K - p0);
          const float* ap;
          if (share_a) {
            ap = a_all + p0 * m_pad + i0 * kc;
          } else {
            ki.pack_a(trans_a, A, lda, i0, mc, p0, kc, ap_own);
            ap = ap_own;
          }
          const float* b;
          if (b_in_task) {
            ki.pack_b(trans_b, B, ldb, j0, nc, p0, kc, s0, s1, bp_own);
            b = bp_own;
          } else {
            b = bp + p0 * ns * NR + s0 * kc * NR;
          }
          MacroArgs args;
          args.kc = kc;
          args.mc = mc;
          args.nc = ccols;
          args.a = ap;
          args.b = b;
          args.c = C + i0 * ldc + j0 + cc0;
          args.ldc = ldc;
          args.alpha = alpha;
          args.beta = p0 == 0 ? beta : 1.0f;  // later slices accumulate onto the first
          ki.macro(args);
        }
      }
    }
  }
}

void check_ld(const char* name, size_t ld, size_t rows, size_t cols) {
  if (rows > 0 && cols > 0 && ld < cols) {
    throw std::invalid_argument(std::string("gemm: leading dimension ") + name + " = " +
                                std::to_string(ld) + " is smaller than the row length " +
                                std::to_string(cols));
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float* A,
          size_t lda, const float* B, size_t ldb, float beta, float* C, size_t ldc) {
  if (M == 0 || N == 0) return;
  check_ld("lda", lda, trans_a ? K : M, trans_a ? M : K);
  check_ld("ldb", ldb, trans_b ? N : K, trans_b ? K : N);
  check_ld("ldc", ldc, M, N);
#if defined(INFERENCEPOWER_HAVE_BLAS)
  if (g_backend.load() == GemmBackend::Blas) {
    constexpr size_t kMax = static_cast<size_t>(std::numeric_limits<int>::max());
    if (M > kMax || N > kMax || K > kMax || lda > kMax || ldb > kMax || ldc > kMax) {
      throw std::invalid_argument("gemm: size exceeds the BLAS integer range");
    }
    // OpenBLAS needs ld >= 1 even for empty operands.
    blas().sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
                static_cast<int>(K), alpha, A, static_cast<int>(std::max<size_t>(lda, 1)), B,
                static_cast<int>(std::max<size_t>(ldb, 1)), beta, C, static_cast<int>(ldc));
    return;
  }
#endif
  gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

bool blas_available() {
#if defined(INFERENCEPOWER_HAVE_BLAS)
  return blas().sgemm != nullptr;
#else
  return false;
#endif
}

void blas_set_threads(int threads) {
#if defined(INFERENCEPOWER_HAVE_BLAS)
  if (blas().set_num_threads) blas().set_num_threads(threads);
#else
  (void)threads;
#endif
}

std::string blas_core_name() {
#if defined(INFERENCEPOWER_HAVE_BLAS)
  if (blas().get_corename) return blas().get_corename();
#endif
  return "";
}

void set_gemm_backend(GemmBackend backend) {
  if (backend == GemmBackend::Blas && !blas_available()) {
#if defined(INFERENCEPOWER_HAVE_BLAS)
    const std::string why = blas().error;
#else
    const std::string why = "this build found no OpenBLAS header cblas.h (Debian: libopenblas-dev; then reconfigure)";
#endif
    throw std::invalid_argument("GEMM backend 'blas' is not available: " + why +
                                "; use the built-in backend");
  }
  g_backend.store(backend);
}

GemmBackend gemm_backend() { return g_backend.load(); }

void add_bias_rows(float* y, const float* bias, size_t M, size_t N) {
  if (M == 0 || N == 0) return;
  const bool parallel = M * N > (size_t{1} << 16);
  const long rows = static_cast<long>(M);
#pragma omp parallel for schedule(static) if (parallel)
  for (long r = 0; r < rows; ++r) {
    HWY_DYNAMIC_DISPATCH(AddBiasRow)(y + static_cast<size_t>(r) * N, bias, N);
  }
}

void sum_rows(const float* dy, size_t M, size_t N, float* out, bool accumulate) {
  if (N == 0) return;
  // Column blocks are independent, each summed over all rows in ascending order.
  constexpr size_t kCols = 256;
  const long blocks = static_cast<long>(ceil_div(N, kCols));
  const bool parallel = M * N > (size_t{1} << 16);
#pragma omp parallel for schedule(static) if (parallel)
  for (long b = 0; b < blocks; ++b) {
    const size_t j = static_cast<size_t>(b) * kCols;
    HWY_DYNAMIC_DISPATCH(SumRows)(dy + j, M, N, std::min(kCols, N - j), out + j, accumulate);
  }
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
