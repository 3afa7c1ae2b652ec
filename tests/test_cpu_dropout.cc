// CPU train-mode dropout and the vector Philox behind it: bit-identical to the scalar reference
// (reference_kernels.h) on every SIMD target, thread count, alignment and size, in place too;
// the stored keep mask equal to the reference's draws, bit for bit, and backward from it equal to
// the reference's backward (which draws again); mask statistics and the PyTorch semantics of each
// variant (golden README, `dropout`); the engine's dropout layer round trip.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/philox.h"
#include "kernels/common/reference_kernels.h"
#include "kernels/cpu/kernels.h"
#include "tests/cpu_test_util.h"
#include "kernels/cpu/philox_draws.h"
#include "engine/layers.h"

namespace ip {
namespace {

// Standard normal inputs, with the special values sprinkled in so that inf * 0 and NaN paths and
// the sign of zero are compared bit for bit too.
std::vector<float> test_input(size_t n, uint32_t seed, bool specials = true) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  if (specials) {
    const float s[] = {0.0f, -0.0f, HUGE_VALF, -HUGE_VALF, std::numeric_limits<float>::quiet_NaN(),
                       1e-40f, -3.4e38f};
    for (size_t i = 0; i < n; i += 97) x[i] = s[(i / 97) % 7];
  }
  return x;
}

bool bits_equal(const float* a, const float* b, size_t n, size_t* first_diff) {
  for (size_t i = 0; i < n; ++i) {
    if (std::memcmp(a + i, b + i, sizeof(float)) != 0) {
      *first_diff = i;
      return false;
    }
  }
  return true;
}

// A mask buffer for a rows x cols dropout, with guard words after it that must stay untouched.
constexpr uint32_t kGuard = 0xA5A5A5A5u;
struct MaskBuffer {
  size_t words;
  std::vector<uint32_t> w;
  MaskBuffer(FunctionId id, size_t rows, size_t cols)
      : words(dropout_mask_words(id, rows, cols)), w(words + 2, kGuard) {}
  uint32_t* data() { return w.data(); }
  bool guards_intact() const { return w[words] == kGuard && w[words + 1] == kGuard; }
};

// Index of the first differing word, or words when all agree.
size_t first_word_diff(const uint32_t* got, const uint32_t* want, size_t words) {
  for (size_t k = 0; k < words; ++k)
    if (got[k] != want[k]) return k;
  return words;
}

TEST(CpuPhilox, VectorDrawsEqualScalarDraws) {
  CpuDispatchGuard guard;
  const uint64_t seeds[] = {0, 1234, 0xFFFFFFFF00000001ull, 0xDEADBEEFCAFEBABEull};
  // Starts on and off block boundaries; near 2^32 blocks, where the low counter word carries
  // into the high word inside one vector of counters; and far out.
  const uint64_t firsts[] = {0, 1, 2, 3, 5, 1000, (uint64_t{1} << 34) - 37,
                             (uint64_t{1} << 34) + 3, (uint64_t{1} << 40) + 7};
  const size_t sizes[] = {1, 3, 4, 63, 64, 65, 1000};
  for (const std::string& target : cpu::available_targets()) {
    cpu::force_target(target);
    for (uint64_t seed : seeds)
      for (uint32_t stream : {philox::kDropoutStream, philox::kRReLUStream})
        for (uint64_t first : firsts)
          for (size_t n : sizes) {
            std::vector<uint32_t> got(n + 1, 0xABCDABCDu);
            cpu::philox_draws32(seed, stream, first, n, got.data());
            for (size_t k = 0; k < n; ++k) {
              ASSERT_EQ(got[k], philox::draw32(seed, stream, first + k))
                  << target << " seed " << seed << " stream " << stream << " index " << first + k;
            }
            ASSERT_EQ(got[n], 0xABCDABCDu) << target << ": wrote past the end";
          }
  }
}

// Every target, 1 and 2 threads, every dropout function, n = 2^20 + 3, forward and backward:
// identical bits. Dropout3d (one draw per row) also as one column (2^20 + 3 row draws) and as a
// matrix whose rows straddle chunk boundaries.
TEST(CpuDropout, BitIdenticalToReferenceEveryTargetAndThreadCount) {
  CpuDispatchGuard guard;
  const size_t n = (size_t{1} << 20) + 3;
  const std::vector<float> x = test_input(n, 1);
  const std::vector<float> dy = test_input(n, 2);
  const uint64_t seed = 0x123456789ull;
  struct Case {
    FunctionId id;
    float p;
    size_t rows, cols;
  };
  std::vector<Case> cases;
  for (FunctionId id : functions_of_kind(KernelKind::Dropout)) cases.push_back({id, 0.5f, 1, n});
  cases.push_back({FunctionId::Dropout, 0.1f, 1, n});
  cases.push_back({FunctionId::AlphaDropout, 0.1f, 1, n});
  cases.push_back({FunctionId::Dropout3d, 0.5f, n, 1});
  cases.push_back({FunctionId::Dropout3d, 0.1f, 1021, 1027});
  for (const Case& k : cases) {
    const DropoutConstants c = dropout_constants(k.id, k.p);
    const size_t m = k.rows * k.cols;
    std::vector<float> ref_y(m), ref_dx(m), y(m), dx(m);
    reference::dropout_forward(c, x.data(), ref_y.data(), k.rows, k.cols, seed);
    reference::dropout_backward(c, dy.data(), ref_dx.data(), k.rows, k.cols, seed);
    std::vector<uint32_t> ref_mask(dropout_mask_words(k.id, k.rows, k.cols));
    reference::dropout_mask(c, seed, k.rows, k.cols, ref_mask.data());
    for (const std::string& target : cpu::available_targets()) {
      cpu::force_target(target);
      for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        std::fill(y.begin(), y.end(), 7.0f);
        std::fill(dx.begin(), dx.end(), 7.0f);
        MaskBuffer mask(k.id, k.rows, k.cols);
        cpu::dropout_forward(k.id, x.data(), y.data(), mask.data(), k.rows, k.cols, k.p, seed);
        cpu::dropout_backward(k.id, dy.data(), dx.data(), mask.data(), k.rows, k.cols, k.p);
        // The same mask bits whatever the thread count: both equal the reference's.
        const size_t w = first_word_diff(mask.data(), ref_mask.data(), mask.words);
        ASSERT_EQ(w, mask.words) << function_info(k.id).name << " p " << k.p << " " << target
                                 << " threads " << threads << " mask word " << w << ": "
                                 << mask.w[w] << " vs " << ref_mask[w];
        ASSERT_TRUE(mask.guards_intact()) << target << ": wrote past the mask";
        size_t at = 0;
        ASSERT_TRUE(bits_equal(y.data(), ref_y.data(), m, &at))
            << function_info(k.id).name << " p " << k.p << " " << k.rows << "x" << k.cols << " "
            << target << " threads " << threads << " forward differs at " << at << ": " << y[at]
            << " vs " << ref_y[at];
        ASSERT_TRUE(bits_equal(dx.data(), ref_dx.data(), m, &at))
            << function_info(k.id).name << " p " << k.p << " " << k.rows << "x" << k.cols << " "
            << target << " threads " << threads << " backward differs at " << at;
      }
    }
  }
}

// Outputs of 64 MiB and more are written with non-temporal stores (Dropout3d's both ways, the
// element-wise backward, and the element-wise forward on AVX-512): still bit-identical to the
// reference, with the output 64-byte aligned (streamed) and one float off (unaligned fallback).
TEST(CpuDropout, StreamedLargeOutputsBitIdenticalToReference) {
  const size_t cols = 1024, rows = (size_t{64} << 20) / (cols * sizeof(float)), n = rows * cols;
  const std::vector<float> x = test_input(n, 3);
  const uint64_t seed = 0xfeedull;
  const size_t bytes = (n + 16) * sizeof(float);  // a multiple of 64
  std::unique_ptr<float, decltype(&std::free)> out(
      static_cast<float*>(std::aligned_alloc(64, bytes)), &std::free);
  ASSERT_NE(out.get(), nullptr);
  std::vector<float> ref(n);
  for (FunctionId id : {FunctionId::Dropout, FunctionId::AlphaDropout, FunctionId::Dropout3d}) {
    const DropoutConstants c = dropout_constants(id, 0.3f);  // the float p the kernel gets
    std::vector<uint32_t> ref_mask(dropout_mask_words(id, rows, cols));
    reference::dropout_mask(c, seed, rows, cols, ref_mask.data());
    MaskBuffer mask(id, rows, cols);
    for (bool backward : {false, true}) {
      if (backward) {
        reference::dropout_backward(c, x.data(), ref.data(), rows, cols, seed);
      } else {
        reference::dropout_forward(c, x.data(), ref.data(), rows, cols, seed);
      }
      for (size_t offset : {size_t{0}, size_t{1}}) {
        float* y = out.get() + offset;
        if (backward) {
          cpu::dropout_backward(id, x.data(), y, ref_mask.data(), rows, cols, 0.3f);
        } else {
          cpu::dropout_forward(id, x.data(), y, mask.data(), rows, cols, 0.3f, seed);
          ASSERT_EQ(first_word_diff(mask.data(), ref_mask.data(), mask.words), mask.words);
        }
        size_t at = 0;
        ASSERT_TRUE(bits_equal(y, ref.data(), n, &at))
            << function_info(id).name << (backward ? " backward" : " forward") << " offset "
            << offset << " differs at " << at << ": " << y[at] << " vs " << ref[at];
      }
    }
  }
}

// Small sizes around every vector width, misaligned input and output, and in place.
TEST(CpuDropout, SizesAlignmentAndInPlace) {
  CpuDispatchGuard guard;
  const uint64_t seed = 99;
  const size_t max_n = 3 * 64 + 5;
  const std::vector<float> base = test_input(max_n + 8, 3);
  for (FunctionId id : functions_of_kind(KernelKind::Dropout)) {
    const DropoutConstants c = dropout_constants(id, 0.3f);  // the kernel gets p as float
    for (const std::string& target : cpu::available_targets()) {
      cpu::force_target(target);
      for (size_t cols = 0; cols <= max_n; cols += (cols < 70 ? 1 : 13)) {
        for (size_t rows : {size_t{1}, size_t{3}}) {
          if (rows * cols > max_n) continue;
          const size_t m = rows * cols;
          for (size_t in_off : {0, 1, 3}) {
            const size_t out_off = (in_off + 2) % 4;
            std::vector<float> ref(m), in(m + 8), out(m + 8, 5.0f);
            std::copy(base.begin(), base.begin() + m, in.begin() + in_off);
            reference::dropout_forward(c, in.data() + in_off, ref.data(), rows, cols, seed);
            MaskBuffer mask(id, rows, cols);
            std::vector<uint32_t> ref_mask(mask.words);
            reference::dropout_mask(c, seed, rows, cols, ref_mask.data());
            cpu::dropout_forward(id, in.data() + in_off, out.data() + out_off, mask.data(), rows,
                                 cols, 0.3f, seed);
            const size_t w = first_word_diff(mask.data(), ref_mask.data(), mask.words);
            ASSERT_EQ(w, mask.words) << function_info(id).name << " " << target << " " << rows
                                     << "x" << cols << " mask word " << w;
            ASSERT_TRUE(mask.guards_intact()) << "wrote past the mask";
            size_t at = 0;
            ASSERT_TRUE(bits_equal(out.data() + out_off, ref.data(), m, &at))
                << function_info(id).name << " " << target << " " << rows << "x" << cols
                << " offsets " << in_off << "," << out_off << " at " << at;
            for (size_t i = 0; i < out_off; ++i) ASSERT_EQ(out[i], 5.0f) << "wrote before output";
            for (size_t i = out_off + m; i < out.size(); ++i)
              ASSERT_EQ(out[i], 5.0f) << "wrote past output";

            // In place, forward and backward.
            std::vector<float> inplace(in);
            cpu::dropout_forward(id, inplace.data() + in_off, inplace.data() + in_off, mask.data(),
                                 rows, cols, 0.3f, seed);
            ASSERT_TRUE(bits_equal(inplace.data() + in_off, ref.data(), m, &at))
                << function_info(id).name << " " << target << " in place at " << at;
            reference::dropout_backward(c, in.data() + in_off, ref.data(), rows, cols, seed);
            inplace = in;
            cpu::dropout_backward(id, inplace.data() + in_off, inplace.data() + in_off,
                                  mask.data(), rows, cols, 0.3f);
            ASSERT_TRUE(bits_equal(inplace.data() + in_off, ref.data(), m, &at))
                << function_info(id).name << " " << target << " backward in place at " << at;
          }
        }
      }
    }
  }
}

// Kept count ~ Binomial(n, q) with q = keep_below / 2^24: within 5 standard deviations (a false
// alarm has probability below 1e-6 per case). Kept values are exactly x * float(1 / (1 - p)).
TEST(CpuDropout, KeptFractionAndScale) {
  const size_t n = size_t{1} << 20;
  std::vector<float> x = test_input(n, 4, /*specials=*/false);
  for (float& v : x)
    if (v == 0.0f) v = 1.0f;  // so that a dropped 0 never equals a kept value
  std::vector<float> y(n);
  std::vector<uint32_t> mask(n / 32);
  for (FunctionId id : {FunctionId::Dropout, FunctionId::Dropout2d}) {
    for (double p : {0.1, 0.5, 0.9}) {
      cpu::dropout_forward(id, x.data(), y.data(), mask.data(), 1, n, static_cast<float>(p), 2024);
      const float scale = static_cast<float>(1.0 / (1.0 - static_cast<double>(static_cast<float>(p))));
      size_t kept = 0;
      for (size_t i = 0; i < n; ++i) {
        if (y[i] == 0.0f) continue;
        ++kept;
        ASSERT_EQ(y[i], x[i] * scale) << "p " << p << " at " << i;
      }
      const double q = 1.0 - p;
      const double sigma = std::sqrt(n * q * (1.0 - q));
      EXPECT_NEAR(static_cast<double>(kept), n * q, 5.0 * sigma)
          << function_info(id).name << " p " << p;
    }
  }
}

TEST(CpuDropout, ProbabilityZeroAndOne) {
  const float inf = HUGE_VALF, nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {1.0f, -2.0f, inf, nan, 0.5f, -inf, 3.0f, 0.0f, 1e-30f, -7.0f, 2.0f};
  const size_t n = x.size();
  std::vector<float> y(n), dx(n);
  std::vector<uint32_t> mask(1);
  for (FunctionId id : functions_of_kind(KernelKind::Dropout)) {
    // p = 0: every element kept; plain dropouts return x (AlphaDropout with p = 0 has a = 1, b = 0).
    cpu::dropout_forward(id, x.data(), y.data(), mask.data(), 1, n, 0.0f, 5);
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(x[i])) {
        EXPECT_TRUE(std::isnan(y[i])) << function_info(id).name;
      } else {
        EXPECT_EQ(y[i], x[i]) << function_info(id).name << " p=0 at " << i;
      }
    }
    cpu::dropout_backward(id, x.data(), dx.data(), mask.data(), 1, n, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      if (!std::isnan(x[i])) {
        EXPECT_EQ(dx[i], x[i]) << function_info(id).name;
      }
    }
    // p = 1: PyTorch returns x * 0 (NaN at inf and NaN inputs); gradient 0.
    cpu::dropout_forward(id, x.data(), y.data(), mask.data(), 1, n, 1.0f, 5);
    EXPECT_EQ(mask[0], 0u) << function_info(id).name << ": p = 1 keeps nothing";
    cpu::dropout_backward(id, x.data(), dx.data(), mask.data(), 1, n, 1.0f);
    for (size_t i = 0; i < n; ++i) {
      if (std::isfinite(x[i])) {
        EXPECT_EQ(y[i], 0.0f) << function_info(id).name << " p=1 at " << i;
      } else {
        EXPECT_TRUE(std::isnan(y[i])) << function_info(id).name << " p=1 at " << i;
      }
      EXPECT_EQ(dx[i], 0.0f);
      EXPECT_FALSE(std::signbit(dx[i]));
    }
  }
}

// Dropout3d on 2-D input keeps or drops whole rows, with the row index's draw; Dropout2d on 2-D
// input is element-wise (PyTorch 1.13, golden README).
TEST(CpuDropout, Dropout3dDropsRowsDropout2dElements) {
  const size_t rows = 512, cols = 37;
  std::vector<float> x = test_input(rows * cols, 6, false);
  for (float& v : x)
    if (v == 0.0f) v = 1.0f;
  std::vector<float> y(rows * cols);
  const uint64_t seed = 77;
  const DropoutConstants c = dropout_constants(FunctionId::Dropout3d, 0.5);

  std::vector<uint32_t> mask(rows * cols / 32 + 1);  // room for the element-wise Dropout2d below
  cpu::dropout_forward(FunctionId::Dropout3d, x.data(), y.data(), mask.data(), rows, cols, 0.5f,
                       seed);
  size_t kept_rows = 0;
  for (size_t r = 0; r < rows; ++r) {
    const bool keep = philox::draw24(seed, philox::kDropoutStream, r) < c.keep_below;
    kept_rows += keep;
    ASSERT_EQ(dropout_mask_bit(mask.data(), r), keep) << "row " << r << ": a bit per row";
    for (size_t k = 0; k < cols; ++k) {
      const size_t i = r * cols + k;
      ASSERT_EQ(y[i], keep ? x[i] * 2.0f : 0.0f) << "row " << r << " col " << k;
    }
  }
  EXPECT_GT(kept_rows, 0u);
  EXPECT_LT(kept_rows, rows);

  cpu::dropout_forward(FunctionId::Dropout2d, x.data(), y.data(), mask.data(), rows, cols, 0.5f,
                       seed);
  size_t mixed_rows = 0;
  for (size_t r = 0; r < rows; ++r) {
    size_t kept = 0;
    for (size_t k = 0; k < cols; ++k) kept += y[r * cols + k] != 0.0f;
    mixed_rows += kept != 0 && kept != cols;
  }
  // With p = 0.5 a row of 37 independent draws is uniform with probability 2^-36.
  EXPECT_GT(mixed_rows, rows / 2);
}

// AlphaDropout on standard-normal input keeps mean 0 and variance 1 in train mode.
TEST(CpuDropout, AlphaDropoutPreservesMeanAndVariance) {
  const size_t n = size_t{1} << 22;
  const std::vector<float> x = test_input(n, 8, false);
  std::vector<float> y(n);
  std::vector<uint32_t> mask(n / 32);
  for (double p : {0.5, 0.2}) {
    cpu::dropout_forward(FunctionId::AlphaDropout, x.data(), y.data(), mask.data(), 1, n,
                         static_cast<float>(p), 31337);
    double sum = 0;
    for (float v : y) sum += v;
    const double mean = sum / n;
    double m2 = 0, m4 = 0;
    for (float v : y) {
      const double d = v - mean;
      m2 += d * d;
      m4 += d * d * d * d;
    }
    m2 /= n;
    m4 /= n;
    // Standard errors of the sample mean and variance of n draws; 6 of them bound the sampling
    // noise (input and mask together); the float32 rounding of a, b is orders of magnitude
    // smaller (~1e-7).
    const double se_mean = std::sqrt(m2 / n);
    const double se_var = std::sqrt((m4 - m2 * m2) / n);
    EXPECT_NEAR(mean, 0.0, 6 * se_mean) << "p " << p;
    EXPECT_NEAR(m2, 1.0, 6 * se_var) << "p " << p;
    EXPECT_LT(6 * se_var, 5e-3);  // the check is meaningful: n is large enough
  }
}

// Dropped value and kept affine map at p = 0.5 from the golden README's formulas; gradient.
TEST(CpuDropout, AlphaDropoutValuesAndGradient) {
  const size_t n = 4099;
  std::vector<float> x = test_input(n, 9, false);
  std::vector<float> y(n), dx(n), ref_dx(n);
  const double alpha = 1.7580993408473766, p = 0.5;
  const double a = 1.0 / std::sqrt((alpha * alpha * p + 1.0) * (1.0 - p));
  const float af = static_cast<float>(a), bf = static_cast<float>(alpha * a * p);
  const uint64_t seed = 4242;
  std::vector<uint32_t> mask(dropout_mask_words(FunctionId::AlphaDropout, 1, n));
  cpu::dropout_forward(FunctionId::AlphaDropout, x.data(), y.data(), mask.data(), 1, n, 0.5f, seed);
  const std::vector<float> dy = test_input(n, 10, false);
  cpu::dropout_backward(FunctionId::AlphaDropout, dy.data(), dx.data(), mask.data(), 1, n, 0.5f);
  const DropoutConstants c = dropout_constants(FunctionId::AlphaDropout, 0.5);
  reference::dropout_backward(c, dy.data(), ref_dx.data(), 1, n, seed);
  size_t dropped = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool keep = philox::draw24(seed, philox::kDropoutStream, i) < c.keep_below;
    if (keep) {
      ASSERT_EQ(y[i], af * x[i] + bf) << i;
      ASSERT_EQ(dx[i], dy[i] * af) << i;
    } else {
      ++dropped;
      ASSERT_EQ(y[i], -0.7791939377784729f) << i;
      ASSERT_EQ(dx[i], 0.0f) << i;
    }
    ASSERT_EQ(std::memcmp(&dx[i], &ref_dx[i], sizeof(float)), 0) << i;
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_LT(dropped, n);
}

// Sign of zero as in PyTorch, whose plain dropout is the product x * mask * scale: -0 stays -0
// when kept (-0 * s), and a dropped negative x gives -0 (x * 0). Adding a zero offset would give
// +0 in both cases. Negative inputs and -0 only, so every output's sign bit must be set, kept or
// dropped, on every target, for the scalar form and the CPU kernel alike. AlphaDropout at p = 0
// has offset 0 too.
TEST(CpuDropout, KeepsTheSignOfZero) {
  CpuDispatchGuard guard;
  const size_t n = 1000;
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = i % 2 == 0 ? -0.0f : -1.0f - static_cast<float>(i);
  std::vector<float> y(n);
  std::vector<uint32_t> mask(n / 32 + 1);
  for (FunctionId id : functions_of_kind(KernelKind::Dropout)) {
    const bool alpha = id == FunctionId::AlphaDropout;
    for (float p : alpha ? std::vector<float>{0.0f} : std::vector<float>{0.0f, 0.5f, 1.0f}) {
      const DropoutConstants c = dropout_constants(id, p);
      for (bool keep : {true, false}) {
        if (alpha && !keep) continue;  // a dropped AlphaDropout element is a negative constant
        EXPECT_TRUE(std::signbit(dropout_apply(-0.0f, keep, c))) << function_info(id).name;
        EXPECT_TRUE(std::signbit(dropout_apply(-0.0, keep, c))) << function_info(id).name;
      }
      for (const std::string& target : cpu::available_targets()) {
        cpu::force_target(target);
        std::fill(y.begin(), y.end(), 1.0f);
        cpu::dropout_forward(id, x.data(), y.data(), mask.data(), 10, n / 10, p, 77);
        for (size_t i = 0; i < n; ++i) {
          ASSERT_TRUE(std::signbit(y[i]))
              << function_info(id).name << " p=" << p << " " << target << " x=" << x[i]
              << " y=" << y[i] << " at " << i;
        }
      }
    }
  }
}

TEST(CpuDropout, InvalidArgumentsThrow) {
  float x[4] = {1, 2, 3, 4}, y[4];
  uint32_t mask[1] = {0};
  EXPECT_THROW(cpu::dropout_forward(FunctionId::ReLU, x, y, mask, 1, 4, 0.5f, 1),
               std::invalid_argument);
  EXPECT_THROW(cpu::dropout_backward(FunctionId::Softmax, x, y, mask, 1, 4, 0.5f),
               std::invalid_argument);
  EXPECT_THROW(dropout_mask_words(FunctionId::ReLU, 1, 4), std::invalid_argument);
  for (float p : {-0.1f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    EXPECT_THROW(cpu::dropout_forward(FunctionId::Dropout, x, y, mask, 1, 4, p, 1),
                 std::invalid_argument);
    EXPECT_THROW(cpu::dropout_backward(FunctionId::Dropout3d, x, y, mask, 1, 4, p),
                 std::invalid_argument);
  }
  // Empty inputs are fine, even with no buffers.
  cpu::dropout_forward(FunctionId::Dropout, nullptr, nullptr, nullptr, 0, 5, 0.5f, 1);
  cpu::dropout_forward(FunctionId::Dropout3d, nullptr, nullptr, nullptr, 5, 0, 0.5f, 1);
  cpu::dropout_backward(FunctionId::Dropout, nullptr, nullptr, nullptr, 0, 5, 0.5f);
}

// The word count helper: a bit per element, or per row for Dropout3d on 2-D input.
TEST(CpuDropout, MaskWordCounts) {
  EXPECT_EQ(dropout_mask_words(FunctionId::Dropout, 1, 32), 1u);
  EXPECT_EQ(dropout_mask_words(FunctionId::Dropout, 1, 33), 2u);
  EXPECT_EQ(dropout_mask_words(FunctionId::AlphaDropout, 3, 11), 2u);
  EXPECT_EQ(dropout_mask_words(FunctionId::Dropout2d, 0, 11), 0u);
  EXPECT_EQ(dropout_mask_words(FunctionId::Dropout3d, 33, 1000), 2u);
  EXPECT_EQ(dropout_mask_words(FunctionId::Dropout3d, 32, 1), 1u);
}

// Odd sizes (tails inside a mask word, inputs across chunk boundaries) on every target with 1 and
// 2 threads: the stored words equal the reference's draws (bits past the end 0, nothing written
// past the last word), forward equals the reference, and backward from the kernel's own mask
// equals the reference's backward, which draws again from the seed.
TEST(CpuDropout, StoredMaskOddSizesEveryTargetAndThreadCount) {
  CpuDispatchGuard guard;
  const uint64_t seed = 0xC0FFEEull;
  struct Shape {
    size_t rows, cols;
  };
  const Shape element_shapes[] = {{1, 1},  {1, 31},  {1, 32},   {1, 33},          {3, 21},
                                  {1, 100}, {7, 13}, {1, 16411}, {3, 16384 + 17}, {1, 3 * 16384 + 5}};
  const Shape row_shapes[] = {{1, 5},  {31, 3}, {33, 1}, {65, 7},   {5000, 7},
                              {33, 1024}, {70, 1024}, {16411, 1}, {40, 1}};
  for (FunctionId id : functions_of_kind(KernelKind::Dropout)) {
    const DropoutConstants c = dropout_constants(id, 0.4f);
    for (const Shape& s : c.by_row ? std::vector<Shape>(std::begin(row_shapes), std::end(row_shapes))
                                   : std::vector<Shape>(std::begin(element_shapes), std::end(element_shapes))) {
      const size_t m = s.rows * s.cols;
      const std::vector<float> x = test_input(m, 21), dy = test_input(m, 22);
      std::vector<float> ref_y(m), ref_dx(m), y(m), dx(m);
      reference::dropout_forward(c, x.data(), ref_y.data(), s.rows, s.cols, seed);
      reference::dropout_backward(c, dy.data(), ref_dx.data(), s.rows, s.cols, seed);
      std::vector<uint32_t> ref_mask(dropout_mask_words(id, s.rows, s.cols));
      reference::dropout_mask(c, seed, s.rows, s.cols, ref_mask.data());
      for (const std::string& target : cpu::available_targets()) {
        cpu::force_target(target);
        for (int threads : {1, 2}) {
          omp_set_num_threads(threads);
          const std::string what = std::string(function_info(id).name) + " " +
                                   std::to_string(s.rows) + "x" + std::to_string(s.cols) + " " +
                                   target + " threads " + std::to_string(threads);
          MaskBuffer mask(id, s.rows, s.cols);
          cpu::dropout_forward(id, x.data(), y.data(), mask.data(), s.rows, s.cols, 0.4f, seed);
          const size_t w = first_word_diff(mask.data(), ref_mask.data(), mask.words);
          ASSERT_EQ(w, mask.words) << what << " mask word " << w << ": " << mask.w[w] << " vs "
                                   << ref_mask[w];
          ASSERT_TRUE(mask.guards_intact()) << what << ": wrote past the mask";
          cpu::dropout_backward(id, dy.data(), dx.data(), mask.data(), s.rows, s.cols, 0.4f);
          size_t at = 0;
          ASSERT_TRUE(bits_equal(y.data(), ref_y.data(), m, &at)) << what << " forward at " << at;
          ASSERT_TRUE(bits_equal(dx.data(), ref_dx.data(), m, &at)) << what << " backward at " << at;
        }
      }
    }
  }
}

// The engine's dropout layer: train-mode forward and backward equal the reference with the
// layer's step seed (backward through the stored mask), for every variant; eval mode passes
// through; backward needs a matching forward, also after to().
TEST(CpuDropout, LayerRoundTripThroughStoredMask) {
  const size_t rows = 37, cols = 129;
  const std::vector<float> xv = test_input(rows * cols, 30), dyv = test_input(rows * cols, 31);
  const Tensor x = Tensor::from_vector({rows, cols}, xv), dy = Tensor::from_vector({rows, cols}, dyv);
  for (FunctionId id : functions_of_kind(KernelKind::Dropout)) {
    FunctionLayer layer(id);
    EXPECT_THROW(layer.backward(dy), std::invalid_argument) << "backward before any forward";
    layer.set_seed(1234);
    layer.set_training(true);
    for (int step = 0; step < 2; ++step) {  // a second step: a new seed, the same buffers
      const std::vector<float> y = layer.forward(x).to_vector();
      const std::vector<float> dx = layer.backward(dy).to_vector();
      const DropoutConstants c = dropout_constants(id, layer.params().p0);
      std::vector<float> ref_y(rows * cols), ref_dx(rows * cols);
      reference::dropout_forward(c, xv.data(), ref_y.data(), rows, cols, layer.step_seed());
      reference::dropout_backward(c, dyv.data(), ref_dx.data(), rows, cols, layer.step_seed());
      size_t at = 0;
      ASSERT_TRUE(bits_equal(y.data(), ref_y.data(), y.size(), &at)) << function_info(id).name << " at " << at;
      ASSERT_TRUE(bits_equal(dx.data(), ref_dx.data(), dx.size(), &at)) << function_info(id).name << " at " << at;
    }
    layer.to(Device::Cpu);
    EXPECT_EQ(layer.dropout_mask(), nullptr);
    EXPECT_THROW(layer.backward(dy), std::invalid_argument) << "to() drops the forward's state";
    layer.set_training(false);
    const Tensor& y = layer.forward(x);
    EXPECT_TRUE(y.shares_storage(x)) << "eval mode is the identity";
    EXPECT_TRUE(layer.backward(dy).shares_storage(dy));
  }
}

}  // namespace
}  // namespace ip
