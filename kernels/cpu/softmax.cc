// Row-wise functions (table kind Rowwise): Softmax, Softmin, LogSoftmax over the last dimension
// of a (rows, cols) matrix, forward and backward.
//
// Numerics follow the scalar forms of activation_math.h (and so PyTorch): subtract the row max
// before exp, so rows of -1000, rows with a +1000 element and rows in [80, 89] are exact; a -inf
// element gives 0 (softmax) or -inf (log-softmax). Rows where the vector path would not reproduce
// the scalar form's non-finite result — a NaN anywhere, a +inf, or a row of only -inf (max is
// not finite) — are handed to the scalar form itself; those are rare and keep every NaN where
// PyTorch has one, which Highway's Exp (Exp(NaN) = 0) would not.
//
// Layout: per-target row kernels in HWY_NAMESPACE; OpenMP over blocks of rows in HWY_ONCE,
// dispatching per block. Each row is computed by one thread in one fixed order, so the results
// do not depend on the thread count.
#include <algorithm>
#include <cfloat>
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

// Max over sign * x, and whether the row is on the vector path: false when the row holds a NaN
// or its max is not finite (+inf present, or every element -inf).
template <bool kNegate>
HWY_INLINE bool RowMax(DF d, const float* x, size_t n, float* max_out) {
  const VF neg_inf = hn::Set(d, -HUGE_VALF);
  VF vmax = neg_inf;
  auto nan = hn::FirstN(d, 0);
  ForEachVector(d, x, n, [&](VF v, size_t, size_t count) {
    if (kNegate) v = hn::Neg(v);
    nan = hn::Or(nan, hn::IsNaN(v));  // inactive lanes are 0, never NaN
    if (count != hn::Lanes(d)) v = hn::IfThenElse(hn::FirstN(d, count), v, neg_inf);
    vmax = hn::Max(vmax, v);
  });
  const float m = hn::GetLane(hn::MaxOfLanes(d, vmax));
  *max_out = m;
  return hn::AllFalse(d, nan) && std::isfinite(m);
}

// exp(t) for t <= 0 or t = -inf (the vector path's only arguments): Highway's Exp is exact
// enough there and gives 0 below -104, -inf included.
HWY_INLINE VF ExpNonPositive(DF d, VF t) { return hn::Exp(d, t); }

// exp(y) for any y (log-softmax backward gets y from outside): Highway's Exp returns 0 for NaN
// and garbage above ln(FLT_MAX) (88.72...), so clamp the argument and patch both cases.
HWY_INLINE VF ExpAny(DF d, VF y) {
  const VF kMaxArg = hn::Set(d, 88.7228317f);  // largest float whose exp is finite
  const VF in_range = hn::Exp(d, hn::Min(y, kMaxArg));
  const VF capped = hn::IfThenElse(hn::Gt(y, kMaxArg), hn::Set(d, HUGE_VALF), in_range);
  return hn::IfThenElse(hn::IsNaN(y), y, capped);
}

// One pass over a row for both the max and the sum of exps ("online" softmax): each lane keeps
// its own running max m and sum s = sum(exp(v - m)) of the values it has seen; when a new value
// v exceeds m, s is rescaled to the new max: s * exp(m - v) + 1. Of exp(m - v) and exp(v - m)
// only the one with a non-positive argument is ever needed, so one exp(-|v - m|) per element
// serves both cases; the lanes are combined at the end (s_lane * exp(m_lane - max)).
// The running max starts at -FLT_MAX rather than -inf, so that a -inf element gives
// exp(-inf) = 0 and never -inf - (-inf) = NaN. Inactive lanes of the partial vector are -inf.
// Returns whether the row is on the vector path (as the two-pass version did): false when the
// row holds a NaN or its max is not finite (+inf present, or every element -inf); the fallback
// reads the row once more, which is rare.
template <bool kNegate>
HWY_INLINE bool RowMaxAndSum(DF d, const float* x, size_t n, float* max_out, float* sum_out) {
  const VF neg_inf = hn::Set(d, -HUGE_VALF);
  const VF one = hn::Set(d, 1.0f);
  VF vmax = hn::Set(d, -FLT_MAX);
  VF vsum = hn::Zero(d);
  auto nan = hn::FirstN(d, 0);
  ForEachVector(d, x, n, [&](VF v, size_t, size_t count) {
    if (kNegate) v = hn::Neg(v);
    nan = hn::Or(nan, hn::IsNaN(v));  // inactive lanes are 0, never NaN
    if (count != hn::Lanes(d)) v = hn::IfThenElse(hn::FirstN(d, count), v, neg_inf);
    const VF e = hn::Exp(d, hn::Neg(hn::Abs(hn::Sub(v, vmax))));  // exp(-|v - m|) in [0, 1]
    const auto grows = hn::Gt(v, vmax);
    vsum = hn::IfThenElse(grows, hn::MulAdd(vsum, e, one), hn::Add(vsum, e));
    vmax = hn::Max(vmax, v);
  });
  const float m = hn::GetLane(hn::MaxOfLanes(d, vmax));
  const VF scaled = hn::Mul(vsum, hn::Exp(d, hn::Sub(vmax, hn::Set(d, m))));
  *max_out = m;
  *sum_out = hn::GetLane(hn::SumOfLanes(d, scaled));
  return hn::AllFalse(d, nan) && std::isfinite(m);
}

// ---- vector forms, one per Rowwise table row (the counterpart of activation_math.h's) ----------

template <FunctionId kId>
struct VecRowwise;  // a Rowwise row without a vector form fails to compile here

// softmax(sign * x); Softmin is sign = -1.
template <bool kNegate>
struct VecSoftmaxSigned {
  // Passes over x: the max, then e = exp(x - max) (stored in y) and its sum; then y = e / sum
  // over the L1-resident row. Computing the max and the sum in one pass (RowMaxAndSum, as
  // LogSoftmax does) would need exp twice per element, since the final pass would have to redo
  // exp(x - max): measured 1.7x the time of this form on L2-resident rows (NOTES.md).
  static void forward_row(const float* x, float* y, size_t n) {
    const DF d;
    float m;
    if (!RowMax<kNegate>(d, x, n, &m)) {
      Softmax::forward_row(x, y, n, kNegate ? -1.0f : 1.0f);
      return;
    }
    const VF vm = hn::Set(d, m);
    VF sum = hn::Zero(d);
    ForEachVector(d, x, n, [&](VF v, size_t i, size_t count) {
      if (kNegate) v = hn::Neg(v);
      VF e = ExpNonPositive(d, hn::Sub(v, vm));
      if (count != hn::Lanes(d)) e = hn::IfThenElseZero(hn::FirstN(d, count), e);
      sum = hn::Add(sum, e);
      StoreVector(d, e, y, i, count, /*stream=*/false);
    });
    const VF vinv = hn::Set(d, 1.0f / hn::GetLane(hn::SumOfLanes(d, sum)));
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
  // y = x - max - log(sum(exp(x - max))): the max and the sum in one pass (RowMaxAndSum), then
  // one pass writing y, which needs no exp.
  static void forward_row(const float* x, float* y, size_t n) {
    const DF d;
    float m, sum;
    if (!RowMaxAndSum<false>(d, x, n, &m, &sum)) {
      LogSoftmax::forward_row(x, y, n);
      return;
    }
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
