// CPU row-wise kernels (Softmax, Softmin, LogSoftmax): every SIMD target against the scalar forms
// in float and against the float64 reference, on the golden file's kinds of rows (zeros, a +1000
// element, all -1000, a -inf element, randn*10, -1000+randn, uniform [80, 89]) at widths around
// every vector size; the golden file itself; NaN rows; in place; thread-count independence.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/reference_kernels.h"
#include "kernels/cpu/kernels.h"
#include "tests/cpu_test_util.h"

namespace ip {
namespace {

constexpr size_t kGoldenLikeRows = 8;

// Row r of the golden file's kinds (r < 8), `cols` wide.
std::vector<float> golden_like_rows(size_t rows, size_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform(80.0f, 89.0f);
  std::vector<float> x(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    float* row = x.data() + r * cols;
    for (size_t k = 0; k < cols; ++k) {
      switch (r % kGoldenLikeRows) {
        case 0: row[k] = 0.0f; break;
        case 1: row[k] = normal(rng); break;
        case 2: row[k] = -1000.0f; break;
        case 3: row[k] = normal(rng); break;
        case 4:
        case 5: row[k] = 10.0f * normal(rng); break;
        case 6: row[k] = -1000.0f + normal(rng); break;
        default: row[k] = uniform(rng); break;
      }
    }
    if (r % kGoldenLikeRows == 1) row[cols / 2] = 1000.0f;
    if (r % kGoldenLikeRows == 3) row[(cols * 2) / 3] = -HUGE_VALF;  // a row of one -inf if cols == 1
  }
  return x;
}

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(n);
  for (float& f : v) f = normal(rng);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// Non-finite results must agree exactly (same inf, or both NaN); finite ones within
// abs_tol + rel_tol * |expected|, where `scale` (if given) replaces |expected| for backward
// results, whose rounding error follows the size of the terms rather than of the result.
::testing::AssertionResult close(double got, double expected, double abs_tol, double rel_tol,
                                 double scale = -1) {
  if (std::isnan(expected) || std::isnan(got)) {
    if (std::isnan(expected) && std::isnan(got)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", expected " << expected;
  }
  if (std::isinf(expected) || std::isinf(got)) {
    if (got == expected) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << got << ", expected " << expected;
  }
  const double err = std::fabs(got - expected);
  const double tol = abs_tol + rel_tol * (scale >= 0 ? scale : std::fabs(expected));
  if (err <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << ", expected " << expected << ", error "
                                       << err << " > " << tol;
}

// Size of the terms of element i's backward formula (for its error bound): softmax
// |y_i| * (|dy_i| + sum |dy_j y_j|), log-softmax |dy_i| + exp(y_i) * sum |dy_j|.
std::vector<double> backward_scale(FunctionId id, const float* y, const float* dy, size_t rows,
                                   size_t cols) {
  std::vector<double> s(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    double sum_abs = 0;
    for (size_t k = 0; k < cols; ++k)
      sum_abs += id == FunctionId::LogSoftmax ? std::fabs(dyr[k]) : std::fabs(dyr[k] * double(yr[k]));
    for (size_t k = 0; k < cols; ++k) {
      s[r * cols + k] = id == FunctionId::LogSoftmax
                            ? std::fabs(dyr[k]) + std::exp(double(yr[k])) * sum_abs
                            : std::fabs(yr[k]) * (std::fabs(dyr[k]) + sum_abs);
    }
  }
  return s;
}

// Tolerances. Against float64: forward 1e-6 absolute + 2e-6 relative (the float result itself
// carries 6e-8 relative; the sum of exps adds about sqrt(cols / lanes) roundings of the sum).
// Against the scalar float forms, which round differently (libm expf vs Highway's Exp,
// sequential vs per-lane sums): half that. Both bounds were measured to hold with a margin of
// about 2x (vs scalar) and 4x (vs float64) on every target over these rows. Backward: 1e-5 of
// the size of the terms (sums of up to 1024 products in float) plus 1e-7.
constexpr double kFwdAbs = 1e-6, kFwdRel = 2e-6;
constexpr double kScalarAbs = 5e-7, kScalarRel = 1e-6;
constexpr double kBwdAbs = 1e-7, kBwdRel = 1e-5;

TEST(CpuRowwise, EveryTargetMatchesScalarFormsAndFloat64) {
  CpuDispatchGuard guard;
  const size_t widths[] = {1, 2, 3, 15, 16, 17, 33, 1024, 1023};
  for (size_t cols : widths) {
    for (size_t rows : {size_t{1}, size_t{7}, kGoldenLikeRows}) {
      const size_t n = rows * cols;
      const std::vector<float> x = golden_like_rows(rows, cols, 11 + static_cast<uint32_t>(cols));
      const std::vector<float> dy = randn(n, 12);
      for (FunctionId id : functions_of_kind(KernelKind::Rowwise)) {
        const char* name = function_info(id).name;
        // References: scalar float forward/backward; float64 forward on x, float64 backward on
        // the float y and dy that the kernel gets.
        std::vector<float> ref_y(n), ref_dx(n);
        ASSERT_TRUE(reference::rowwise_forward(id, x.data(), ref_y.data(), rows, cols));
        ASSERT_TRUE(reference::rowwise_backward(id, ref_y.data(), dy.data(), ref_dx.data(), rows, cols));
        const std::vector<double> xd = to_double(x), yd = to_double(ref_y), dyd = to_double(dy);
        std::vector<double> ref64_y(n), ref64_dx(n);
        reference::rowwise_forward(id, xd.data(), ref64_y.data(), rows, cols);
        reference::rowwise_backward(id, yd.data(), dyd.data(), ref64_dx.data(), rows, cols);
        const std::vector<double> scale = backward_scale(id, ref_y.data(), dy.data(), rows, cols);

        for (const std::string& target : cpu::available_targets()) {
          cpu::force_target(target);
          std::vector<float> y(n + 1, 9.0f), dx(n + 1, 9.0f);
          cpu::rowwise_forward(id, x.data(), y.data(), rows, cols);
          cpu::rowwise_backward(id, ref_y.data(), dy.data(), dx.data(), rows, cols);
          ASSERT_EQ(y[n], 9.0f) << "forward wrote past the end";
          ASSERT_EQ(dx[n], 9.0f) << "backward wrote past the end";
          for (size_t i = 0; i < n; ++i) {
            ASSERT_TRUE(close(y[i], ref_y[i], kScalarAbs, kScalarRel))
                << name << " " << target << " vs scalar, " << rows << "x" << cols << " at ["
                << i / cols << "," << i % cols << "] x=" << x[i];
            ASSERT_TRUE(close(y[i], ref64_y[i], kFwdAbs, kFwdRel))
                << name << " " << target << " vs float64, " << rows << "x" << cols << " at ["
                << i / cols << "," << i % cols << "] x=" << x[i];
            ASSERT_TRUE(close(dx[i], ref_dx[i], kBwdAbs, kBwdRel, scale[i]))
                << name << " " << target << " backward vs scalar, " << rows << "x" << cols
                << " at [" << i / cols << "," << i % cols << "]";
            ASSERT_TRUE(close(dx[i], ref64_dx[i], kBwdAbs, kBwdRel, scale[i]))
                << name << " " << target << " backward vs float64, " << rows << "x" << cols
                << " at [" << i / cols << "," << i % cols << "]";
          }
        }
      }
    }
  }
}

// PyTorch's edge semantics, exactly: a -inf element gives 0 (softmax) and -inf (log-softmax);
// rows of -1000 and rows with a +1000 element are exact.
TEST(CpuRowwise, EdgeRowsExact) {
  CpuDispatchGuard guard;
  for (const std::string& target : cpu::available_targets()) {
    cpu::force_target(target);
    const size_t cols = 17;
    std::vector<float> x(cols, -1000.0f), y(cols);
    cpu::rowwise_forward(FunctionId::Softmax, x.data(), y.data(), 1, cols);
    for (float v : y) EXPECT_EQ(v, 1.0f / 17.0f) << target;
    cpu::rowwise_forward(FunctionId::LogSoftmax, x.data(), y.data(), 1, cols);
    for (float v : y) EXPECT_EQ(v, -std::log(17.0f)) << target;

    std::vector<float> big = randn(cols, 5);
    big[4] = 1000.0f;
    cpu::rowwise_forward(FunctionId::Softmax, big.data(), y.data(), 1, cols);
    for (size_t k = 0; k < cols; ++k) EXPECT_EQ(y[k], k == 4 ? 1.0f : 0.0f) << target << " " << k;
    cpu::rowwise_forward(FunctionId::Softmin, big.data(), y.data(), 1, cols);
    EXPECT_EQ(y[4], 0.0f) << target;

    std::vector<float> with_ninf = randn(cols, 6);
    with_ninf[16] = -HUGE_VALF;  // in the tail on every target
    with_ninf[0] = -HUGE_VALF;
    cpu::rowwise_forward(FunctionId::Softmax, with_ninf.data(), y.data(), 1, cols);
    EXPECT_EQ(y[16], 0.0f);
    EXPECT_EQ(y[0], 0.0f);
    cpu::rowwise_forward(FunctionId::LogSoftmax, with_ninf.data(), y.data(), 1, cols);
    EXPECT_EQ(y[16], -HUGE_VALF) << target;
    EXPECT_EQ(y[0], -HUGE_VALF) << target;
    EXPECT_TRUE(std::isfinite(y[1])) << target;
  }
}

// A NaN anywhere in a row makes the whole row NaN (PyTorch), and leaves other rows alone; a +inf
// element or a row of only -inf gives what the scalar form gives (NaN).
TEST(CpuRowwise, NonFiniteRows) {
  CpuDispatchGuard guard;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t cols : {size_t{1}, size_t{5}, size_t{16}, size_t{33}}) {
    const size_t rows = 4;
    std::vector<float> x = randn(rows * cols, 7);
    x[0 * cols + cols - 1] = nan;                                   // row 0: a NaN (last element)
    x[1 * cols + cols / 2] = HUGE_VALF;                             // row 1: +inf
    for (size_t k = 0; k < cols; ++k) x[2 * cols + k] = -HUGE_VALF;  // row 2: all -inf
    for (FunctionId id : functions_of_kind(KernelKind::Rowwise)) {
      std::vector<float> ref(rows * cols);
      reference::rowwise_forward(id, x.data(), ref.data(), rows, cols);
      for (const std::string& target : cpu::available_targets()) {
        cpu::force_target(target);
        std::vector<float> y(rows * cols);
        cpu::rowwise_forward(id, x.data(), y.data(), rows, cols);
        for (size_t k = 0; k < cols; ++k) {
          EXPECT_TRUE(std::isnan(y[k])) << function_info(id).name << " " << target << " NaN row";
          EXPECT_TRUE(std::isnan(y[2 * cols + k])) << function_info(id).name << " all -inf row";
          EXPECT_FALSE(std::isnan(y[3 * cols + k])) << function_info(id).name << " clean row";
        }
        for (size_t i = 0; i < rows * cols; ++i) {
          EXPECT_TRUE(close(y[i], ref[i], kFwdAbs, kFwdRel))
              << function_info(id).name << " " << target << " cols " << cols << " at " << i;
        }
      }
    }
  }
  // Backward: NaN in y spreads like the scalar form says (log-softmax takes exp(y), which must
  // stay NaN at NaN y). Second row: y beyond exp's range and at its edges, compared to the scalar
  // form (infinities exactly).
  const size_t cols = 19;
  std::vector<float> y(2 * cols, -3.0f), dy = randn(2 * cols, 8);
  y[18] = nan;
  const float edges[] = {100.0f, 88.72283f, 88.7228394f, 88.0f, -88.0f, -103.0f, -200.0f, -HUGE_VALF};
  for (size_t k = 0; k < 8; ++k) y[cols + 2 * k] = edges[k];
  for (FunctionId id : functions_of_kind(KernelKind::Rowwise)) {
    std::vector<float> ref(2 * cols), dx(2 * cols);
    reference::rowwise_backward(id, y.data(), dy.data(), ref.data(), 2, cols);
    for (const std::string& target : cpu::available_targets()) {
      cpu::force_target(target);
      cpu::rowwise_backward(id, y.data(), dy.data(), dx.data(), 2, cols);
      for (size_t k = 0; k < cols; ++k) {
        EXPECT_EQ(std::isnan(dx[k]), std::isnan(ref[k])) << function_info(id).name << " " << k;
        EXPECT_TRUE(close(dx[cols + k], ref[cols + k], 1e-6, 1e-5))
            << function_info(id).name << " " << target << " y = " << y[cols + k];
      }
    }
  }
}

// The golden file's 8x33 rows, forward and gradient, on every target.
TEST(CpuRowwise, GoldenFile) {
  CpuDispatchGuard guard;
  const char* root = std::getenv("INFERENCEPOWER_SOURCE_DIR");
  const std::string path = std::string(root ? root : ".") + "/tests/golden/activations.json";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot open " << path;
  const nlohmann::json golden = nlohmann::json::parse(in);
  auto number = [](const nlohmann::json& v) -> double {
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      if (s == "inf") return HUGE_VAL;
      if (s == "-inf") return -HUGE_VAL;
      return std::numeric_limits<double>::quiet_NaN();
    }
    return v.get<double>();
  };
  int checked = 0;
  for (FunctionId id : functions_of_kind(KernelKind::Rowwise)) {
    const char* name = function_info(id).name;
    ASSERT_TRUE(golden["rowwise"].contains(name)) << name;
    const nlohmann::json& g = golden["rowwise"][name];
    const size_t rows = g["x"].size(), cols = g["x"][0].size();
    std::vector<float> x(rows * cols), dy(rows * cols);
    std::vector<double> y64(rows * cols), grad64(rows * cols);
    for (size_t r = 0; r < rows; ++r)
      for (size_t k = 0; k < cols; ++k) {
        x[r * cols + k] = static_cast<float>(number(g["x"][r][k]));
        dy[r * cols + k] = static_cast<float>(number(g["upstream_grad"][r][k]));
        y64[r * cols + k] = number(g["y"][r][k]);
        grad64[r * cols + k] = number(g["grad"][r][k]);
      }
    for (const std::string& target : cpu::available_targets()) {
      cpu::force_target(target);
      std::vector<float> y(rows * cols), dx(rows * cols);
      cpu::rowwise_forward(id, x.data(), y.data(), rows, cols);
      cpu::rowwise_backward(id, y.data(), dy.data(), dx.data(), rows, cols);
      const std::vector<double> scale = backward_scale(id, y.data(), dy.data(), rows, cols);
      for (size_t i = 0; i < rows * cols; ++i) {
        ASSERT_TRUE(close(y[i], y64[i], kFwdAbs, kFwdRel))
            << name << " " << target << " golden [" << i / cols << "," << i % cols << "]";
        ASSERT_TRUE(close(dx[i], grad64[i], kBwdAbs, kBwdRel, scale[i]))
            << name << " " << target << " golden grad [" << i / cols << "," << i % cols << "]";
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 0);
}

// In place (y == x; dx == dy and dx == y) gives the same bits as out of place.
TEST(CpuRowwise, InPlace) {
  CpuDispatchGuard guard;
  const size_t rows = 8, cols = 37;
  const std::vector<float> x = golden_like_rows(rows, cols, 21);
  const std::vector<float> dy = randn(rows * cols, 22);
  for (FunctionId id : functions_of_kind(KernelKind::Rowwise)) {
    for (const std::string& target : cpu::available_targets()) {
      cpu::force_target(target);
      std::vector<float> y(rows * cols), dx(rows * cols);
      cpu::rowwise_forward(id, x.data(), y.data(), rows, cols);
      cpu::rowwise_backward(id, y.data(), dy.data(), dx.data(), rows, cols);
      std::vector<float> buf = x;
      cpu::rowwise_forward(id, buf.data(), buf.data(), rows, cols);
      EXPECT_EQ(std::memcmp(buf.data(), y.data(), y.size() * sizeof(float)), 0)
          << function_info(id).name << " " << target;
      buf = dy;
      cpu::rowwise_backward(id, y.data(), buf.data(), buf.data(), rows, cols);
      EXPECT_EQ(std::memcmp(buf.data(), dx.data(), dx.size() * sizeof(float)), 0)
          << function_info(id).name << " " << target << " dx == dy";
      buf = y;
      cpu::rowwise_backward(id, buf.data(), dy.data(), buf.data(), rows, cols);
      EXPECT_EQ(std::memcmp(buf.data(), dx.data(), dx.size() * sizeof(float)), 0)
          << function_info(id).name << " " << target << " dx == y";
    }
  }
}

// Enough rows for many OpenMP blocks: 1 and 2 threads give identical bits.
TEST(CpuRowwise, ThreadCountDoesNotChangeResults) {
  CpuDispatchGuard guard;
  const size_t rows = 257, cols = 1023;
  const std::vector<float> x = golden_like_rows(rows, cols, 31);
  const std::vector<float> dy = randn(rows * cols, 32);
  for (FunctionId id : functions_of_kind(KernelKind::Rowwise)) {
    for (const std::string& target : cpu::available_targets()) {
      cpu::force_target(target);
      std::vector<float> y1(rows * cols), y2(rows * cols), dx1(rows * cols), dx2(rows * cols);
      omp_set_num_threads(1);
      cpu::rowwise_forward(id, x.data(), y1.data(), rows, cols);
      cpu::rowwise_backward(id, y1.data(), dy.data(), dx1.data(), rows, cols);
      omp_set_num_threads(2);
      cpu::rowwise_forward(id, x.data(), y2.data(), rows, cols);
      cpu::rowwise_backward(id, y1.data(), dy.data(), dx2.data(), rows, cols);
      EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)), 0)
          << function_info(id).name << " " << target;
      EXPECT_EQ(std::memcmp(dx1.data(), dx2.data(), dx1.size() * sizeof(float)), 0)
          << function_info(id).name << " " << target;
    }
  }
}

// Backward outputs of 64 MiB and more are written with non-temporal stores: the same bits as
// the rows computed alone, which are small and so stored normally. Output 64-byte aligned
// (streamed) and one float off (the unaligned fallback); forward at that size too.
TEST(CpuRowwise, StreamedLargeOutputsMatchRowsAlone) {
  const size_t cols = 1024, rows = (size_t{64} << 20) / (cols * sizeof(float)), n = rows * cols;
  const std::vector<float> x = golden_like_rows(rows, cols, 41);
  const std::vector<float> dy = randn(n, 42);
  const size_t bytes = (n + 16) * sizeof(float);  // a multiple of 64
  std::unique_ptr<float, decltype(&std::free)> out(
      static_cast<float*>(std::aligned_alloc(64, bytes)), &std::free);
  ASSERT_NE(out.get(), nullptr);
  std::vector<float> y_row(cols), dx_row(cols);
  for (FunctionId id : functions_of_kind(KernelKind::Rowwise)) {
    for (size_t offset : {size_t{0}, size_t{1}}) {
      float* y = out.get() + offset;
      cpu::rowwise_forward(id, x.data(), y, rows, cols);
      for (size_t r : {size_t{0}, size_t{1}, size_t{3}, rows / 2 + 5, rows - 1}) {
        cpu::rowwise_forward(id, x.data() + r * cols, y_row.data(), 1, cols);
        ASSERT_EQ(std::memcmp(y_row.data(), y + r * cols, cols * sizeof(float)), 0)
            << function_info(id).name << " forward row " << r << " offset " << offset;
      }
      // Backward of those rows alone first (y is overwritten in place below).
      std::vector<std::vector<float>> dx_rows;
      for (size_t r : {size_t{0}, size_t{2}, rows - 1}) {
        cpu::rowwise_backward(id, y + r * cols, dy.data() + r * cols, dx_row.data(), 1, cols);
        dx_rows.push_back(dx_row);
      }
      cpu::rowwise_backward(id, y, dy.data(), y, rows, cols);  // dx == y
      size_t k = 0;
      for (size_t r : {size_t{0}, size_t{2}, rows - 1}) {
        ASSERT_EQ(std::memcmp(dx_rows[k++].data(), y + r * cols, cols * sizeof(float)), 0)
            << function_info(id).name << " backward row " << r << " offset " << offset;
      }
    }
  }
}

TEST(CpuRowwise, ZeroRowsAndInvalidIds) {
  float x[4] = {1, 2, 3, 4}, y[4] = {9, 9, 9, 9};
  for (FunctionId id : functions_of_kind(KernelKind::Rowwise)) {
    cpu::rowwise_forward(id, x, y, 0, 4);
    cpu::rowwise_backward(id, x, x, y, 0, 4);
    cpu::rowwise_forward(id, nullptr, nullptr, 0, 4);
    for (float v : y) EXPECT_EQ(v, 9.0f);
  }
  for (FunctionId id : {FunctionId::ReLU, FunctionId::Dropout, FunctionId::Identity}) {
    EXPECT_THROW(cpu::rowwise_forward(id, x, y, 1, 4), std::invalid_argument);
    EXPECT_THROW(cpu::rowwise_backward(id, x, x, y, 1, 4), std::invalid_argument);
  }
}

}  // namespace
}  // namespace ip
