// CUDA kernels: the same families as kernels/cpu/kernels.h over device pointers, built when nvcc
// is found (INFERENCEPOWER_HAVE_CUDA). Plain C++ interface: no CUDA headers, the stream is a
// void* (nullptr = the default stream). Every CUDA call and launch is checked; failures throw
// ip::cuda::Error with the call, file, line and CUDA's message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/dropout_mask.h"
#include "kernels/common/optim_math.h"

namespace ip::cuda {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- runtime ----
// True when a usable GPU is present; otherwise false and *why says what is missing.
bool available(std::string* why = nullptr);
std::string device_name();
void* device_alloc(size_t bytes);  // throws Error naming the size asked for
void device_free(void* ptr);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void synchronize();

// ---- element-wise activations ----
void activation_forward(FunctionId id, const float* x, float* y, size_t n, Params<float> p,
                        void* stream = nullptr);
void activation_backward(FunctionId id, const float* x, const float* dy, float* dx, size_t n,
                         Params<float> p, void* stream = nullptr);
// Synchronous: returns the sum of dy * (x > 0 ? 0 : x).
double prelu_weight_grad(const float* x, const float* dy, size_t n, void* stream = nullptr);
// RReLU train mode as on the CPU (kernels/cpu/kernels.h): forward stores noise (may be nullptr),
// backward is dx = dy * noise.
void rrelu_train_forward(const float* x, float* y, float* noise, size_t n, Params<float> p,
                         uint64_t seed, void* stream = nullptr);
void rrelu_train_backward(const float* noise, const float* dy, float* dx, size_t n,
                          void* stream = nullptr);

// ---- row-wise ----
void rowwise_forward(FunctionId id, const float* x, float* y, size_t rows, size_t cols,
                     void* stream = nullptr);
void rowwise_backward(FunctionId id, const float* y, const float* dy, float* dx, size_t rows,
                      size_t cols, void* stream = nullptr);

// ---- dropout, train mode ----
// As kernels/cpu/kernels.h: forward writes the keep mask (device memory,
// dropout_mask_words(id, rows, cols) words, layout in kernels/common/dropout_mask.h), backward
// reads it.
void dropout_forward(FunctionId id, const float* x, float* y, uint32_t* mask, size_t rows,
                     size_t cols, float p, uint64_t seed, void* stream = nullptr);
void dropout_backward(FunctionId id, const float* dy, float* dx, const uint32_t* mask,
                      size_t rows, size_t cols, float p, void* stream = nullptr);

}  // namespace ip::cuda

// ---- GEMM and optimizers (device pointers; semantics as in kernels/cpu/linalg.h) ----
namespace ip::cuda {

enum class GemmBackend { Own, Cublas };
void set_gemm_backend(GemmBackend backend);
GemmBackend gemm_backend();
void gemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float* A,
          size_t lda, const float* B, size_t ldb, float beta, float* C, size_t ldc,
          void* stream = nullptr);
void add_bias_rows(float* y, const float* bias, size_t M, size_t N, void* stream = nullptr);
void sum_rows(const float* dy, size_t M, size_t N, float* out, bool accumulate,
              void* stream = nullptr);

using SgdConfig = ::ip::SgdConfig;
using AdamConfig = ::ip::AdamConfig;
void sgd_step(float* param, const float* grad, float* momentum_buf, size_t n,
              const SgdConfig& config, bool first_step, void* stream = nullptr);
void adam_step(float* param, const float* grad, float* m, float* v, size_t n,
               const AdamConfig& config, int64_t step, void* stream = nullptr);

}  // namespace ip::cuda
