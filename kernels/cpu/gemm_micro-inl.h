// The GEMM's register tile, per SIMD target: its geometry (MR x NR, KC, MC) and the micro- and
// macro-kernels that multiply packed slivers of A and B into C (gemm.cc drives them; the packing
// that feeds them is gemm_pack-inl.h).

// Per-target include guard (re-included once per target by foreach_target.h).
#if defined(IP_CPU_GEMM_MICRO_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef IP_CPU_GEMM_MICRO_INL_H_
#undef IP_CPU_GEMM_MICRO_INL_H_
#else
#define IP_CPU_GEMM_MICRO_INL_H_
#endif

#include <algorithm>
#include <cstddef>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/cpu/gemm_detail.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
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
// The half tile of edge slivers: M = 16 is 6 + 6 + 4 rows, not 18.
constexpr size_t kMRHalf = 4;
using gemm_detail::kShallowK;

// Row tiles of a block: tile t is rows t * kMR ... of it, and packed sliver t holds them (kMR
// stride, zero beyond its rows), except that in slices deeper than kShallowK a block whose last
// tile would have only 1 or 2 rows ends in two half tiles instead: M = 128 on AVX2 is 20 x 6 + 4 + 4
// rows, 256 FMAs per k, where 21 x 6 + 2 (the 2 rows through a half tile) are 260. (Shallow
// slices keep kMR-row tiles: their micro-kernel calls are short, and with their loop changed the
// K <= 16 shapes measured 6-18% slower on two threads.) Packing and macro-kernel both ask here,
// so that they agree.
constexpr size_t kNoHalfPair = ~size_t{0};
// The first of the two half tiles, or kNoHalfPair.
inline size_t HalfTilePair(size_t mc, size_t kc) {
  if (kMRHalf >= kMR || kc <= kShallowK) return kNoHalfPair;
  const size_t full = mc / kMR, rest = mc % kMR;
  return full >= 1 && rest >= 1 && kMR + rest <= 2 * kMRHalf ? full - 1 : kNoHalfPair;
}
struct RowTile {
  size_t row0, rows;
};
inline RowTile RowTileOf(size_t t, size_t mc, size_t pair) {
  if (pair != kNoHalfPair && t == pair) return {t * kMR, kMRHalf};
  if (pair != kNoHalfPair && t == pair + 1) return {pair * kMR + kMRHalf, mc - pair * kMR - kMRHalf};
  return {t * kMR, std::min(kMR, mc - t * kMR)};
}

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
// MRV <= MR rows are computed: an edge sliver of at most kMRHalf valid rows takes the half tile
// (the packed sliver keeps its MR stride). kInPlace: a is not a packed sliver but the tile's first
// row of A (rows lda apart), each row a stream of its own; rows past mr re-read row mr - 1 (their
// results are never stored). kBInPlace: b is not a packed sliver but B's rows themselves, ldb
// apart (NV vectors of valid columns in each). Same FMA sequence per C element in every variant.
// kStoreB (with kBInPlace and NV = kNV): each row of b read is also stored into b_out, which
// becomes the packed sliver (MacroArgs::b_src).
template <size_t NV, bool kInPlace, size_t MRV = kMR, bool kBInPlace = false, bool kStoreB = false>
HWY_INLINE void MicroKernel(size_t kc, const float* HWY_RESTRICT a, size_t lda,
                            const float* HWY_RESTRICT b, size_t ldb, float* HWY_RESTRICT c,
                            size_t ldc, size_t mr, size_t nr, float alpha, float beta,
                            float* HWY_RESTRICT b_out = nullptr) {
  static_assert(!kStoreB || (kBInPlace && NV == kNV), "a packed sliver is stored whole");
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
  V acc[MRV][NV];
  HWY_UNROLL(kMR)
  for (size_t r = 0; r < MRV; ++r) {
    HWY_UNROLL(kNV)
    for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d);
  }
  const float* rows[MRV];
  if constexpr (kInPlace) {
    HWY_UNROLL(kMR)
    for (size_t r = 0; r < MRV; ++r) rows[r] = a + std::min(r, mr - 1) * lda;
  }
  for (size_t k = 0; k < kc; ++k) {
    V bv[NV];
    HWY_UNROLL(kNV)
    for (size_t v = 0; v < NV; ++v) {
      bv[v] = kBInPlace ? hn::LoadU(d, b + v * kLanes) : hn::Load(d, b + v * kLanes);
      if constexpr (kStoreB) hn::Store(bv[v], d, b_out + v * kLanes);
    }
    if constexpr (kStoreB) b_out += kNR;
    HWY_UNROLL(kMR)
    for (size_t r = 0; r < MRV; ++r) {
      const V ar = hn::Set(d, kInPlace ? rows[r][k] : a[r]);
      HWY_UNROLL(kNV)
      for (size_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(ar, bv[v], acc[r][v]);
    }
    if constexpr (!kInPlace) a += kMR;
    b += kBInPlace ? ldb : kNR;
  }

  const V valpha = hn::Set(d, alpha);
  const V vbeta = hn::Set(d, beta);
  if (mr == MRV && nr == NV * kLanes) {
    HWY_UNROLL(kMR)
    for (size_t r = 0; r < MRV; ++r) {
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
  alignas(64) float tile[MRV * NV * kLanes];
  HWY_UNROLL(kMR)
  for (size_t r = 0; r < MRV; ++r) {
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

// Row tile t (mr rows from row i) of the block times one B sliver with nr valid columns (columns
// j ...), through the narrowest kernel that covers them.
template <size_t NV>
HWY_INLINE void Tile(const MacroArgs& m, const float* b, size_t j, size_t nr, size_t i, size_t mr,
                     size_t t) {
  float* const c = m.c + i * m.ldc + j;
  const bool half = kMRHalf < kMR && mr <= kMRHalf;
  if (m.lda != 0) {
    const float* a = m.a + i * m.lda;
    if (half) {
      MicroKernel<NV, true, kMRHalf>(m.kc, a, m.lda, b, kNR, c, m.ldc, mr, nr, m.alpha, m.beta);
    } else {
      MicroKernel<NV, true>(m.kc, a, m.lda, b, kNR, c, m.ldc, mr, nr, m.alpha, m.beta);
    }
  } else if (m.ldb != 0) {
    const float* a = m.a + t * m.kc * kMR;
    if (half) {
      MicroKernel<NV, false, kMRHalf, true>(m.kc, a, 0, b, m.ldb, c, m.ldc, mr, nr, m.alpha, m.beta);
    } else {
      MicroKernel<NV, false, kMR, true>(m.kc, a, 0, b, m.ldb, c, m.ldc, mr, nr, m.alpha, m.beta);
    }
  } else {
    const float* a = m.a + t * m.kc * kMR;
    if (half) {
      MicroKernel<NV, false, kMRHalf>(m.kc, a, 0, b, kNR, c, m.ldc, mr, nr, m.alpha, m.beta);
    } else {
      MicroKernel<NV, false>(m.kc, a, 0, b, kNR, c, m.ldc, mr, nr, m.alpha, m.beta);
    }
  }
}

// One B sliver (columns j ..., nr valid) against row tile t (mr rows from row i), through the
// kernel of as many vectors as the sliver has valid ones.
HWY_INLINE void TileOfSliver(const MacroArgs& m, size_t j, size_t s, size_t i, size_t mr, size_t t) {
  const size_t nr = std::min(kNR, m.nc - j);
  const float* b = m.ldb != 0 ? m.b + j : m.b + s * m.kc * kNR;
  const size_t nv = (nr + kLanes - 1) / kLanes;
  if (nv == 1) {
    Tile<1>(m, b, j, nr, i, mr, t);
  } else if (nv == 2 || kNV == 2) {
    Tile<(kNV >= 2 ? 2 : 1)>(m, b, j, nr, i, mr, t);
  } else {
    Tile<kNV>(m, b, j, nr, i, mr, t);
  }
}

// Row tile 0 (mr rows) against full sliver s (columns j ...) while packing it (MacroArgs::b_src).
HWY_INLINE void FirstTilePacking(const MacroArgs& m, size_t j, size_t s, size_t mr) {
  const float* src = m.b_src + j;
  // b is the task's own packing buffer, const only for the tiles that read it.
  float* const packed = const_cast<float*>(m.b) + s * m.kc * kNR;
  float* const c = m.c + j;
  if (kMRHalf < kMR && mr <= kMRHalf) {
    MicroKernel<kNV, false, kMRHalf, true, true>(m.kc, m.a, 0, src, m.b_src_ld, c, m.ldc, mr, kNR,
                                                  m.alpha, m.beta, packed);
  } else {
    MicroKernel<kNV, false, kMR, true, true>(m.kc, m.a, 0, src, m.b_src_ld, c, m.ldc, mr, kNR,
                                              m.alpha, m.beta, packed);
  }
}

// Row tile t (mr rows from row i) of sliver s: the first packs a sliver that is not packed yet
// (MacroArgs::b_src).
HWY_INLINE void TileOrPack(const MacroArgs& m, size_t j, size_t s, size_t i, size_t mr, size_t t) {
  if (m.b_src != nullptr && t == 0 && j + kNR <= m.nc) {
    FirstTilePacking(m, j, s, mr);
  } else {
    TileOfSliver(m, j, s, i, mr, t);
  }
}

// The block: for each B sliver, every row tile (the sliver stays in L1 while the A block streams
// from L2), or, for shallow slices, for each row tile every sliver, so that C is written along
// its rows.
inline void Macro(const MacroArgs& m) {
  if (m.kc <= kShallowK) {
    for (size_t i = 0, t = 0; i < m.mc; i += kMR, ++t) {
      const size_t mr = std::min(kMR, m.mc - i);
      for (size_t j = 0, s = 0; j < m.nc; j += kNR, ++s) TileOrPack(m, j, s, i, mr, t);
    }
    return;
  }
  const size_t pair = HalfTilePair(m.mc, m.kc);
  const size_t tiles = (m.mc + kMR - 1) / kMR;
  for (size_t j = 0, s = 0; j < m.nc; j += kNR, ++s) {
    for (size_t t = 0; t < tiles; ++t) {
      const RowTile rt = RowTileOf(t, m.mc, pair);
      TileOrPack(m, j, s, rt.row0, rt.rows, t);
    }
  }
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // include guard
