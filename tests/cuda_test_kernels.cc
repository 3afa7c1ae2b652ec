// CUDA kernels against the scalar reference loops of kernels/common/reference_kernels.h.
//
// Every test that needs a GPU skips, with the reason, when ip::cuda::available() says there is
// none. A few tests need no GPU and always run: argument validation happens before any CUDA call,
// and available() / device_alloc() must fail politely, with a reason, on a machine without one.
//
// Tolerances (element-wise): check::elementwise_close (kernels/check/validation.h, which says
// why): the same non-finite class as the CPU float reference; finite results within 4 ulp of it
// or 1e-6 * max(1, |ref|) forward and 1e-6 * max(1, |ref|, 1 + |x|) backward.
// Row-wise results are compared with the float64 reference and bounds from a rounding-error
// analysis of each formula (see rowwise_tolerance). RReLU and dropouts must be bit-identical.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/check/validation.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/philox.h"
#include "kernels/common/reference_kernels.h"
#include "kernels/cuda/kernels.h"
#include "tests/cuda_test_util.h"

namespace ip {
namespace {

#define IP_REQUIRE_GPU()                                              \
  do {                                                                \
    std::string ip_why_;                                              \
    if (!cuda::available(&ip_why_)) GTEST_SKIP() << "no usable GPU: " << ip_why_; \
  } while (0)

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// A device array of n floats plus slack, so tests can start at a misaligned offset.
struct DeviceFloats : test::DeviceArray<float> {
  static constexpr size_t kSlack = 8;
  explicit DeviceFloats(size_t n) : DeviceArray(n + kSlack) {}
};

using check::elementwise_close;
using check::identical;
using check::same_class;
using check::test_inputs;
using check::uniform_values;

// Compares element by element and reports the first few differences with their inputs.
template <typename Close>
::testing::AssertionResult compare(const std::vector<float>& got, const std::vector<float>& want,
                                   const std::vector<float>& input, Close close) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  size_t bad = 0;
  std::ostringstream out;
  out.precision(9);
  for (size_t i = 0; i < got.size(); ++i) {
    if (close(got[i], want[i], i)) continue;
    if (++bad <= 5)
      out << "\n  [" << i << "] input " << (i < input.size() ? input[i] : kNaN) << ": got " << got[i]
          << ", want " << want[i];
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements differ:" << out.str();
}

// Where inputs and outputs live: offsets in floats from a 256-byte aligned allocation, and
// whether the output overwrites an input.
struct Layout {
  const char* name;
  size_t in_offset, in2_offset, out_offset;
  bool in_place;
};
const Layout kLayouts[] = {
    {"aligned", 0, 0, 0, false},
    {"offset 1", 1, 1, 1, false},            // same misalignment: head, then float4
    {"offsets 1/2/3", 1, 2, 3, false},       // different misalignments: all scalar
    {"in place", 0, 0, 0, true},
    {"in place, offset 1", 1, 1, 1, true},
};
const size_t kSizes[] = {0, 1, 3, 4, 5, 1023, (size_t{1} << 20) + 3};

// ---- tests that need no GPU ----

TEST(CudaRuntime, AvailableGivesAReasonOrADevice) {
  std::string why = "not set";
  const bool ok = cuda::available(&why);
  EXPECT_EQ(cuda::available(nullptr), ok);  // no crash without a place for the reason
  if (ok) {
    EXPECT_TRUE(why.empty()) << why;
    EXPECT_FALSE(cuda::device_name().empty());
  } else {
    EXPECT_FALSE(why.empty());
    EXPECT_NE(why, "not set");
    std::cout << "[ INFO     ] CUDA unavailable: " << why << "\n";
  }
}

TEST(CudaRuntime, AbsurdAllocationThrowsNamingTheSize) {
  // Holds with or without a GPU: without one cudaMalloc fails for want of a driver or device.
  const size_t bytes = size_t{1} << 60;
  try {
    void* p = cuda::device_alloc(bytes);
    cuda::device_free(p);
    FAIL() << "allocating 2^60 bytes succeeded";
  } catch (const cuda::Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(bytes)), std::string::npos) << e.what();
  }
  std::string why;
  if (!cuda::available(&why)) return;
  // The failure must not linger for the next launch check to report.
  DeviceFloats buf(4);
  buf.upload({1.f, -2.f, 3.f, -4.f}, 0);
  EXPECT_NO_THROW(cuda::activation_forward(FunctionId::ReLU, buf.at(0), buf.at(0), 4, {}));
  EXPECT_EQ(buf.download(4, 0), (std::vector<float>{1.f, 0.f, 3.f, 0.f}));
}

TEST(CudaKernels, InvalidIdsAndArgumentsThrowBeforeAnyCudaCall) {
  float* none = nullptr;
  const Params<float> p{};
  const FunctionId out_of_range[] = {static_cast<FunctionId>(-1), static_cast<FunctionId>(kFunctionCount)};
  for (FunctionId id : out_of_range) {
    EXPECT_THROW(cuda::activation_forward(id, none, none, 1, p), std::invalid_argument);
    EXPECT_THROW(cuda::activation_backward(id, none, none, none, 1, p), std::invalid_argument);
    EXPECT_THROW(cuda::rowwise_forward(id, none, none, 1, 1), std::invalid_argument);
    EXPECT_THROW(cuda::rowwise_backward(id, none, none, none, 1, 1), std::invalid_argument);
    EXPECT_THROW(cuda::dropout_forward(id, none, none, nullptr, 1, 1, 0.5f, 1), std::invalid_argument);
    EXPECT_THROW(cuda::dropout_backward(id, none, none, nullptr, 1, 1, 0.5f), std::invalid_argument);
  }
  for (const FunctionInfo& f : kFunctionInfo) {
    if (f.kind != KernelKind::Elementwise) {
      EXPECT_THROW(cuda::activation_forward(f.id, none, none, 1, p), std::invalid_argument) << f.name;
      EXPECT_THROW(cuda::activation_backward(f.id, none, none, none, 1, p), std::invalid_argument) << f.name;
    }
    if (f.kind != KernelKind::Rowwise) {
      EXPECT_THROW(cuda::rowwise_forward(f.id, none, none, 1, 1), std::invalid_argument) << f.name;
      EXPECT_THROW(cuda::rowwise_backward(f.id, none, none, none, 1, 1), std::invalid_argument) << f.name;
    }
    if (f.kind != KernelKind::Dropout) {
      EXPECT_THROW(cuda::dropout_forward(f.id, none, none, nullptr, 1, 1, 0.5f, 1), std::invalid_argument) << f.name;
      EXPECT_THROW(cuda::dropout_backward(f.id, none, none, nullptr, 1, 1, 0.5f), std::invalid_argument) << f.name;
    }
  }
  for (float bad_p : {-0.1f, 1.5f, kNaN})
    EXPECT_THROW(cuda::dropout_forward(FunctionId::Dropout, none, none, nullptr, 1, 1, bad_p, 1),
                 std::invalid_argument);
  EXPECT_THROW(cuda::dropout_forward(FunctionId::Dropout, none, none, nullptr, std::numeric_limits<size_t>::max(),
                                     2, 0.5f, 1),
               std::invalid_argument);
  EXPECT_THROW(cuda::dropout_backward(FunctionId::Dropout, none, none, nullptr, std::numeric_limits<size_t>::max(),
                                      2, 0.5f),
               std::invalid_argument);
}

TEST(CudaKernels, EmptyInputsLaunchNothing) {
  // Zero elements: nothing to do, so no device is needed either.
  float* none = nullptr;
  EXPECT_NO_THROW(cuda::activation_forward(FunctionId::GELU, none, none, 0, {}));
  EXPECT_NO_THROW(cuda::activation_backward(FunctionId::GELU, none, none, none, 0, {}));
  EXPECT_NO_THROW(cuda::rrelu_train_forward(none, none, none, 0, default_params<float>(FunctionId::RReLU), 1));
  EXPECT_NO_THROW(cuda::rrelu_train_backward(none, none, none, 0));
  EXPECT_EQ(cuda::prelu_weight_grad(none, none, 0), 0.0);
  EXPECT_NO_THROW(cuda::rowwise_forward(FunctionId::Softmax, none, none, 0, 5));
  EXPECT_NO_THROW(cuda::rowwise_forward(FunctionId::Softmax, none, none, 5, 0));
  EXPECT_NO_THROW(cuda::dropout_forward(FunctionId::Dropout3d, none, none, nullptr, 0, 7, 0.5f, 1));
  EXPECT_NO_THROW(cuda::dropout_backward(FunctionId::Dropout, none, none, nullptr, 5, 0, 0.5f));
}

// ---- element-wise ----

TEST(CudaKernels, DeviceNameIsKnown) {
  IP_REQUIRE_GPU();
  EXPECT_FALSE(cuda::device_name().empty());
}

TEST(CudaKernels, ElementwiseMatchesReference) {
  IP_REQUIRE_GPU();
  for (FunctionId id : functions_of_kind(KernelKind::Elementwise)) {
    const Params<float> p = default_params<float>(id);
    for (size_t n : kSizes) {
      const std::vector<float> x = test_inputs(n, 1234 + static_cast<uint32_t>(n));
      const std::vector<float> dy = uniform_values(n, 99 + static_cast<uint32_t>(n), -1.f, 1.f);
      std::vector<float> want_y(n), want_dx(n);
      ASSERT_TRUE(reference::activation_forward(id, x.data(), want_y.data(), n, p));
      ASSERT_TRUE(reference::activation_backward(id, x.data(), dy.data(), want_dx.data(), n, p));
      const auto close = [](float got, float want, size_t) { return elementwise_close(got, want, 0.0); };
      const auto grad_close = [&x](float got, float want, size_t i) {
        return elementwise_close(got, want, 1.0 + std::fabs(static_cast<double>(x[i])));
      };
      for (const Layout& layout : kLayouts) {
        SCOPED_TRACE(std::string(function_info(id).name) + ", n = " + std::to_string(n) + ", " + layout.name);
        // Forward: y = f(x), in place overwrites x.
        DeviceFloats bx(n), by(n);
        bx.upload(x, layout.in_offset);
        float* y = layout.in_place ? bx.at(layout.in_offset) : by.at(layout.out_offset);
        cuda::activation_forward(id, bx.at(layout.in_offset), y, n, p);
        const std::vector<float> got_y =
            layout.in_place ? bx.download(n, layout.in_offset) : by.download(n, layout.out_offset);
        EXPECT_TRUE(compare(got_y, want_y, x, close)) << "forward";
        // Backward: dx = dy * f'(x), in place overwrites dy (as autograd does).
        DeviceFloats bx2(n), bdy(n), bdx(n);
        bx2.upload(x, layout.in_offset);
        bdy.upload(dy, layout.in2_offset);
        float* dx = layout.in_place ? bdy.at(layout.in2_offset) : bdx.at(layout.out_offset);
        cuda::activation_backward(id, bx2.at(layout.in_offset), bdy.at(layout.in2_offset), dx, n, p);
        const std::vector<float> got_dx =
            layout.in_place ? bdy.download(n, layout.in2_offset) : bdx.download(n, layout.out_offset);
        EXPECT_TRUE(compare(got_dx, want_dx, x, grad_close)) << "backward";
      }
    }
  }
}

TEST(CudaKernels, ElementwiseNonDefaultParameters) {
  IP_REQUIRE_GPU();
  // Parameters reach the kernels: a few functions with arguments other than the defaults.
  const struct {
    FunctionId id;
    Params<float> p;
  } cases[] = {{FunctionId::ELU, {0.5f, 0.f}},      {FunctionId::CELU, {2.f, 0.f}},
               {FunctionId::LeakyReLU, {0.2f, 0.f}}, {FunctionId::PReLU, {-0.7f, 0.f}},
               {FunctionId::Softplus, {2.f, 5.f}},   {FunctionId::Hardtanh, {-2.f, 0.5f}},
               {FunctionId::Threshold, {-1.f, -7.f}}};
  const size_t n = 4099;
  const std::vector<float> x = test_inputs(n, 7);
  const std::vector<float> dy = uniform_values(n, 8, -1.f, 1.f);
  for (const auto& c : cases) {
    SCOPED_TRACE(function_info(c.id).name);
    std::vector<float> want_y(n), want_dx(n);
    reference::activation_forward(c.id, x.data(), want_y.data(), n, c.p);
    reference::activation_backward(c.id, x.data(), dy.data(), want_dx.data(), n, c.p);
    DeviceFloats bx(n), bdy(n), bout(n);
    bx.upload(x, 0);
    bdy.upload(dy, 0);
    const auto close = [](float got, float want, size_t) { return elementwise_close(got, want, 0.0); };
    const auto grad_close = [&x](float got, float want, size_t i) {
      return elementwise_close(got, want, 1.0 + std::fabs(static_cast<double>(x[i])));
    };
    cuda::activation_forward(c.id, bx.at(0), bout.at(0), n, c.p);
    EXPECT_TRUE(compare(bout.download(n, 0), want_y, x, close));
    cuda::activation_backward(c.id, bx.at(0), bdy.at(0), bout.at(0), n, c.p);
    EXPECT_TRUE(compare(bout.download(n, 0), want_dx, x, grad_close));
  }
}

TEST(CudaKernels, PReLUWeightGradMatchesDoubleAndIsDeterministic) {
  IP_REQUIRE_GPU();
  for (size_t n : {size_t{1}, size_t{5}, size_t{1023}, (size_t{1} << 20) + 3, size_t{3} << 20}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const std::vector<float> x = uniform_values(n, 5 + static_cast<uint32_t>(n), -3.f, 2.f);
    const std::vector<float> dy = uniform_values(n, 6 + static_cast<uint32_t>(n), -1.f, 1.f);
    std::vector<double> xd(x.begin(), x.end()), dyd(dy.begin(), dy.end());
    const double want = reference::prelu_weight_grad(xd.data(), dyd.data(), n);
    double magnitude = 0;  // sum of |terms|: the scale of any summation-order difference
    for (size_t i = 0; i < n; ++i) magnitude += std::fabs(dyd[i] * PReLU::weight_derivative(xd[i]));
    DeviceFloats bx(n), bdy(n);
    bx.upload(x, 0);
    bdy.upload(dy, 0);
    const double got = cuda::prelu_weight_grad(bx.at(0), bdy.at(0), n);
    // Exact products summed in double in another order: error <= (terms per partial + tree depth)
    // * 2^-53 * magnitude, far below 1e-12 * magnitude for these sizes.
    EXPECT_NEAR(got, want, 1e-12 * magnitude + 1e-300);
    const double again = cuda::prelu_weight_grad(bx.at(0), bdy.at(0), n);
    EXPECT_EQ(std::memcmp(&got, &again, sizeof got), 0) << "not deterministic: " << got << " vs " << again;
  }
  // A NaN input gives NaN, as the golden file's grad_weight.
  DeviceFloats bx(3), bdy(3);
  bx.upload({-1.f, kNaN, 2.f}, 0);
  bdy.upload({1.f, 1.f, 1.f}, 0);
  EXPECT_TRUE(std::isnan(cuda::prelu_weight_grad(bx.at(0), bdy.at(0), 3)));
}

TEST(CudaKernels, RReLUTrainIsBitIdenticalToReference) {
  IP_REQUIRE_GPU();
  const Params<float> p = default_params<float>(FunctionId::RReLU);
  const uint64_t seeds[] = {0, 42, 0x9E3779B97F4A7C15ull};
  for (uint64_t seed : seeds) {
    for (size_t n : kSizes) {
      const std::vector<float> x = test_inputs(n, 31 + static_cast<uint32_t>(n));
      const std::vector<float> dy = uniform_values(n, 32 + static_cast<uint32_t>(n), -1.f, 1.f);
      std::vector<float> want_y(n), want_dx(n);
      reference::rrelu_train_forward(x.data(), want_y.data(), n, p, seed);
      reference::rrelu_train_backward(x.data(), dy.data(), want_dx.data(), n, p, seed);
      const auto same = [](float got, float want, size_t) { return identical(got, want); };
      for (const Layout& layout : kLayouts) {
        SCOPED_TRACE("seed " + std::to_string(seed) + ", n = " + std::to_string(n) + ", " + layout.name);
        DeviceFloats bx(n), by(n), bdy(n), bnoise(n);
        bx.upload(x, layout.in_offset);
        bdy.upload(dy, layout.in2_offset);
        // Forward writes y and the noise; backward multiplies dy by that noise.
        float* y = layout.in_place ? bx.at(layout.in_offset) : by.at(layout.out_offset);
        cuda::rrelu_train_forward(bx.at(layout.in_offset), y, bnoise.at(layout.out_offset), n, p, seed);
        const std::vector<float> got_y =
            layout.in_place ? bx.download(n, layout.in_offset) : by.download(n, layout.out_offset);
        EXPECT_TRUE(compare(got_y, want_y, x, same)) << "forward";
        float* dx = layout.in_place ? bdy.at(layout.in2_offset) : by.at(layout.out_offset);
        cuda::rrelu_train_backward(bnoise.at(layout.out_offset), bdy.at(layout.in2_offset), dx, n);
        const std::vector<float> got_dx =
            layout.in_place ? bdy.download(n, layout.in2_offset) : by.download(n, layout.out_offset);
        EXPECT_TRUE(compare(got_dx, want_dx, x, same)) << "backward";
      }
    }
  }
}

// ---- dropout ----

// Device words for a dropout keep mask (kernels/common/dropout_mask.h), with guard words after
// them that the kernels must leave alone.
struct DeviceMask : test::DeviceArray<uint32_t> {
  static constexpr uint32_t kGuard = 0xA5A5A5A5u;
  // The mask words and the two guard words after them; download() returns all of them.
  explicit DeviceMask(size_t words) : DeviceArray(words + 2) { upload(std::vector<uint32_t>(words + 2, kGuard)); }
};

// Forward's stored mask equals the reference's draws word for word (bits past the end 0, nothing
// written past the last word); backward reads it and equals the reference's backward, which
// draws again from the seed.
TEST(CudaKernels, DropoutMasksAreBitIdenticalToReference) {
  IP_REQUIRE_GPU();
  const struct {
    size_t rows, cols;
  } shapes[] = {{1, 1}, {1, 3}, {7, 1}, {3, 5}, {5, 3}, {2, 2}, {64, 1024}, {1000, 17}, {33, 4097}, {1, 100003}, {5000, 1}};
  const float probabilities[] = {0.5f, 0.1f, 0.f, 1.f};
  const uint64_t seed = 0x0123456789ABCDEFull;
  for (FunctionId id : functions_of_kind(KernelKind::Dropout)) {
    for (float prob : probabilities) {
      const DropoutConstants c = dropout_constants(id, prob);
      for (const auto& shape : shapes) {
        const size_t n = shape.rows * shape.cols;
        const std::vector<float> x = test_inputs(n, 77 + static_cast<uint32_t>(n));
        std::vector<float> want_y(n), want_dx(n);
        reference::dropout_forward(c, x.data(), want_y.data(), shape.rows, shape.cols, seed);
        reference::dropout_backward(c, x.data(), want_dx.data(), shape.rows, shape.cols, seed);
        const size_t words = dropout_mask_words(id, shape.rows, shape.cols);
        std::vector<uint32_t> want_mask(words + 2, DeviceMask::kGuard);
        reference::dropout_mask(c, seed, shape.rows, shape.cols, want_mask.data());
        const auto same = [](float got, float want, size_t) { return identical(got, want); };
        for (const Layout& layout : kLayouts) {
          SCOPED_TRACE(std::string(function_info(id).name) + ", p = " + std::to_string(prob) + ", " +
                       std::to_string(shape.rows) + "x" + std::to_string(shape.cols) + ", " + layout.name);
          DeviceFloats bin(n), bout(n);
          DeviceMask mask(words);
          float* out = layout.in_place ? bin.at(layout.in_offset) : bout.at(layout.out_offset);
          const auto result = [&] {
            return layout.in_place ? bin.download(n, layout.in_offset) : bout.download(n, layout.out_offset);
          };
          bin.upload(x, layout.in_offset);
          cuda::dropout_forward(id, bin.at(layout.in_offset), out, mask.get(), shape.rows, shape.cols, prob, seed);
          EXPECT_TRUE(compare(result(), want_y, x, same)) << "forward";
          EXPECT_EQ(mask.download(), want_mask) << "stored mask (and the guard words after it)";
          bin.upload(x, layout.in_offset);  // the same values as upstream gradients
          cuda::dropout_backward(id, bin.at(layout.in_offset), out, mask.get(), shape.rows, shape.cols, prob);
          EXPECT_TRUE(compare(result(), want_dx, x, same)) << "backward";
        }
      }
    }
  }
}

TEST(CudaKernels, Dropout3dDropsWholeRows) {
  IP_REQUIRE_GPU();
  const size_t rows = 257, cols = 6;
  const std::vector<float> x(rows * cols, 1.f);
  DeviceFloats bx(rows * cols), by(rows * cols);
  DeviceMask mask(dropout_mask_words(FunctionId::Dropout3d, rows, cols));  // a bit per row
  bx.upload(x, 0);
  cuda::dropout_forward(FunctionId::Dropout3d, bx.at(0), by.at(0), mask.get(), rows, cols, 0.5f, 9);
  const std::vector<float> y = by.download(rows * cols, 0);
  size_t kept_rows = 0;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 1; c < cols; ++c) ASSERT_EQ(y[r * cols + c], y[r * cols]) << "row " << r;
    kept_rows += y[r * cols] != 0.f;
  }
  EXPECT_GT(kept_rows, rows / 4);  // p = 0.5: about half the rows survive
  EXPECT_LT(kept_rows, rows * 3 / 4);
}

// ---- row-wise ----

// Rows like the golden file's (zeros; randn with one 1000; all -1000; randn with one -inf;
// randn * 10; -1000 + randn; uniform in [80, 89]) plus a NaN row, an all -inf row and plain randn.
std::vector<float> rowwise_inputs(size_t cols, size_t* rows_out) {
  constexpr size_t kRows = 11;
  std::vector<float> x(kRows * cols);
  std::mt19937 rng(static_cast<uint32_t>(4321 + cols));
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> hot(80.f, 89.f);
  for (size_t r = 0; r < kRows; ++r) {
    float* row = x.data() + r * cols;
    for (size_t c = 0; c < cols; ++c) {
      const float z = normal(rng);
      switch (r) {
        case 0: row[c] = 0.f; break;
        case 2: row[c] = -1000.f; break;
        case 4: case 5: row[c] = 10.f * z; break;
        case 6: row[c] = -1000.f + z; break;
        case 7: row[c] = hot(rng); break;
        case 9: row[c] = -kInf; break;
        default: row[c] = z;
      }
    }
    if (r == 1) row[cols / 2] = 1000.f;
    if (r == 3) row[cols / 3] = -kInf;
    if (r == 8) row[cols - 1] = kNaN;
  }
  *rows_out = kRows;
  return x;
}

// Bounds from a rounding-error analysis, in units of u = 2^-24. A sum of `cols` terms in any order
// where each partial adds at most cols/32 + 5 (warp per row) or cols/256 + 8 (block per row)
// terms errs by at most (cols/16 + 32) u times the sum of |terms|, which also absorbs the few
// ulp of expf/logf in the terms. Arguments such as sign*x - m round to |x - m| u.
struct RowStats {
  double m = 0, sum = 0, log_sum = 0;  // forward: max of sign*x, sum of exp, its log
  double dot = 0, abs_dot = 0;         // backward: sum(dy*y) or sum(dy), and the same over |terms|
};

constexpr double kU = 1.0 / 16777216.0;
constexpr double kSubnormalSlack = 8 * 1.401298464324817e-45;  // 8 ulp of the smallest subnormal

TEST(CudaKernels, RowwiseMatchesDoubleReference) {
  IP_REQUIRE_GPU();
  const size_t col_counts[] = {1, 16, 17, 33, 1023, 1024, 1025, 4097};
  for (FunctionId id : functions_of_kind(KernelKind::Rowwise)) {
    const bool is_log = id == FunctionId::LogSoftmax;
    const double sign = id == FunctionId::Softmin ? -1.0 : 1.0;
    for (size_t cols : col_counts) {
      SCOPED_TRACE(std::string(function_info(id).name) + ", cols = " + std::to_string(cols));
      size_t rows = 0;
      const std::vector<float> x = rowwise_inputs(cols, &rows);
      const size_t n = rows * cols;
      const double sum_slack = static_cast<double>(cols) / 16 + 32;

      // Forward against float64.
      std::vector<double> xd(x.begin(), x.end()), want(n);
      ASSERT_TRUE(reference::rowwise_forward(id, xd.data(), want.data(), rows, cols));
      std::vector<RowStats> stats(rows);
      for (size_t r = 0; r < rows; ++r) {
        stats[r].m = row_max(xd.data() + r * cols, cols, sign);
        for (size_t c = 0; c < cols; ++c) stats[r].sum += std::exp(sign * xd[r * cols + c] - stats[r].m);
        stats[r].log_sum = std::log(stats[r].sum);
      }
      DeviceFloats bx(n), by(n);
      bx.upload(x, 0);
      cuda::rowwise_forward(id, bx.at(0), by.at(0), rows, cols);
      const std::vector<float> y = by.download(n, 0);
      const auto forward_close = [&](float got, float, size_t i) {
        const double w = want[i];
        if (got == w) return true;  // e.g. the 0 of a -inf element, whose |x - m| is infinite
        if (!std::isfinite(w) || !std::isfinite(got)) return same_class(got, static_cast<float>(w));
        const RowStats& s = stats[i / cols];
        const double arg = std::fabs(sign * xd[i] - s.m);
        const double tol = is_log ? kU * (2 * arg + 4 * std::fabs(s.log_sum) + sum_slack + 8)
                                  : kU * std::fabs(w) * (arg + sum_slack) + kSubnormalSlack;
        return std::fabs(got - w) <= tol;
      };
      std::vector<float> want_f(want.begin(), want.end());
      EXPECT_TRUE(compare(y, want_f, x, forward_close)) << "forward";

      // Backward from the CPU's float forward output and a random upstream gradient.
      std::vector<float> y32(n);
      ASSERT_TRUE(reference::rowwise_forward(id, x.data(), y32.data(), rows, cols));
      const std::vector<float> dy = uniform_values(n, 55 + static_cast<uint32_t>(cols), -1.f, 1.f);
      std::vector<double> yd(y32.begin(), y32.end()), dyd(dy.begin(), dy.end()), want_dx(n);
      ASSERT_TRUE(reference::rowwise_backward(id, yd.data(), dyd.data(), want_dx.data(), rows, cols));
      for (size_t r = 0; r < rows; ++r) {
        stats[r].dot = stats[r].abs_dot = 0;
        for (size_t c = 0; c < cols; ++c) {
          const double term = is_log ? dyd[r * cols + c] : dyd[r * cols + c] * yd[r * cols + c];
          stats[r].dot += term;
          stats[r].abs_dot += std::fabs(term);
        }
      }
      DeviceFloats byy(n), bdy(n), bdx(n);
      byy.upload(y32, 0);
      bdy.upload(dy, 0);
      cuda::rowwise_backward(id, byy.at(0), bdy.at(0), bdx.at(0), rows, cols);
      const std::vector<float> dx = bdx.download(n, 0);
      const auto backward_close = [&](float got, float, size_t i) {
        const double w = want_dx[i];
        if (got == w) return true;
        if (!std::isfinite(w) || !std::isfinite(got)) return same_class(got, static_cast<float>(w));
        const RowStats& s = stats[i / cols];
        const double tol =
            is_log ? kU * (4 * std::fabs(dyd[i]) + std::exp(yd[i]) * (8 * std::fabs(s.dot) + sum_slack * s.abs_dot))
                   : kU * std::fabs(yd[i]) * (4 * (std::fabs(dyd[i]) + std::fabs(s.dot)) + sum_slack * s.abs_dot);
        return std::fabs(got - w) <= tol + kSubnormalSlack;
      };
      std::vector<float> want_dx_f(want_dx.begin(), want_dx.end());
      EXPECT_TRUE(compare(dx, want_dx_f, y32, backward_close)) << "backward";

      // In place gives the same as out of place, bit for bit.
      cuda::rowwise_forward(id, bx.at(0), bx.at(0), rows, cols);
      const auto same = [](float got, float want, size_t) { return identical(got, want); };
      EXPECT_TRUE(compare(bx.download(n, 0), y, x, same)) << "forward in place";
    }
  }
}

TEST(CudaKernels, RowwiseSpecialRows) {
  IP_REQUIRE_GPU();
  // Exact expectations that need no tolerance: a uniform row, a single column, a NaN row,
  // an all -inf row and a -inf element.
  const size_t cols = 5;
  const std::vector<float> x = {0, 0, 0, 0, 0,                 // uniform: 1/5 each
                                -kInf, -kInf, -kInf, -kInf, -kInf,  // all -inf: NaN
                                1, 2, kNaN, 3, 4,              // NaN anywhere: NaN
                                -kInf, 0, 0, 0, 0};            // -inf element: 0, others 1/4
  const size_t rows = x.size() / cols;
  DeviceFloats bx(x.size()), by(x.size());
  bx.upload(x, 0);
  cuda::rowwise_forward(FunctionId::Softmax, bx.at(0), by.at(0), rows, cols);
  const std::vector<float> y = by.download(x.size(), 0);
  for (size_t c = 0; c < cols; ++c) {
    EXPECT_EQ(y[c], 1.f / 5.f);
    EXPECT_TRUE(std::isnan(y[cols + c]));
    EXPECT_TRUE(std::isnan(y[2 * cols + c]));
    EXPECT_EQ(y[3 * cols + c], c == 0 ? 0.f : 0.25f);
  }
  cuda::rowwise_forward(FunctionId::LogSoftmax, bx.at(0), by.at(0), rows, cols);
  const std::vector<float> ly = by.download(x.size(), 0);
  EXPECT_EQ(ly[3 * cols], -kInf);
  EXPECT_FLOAT_EQ(ly[3 * cols + 1], -std::log(4.f));
  std::vector<float> one = {-5.f};
  DeviceFloats b1(1);
  b1.upload(one, 0);
  cuda::rowwise_forward(FunctionId::Softmin, b1.at(0), b1.at(0), 1, 1);
  EXPECT_EQ(b1.download(1, 0)[0], 1.f);
}

}  // namespace
}  // namespace ip
