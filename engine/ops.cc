#include "engine/ops.h"

#include <stdexcept>

#include "kernels/cpu/kernels.h"
#if defined(INFERENCEPOWER_HAVE_CUDA)
#include "kernels/cuda/kernels.h"
#endif

// Runs the CPU kernel or, for Device::Cuda, the CUDA kernel of the same name and arguments.
#if defined(INFERENCEPOWER_HAVE_CUDA)
#define IP_ON_DEVICE(d, name, ...)     \
  do {                                 \
    if ((d) == Device::Cpu) {          \
      return cpu::name(__VA_ARGS__);   \
    }                                  \
    return cuda::name(__VA_ARGS__);    \
  } while (0)
#else
#define IP_ON_DEVICE(d, name, ...)     \
  do {                                 \
    if ((d) == Device::Cpu) {          \
      return cpu::name(__VA_ARGS__);   \
    }                                  \
    require_device(d);                 \
    throw std::logic_error("unreachable: no CUDA backend"); \
  } while (0)
#endif

namespace ip::ops {

void gemm(Device d, bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
          const float* A, size_t lda, const float* B, size_t ldb, float beta, float* C,
          size_t ldc) {
  IP_ON_DEVICE(d, gemm, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void add_bias_rows(Device d, float* y, const float* bias, size_t M, size_t N) {
  IP_ON_DEVICE(d, add_bias_rows, y, bias, M, N);
}

void sum_rows(Device d, const float* dy, size_t M, size_t N, float* out, bool accumulate) {
  IP_ON_DEVICE(d, sum_rows, dy, M, N, out, accumulate);
}

void activation_forward(Device d, FunctionId id, const float* x, float* y, size_t n,
                        Params<float> p) {
  IP_ON_DEVICE(d, activation_forward, id, x, y, n, p);
}

void activation_backward(Device d, FunctionId id, const float* x, const float* dy, float* dx,
                         size_t n, Params<float> p) {
  IP_ON_DEVICE(d, activation_backward, id, x, dy, dx, n, p);
}

double prelu_weight_grad(Device d, const float* x, const float* dy, size_t n) {
  IP_ON_DEVICE(d, prelu_weight_grad, x, dy, n);
}

void rrelu_train_forward(Device d, const float* x, float* y, float* noise, size_t n,
                         Params<float> p, uint64_t seed) {
  IP_ON_DEVICE(d, rrelu_train_forward, x, y, noise, n, p, seed);
}

void rrelu_train_backward(Device d, const float* noise, const float* dy, float* dx, size_t n) {
  IP_ON_DEVICE(d, rrelu_train_backward, noise, dy, dx, n);
}

void rowwise_forward(Device d, FunctionId id, const float* x, float* y, size_t rows,
                     size_t cols) {
  IP_ON_DEVICE(d, rowwise_forward, id, x, y, rows, cols);
}

void rowwise_backward(Device d, FunctionId id, const float* y, const float* dy, float* dx,
                      size_t rows, size_t cols) {
  IP_ON_DEVICE(d, rowwise_backward, id, y, dy, dx, rows, cols);
}

void dropout_forward(Device d, FunctionId id, const float* x, float* y, uint32_t* mask,
                     size_t rows, size_t cols, float p, uint64_t seed) {
  IP_ON_DEVICE(d, dropout_forward, id, x, y, mask, rows, cols, p, seed);
}

void dropout_backward(Device d, FunctionId id, const float* dy, float* dx, const uint32_t* mask,
                      size_t rows, size_t cols, float p) {
  IP_ON_DEVICE(d, dropout_backward, id, dy, dx, mask, rows, cols, p);
}

void sgd_step(Device d, float* param, const float* grad, float* momentum_buf, size_t n,
              const SgdConfig& c, bool first_step) {
  if (d == Device::Cpu) return cpu::sgd_step(param, grad, momentum_buf, n, c, first_step);
#if defined(INFERENCEPOWER_HAVE_CUDA)
  cuda::sgd_step(param, grad, momentum_buf, n, c, first_step);
#else
  require_device(d);
#endif
}

void adam_step(Device d, float* param, const float* grad, float* m, float* v, size_t n,
               const AdamConfig& c, int64_t step) {
  if (d == Device::Cpu) return cpu::adam_step(param, grad, m, v, n, c, step);
#if defined(INFERENCEPOWER_HAVE_CUDA)
  cuda::adam_step(param, grad, m, v, n, c, step);
#else
  require_device(d);
#endif
}

}  // namespace ip::ops
