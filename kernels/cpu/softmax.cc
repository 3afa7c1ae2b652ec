// Row-wise functions (table kind Rowwise): Softmax, Softmin, LogSoftmax over the last dimension
// of a (rows, cols) matrix, forward and backward.
//
// Numerics follow the scalar forms of activation_math.h (and so PyTorch): subtract the row max
// before exp, so rows of -1000, rows with a +1000 element and rows in [80, 89] are exact; a -inf
// element gives 0 (softmax) or -inf (log-softmax). Rows where the vector path would not reproduce
// the scalar form's non-finite result — a NaN anywhere, a +inf, or a row of only -inf (max is
// not finite) — are handed to the scalar form itself; those are rare and keep every NaN where
// PyTorch has one. The forward exps are vmath::ExpNonPositive (math-inl.h), whose argument on the
// vector path is never positive or NaN.
//
// Layout: per-target row kernels in HWY_NAMESPACE; OpenMP over blocks of rows in HWY_ONCE,
// dispatching per block. Each row is computed by one thread in one fixed order, so the results
// do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/softmax.cc"
#include "hwy/cache_control.h"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/cpu/math-inl.h"
#include "kernels/cpu/tail-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using MF = hn::Mask<DF>;

// The running states below (MaxState, ExpSumState, the Kernels) refer to vectors that their
// callers own as local variables: SVE vectors are sizeless types, which cannot be members. Once
// inlined, those locals are registers, as members would be.

// Calls f(v, i, count) for each vector of a row: full vectors with count == Lanes, then one
// partial vector (count < Lanes, inactive lanes zero).
template <class F>
HWY_INLINE void ForEachVector(DF d, const float* x, size_t n, F&& f) {
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L) f(hn::LoadU(d, x + i), i, L);
  if (i < n) f(LoadTail(d, x + i, n - i), i, n - i);
}

// Full vectors streamed when `stream` (StoreMaybeStream), the partial one stored normally.
HWY_INLINE void StoreVector(DF d, VF v, float* y, size_t i, size_t count, bool stream) {
  if (count == hn::Lanes(d)) {
    StoreMaybeStream(d, v, y + i, stream);
  } else {
    StoreTail(d, v, y + i, count);
  }
}

// Running max of sign * x over a row, and whether the row is on the vector path: false when the
// row holds a NaN or its max is not finite (+inf present, or every element -inf). Fed by Pair
// (vectors i and i + L of the pair loop below), then One and Tail: the same order whether the row's
// max is taken alone or inside the fused pass of the previous row, so the result is the same.
// Two accumulators: one Max chain would wait on Max's latency for every vector. For sign = -1
// the max of -x is -min(x), so x is never negated. A NaN in either vector of a pair makes their
// sum NaN (so does inf + -inf, whose row has a +inf and takes the scalar path anyway).
template <bool kNegate>
struct MaxState {
  VF& m0;
  VF& m1;
  MF& nan;
  static VF Neutral(DF d) { return hn::Set(d, kNegate ? HUGE_VALF : -HUGE_VALF); }
  static VF Combine(VF a, VF b) { return kNegate ? hn::Min(a, b) : hn::Max(a, b); }
  MaxState(DF d, VF& m0_, VF& m1_, MF& nan_) : m0(m0_), m1(m1_), nan(nan_) {
    m0 = Neutral(d);
    m1 = Neutral(d);
    nan = hn::FirstN(d, 0);
  }
  HWY_INLINE void Pair(VF v0, VF v1) {
    nan = hn::Or(nan, hn::IsNaN(hn::Add(v0, v1)));
    m0 = Combine(m0, v0);
    m1 = Combine(m1, v1);
  }
  // Vectors [i, n) of x after the pair loop: full ones, then the partial one.
  HWY_INLINE void Rest(DF d, const float* HWY_RESTRICT x, size_t i, size_t n) {
    const size_t L = hn::Lanes(d);
    for (; i + L <= n; i += L) {
      const VF v = hn::LoadU(d, x + i);
      nan = hn::Or(nan, hn::IsNaN(v));
      m0 = Combine(m0, v);
    }
    if (i < n) {
      const VF v = LoadTail(d, x + i, n - i);  // inactive lanes 0, never NaN
      nan = hn::Or(nan, hn::IsNaN(v));
      m0 = Combine(m0, hn::IfThenElse(hn::FirstN(d, n - i), v, Neutral(d)));
    }
  }
  HWY_INLINE bool Finish(DF d, float* max_out) const {
    const VF m = Combine(m0, m1);
    const float mx =
        kNegate ? -hn::GetLane(hn::MinOfLanes(d, m)) : hn::GetLane(hn::MaxOfLanes(d, m));
    *max_out = mx;
    return hn::AllFalse(d, nan) && std::isfinite(mx);
  }
};

// The max of one row on its own (the first row of a block, or the row after a scalar one).
template <bool kNegate>
HWY_INLINE bool RowMax(DF d, const float* HWY_RESTRICT x, size_t n, float* max_out) {
  const size_t L = hn::Lanes(d);
  VF m0, m1;
  MF nan;
  MaxState<kNegate> st(d, m0, m1, nan);
  size_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) st.Pair(hn::LoadU(d, x + i), hn::LoadU(d, x + i + L));
  st.Rest(d, x, i, n);
  return st.Finish(d, max_out);
}

// exp(sign * x - max) for a row on the vector path: the argument is <= 0 or -inf (a -inf element
// of x, or +inf for Softmin), where vmath::ExpNonPositive (12 vector ops on AVX-512, 0.95 ulp;
// below -104, -inf included, exactly 0) is exact enough. For sign = -1 the argument is
// (-max) - x, the same rounded value as -x - max; shift is max, or -max for sign = -1.
template <bool kNegate>
HWY_INLINE VF ExpShifted(DF d, VF v, VF shift) {
  return vmath::ExpNonPositive(d, kNegate ? hn::Sub(shift, v) : hn::Sub(v, shift));
}

// The sum of e = exp(sign * x - max) over a row, e stored to e_out if kStore. Two sums, fed by
// Pair like MaxState, then Rest; the partial vector's inactive lanes are zeroed before the sum.
// Start sets the row's max m.
template <bool kNegate, bool kStore>
struct ExpSumState {
  VF& shift;
  VF& s0;
  VF& s1;
  ExpSumState(VF& shift_, VF& s0_, VF& s1_) : shift(shift_), s0(s0_), s1(s1_) {}
  HWY_INLINE void Start(DF d, float m) {
    shift = hn::Set(d, kNegate ? -m : m);
    s0 = hn::Zero(d);
    s1 = hn::Zero(d);
  }
  HWY_INLINE void Pair(DF d, const float* HWY_RESTRICT x, float* HWY_RESTRICT e_out, size_t i) {
    const size_t L = hn::Lanes(d);
    const VF e0 = ExpShifted<kNegate>(d, hn::LoadU(d, x + i), shift);
    const VF e1 = ExpShifted<kNegate>(d, hn::LoadU(d, x + i + L), shift);
    if (kStore) {
      hn::StoreU(e0, d, e_out + i);
      hn::StoreU(e1, d, e_out + i + L);
    }
    s0 = hn::Add(s0, e0);
    s1 = hn::Add(s1, e1);
  }
  // Two pairs: the four exps first, so that their chains overlap, then the same additions in the
  // same order as Pair(i), Pair(i + 2L) (the sums, so the results, are the same either way).
  HWY_INLINE void TwoPairs(DF d, const float* HWY_RESTRICT x, float* HWY_RESTRICT e_out, size_t i) {
    const size_t L = hn::Lanes(d);
    const VF e0 = ExpShifted<kNegate>(d, hn::LoadU(d, x + i), shift);
    const VF e1 = ExpShifted<kNegate>(d, hn::LoadU(d, x + i + L), shift);
    const VF e2 = ExpShifted<kNegate>(d, hn::LoadU(d, x + i + 2 * L), shift);
    const VF e3 = ExpShifted<kNegate>(d, hn::LoadU(d, x + i + 3 * L), shift);
    if (kStore) {
      hn::StoreU(e0, d, e_out + i);
      hn::StoreU(e1, d, e_out + i + L);
      hn::StoreU(e2, d, e_out + i + 2 * L);
      hn::StoreU(e3, d, e_out + i + 3 * L);
    }
    s0 = hn::Add(s0, e0);
    s1 = hn::Add(s1, e1);
    s0 = hn::Add(s0, e2);
    s1 = hn::Add(s1, e3);
  }
  HWY_INLINE float Rest(DF d, const float* HWY_RESTRICT x, float* HWY_RESTRICT e_out, size_t i,
                        size_t n) {
    const size_t L = hn::Lanes(d);
    for (; i + L <= n; i += L) {
      const VF e = ExpShifted<kNegate>(d, hn::LoadU(d, x + i), shift);
      if (kStore) hn::StoreU(e, d, e_out + i);
      s0 = hn::Add(s0, e);
    }
    if (i < n) {
      const VF e = hn::IfThenElseZero(hn::FirstN(d, n - i),
                                      ExpShifted<kNegate>(d, LoadTail(d, x + i, n - i), shift));
      if (kStore) StoreTail(d, e, e_out + i, n - i);
      s0 = hn::Add(s0, e);
    }
    return hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  }
};

// Row pipeline shared by the forward forms: for each row r of a block, one fused pass over the
// row computes (a) MaxState of row r + 1, (b) the exp pass of row r (Kernel::ExpPair/ExpRest) and
// (c) the output of row r - 1 (Kernel::OutPair/OutRest), whose inputs are now in L1. Memory reads
// (row r + 1) and output stores (row r - 1) are spread over the exp work instead of coming in
// bursts, and the cheap passes (max, output) fill ports that the exp leaves idle. Every row gets
// the same operations in the same order as if it were alone, so results do not depend on how rows
// are grouped (thread count, block size). Rows off the vector path go to the scalar form.
template <bool kNegate, class Kernel>
HWY_INLINE void PipelineRows(DF d, Kernel& k, const float* x, float* y, size_t rows, size_t n) {
  const size_t L = hn::Lanes(d);
  float m;
  bool ok = RowMax<kNegate>(d, x, n, &m);
  bool have_prev = false;
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    const float* xn = r + 1 < rows ? xr + n : nullptr;
    if (!ok) {  // rare: finish row r - 1, row r by the scalar form, then the next row's max
      if (have_prev) k.OutRest(d, 0, n);
      have_prev = false;
      k.Scalar(xr, yr, n);
      if (xn) ok = RowMax<kNegate>(d, xn, n, &m);
      continue;
    }
    VF next_m0, next_m1;
    MF next_nan;
    MaxState<kNegate> next(d, next_m0, next_m1, next_nan);
    k.Begin(d, xr, yr, m);
    size_t i = 0;
    for (; i + 2 * L <= n; i += 2 * L) {
      if (xn) next.Pair(hn::LoadU(d, xn + i), hn::LoadU(d, xn + i + L));
      k.ExpPair(d, i);
      if (have_prev) k.OutPair(d, i);
    }
    if (xn) next.Rest(d, xn, i, n);
    if (have_prev) k.OutRest(d, i, n);
    k.ExpRest(d, i, n);  // sets up row r as the next "previous" row
    have_prev = true;
    if (xn) ok = next.Finish(d, &m);
  }
  if (have_prev) k.OutRest(d, 0, n);
}

// Asks for the 64-byte lines of [p, p + count) to be brought into the caches.
HWY_INLINE void PrefetchFloats(const float* p, size_t count) {
  for (size_t j = 0; j < count; j += 16) hwy::Prefetch(p + j);
}

// Backward's second pass over a row (vector at i) asks for the next row's y and dy at i: the
// next row's first pass then reads them from the caches, and memory works during this pass's
// arithmetic. One request per vector (two per 64-byte line where vectors are 32 bytes).
HWY_INLINE void PrefetchRowsAt(const float* next_y, const float* next_dy, size_t i) {
  hwy::Prefetch(next_y + i);
  hwy::Prefetch(next_dy + i);
}

// The same operations row by row, pass after pass: max, exp, output. Faster than PipelineRows
// when x comes from memory: the max pass's loads follow each other closely, so many cache misses
// are in flight at once, where the fused pass spreads them over the exp work (NOTES.md). The exp
// pass, which reads its row from L1, asks for the next row's lines meanwhile, so that memory is
// not idle while the exps are computed.
template <bool kNegate, class Kernel>
HWY_INLINE void RowByRow(DF d, Kernel& k, const float* x, float* y, size_t rows, size_t n) {
  const size_t L = hn::Lanes(d);
  for (size_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    const float* xn = r + 1 < rows ? xr + n : nullptr;
    float m;
    if (!RowMax<kNegate>(d, xr, n, &m)) {
      k.Scalar(xr, yr, n);
      continue;
    }
    k.Begin(d, xr, yr, m);
    size_t i = 0;
    for (; i + 4 * L <= n; i += 4 * L) {
      if (xn) PrefetchFloats(xn + i, 4 * L);
      k.ExpTwoPairs(d, i);
    }
    for (; i + 2 * L <= n; i += 2 * L) {
      if (xn) PrefetchFloats(xn + i, 2 * L);
      k.ExpPair(d, i);
    }
    k.ExpRest(d, i, n);
    k.OutRest(d, 0, n);
  }
}

template <bool kNegate, class Kernel>
HWY_INLINE void ForwardRows(DF d, Kernel& k, const float* x, float* y, size_t rows, size_t n,
                            bool pipelined) {
  if (pipelined) {
    PipelineRows<kNegate>(d, k, x, y, rows, n);
  } else {
    RowByRow<kNegate>(d, k, x, y, rows, n);
  }
}

// exp(y) for any y (log-softmax backward gets y from outside): vmath::Exp clamps the argument,
// gives +inf above ln(FLT_MAX) and keeps NaN (12 vector ops for the exp itself on AVX-512, where
// Highway 1.0.3's Exp, ~25 ops, needed the same clamps and patches around it).
HWY_INLINE VF ExpAny(DF d, VF y) { return vmath::Exp(d, y); }

// ---- vector forms, one per Rowwise table row (the counterpart of activation_math.h's) ----------

template <FunctionId kId>
struct VecRowwise;  // a Rowwise row without a vector form fails to compile here

// Widest row whose exps go through a stack scratch row when the output is streamed (16 KiB).
constexpr size_t kScratchFloats = 4096;

// softmax(sign * x); Softmin is sign = -1.
template <bool kNegate>
struct VecSoftmaxSigned {
  // Per row: the max, then e = exp(x - max) stored in y with its sum, then y = e / sum over the
  // L1-resident row (ForwardRows). Computing the max and the sum in one pass ("online" softmax)
  // would need exp twice per element, since the output would have to redo exp(x - max):
  // measured 1.7x the time of this form (NOTES.md). Streamed outputs (RowByRow only, see
  // kPipelineBytes): e goes to a scratch row on the stack (L1), so y is written once, by the
  // output pass, without reading its lines first; wider rows keep e in y and are not streamed.
  struct Kernel {
    ExpSumState<kNegate, true> es;
    VF& prev_inv;  // row r - 1's 1 / sum
    bool stream;
    float* scratch;  // kScratchFloats, or nullptr: e in y
    const float* xr = nullptr;  // row r
    float* er = nullptr;
    float* yr = nullptr;
    const float* prev_e = nullptr;  // row r - 1: e and y
    float* prev_y = nullptr;
    Kernel(ExpSumState<kNegate, true> es_, VF& prev_inv_, bool stream_, float* scratch_)
        : es(es_), prev_inv(prev_inv_), stream(stream_), scratch(scratch_) {}
    HWY_INLINE void Begin(DF d, const float* x, float* y, float m) {
      es.Start(d, m);
      xr = x;
      yr = y;
      er = scratch ? scratch : y;
    }
    HWY_INLINE void ExpPair(DF d, size_t i) { es.Pair(d, xr, er, i); }
    HWY_INLINE void ExpTwoPairs(DF d, size_t i) { es.TwoPairs(d, xr, er, i); }
    HWY_INLINE void ExpRest(DF d, size_t i, size_t n) {
      prev_inv = hn::Set(d, 1.0f / es.Rest(d, xr, er, i, n));
      prev_e = er;
      prev_y = yr;
    }
    HWY_INLINE void OutPair(DF d, size_t i) {  // PipelineRows: never streamed, e in y
      const size_t L = hn::Lanes(d);
      hn::StoreU(hn::Mul(hn::LoadU(d, prev_e + i), prev_inv), d, prev_y + i);
      hn::StoreU(hn::Mul(hn::LoadU(d, prev_e + i + L), prev_inv), d, prev_y + i + L);
    }
    HWY_INLINE void OutRest(DF d, size_t i, size_t n) {
      ForEachVector(d, prev_e + i, n - i, [&](VF e, size_t j, size_t count) {
        StoreVector(d, hn::Mul(e, prev_inv), prev_y + i, j, count, stream);
      });
    }
    static void Scalar(const float* x, float* y, size_t n) {
      Softmax::forward_row(x, y, n, kNegate ? -1.0f : 1.0f);
    }
  };

  static void forward_rows(const float* x, float* y, size_t rows, size_t n, bool pipelined,
                           bool stream) {
    const DF d;
    HWY_ALIGN float scratch[kScratchFloats];
    const bool use_scratch = stream && !pipelined && n <= kScratchFloats;
    VF shift, s0, s1, prev_inv;  // the Kernel's vectors
    Kernel k(ExpSumState<kNegate, true>(shift, s0, s1), prev_inv, use_scratch,
             use_scratch ? scratch : nullptr);
    ForwardRows<kNegate>(d, k, x, y, rows, n, pipelined);
  }

  // dx = sign * y * (dy - sum(dy * y)); next_y, next_dy: the next row's, prefetched by the
  // second pass (nullptr for the last row).
  static void backward_row(const float* y, const float* dy, float* dx, size_t n, bool stream,
                           const float* next_y, const float* next_dy) {
    const DF d;
    VF dot = hn::Zero(d);
    ForEachVector(d, y, n, [&](VF vy, size_t i, size_t count) {
      const VF vdy = count == hn::Lanes(d) ? hn::LoadU(d, dy + i) : LoadTail(d, dy + i, count);
      dot = hn::Add(dot, hn::Mul(vdy, vy));  // inactive lanes are 0 * 0
    });
    const VF vdot = hn::Set(d, hn::GetLane(hn::SumOfLanes(d, dot)));
    ForEachVector(d, y, n, [&](VF vy, size_t i, size_t count) {
      if (next_y) PrefetchRowsAt(next_y, next_dy, i);
      const VF vdy = count == hn::Lanes(d) ? hn::LoadU(d, dy + i) : LoadTail(d, dy + i, count);
      const VF sy = kNegate ? hn::Neg(vy) : vy;
      StoreVector(d, hn::Mul(sy, hn::Sub(vdy, vdot)), dx, i, count, stream);
    });
  }
};

template <>
struct VecRowwise<FunctionId::Softmax> : VecSoftmaxSigned<false> {};
template <>
struct VecRowwise<FunctionId::Softmin> : VecSoftmaxSigned<true> {};

template <>
struct VecRowwise<FunctionId::LogSoftmax> {
  // y = x - max - log(sum(exp(x - max))): per row the max, the sum of exps (nothing stored),
  // then y from the L1-resident x, which needs no exp (PipelineRows fuses the passes of
  // consecutive rows). The online form (max and sum in one pass, rescaling the sum whenever the
  // max grows) measured ~20% slower than these two cheap passes (NOTES.md).
  struct Kernel {
    ExpSumState<false, false> es;
    VF& prev_m;  // row r - 1's max and log(sum)
    VF& prev_log;
    bool stream;  // RowByRow only
    const float* prev_x = nullptr;  // row r - 1: x, y
    float* prev_y = nullptr;
    const float* xr = nullptr;
    float* yr = nullptr;
    float mr = 0;
    Kernel(ExpSumState<false, false> es_, VF& prev_m_, VF& prev_log_, bool stream_)
        : es(es_), prev_m(prev_m_), prev_log(prev_log_), stream(stream_) {}
    HWY_INLINE void Begin(DF d, const float* x, float* y, float m) {
      es.Start(d, m);
      xr = x;
      yr = y;
      mr = m;
    }
    HWY_INLINE void ExpPair(DF d, size_t i) { es.Pair(d, xr, nullptr, i); }
    HWY_INLINE void ExpTwoPairs(DF d, size_t i) { es.TwoPairs(d, xr, nullptr, i); }
    HWY_INLINE void ExpRest(DF d, size_t i, size_t n) {
      prev_log = hn::Set(d, std::log(es.Rest(d, xr, nullptr, i, n)));
      prev_m = hn::Set(d, mr);
      prev_x = xr;
      prev_y = yr;
    }
    HWY_INLINE VF Out(VF v) const { return hn::Sub(hn::Sub(v, prev_m), prev_log); }
    HWY_INLINE void OutPair(DF d, size_t i) {
      const size_t L = hn::Lanes(d);
      const VF v0 = hn::LoadU(d, prev_x + i), v1 = hn::LoadU(d, prev_x + i + L);
      hn::StoreU(Out(v0), d, prev_y + i);
      hn::StoreU(Out(v1), d, prev_y + i + L);
    }
    HWY_INLINE void OutRest(DF d, size_t i, size_t n) {
      ForEachVector(d, prev_x + i, n - i, [&](VF v, size_t j, size_t count) {
        StoreVector(d, Out(v), prev_y + i, j, count, stream);
      });
    }
    static void Scalar(const float* x, float* y, size_t n) { LogSoftmax::forward_row(x, y, n); }
  };

  static void forward_rows(const float* x, float* y, size_t rows, size_t n, bool pipelined,
                           bool stream) {
    const DF d;
    VF shift, s0, s1, prev_m, prev_log;  // the Kernel's vectors
    Kernel k(ExpSumState<false, false>(shift, s0, s1), prev_m, prev_log, stream && !pipelined);
    ForwardRows<false>(d, k, x, y, rows, n, pipelined);
  }

  // dx = dy - exp(y) * sum(dy); next_y, next_dy as for Softmax.
  static void backward_row(const float* y, const float* dy, float* dx, size_t n, bool stream,
                           const float* next_y, const float* next_dy) {
    const DF d;
    VF sum = hn::Zero(d);
    ForEachVector(d, dy, n, [&](VF v, size_t, size_t) { sum = hn::Add(sum, v); });
    const VF vsum = hn::Set(d, hn::GetLane(hn::SumOfLanes(d, sum)));
    ForEachVector(d, y, n, [&](VF vy, size_t i, size_t count) {
      if (next_y) PrefetchRowsAt(next_y, next_dy, i);
      const VF vdy = count == hn::Lanes(d) ? hn::LoadU(d, dy + i) : LoadTail(d, dy + i, count);
      StoreVector(d, hn::Sub(vdy, hn::Mul(ExpAny(d, vy), vsum)), dx, i, count, stream);
    });
  }
};

// Exported per-target entry points over `rows` consecutive rows; the table picks the vector form.
// Large outputs (use_streaming_stores) are streamed, forward and backward; forward only in the
// row-by-row form, which large inputs take anyway (kPipelineBytes < kStreamBytes).
void RowwiseForwardRows(int id, const float* x, float* y, size_t rows, size_t cols,
                        bool pipelined, bool stream) {
  visit_function(static_cast<FunctionId>(id), [&](auto fid) {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind == KernelKind::Rowwise) {
      VecRowwise<decltype(fid)::value>::forward_rows(x, y, rows, cols, pipelined, stream);
    }
  });
  if (stream) hwy::FlushStream();
}

void RowwiseBackwardRows(int id, const float* y, const float* dy, float* dx, size_t rows,
                         size_t cols, bool stream, bool prefetch) {
  visit_function(static_cast<FunctionId>(id), [&](auto fid) {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind == KernelKind::Rowwise) {
      for (size_t r = 0; r < rows; ++r) {
        const size_t next = prefetch && r + 1 < rows ? (r + 1) * cols : 0;
        VecRowwise<decltype(fid)::value>::backward_row(y + r * cols, dy + r * cols, dx + r * cols,
                                                       cols, stream, next ? y + next : nullptr,
                                                       next ? dy + next : nullptr);
      }
    }
  });
  if (stream) hwy::FlushStream();
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu/chunks.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/streaming.h"

namespace ip::cpu {
HWY_EXPORT(RowwiseForwardRows);
HWY_EXPORT(RowwiseBackwardRows);

namespace {

// Forward rows are fused across rows (PipelineRows) when x is at most this large, i.e. likely in
// the caches; larger inputs come from memory and go row by row (RowByRow). Measured on the Zen 4
// VM: fused 20% faster at 256 KiB-4 MiB, 1.5-1.7x slower at 16 and 256 MiB (NOTES.md). Backward
// prefetches the next row beyond the same size: in the caches the requests only cost
// instructions (AVX2 Softmax backward at 256 KiB: 10% slower), from memory they save up to 30%.
constexpr size_t kPipelineBytes = size_t{4} << 20;
static_assert(kPipelineBytes < kStreamBytes, "streamed forward outputs go row by row");

// Calls run(row_begin, row_end) over blocks of whole rows, in parallel; throws for non-Rowwise ids.
template <class Run>
void for_row_blocks(FunctionId id, size_t rows, size_t cols, Run&& run) {
  visit_function(id, [&](auto fid) {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind != KernelKind::Rowwise) {
      throw std::invalid_argument(std::string(function_info(id).name) +
                                  " is not a row-wise function");
    }
  });
  if (rows == 0 || cols == 0) return;
  // Blocks of whole rows, about one element chunk each.
  for_each_chunk(rows, std::max<size_t>(1, kChunkElements / cols), run);
}

}  // namespace

void rowwise_forward(FunctionId id, const float* x, float* y, size_t rows, size_t cols) {
  const size_t bytes = rows * cols * sizeof(float);
  const bool pipelined = bytes <= kPipelineBytes;
  const bool stream = use_streaming_stores(bytes);
  for_row_blocks(id, rows, cols, [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(RowwiseForwardRows)(static_cast<int>(id), x + r0 * cols, y + r0 * cols,
                                             r1 - r0, cols, pipelined, stream);
  });
}

void rowwise_backward(FunctionId id, const float* y, const float* dy, float* dx, size_t rows,
                      size_t cols) {
  const size_t bytes = rows * cols * sizeof(float);
  const bool stream = use_streaming_stores(bytes);
  const bool prefetch = bytes > kPipelineBytes;
  for_row_blocks(id, rows, cols, [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(RowwiseBackwardRows)(static_cast<int>(id), y + r0 * cols,
                                              dy + r0 * cols, dx + r0 * cols, r1 - r0, cols,
                                              stream, prefetch);
  });
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
