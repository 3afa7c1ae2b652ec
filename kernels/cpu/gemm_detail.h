// What the GEMM's files share (gemm.cc drives; gemm_micro-inl.h and gemm_pack-inl.h are its
// per-target kernels; gemm_skinny.cc and gemm_blas.cc the paths it hands whole products to).
// Internal to kernels/cpu: the interface is linalg.h.
#pragma once

#include <cstddef>

namespace ip::cpu::gemm_detail {

// One call of the macro-kernel: an MC x (chunk) block of C over one KC slice.
struct MacroArgs {
  size_t kc;           // depth of this slice
  size_t mc;           // valid rows of the block
  size_t nc;           // valid columns of the chunk
  const float* a;      // packed A block: ceil(mc/MR) slivers of kc x MR; with lda, op(A) itself
  size_t lda;          // 0: a is packed; otherwise a is the block's first row of op(A) = A
                       // (not transposed) at column p0, rows lda apart, read in place
  const float* b;      // packed B chunk: ceil(nc/NR) slivers of kc x NR, contiguous; with ldb,
  size_t ldb;          // 0: b is packed; otherwise b is op(B) = B (not transposed) itself at
                       // row p0 and the chunk's first column, rows ldb apart, read in place
                       // (nc a multiple of NR)
  float* c;            // top-left element of the C block
  size_t ldc;
  float alpha;
  float beta;          // 0: overwrite without reading C
  // Packing fused into the first row tile (b_src not null; b packed, A packed): the chunk's full
  // slivers are not packed yet. Row tile 0 reads each from op(B) = B itself (b_src: row p0, the
  // chunk's first column, rows b_src_ld apart) and writes the packed sliver into b as it goes;
  // the other row tiles read that. A last, partial sliver is packed already.
  const float* b_src = nullptr;
  size_t b_src_ld = 0;
};
using MacroFn = void (*)(const MacroArgs&);
// Packs op(A)[i0 : i0+mc, p0 : p0+kc] into MR-row slivers (sliver t: for each k, the MR values of
// the rows of row tile t, gemm_micro-inl.h's RowTileOf, zero beyond them).
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

inline size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

// Slices at most this deep walk the block row tile by row tile, each along all the chunk's
// slivers, and pack their B before the block (gemm.cc says why).
constexpr size_t kShallowK = 16;

// Products of fewer FLOP than this stay on one thread (gemm.cc says why), given the environment's
// OMP_WAIT_POLICY and GOMP_SPINCOUNT (nullptr: unset): 1e7 where idle OpenMP threads sleep at
// once (GOMP_SPINCOUNT = 0, or it unset and the policy passive), otherwise 1e6.
double parallel_min_flops(const char* wait_policy, const char* spin_count);

// Skinny x · Bᵀ products (gemm_skinny.cc) take at most this many rows of A: measured on one Zen 4
// thread, 1024 x 1024 B, skinny vs packed: 1 row 0.059 vs 0.36 ms, 8 rows 0.23 vs 0.34, 12 rows
// 0.31 vs 0.68, 16 rows 0.55 vs 0.49.
constexpr size_t kSkinnyRows = 12;

// C = alpha * A · Bᵀ + beta * C for M <= kSkinnyRows, K > 0 and alpha != 0 (gemm_skinny.cc).
void gemm_skinny_nt(size_t M, size_t N, size_t K, float alpha, const float* A, size_t lda,
                    const float* B, size_t ldb, float beta, float* C, size_t ldc);

// The same product as gemm through OpenBLAS's sgemm (gemm_blas.cc), in builds with cblas.h
// (INFERENCEPOWER_HAVE_BLAS); called only when the Blas backend is selected, which needs it loaded.
void gemm_blas(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
               const float* A, size_t lda, const float* B, size_t ldb, float beta, float* C,
               size_t ldc);

}  // namespace ip::cpu::gemm_detail
