// The Linear layer's bias: added to every row of y (forward) and summed over the rows of dy (its
// gradient). Each output element sees the same vector Add sequence whatever the thread count.
#include <algorithm>
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/bias.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
// Buffers hold kMaxLanes; loops step by Lanes(d), which is fewer on scalable vectors (SVE).
constexpr size_t kMaxLanes = hn::MaxLanes(DF());

// y[0..n) += bias[0..n); tail through a padded vector so every element sees the same Add.
void AddBiasRow(float* y, const float* bias, size_t n) {
  const DF d;
  const size_t L = hn::Lanes(d);
  size_t i = 0;
  for (; i + L <= n; i += L) {
    hn::StoreU(hn::Add(hn::LoadU(d, y + i), hn::LoadU(d, bias + i)), d, y + i);
  }
  if (i < n) {
    alignas(64) float yb[kMaxLanes] = {};
    alignas(64) float bb[kMaxLanes] = {};
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
  const size_t L = hn::Lanes(d);
  alignas(64) float buf[kMaxLanes];
  for (size_t j = 0; j < cols; j += L) {
    const size_t n = std::min(L, cols - j);
    auto sum = hn::Zero(d);
    if (n == L) {
      for (size_t r = 0; r < rows; ++r) sum = hn::Add(sum, hn::LoadU(d, dy + r * ld + j));
    } else {
      for (size_t r = 0; r < rows; ++r) {
        std::fill(buf, buf + L, 0.0f);
        std::copy(dy + r * ld + j, dy + r * ld + j + n, buf);
        sum = hn::Add(sum, hn::Load(d, buf));
      }
    }
    std::fill(buf, buf + L, 0.0f);
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
#include "kernels/cpu/linalg.h"

namespace ip::cpu {
HWY_EXPORT(AddBiasRow);
HWY_EXPORT(SumRows);

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
  const long blocks = static_cast<long>((N + kCols - 1) / kCols);
  const bool parallel = M * N > (size_t{1} << 16);
#pragma omp parallel for schedule(static) if (parallel)
  for (long b = 0; b < blocks; ++b) {
    const size_t j = static_cast<size_t>(b) * kCols;
    HWY_DYNAMIC_DISPATCH(SumRows)(dy + j, M, N, std::min(kCols, N - j), out + j, accumulate);
  }
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
