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
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/contrib/math/math-inl.h"
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

// Max of sign * x over a row, and whether the row is on the vector path: false when the row
// holds a NaN or its max is not finite (+inf present, or every element -inf). Four accumulators:
// one Max chain would wait on Max's latency for every vector. For sign = -1 the max of -x is
// -min(x), so x is never negated. Inactive lanes of the partial vector are set to the neutral
// value (-inf for Max, +inf for Min).
template <bool kNegate>
HWY_INLINE bool RowMax(DF d, const float* HWY_RESTRICT x, size_t n, float* max_out) {
  const size_t L = hn::Lanes(d);
  const VF neutral = hn::Set(d, kNegate ? HUGE_VALF : -HUGE_VALF);
  const auto combine = [](VF a, VF b) { return kNegate ? hn::Min(a, b) : hn::Max(a, b); };
  VF m0 = neutral, m1 = neutral, m2 = neutral, m3 = neutral;
  auto nan01 = hn::FirstN(d, 0), nan23 = hn::FirstN(d, 0);
  size_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    const VF v0 = hn::LoadU(d, x + i), v1 = hn::LoadU(d, x + i + L);
    const VF v2 = hn::LoadU(d, x + i + 2 * L), v3 = hn::LoadU(d, x + i + 3 * L);
    nan01 = hn::Or(nan01, hn::IsNaN(hn::Add(v0, v1)));  // NaN + anything is NaN
    nan23 = hn::Or(nan23, hn::IsNaN(hn::Add(v2, v3)));  // (so are inf + -inf: the scalar path)
    m0 = combine(m0, v0);
    m1 = combine(m1, v1);
    m2 = combine(m2, v2);
    m3 = combine(m3, v3);
  }
  for (; i + L <= n; i += L) {
    const VF v = hn::LoadU(d, x + i);
    nan01 = hn::Or(nan01, hn::IsNaN(v));
    m0 = combine(m0, v);
  }
  if (i < n) {
    const auto active = hn::FirstN(d, n - i);
    const VF v = LoadTail(d, x + i, n - i);  // inactive lanes 0, never NaN
    nan01 = hn::Or(nan01, hn::IsNaN(v));
    m0 = combine(m0, hn::IfThenElse(active, v, neutral));
  }
  const VF m = combine(combine(m0, m1), combine(m2, m3));
  const float mx = kNegate ? -hn::GetLane(hn::MinOfLanes(d, m)) : hn::GetLane(hn::MaxOfLanes(d, m));
  *max_out = mx;
  return hn::AllFalse(d, hn::Or(nan01, nan23)) && std::isfinite(mx);
}

// exp(sign * x - max) for a row on the vector path: the argument is <= 0 or -inf (a -inf element
// of x, or +inf for Softmin), where vmath::ExpNonPositive (12 vector ops on AVX-512, 0.95 ulp;
// below -104, -inf included, exactly 0) is exact enough. For sign = -1 the argument is
// (-max) - x, the same rounded value as -x - max.
template <bool kNegate>
HWY_INLINE VF ExpShifted(DF d, VF v, VF shift) {
  return vmath::ExpNonPositive(d, kNegate ? hn::Sub(shift, v) : hn::Sub(v, shift));
}

// e = exp(sign * x - max) for the whole row: stored to e_out if kStore, and summed. Two sums so
// that two vectors' work is independent; the tail's inactive lanes are zeroed before the sum.
// shift is max, or -max for sign = -1 (see ExpShifted).
template <bool kNegate, bool kStore>
HWY_INLINE float RowExpSum(DF d, const float* HWY_RESTRICT x, float* HWY_RESTRICT e_out, size_t n,
                           VF shift) {
  const size_t L = hn::Lanes(d);
  VF s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    const VF e0 = ExpShifted<kNegate>(d, hn::LoadU(d, x + i), shift);
    const VF e1 = ExpShifted<kNegate>(d, hn::LoadU(d, x + i + L), shift);
    if (kStore) {
      hn::StoreU(e0, d, e_out + i);
      hn::StoreU(e1, d, e_out + i + L);
    }
    s0 = hn::Add(s0, e0);
    s1 = hn::Add(s1, e1);
  }
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

// exp(y) for any y (log-softmax backward gets y from outside): Highway's Exp returns 0 for NaN
// and garbage above ln(FLT_MAX) (88.72...), so clamp the argument and patch both cases.
HWY_INLINE VF ExpAny(DF d, VF y) {
  const VF kMaxArg = hn::Set(d, 88.7228317f);  // largest float whose exp is finite
  const VF in_range = hn::Exp(d, hn::Min(y, kMaxArg));
  const VF capped = hn::IfThenElse(hn::Gt(y, kMaxArg), hn::Set(d, HUGE_VALF), in_range);
  return hn::IfThenElse(hn::IsNaN(y), y, capped);
}

// ---- vector forms, one per Rowwise table row (the counterpart of activation_math.h's) ----------

template <FunctionId kId>
struct VecRowwise;  // a Rowwise row without a vector form fails to compile here

// softmax(sign * x); Softmin is sign = -1.
template <bool kNegate>
struct VecSoftmaxSigned {
  // Passes over x: the max, then e = exp(x - max) (stored in y) and its sum; then y = e / sum
  // over the L1-resident row. Computing the max and the sum in one pass ("online" softmax) would
  // need exp twice per element, since the final pass would have to redo exp(x - max): measured
  // 1.7x the time of this form on L2-resident rows (NOTES.md).
  static void forward_row(const float* x, float* y, size_t n) {
    const DF d;
    float m;
    if (!RowMax<kNegate>(d, x, n, &m)) {
      Softmax::forward_row(x, y, n, kNegate ? -1.0f : 1.0f);
      return;
    }
    const float sum = RowExpSum<kNegate, true>(d, x, y, n, hn::Set(d, kNegate ? -m : m));
    const VF vinv = hn::Set(d, 1.0f / sum);
    ForEachVector(d, y, n, [&](VF e, size_t i, size_t count) {
      StoreVector(d, hn::Mul(e, vinv), y, i, count, /*stream=*/false);
    });
  }

  // dx = sign * y * (dy - sum(dy * y))
  static void backward_row(const float* y, const float* dy, float* dx, size_t n, bool stream) {
    const DF d;
    VF dot = hn::Zero(d);
    ForEachVector(d, y, n, [&](VF vy, size_t i, size_t count) {
      const VF vdy = count == hn::Lanes(d) ? hn::LoadU(d, dy + i) : LoadTail(d, dy + i, count);
      dot = hn::Add(dot, hn::Mul(vdy, vy));  // inactive lanes are 0 * 0
    });
    const VF vdot = hn::Set(d, hn::GetLane(hn::SumOfLanes(d, dot)));
    ForEachVector(d, y, n, [&](VF vy, size_t i, size_t count) {
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
  // y = x - max - log(sum(exp(x - max))): the max, the sum of exps (nothing stored), then one
  // pass writing y, which needs no exp. The online form (max and sum in one pass, rescaling the
  // sum whenever the max grows) measured ~20% slower than these two cheap passes (NOTES.md).
  static void forward_row(const float* x, float* y, size_t n) {
    const DF d;
    float m, sum;
    if (!RowMax<false>(d, x, n, &m)) {
      LogSoftmax::forward_row(x, y, n);
      return;
    }
    sum = RowExpSum<false, false>(d, x, nullptr, n, hn::Set(d, m));
    const VF vm = hn::Set(d, m);
    const VF log_sum = hn::Set(d, std::log(sum));
    ForEachVector(d, x, n, [&](VF v, size_t i, size_t count) {
      StoreVector(d, hn::Sub(hn::Sub(v, vm), log_sum), y, i, count, /*stream=*/false);
    });
  }

  // dx = dy - exp(y) * sum(dy)
  static void backward_row(const float* y, const float* dy, float* dx, size_t n, bool stream) {
    const DF d;
    VF sum = hn::Zero(d);
    ForEachVector(d, dy, n, [&](VF v, size_t, size_t) { sum = hn::Add(sum, v); });
    const VF vsum = hn::Set(d, hn::GetLane(hn::SumOfLanes(d, sum)));
    ForEachVector(d, y, n, [&](VF vy, size_t i, size_t count) {
      const VF vdy = count == hn::Lanes(d) ? hn::LoadU(d, dy + i) : LoadTail(d, dy + i, count);
      StoreVector(d, hn::Sub(vdy, hn::Mul(ExpAny(d, vy), vsum)), dx, i, count, stream);
    });
  }
};

// Exported per-target entry points over `rows` consecutive rows; the table picks the vector form.
// Forward outputs are never streamed: its stores come in bursts (a whole row after the row's
// exp pass), and streaming them measured 10-15% slower at 256 MiB (NOTES.md). Backward stores
// one vector per vector of work and streams large outputs (use_streaming_stores decides).
void RowwiseForwardRows(int id, const float* x, float* y, size_t rows, size_t cols) {
  visit_function(static_cast<FunctionId>(id), [&](auto fid) {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind == KernelKind::Rowwise) {
      for (size_t r = 0; r < rows; ++r) {
        VecRowwise<decltype(fid)::value>::forward_row(x + r * cols, y + r * cols, cols);
      }
    }
  });
}

void RowwiseBackwardRows(int id, const float* y, const float* dy, float* dx, size_t rows,
                         size_t cols, bool stream) {
  visit_function(static_cast<FunctionId>(id), [&](auto fid) {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind == KernelKind::Rowwise) {
      for (size_t r = 0; r < rows; ++r) {
        VecRowwise<decltype(fid)::value>::backward_row(y + r * cols, dy + r * cols, dx + r * cols,
                                                       cols, stream);
      }
    }
  });
  if (stream) hwy::FlushStream();
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/streaming.h"

namespace ip::cpu {
HWY_EXPORT(RowwiseForwardRows);
HWY_EXPORT(RowwiseBackwardRows);

namespace {

// Elements per OpenMP block of rows: enough work to amortise dispatch, small enough to split a
// modest batch over two threads.
constexpr size_t kBlockElements = 16384;

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
  const size_t rows_per_block = std::max<size_t>(1, kBlockElements / cols);
  const long blocks = static_cast<long>((rows + rows_per_block - 1) / rows_per_block);
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (long b = 0; b < blocks; ++b) {
    const size_t begin = static_cast<size_t>(b) * rows_per_block;
    run(begin, std::min(rows, begin + rows_per_block));
  }
}

}  // namespace

void rowwise_forward(FunctionId id, const float* x, float* y, size_t rows, size_t cols) {
  for_row_blocks(id, rows, cols, [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(RowwiseForwardRows)(static_cast<int>(id), x + r0 * cols, y + r0 * cols,
                                             r1 - r0, cols);
  });
}

void rowwise_backward(FunctionId id, const float* y, const float* dy, float* dx, size_t rows,
                      size_t cols) {
  const bool stream = use_streaming_stores(rows * cols * sizeof(float));
  for_row_blocks(id, rows, cols, [&](size_t r0, size_t r1) {
    HWY_DYNAMIC_DISPATCH(RowwiseBackwardRows)(static_cast<int>(id), y + r0 * cols,
                                              dy + r0 * cols, dx + r0 * cols, r1 - r0, cols,
                                              stream);
  });
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
