// Tensor: storage, views, copies between devices, buffer reuse.
#include <cstdint>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "engine/tensor.h"

namespace ip {
namespace {

TEST(EngineTensor, AllocatesZeroedAlignedStorage) {
  for (size_t n : {1u, 3u, 17u, 1000u}) {
    Tensor t({n, 3});
    EXPECT_EQ(t.numel(), n * 3);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
    for (float v : t.to_vector()) EXPECT_EQ(v, 0.0f);
  }
  EXPECT_TRUE(Tensor().empty());
  EXPECT_EQ(Tensor().numel(), 0u);
}

TEST(EngineTensor, ViewsShareStorage) {
  Tensor t = Tensor::from_vector({4, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  Tensor flat = t.view({12});
  Tensor middle = t.rows(1, 3);
  EXPECT_TRUE(flat.shares_storage(t));
  EXPECT_TRUE(middle.shares_storage(t));
  EXPECT_EQ(flat.data(), t.data());
  EXPECT_EQ(middle.data(), t.data() + 3);
  EXPECT_EQ(middle.shape(), Shape({2, 3}));
  middle.data()[0] = 42;  // writes through to the original
  EXPECT_EQ(t.to_vector()[3], 42.0f);
  EXPECT_EQ(middle.to_vector(), (std::vector<float>{42, 4, 5, 6, 7, 8}));
  EXPECT_THROW(t.view({5, 2}), std::invalid_argument);
  EXPECT_THROW(t.rows(2, 5), std::out_of_range);
}

TEST(EngineTensor, ToCopiesAndCopyFromChecksSize) {
  Tensor t = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  Tensor c = t.to(Device::Cpu);
  EXPECT_FALSE(c.shares_storage(t));
  EXPECT_EQ(c.to_vector(), t.to_vector());
  c.data()[0] = 9;
  EXPECT_EQ(t.to_vector()[0], 1.0f);
  Tensor d({4});
  d.copy_from(t);
  EXPECT_EQ(d.to_vector(), t.to_vector());
  EXPECT_THROW(d.copy_from(Tensor({3})), std::invalid_argument);
  d.zero();
  EXPECT_EQ(d.to_vector(), std::vector<float>(4, 0.0f));
}

TEST(EngineTensor, EnsureShapeReusesMatchingBuffers) {
  Tensor b;
  ensure_shape(b, {8, 4}, Device::Cpu);
  float* first = b.data();
  ensure_shape(b, {8, 4}, Device::Cpu);
  EXPECT_EQ(b.data(), first);
  ensure_shape(b, {16, 4}, Device::Cpu);
  EXPECT_EQ(b.shape(), Shape({16, 4}));
}

TEST(EngineTensor, CudaWithoutGpuIsAClearError) {
  std::string why;
  if (cuda_usable(&why)) GTEST_SKIP() << "a GPU is present";
  Tensor t({2, 2});
  try {
    t.to(Device::Cuda);
    FAIL() << "to(Cuda) succeeded without a usable GPU";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tensor({2}, Device::Cuda), std::runtime_error);
  EXPECT_THROW(require_device(Device::Cuda), std::runtime_error);
  EXPECT_THROW(parse_device("gpu"), std::invalid_argument);
}

#if defined(INFERENCEPOWER_HAVE_CUDA)
TEST(EngineTensor, CudaRoundTrip) {
  if (!cuda_usable()) GTEST_SKIP() << "no usable GPU";
  Tensor t = Tensor::from_vector({3}, {1, 2, 3});
  Tensor g = t.to(Device::Cuda);
  EXPECT_EQ(g.device(), Device::Cuda);
  EXPECT_EQ(g.to_vector(), t.to_vector());
  Tensor g2 = g.to(Device::Cuda);
  g.zero();
  EXPECT_EQ(g2.to(Device::Cpu).to_vector(), t.to_vector());
  EXPECT_EQ(g.to_vector(), std::vector<float>(3, 0.0f));
}
#endif

}  // namespace
}  // namespace ip
