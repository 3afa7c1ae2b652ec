// What kernel_bench times: the kernel calls of one function on one device over preallocated
// buffers, with the bytes each call must move (the numerator of its effective bandwidth).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "kernels/common/activation_list.h"

namespace ip::bench {

// ---- host memory ----
struct FreeDeleter {
  void operator()(float* p) const;
};
using HostArray = std::unique_ptr<float[], FreeDeleter>;
// n floats, 64-byte aligned.
HostArray host_alloc(std::size_t n);
// Random normal x scale (Philox, the same values for any thread count), written in parallel:
// writing every page here is also what pre-touches the arrays.
void fill_normal(float* a, std::size_t n, float scale, uint64_t seed);
// One of the two CPU copy references (the other is ip::cpu::vector_copy, written like our kernels):
// each thread copies its contiguous share with one memcpy, the C library's best plain copy.
void memcpy_copy(const float* x, float* y, std::size_t n);

#ifdef INFERENCEPOWER_HAVE_CUDA
// n floats of device memory, freed on scope exit.
struct DeviceArray {
  float* p = nullptr;
  explicit DeviceArray(std::size_t n);
  ~DeviceArray();
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
};
#endif

// ---- the arrays of one size ----
struct Buffers {
  const float* x = nullptr;
  const float* dy = nullptr;
  float* y = nullptr;
  float* dx = nullptr;
  std::uint32_t* mask = nullptr;  // dropout's keep mask: mask_words(n) words, enough for any dropout
  std::size_t n = 0, rows = 0, cols = 0;
};
// Row-wise and dropout kernels see the array as rows x cols (cols = the models' width), so the
// element count is rounded down to whole rows; every kernel of one size gets the same count.
// Pointers are left null.
Buffers shape_of(std::size_t requested, std::size_t cols);
// Words of a dropout mask buffer for n elements (one bit per element is the most any dropout
// stores, kernels/common/dropout_mask.h).
std::size_t mask_words(std::size_t n);

// ---- the cases ----
// One kernel call over preallocated buffers; `bytes` is what it must read + write.
struct Case {
  const FunctionInfo* info = nullptr;
  std::string function, kind, direction;
  double bytes = 0;
  std::function<void()> call;
};

// The cases of one function on one device, through the engine's device switch (engine/ops.h),
// for the directions asked. Backward of row-wise, dropout and RReLU-train kernels reads what a
// forward wrote, so `prepare` gets those forwards (to run once, untimed, before timing).
std::vector<Case> make_cases(Device dev, const FunctionInfo& f, const Buffers& b, const std::vector<std::string>& dirs,
                             uint64_t seed, std::vector<std::function<void()>>& prepare);

}  // namespace ip::bench
