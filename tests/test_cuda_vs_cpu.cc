// The CPU and CUDA backends draw the same random numbers: dropout keep masks and RReLU's training
// slopes come from Philox keyed by (seed, element or row), so a model trained or run in train mode
// on either device sees the same masks. The CPU and CUDA kernel tests each compare their backend
// with the scalar reference; this one compares the two backends with each other directly, bit for
// bit, on shapes that span many OpenMP chunks and many CUDA blocks. Skipped without a GPU.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/common/activation_list.h"
#include "kernels/cpu/kernels.h"

#if defined(INFERENCEPOWER_HAVE_CUDA)
#include "kernels/cuda/kernels.h"
#include "tests/cuda_test_util.h"
#endif

namespace ip {
namespace {

#if defined(INFERENCEPOWER_HAVE_CUDA)

std::vector<float> inputs(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (float& x : v) {  // xorshift: any values will do, none of them zero
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x = static_cast<float>(static_cast<int64_t>(s >> 11) % 2001 - 1000) / 250.0f + 1e-3f;
  }
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Shape {
  size_t rows, cols;
};
const Shape kShapes[] = {{1, 1}, {3, 1000}, {64, 1024}, {33, 4097}, {4096, 1024}};
const uint64_t kSeeds[] = {1, 0x0123456789ABCDEFull};

TEST(CudaVsCpu, DropoutMasksOutputsAndGradientsAreIdentical) {
  std::string why;
  if (!cuda::available(&why)) GTEST_SKIP() << "no usable GPU: " << why;
  for (const FunctionInfo& f : kFunctionInfo) {
    if (f.kind != KernelKind::Dropout) continue;
    for (float p : {static_cast<float>(f.param_defaults[0]), 0.1f}) {
      for (const Shape& s : kShapes) {
        for (uint64_t seed : kSeeds) {
          SCOPED_TRACE(std::string(f.cli_name) + ", p = " + std::to_string(p) + ", " + std::to_string(s.rows) +
                       "x" + std::to_string(s.cols) + ", seed " + std::to_string(seed));
          const size_t n = s.rows * s.cols, words = dropout_mask_words(f.id, s.rows, s.cols);
          const std::vector<float> x = inputs(n, static_cast<uint32_t>(n)), dy = inputs(n, 7);
          std::vector<float> y(n), dx(n);
          std::vector<uint32_t> mask(words);
          cpu::dropout_forward(f.id, x.data(), y.data(), mask.data(), s.rows, s.cols, p, seed);
          cpu::dropout_backward(f.id, dy.data(), dx.data(), mask.data(), s.rows, s.cols, p);

          test::DeviceArray<float> gx(x), gy(n), gdy(dy), gdx(n);
          test::DeviceArray<uint32_t> gmask(words);
          cuda::dropout_forward(f.id, gx.get(), gy.get(), gmask.get(), s.rows, s.cols, p, seed);
          cuda::dropout_backward(f.id, gdy.get(), gdx.get(), gmask.get(), s.rows, s.cols, p);
          EXPECT_EQ(gmask.download(), mask) << "keep mask";
          EXPECT_TRUE(same_bits(gy.download(), y)) << "forward output";
          EXPECT_TRUE(same_bits(gdx.download(), dx)) << "backward output";
        }
      }
    }
  }
}

TEST(CudaVsCpu, RReLUTrainSlopesAreIdentical) {
  std::string why;
  if (!cuda::available(&why)) GTEST_SKIP() << "no usable GPU: " << why;
  const Params<float> p = default_params<float>(FunctionId::RReLU);
  for (const Shape& s : kShapes) {
    for (uint64_t seed : kSeeds) {
      SCOPED_TRACE(std::to_string(s.rows * s.cols) + " elements, seed " + std::to_string(seed));
      const size_t n = s.rows * s.cols;
      const std::vector<float> x = inputs(n, static_cast<uint32_t>(n) + 3);
      std::vector<float> y(n), noise(n);
      cpu::rrelu_train_forward(x.data(), y.data(), noise.data(), n, p, seed);
      test::DeviceArray<float> gx(x), gy(n), gnoise(n);
      cuda::rrelu_train_forward(gx.get(), gy.get(), gnoise.get(), n, p, seed);
      EXPECT_TRUE(same_bits(gnoise.download(), noise)) << "slopes";
      EXPECT_TRUE(same_bits(gy.download(), y)) << "forward output";
    }
  }
}

#endif  // INFERENCEPOWER_HAVE_CUDA

}  // namespace
}  // namespace ip
