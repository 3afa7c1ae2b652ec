// SGD and Adam on the GPU: grid-stride element-wise kernels with the update rules of
// kernels/cpu/linalg.h. The arithmetic is spelled with explicit fmaf in the same places as the
// CPU kernels' MulAdd, and nvcc's default IEEE division and square root are used (no fast math),
// so each element's result depends only on its own inputs, never on the launch shape.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/common/optim_math.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/kernels.h"

namespace ip::cuda {
namespace {

constexpr unsigned kThreads = 256;

__global__ void sgd_kernel(float* param, const float* grad, float* buf, size_t n, SgdScalars s) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float p = param[i];
    float g = grad[i];
    if (s.weight_decay != 0.0f) g = fmaf(s.weight_decay, p, g);
    if (s.use_momentum) {
      const float b = s.first_step ? g : fmaf(s.momentum, buf[i], s.one_minus_dampening * g);
      buf[i] = b;
      g = s.nesterov ? fmaf(s.momentum, b, g) : b;
    }
    param[i] = fmaf(-s.lr, g, p);
  }
}

__global__ void adam_kernel(float* param, const float* grad, float* m, float* v, size_t n,
                            AdamScalars s) {
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float p = param[i];
    float g = grad[i];
    if (s.weight_decay != 0.0f) g = fmaf(s.weight_decay, p, g);
    const float mi = fmaf(s.beta1, m[i], s.one_minus_beta1 * g);
    const float gg = g * g;
    const float vi = fmaf(s.beta2, v[i], s.one_minus_beta2 * gg);
    m[i] = mi;
    v[i] = vi;
    const float root = sqrtf(vi);
    const float denom = root / s.bias_correction2_sqrt + s.eps;
    const float ratio = mi / denom;
    param[i] = fmaf(-s.step_size, ratio, p);
  }
}

}  // namespace

void sgd_step(float* param, const float* grad, float* momentum_buf, size_t n,
              const SgdConfig& config, bool first_step, void* stream) {
  const SgdScalars s = sgd_scalars(config, first_step, momentum_buf != nullptr);
  if (n == 0) return;
  sgd_kernel<<<detail::grid_for(n, kThreads), kThreads, 0, detail::as_stream(stream)>>>(
      param, grad, s.use_momentum ? momentum_buf : nullptr, n, s);
  IP_CUDA_CHECK_LAUNCH("sgd_kernel");
}

void adam_step(float* param, const float* grad, float* m, float* v, size_t n,
               const AdamConfig& config, int64_t step, void* stream) {
  const AdamScalars s = adam_scalars(config, step);
  if (n == 0) return;
  adam_kernel<<<detail::grid_for(n, kThreads), kThreads, 0, detail::as_stream(stream)>>>(
      param, grad, m, v, n, s);
  IP_CUDA_CHECK_LAUNCH("adam_kernel");
}

}  // namespace ip::cuda
