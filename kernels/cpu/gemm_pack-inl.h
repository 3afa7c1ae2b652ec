// Packing for the GEMM, per SIMD target: op(A) into MR-row slivers and op(B) into NR-column
// slivers, the layouts gemm_micro-inl.h's kernels read (gemm_detail.h: PackAFn, PackBFn).

// Per-target include guard (re-included once per target by foreach_target.h).
#if defined(IP_CPU_GEMM_PACK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef IP_CPU_GEMM_PACK_INL_H_
#undef IP_CPU_GEMM_PACK_INL_H_
#else
#define IP_CPU_GEMM_PACK_INL_H_
#endif

#include <algorithm>
#include <cstddef>

#include "hwy/highway.h"
#include "kernels/cpu/gemm_micro-inl.h"  // kMR, kNR

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// dst[c * ldd + r] = src[r * lds + c] for an 8 x 8 block, in 256-bit registers: 24 shuffles
// (interleaves of 32 and 64-bit lanes, then 128-bit halves) for 64 values, where 4 x 4 blocks
// take 32.
HWY_INLINE void Transpose8x8(const float* HWY_RESTRICT src, size_t lds, float* HWY_RESTRICT dst,
                             size_t ldd) {
  const hn::Full256<float> d;
  const hn::Full256<double> dd;
  using V = hn::Vec<decltype(d)>;
  V row[8];
  HWY_UNROLL(8)
  for (size_t i = 0; i < 8; ++i) row[i] = hn::LoadU(d, src + i * lds);
  // Pairs of rows interleaved per 128-bit half: t[2i] = r(2i)0 r(2i+1)0 r(2i)1 r(2i+1)1 | ...4,5
  V t[8];
  HWY_UNROLL(4)
  for (size_t i = 0; i < 4; ++i) {
    t[2 * i] = hn::InterleaveLower(d, row[2 * i], row[2 * i + 1]);
    t[2 * i + 1] = hn::InterleaveUpper(d, row[2 * i], row[2 * i + 1]);
  }
  // Quads: u[4h + j] holds column j (and j + 4 in its upper half) of rows 4h ... 4h+3.
  V u[8];
  HWY_UNROLL(2)
  for (size_t h = 0; h < 2; ++h) {
    HWY_UNROLL(2)
    for (size_t j = 0; j < 2; ++j) {
      const auto lo = hn::BitCast(dd, t[4 * h + j]), hi = hn::BitCast(dd, t[4 * h + 2 + j]);
      u[4 * h + 2 * j] = hn::BitCast(d, hn::InterleaveLower(dd, lo, hi));
      u[4 * h + 2 * j + 1] = hn::BitCast(d, hn::InterleaveUpper(dd, lo, hi));
    }
  }
  HWY_UNROLL(4)
  for (size_t j = 0; j < 4; ++j) {
    hn::StoreU(hn::ConcatLowerLower(d, u[4 + j], u[j]), d, dst + j * ldd);
    hn::StoreU(hn::ConcatUpperUpper(d, u[4 + j], u[j]), d, dst + (j + 4) * ldd);
  }
}
#endif

// dst[c * ldd + r] = src[r * lds + c] for an rows x cols block. Full 4 x 4 blocks go through
// 128-bit registers (two interleaves and two half-concatenations per pair of rows), which every
// target but SCALAR has; the rest is copied one value at a time.
HWY_INLINE void TransposeBlock4(const float* HWY_RESTRICT src, size_t lds, size_t rows,
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

// The transposes of packing: dst[c * ldd + r] = src[r * lds + c] for an rows x cols block, in
// 8 x 8 blocks where the target has 256-bit registers, the rest as TransposeBlock4 does.
HWY_INLINE void TransposeBlock(const float* HWY_RESTRICT src, size_t lds, size_t rows,
                               size_t cols, float* HWY_RESTRICT dst, size_t ldd) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  const size_t rows8 = rows & ~size_t{7}, cols8 = cols & ~size_t{7};
  // Eight rows of src at a time along all the columns: B's rows of a sliver are often 4 KiB apart
  // (K = 1024), all in one L1 set; 48 of them (AVX3's NR) per column block thrashed it (two
  // Zen 5 threads, 64 x 1024 x 1024 nt at AVX3: 391 -> 315 GFLOP/s).
  for (size_t r = 0; r < rows8; r += 8) {
    for (size_t c = 0; c < cols8; c += 8) {
      Transpose8x8(src + r * lds + c, lds, dst + c * ldd + r, ldd);
    }
  }
  TransposeBlock4(src + cols8, lds, rows8, cols - cols8, dst + cols8 * ldd, ldd);
  TransposeBlock4(src + rows8 * lds, lds, rows - rows8, cols, dst + rows8, ldd);
#else
  TransposeBlock4(src, lds, rows, cols, dst, ldd);
#endif
}

inline void PackA(bool trans, const float* A, size_t lda, size_t i0, size_t mc, size_t p0,
                  size_t kc, float* dst) {
  if (trans) {
    // op(A)[i][k] = A[k * lda + i]: the MR values of one k are contiguous. Packed kRows k at a
    // time across all the slivers, so that each row of A is read along its length once: sliver
    // by sliver, kc rows lda apart (4 KiB for M = 1024: all in one L1 set, more rows than it has
    // ways) gave 24 or 32 bytes each, and the next sliver fetched the same lines again (one Zen 5
    // thread at AVX2, 1024 x 784 x 128 tn: 135 -> 139 GFLOP/s). A copy of constant length per
    // full tile: std::copy of a length the compiler cannot see is a memmove call per k.
    constexpr size_t kRows = 8;
    const size_t tiles = (mc + kMR - 1) / kMR;
    const size_t pair = HalfTilePair(mc, kc);
    for (size_t t = 0; t < tiles; ++t) {  // zero the padding rows of partial slivers
      if (RowTileOf(t, mc, pair).rows == kMR) continue;
      float* out = dst + t * kc * kMR;
      std::fill(out, out + kc * kMR, 0.0f);
    }
    for (size_t k0 = 0; k0 < kc; k0 += kRows) {
      const size_t k1 = std::min(kc, k0 + kRows);
      for (size_t t = 0; t < tiles; ++t) {
        const RowTile rt = RowTileOf(t, mc, pair);
        const size_t rows = rt.rows;
        const float* src = A + (p0 + k0) * lda + i0 + rt.row0;
        float* out = dst + t * kc * kMR + k0 * kMR;
        for (size_t k = k0; k < k1; ++k, src += lda, out += kMR) {
          if (rows == kMR) {
            HWY_UNROLL(kMR)
            for (size_t r = 0; r < kMR; ++r) out[r] = src[r];
          } else {
            std::copy(src, src + rows, out);
          }
        }
      }
    }
    return;
  }
  const size_t pair = HalfTilePair(mc, kc);
  for (size_t t = 0; t * kMR < mc; ++t) {
    float* out = dst + t * kc * kMR;
    const RowTile rt = RowTileOf(t, mc, pair);
    const size_t rows = rt.rows;
    const size_t row0 = i0 + rt.row0;
    if (rows < kMR) std::fill(out, out + kc * kMR, 0.0f);
    // op(A)[i][k] = A[i * lda + k]: rows contiguous in k, a transpose per block
    constexpr size_t kBlock = 64;
    for (size_t kb = 0; kb < kc; kb += kBlock) {
      TransposeBlock(A + row0 * lda + p0 + kb, lda, rows, std::min(kBlock, kc - kb),
                     out + kb * kMR, kMR);
    }
  }
}

inline void PackB(bool trans, const float* B, size_t ldb, size_t j0, size_t nc, size_t p0,
                  size_t kc, size_t s0, size_t s1, float* out) {
  // Zero the padding columns of a partial last sliver first; the copies below fill the rest.
  if (s1 * kNR > nc) {
    float* last = out + (s1 - 1 - s0) * kc * kNR;
    std::fill(last, last + kc * kNR, 0.0f);
  }
  if (!trans) {
    // op(B)[k][j] = B[k * ldb + j]: rows of B are contiguous in j. Blocks of kRows rows are
    // copied sliver by sliver: the reads stay within the few rows of the block (a run of each,
    // not 64 or 192-byte pieces of kc rows in as many 4 KiB pages), and each sliver is written as
    // one run of kRows x kNR floats instead of one line into each of the chunk's slivers, kc x kNR
    // floats apart, per row (as many concurrent write streams in the same cache sets).
    // A whole sliver's row is kNV vector copies (std::copy of a run whose length the compiler
    // cannot see is a memmove call).
    const DF d;
    constexpr size_t kRows = 16;
    for (size_t k0 = 0; k0 < kc; k0 += kRows) {
      const size_t k1 = std::min(kc, k0 + kRows);
      for (size_t s = s0; s < s1; ++s) {
        const size_t cols = std::min(kNR, nc - s * kNR);
        const float* src = B + (p0 + k0) * ldb + j0 + s * kNR;
        float* dst = out + (s - s0) * kc * kNR + k0 * kNR;
        for (size_t k = k0; k < k1; ++k, src += ldb, dst += kNR) {
          if (cols == kNR) {
            HWY_UNROLL(kNV)
            for (size_t v = 0; v < kNV; ++v) hn::StoreU(hn::LoadU(d, src + v * kLanes), d, dst + v * kLanes);
          } else {
            std::copy(src, src + cols, dst);
          }
        }
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

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
