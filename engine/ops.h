// The kernel families behind one device switch: the layers and optimizers call these with the
// device of their tensors and never name a backend. Pointers are host or device memory to match.
// CUDA calls throw std::runtime_error (via require_device) when the backend is not compiled in.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/device.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/dropout_mask.h"
#include "kernels/cpu/linalg.h"

namespace ip::ops {

void gemm(Device d, bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
          const float* A, size_t lda, const float* B, size_t ldb, float beta, float* C, size_t ldc);
void add_bias_rows(Device d, float* y, const float* bias, size_t M, size_t N);
void sum_rows(Device d, const float* dy, size_t M, size_t N, float* out, bool accumulate);

void activation_forward(Device d, FunctionId id, const float* x, float* y, size_t n,
                        Params<float> p);
void activation_backward(Device d, FunctionId id, const float* x, const float* dy, float* dx,
                         size_t n, Params<float> p);
double prelu_weight_grad(Device d, const float* x, const float* dy, size_t n);
void rrelu_train_forward(Device d, const float* x, float* y, float* noise, size_t n,
                         Params<float> p, uint64_t seed);
void rrelu_train_backward(Device d, const float* noise, const float* dy, float* dx, size_t n);
void rowwise_forward(Device d, FunctionId id, const float* x, float* y, size_t rows, size_t cols);
void rowwise_backward(Device d, FunctionId id, const float* y, const float* dy, float* dx,
                      size_t rows, size_t cols);
// mask: dropout_mask_words(id, rows, cols) words on the same device (forward writes, backward
// reads; kernels/common/dropout_mask.h).
void dropout_forward(Device d, FunctionId id, const float* x, float* y, uint32_t* mask,
                     size_t rows, size_t cols, float p, uint64_t seed);
void dropout_backward(Device d, FunctionId id, const float* dy, float* dx, const uint32_t* mask,
                      size_t rows, size_t cols, float p);

// SgdConfig and AdamConfig: kernels/common/optim_math.h, shared by both backends.
void sgd_step(Device d, float* param, const float* grad, float* momentum_buf, size_t n,
              const SgdConfig& config, bool first_step);
void adam_step(Device d, float* param, const float* grad, float* m, float* v, size_t n,
               const AdamConfig& config, int64_t step);

}  // namespace ip::ops
