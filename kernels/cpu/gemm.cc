// Our own SGEMM (Goto/BLIS structure): the driver. Its per-target parts are gemm_micro-inl.h
// (register tile) and gemm_pack-inl.h (packing); skinny x · Bᵀ is gemm_skinny.cc, OpenBLAS
// gemm_blas.cc.
//
// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major.
//
// Structure (loops from outside in):
//   jc: column panels of C, wide enough that op(B)[:, panel] packed whole stays within 64 MiB
//       (one panel for every experiment shape); op(B) is packed into KC x NR slivers: once per
//       panel by all threads together when several row blocks share it, otherwise (M <= MC) by
//       each task for its own chunk, slice by slice, just before use (op(B) = B in slices deeper
//       than kShallowK: by the micro-kernel of the first row tile, which reads B's rows in place).
//   op(A): read in place when it is A itself and N <= NR (each value is used once); otherwise
//       packed once and shared when it is small (M x K up to 4 Mi floats: every training
//       shape), or packed per task, MC x KC at a time, into a per-thread buffer.
//   task = (block of MC rows) x (chunk of NR-slivers): the OpenMP work unit, handed out
//       dynamically. Chunks are ~1024 columns (the C block stays in L2 across the KC slices);
//       with shared A they are smaller: one per thread for a single row block, otherwise about
//       4 tasks per thread.
//   pc: KC-deep slices of K.
//   jr over the chunk's B slivers, ir over A slivers; for slices of at most kShallowK (16) k,
//       ir outside and jr inside instead: with the C tiles of one sliver column written one below
//       the other, rows 4 KiB apart, 128 x 1024 x 10 (nn) took 0.054 ms on one Zen 5 thread at
//       AVX2 (0.024 with rows 1040 floats apart) and 0.021 at AVX3, along C's rows 0.024 and
//       0.013 (16 and 32 k: the same either way);
//   micro-kernel: MR x NR register tile (NR = NV Highway vectors), acc += a[r] * b[:] by FMA,
//       C tile prefetched at the start (when read) and merged once at the end; slivers with
//       fewer valid vectors (N = 16, a panel's last sliver) use a narrower tile.
//
// Skinny x · Bᵀ (at most kSkinnyRows rows of A, op(B) = Bᵀ: a prediction of a few instances)
// skips all of that (gemm_skinny.cc).
//
// Determinism: each C element is computed by the same arithmetic no matter which thread or tile
// position handles it (KC slicing depends only on K and the SIMD target; vector lanes are
// independent; edge tiles use the same vector ops on a padded copy; packing only copies), so
// results are bit-identical for any thread count, task partition and schedule.
#include <strings.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

// No SVE targets here: the register tiles are arrays of vectors and the packed layouts are sized
// at compile time (MaxLanes), neither of which scalable vectors allow. Arm CPUs with SVE run the
// NEON GEMM. (Defined before the first Highway header, which reads it.)
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/cpu/gemm_detail.h"
#include "kernels/cpu/gemm_micro-inl.h"
#include "kernels/cpu/gemm_pack-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {

gemm_detail::KernelInfo GetKernel() {
  return gemm_detail::KernelInfo{kMR, kNR, kKC, kMC, &Macro, &PackA, &PackB};
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <omp.h>

#include "hwy/aligned_allocator.h"
#include "kernels/cpu/linalg.h"

namespace ip::cpu {
HWY_EXPORT(GetKernel);

namespace {
using gemm_detail::ceil_div;
using gemm_detail::KernelInfo;
using gemm_detail::kSkinnyRows;
using gemm_detail::MacroArgs;

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

// How long libgomp's idle threads spin before they sleep decides what a parallel region costs.
// Spinning (its default, about 3 ms), a region costs a few us: measured on the 2-core Zen 1 VM,
// 64x16x256ᵀ (0.5 MFLOP) 16 -> 11 us on two threads, 64x16x1024ᵀ 61 -> 37, 16x1024x64 (tn)
// 91 -> 49. Sleeping at once (OMP_WAIT_POLICY=passive, or GOMP_SPINCOUNT=0, which libgomp obeys
// before the policy), every region start and barrier is a futex wake-up (about 20 us there):
// 64x16x256ᵀ 16 -> 37 us, 16x1024x64 91 -> 108; then only products above ~10 MFLOP (~100 us of
// one core) gain.
double parallel_min_flops() {
  static const double flops = gemm_detail::parallel_min_flops(std::getenv("OMP_WAIT_POLICY"),
                                                              std::getenv("GOMP_SPINCOUNT"));
  return flops;
}

void gemm_own(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
              const float* A, size_t lda, const float* B, size_t ldb, float beta, float* C,
              size_t ldc) {
  if (K == 0 || alpha == 0.0f) {  // nothing to multiply: C = beta * C (BLAS semantics)
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (!trans_a && trans_b && M <= kSkinnyRows) {  // a prediction of a few rows
    gemm_detail::gemm_skinny_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const int threads = omp_get_max_threads();
  const KernelInfo ki = HWY_DYNAMIC_DISPATCH(GetKernel)();
  const size_t MR = ki.mr, NR = ki.nr;
  // K slices of equal depth, at most the target's kc: K = 784 is 4 x 196 rather than 3 x 256 + 16,
  // whose last slice would cost a whole pass over C for 2% of the FMAs. The depth depends only on
  // K and the target, never on threads.
  const size_t nk = ceil_div(K, ki.kc);
  const size_t KC = ceil_div(K, nk);

  // Column panel: all of K times as many NR slivers as fit 16 Mi floats (64 MiB) of packed B.
  const size_t max_slivers = std::max<size_t>(1, (size_t{1} << 24) / (K * NR));
  const size_t panel_cols = std::min(ceil_div(N, NR), max_slivers) * NR;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const bool parallel = threads > 1 && flops > parallel_min_flops();

  // Small and medium op(A) (the training shapes) are packed once, by all threads together, and
  // shared; then tasks need not repack A, so they can be small (see the chunks below), and are
  // handed out dynamically. Large op(A) (inference batches) is packed per task into a per-thread
  // buffer. Both give the same packed values.
  const size_t T = static_cast<size_t>(threads);
  // op(A) = A against a single column of B slivers (N <= NR: the output layers, e.g. 64 x 16 x
  // 1024): each A value enters one micro-kernel call only, so a packed copy would be read once
  // right after being written. The micro-kernel reads A's rows in place instead (measured on one
  // Zen 1 thread, 64 x 16 x 1024 x·Wᵀ: see kernels/cpu/NOTES.md). Then the row blocks are the
  // only work to share, and nothing is packed per block: about 4 blocks per thread.
  const bool a_in_place = !trans_a && N <= NR;
  const size_t MC = a_in_place && parallel ? std::min(ki.mc, ceil_div(ceil_div(M, MR), 4 * T) * MR)
                                           : ki.mc;
  const size_t row_blocks = ceil_div(M, MC);
  const size_t m_pad = ceil_div(M, MR) * MR;
  const bool share_a = !a_in_place && m_pad * K <= (size_t{1} << 22);  // up to 16 MiB packed
  const bool a_per_task = !a_in_place && !share_a;

  // op(B) = B against at most 2 row tiles (M <= 2 MR: e.g. 10 x 1024 x 128 (tn), the mnist
  // output layer's dW with K = the batch): each B value enters at most 2 micro-kernel calls, and
  // reading its rows in place, 64 bytes from each, costs less than packing them. From 3 tiles on
  // the packed sliver wins: its rows, ldb apart in place, fall into few cache sets and are read
  // again by every tile (one Zen 5 thread at AVX2, 16 x 1024 x 64 (tn, 3 tiles): 91 GFLOP/s in
  // place, 100 packed; 24 x 1024 x 64: 99 and 110; 10 x 1024 x 128: 86 either way). Whole
  // slivers only (N a multiple of NR), so that no load reaches past a row of B.
  const bool b_in_place = !trans_b && !a_in_place && N % NR == 0 && ceil_div(M, MR) <= 2;
  // Otherwise, with a single row block (M <= MC: every training shape) each chunk of B is used by
  // one task only, so the task packs it itself, slice by slice, right before using it: the packed
  // sliver is still in L2, instead of a packed copy of all of B going out to L3 and coming back.
  // Several row blocks share each packed slice of B, packed up front by all threads together.
  const bool b_in_task = !b_in_place && row_blocks == 1;
  const bool b_shared = !b_in_place && !b_in_task;
  // op(B) = B packed by the task (A packed): the first row tile reads each full sliver's rows in
  // place and stores them packed as it goes, instead of a packing pass before the block, whose
  // output (1 MiB per slice for one thread's 64 x 1024 x 1024) left L2 before it was read. One
  // Zen 5 thread, 64 x 1024 x 1024 nn: AVX2 128 -> 132-135 GFLOP/s, AVX3 229-239 -> 240-244;
  // two threads (chunks of 128 KiB) the same at AVX2, 1-3% faster at AVX3. Not for shallow slices
  // (K <= kShallowK), whose row tiles come first: 64 x 1024 x 16 and 128 x 1024 x 10 nn were
  // 4-12% slower on two threads in the one comparison made.
  const bool fuse_pack_b = b_in_task && !trans_b && !a_in_place && KC > gemm_detail::kShallowK;

  // Tasks: row blocks x chunks of slivers. Chunks of ~1024 columns keep the MC x chunk block
  // of C in L2 across the K slices (and bound the repacking of A). With shared A and several
  // row blocks (of unequal rows: the tn products with M = 1024), chunks are made small enough for
  // about 4 tasks per thread, handed out dynamically. A single row block (every other training
  // shape) gets one equal chunk per thread: on two idle Zen 5 threads, 8 rounds against 4 tasks
  // per thread, 64x1024x1024 nn 229 -> 240 GFLOP/s at AVX2 and 396 -> 424 at AVX3, 128x1024x784
  // nt 232 -> 239 and 398 -> 431, 16x1024x64 tn 126 -> 144 (the smaller tasks gave a running
  // thread work to take over from a preempted one, at that price on an idle machine).
  const size_t max_ns = ceil_div(panel_cols, NR);
  size_t chunks = ceil_div(max_ns, std::max<size_t>(1, 1024 / NR));
  if (share_a && parallel) {
    const size_t wanted = row_blocks == 1 ? T : ceil_div(4 * T, row_blocks);
    chunks = std::min(max_ns, std::max(chunks, wanted));
  }
  const size_t chunk_slivers = ceil_div(max_ns, chunks);  // at most, per chunk

  // Scratch is allocated here, outside the parallel region, so that a failed allocation throws
  // in the caller's thread (an exception must not leave an OpenMP region).
  thread_local Scratch b_scratch;
  thread_local Scratch a_shared;
  thread_local std::vector<Scratch> a_scratch, b_task_scratch;
  float* const a_all = share_a ? a_shared.get(m_pad * K) : nullptr;
  float* const bp = b_shared ? b_scratch.get(K * max_ns * NR) : nullptr;
  const size_t bufs = parallel ? T : 1;
  if (a_scratch.size() < bufs) a_scratch.resize(bufs);
  if (b_task_scratch.size() < bufs) b_task_scratch.resize(bufs);
  for (size_t t = 0; t < bufs; ++t) {
    if (a_per_task) a_scratch[t].get(ceil_div(MC, MR) * MR * KC);
    if (b_in_task) b_task_scratch[t].get(chunk_slivers * NR * KC);
  }
  // Inside the region a thread_local name would mean each worker's own (empty) copy: go through
  // plain pointers to the caller's buffers.
  Scratch* const a_bufs = a_scratch.data();
  Scratch* const b_bufs = b_task_scratch.data();

  for (size_t j0 = 0; j0 < N; j0 += panel_cols) {
    const size_t nc = std::min(panel_cols, N - j0);
    const size_t ns = ceil_div(nc, NR);
    // The panel's slivers split as evenly as the chunks allow: 49 in 8 chunks of 6 or 7, not 7 of
    // 7, of which one thread of two takes 4 (128 x 784 x 1024 nn on two Zen 5 threads at AVX2:
    // 229 -> 251 GFLOP/s); at AVX3, 128 x 1024 x 784 nt's 22 slivers 11 + 11, not 3 x 7 + 1
    // (411 -> 464).
    const size_t panel_chunks = std::min(chunks, ns);
    // Shared packed B: slice p (depth kc_p) starts at p * KC * ns * NR; its slivers are
    // consecutive. Packed in groups of slivers so that NN packing reads runs of each B row.
    // Shared packed A: slice p starts at p * KC * m_pad, row block r at r * MC * kc_p within it.
    // About 8 slivers per group, the groups of a slice a multiple of the threads where there are
    // enough slivers, split as evenly as the chunks.
    constexpr size_t kGroup = 8;
    const size_t groups = std::min(ns, ceil_div(ceil_div(ns, kGroup), T) * T);
    const long b_jobs = static_cast<long>(b_shared ? nk * groups : 0);
    const long a_jobs = static_cast<long>(share_a && j0 == 0 ? nk * row_blocks : 0);
    const long tasks = static_cast<long>(row_blocks * panel_chunks);

#pragma omp parallel if (parallel)
    {
      const int me = omp_get_thread_num();
      float* const ap_own = a_per_task ? a_bufs[me].data.get() : nullptr;
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
        const size_t s0 = ns * g / groups, s1 = ns * (g + 1) / groups;
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
        const size_t s0 = ns * ch / panel_chunks, s1 = ns * (ch + 1) / panel_chunks;
        const size_t cc0 = s0 * NR, ccols = std::min(nc, s1 * NR) - cc0;
        for (size_t p0 = 0; p0 < K; p0 += KC) {
          const size_t kc = std::min(KC, K - p0);
          const float* ap;
          if (a_in_place) {
            ap = A + i0 * lda + p0;
          } else if (share_a) {
            ap = a_all + p0 * m_pad + i0 * kc;
          } else {
            ki.pack_a(trans_a, A, lda, i0, mc, p0, kc, ap_own);
            ap = ap_own;
          }
          const float* b;
          if (b_in_place) {
            b = B + p0 * ldb + j0 + cc0;
          } else if (fuse_pack_b) {
            // Full slivers are packed by their first row tile; only a partial last one here.
            const size_t full_end = std::max(s0, std::min(s1, nc / NR));
            if (full_end < s1) {
              float* const partial = bp_own + (full_end - s0) * kc * NR;
              ki.pack_b(trans_b, B, ldb, j0, nc, p0, kc, full_end, s1, partial);
            }
            b = bp_own;
          } else if (b_in_task) {
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
          args.lda = a_in_place ? lda : 0;
          args.b = b;
          args.ldb = b_in_place ? ldb : 0;
          args.c = C + i0 * ldc + j0 + cc0;
          args.ldc = ldc;
          args.alpha = alpha;
          args.beta = p0 == 0 ? beta : 1.0f;  // later slices accumulate onto the first
          if (fuse_pack_b) {
            args.b_src = B + p0 * ldb + j0 + cc0;
            args.b_src_ld = ldb;
          }
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
  if (gemm_backend() == GemmBackend::Blas) {
    gemm_detail::gemm_blas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
  gemm_own(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

namespace gemm_detail {
double parallel_min_flops(const char* wait_policy, const char* spin_count) {
  // libgomp reads GOMP_SPINCOUNT as a count with an optional k/M/G/T suffix or "infinite"; an
  // unparsable value is ignored, and then the policy decides.
  if (spin_count != nullptr && *spin_count != '\0') {
    char* end = nullptr;
    const unsigned long long spins = std::strtoull(spin_count, &end, 10);
    if (end != spin_count) return spins == 0 ? 1e7 : 1e6;
    if (strncasecmp(spin_count, "infinit", 7) == 0) return 1e6;
  }
  const bool passive = wait_policy != nullptr && strcasecmp(wait_policy, "passive") == 0;
  return passive ? 1e7 : 1e6;
}
}  // namespace gemm_detail

}  // namespace ip::cpu
#endif  // HWY_ONCE
