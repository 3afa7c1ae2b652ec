// SGD and Adam on the GPU: grid-stride element-wise kernels with the update rules of
// kernels/cpu/linalg.h. The arithmetic is spelled with explicit fmaf in the same places as the
// CPU kernels' MulAdd, and nvcc's default IEEE division and square root are used (no fast math),
// so each element's result depends only on its own inputs, never on the launch shape.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/kernels.h"

namespace ip::cuda {
namespace {

constexpr unsigned kThreads = 256;

struct SgdScalars {
  float lr, momentum, one_minus_dampening, weight_decay;
  bool use_momentum, nesterov, first_step;
};

struct AdamScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  float step_size;              // lr / (1 - beta1^t), computed in double on the host
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t), likewise
};

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
  if (config.nesterov && (config.momentum <= 0.0f || config.dampening != 0.0f)) {
    throw std::invalid_argument("sgd_step: Nesterov momentum requires momentum > 0 and dampening 0");
  }
  const bool use_momentum = config.momentum != 0.0f;
  if (use_momentum && momentum_buf == nullptr) {
    throw std::invalid_argument("sgd_step: momentum != 0 needs a momentum buffer");
  }
  if (n == 0) return;
  SgdScalars s{};
  s.lr = config.lr;
  s.momentum = config.momentum;
  s.one_minus_dampening = 1.0f - config.dampening;
  s.weight_decay = config.weight_decay;
  s.use_momentum = use_momentum;
  s.nesterov = config.nesterov;
  s.first_step = first_step;
  sgd_kernel<<<detail::grid_for(n, kThreads), kThreads, 0, detail::as_stream(stream)>>>(
      param, grad, use_momentum ? momentum_buf : nullptr, n, s);
  IP_CUDA_CHECK_LAUNCH("sgd_kernel");
}

void adam_step(float* param, const float* grad, float* m, float* v, size_t n,
               const AdamConfig& config, int64_t step, void* stream) {
  if (step < 1) throw std::invalid_argument("adam_step: step must be >= 1, got " + std::to_string(step));
  if (n == 0) return;
  // Bias corrections in double, as PyTorch computes them from Python floats, then rounded once.
  const double t = static_cast<double>(step);
  const double bc1 = 1.0 - std::pow(static_cast<double>(config.beta1), t);
  const double bc2 = 1.0 - std::pow(static_cast<double>(config.beta2), t);
  AdamScalars s{};
  s.beta1 = config.beta1;
  s.one_minus_beta1 = static_cast<float>(1.0 - static_cast<double>(config.beta1));
  s.beta2 = config.beta2;
  s.one_minus_beta2 = static_cast<float>(1.0 - static_cast<double>(config.beta2));
  s.eps = config.eps;
  s.weight_decay = config.weight_decay;
  s.step_size = static_cast<float>(static_cast<double>(config.lr) / bc1);
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bc2));
  adam_kernel<<<detail::grid_for(n, kThreads), kThreads, 0, detail::as_stream(stream)>>>(
      param, grad, m, v, n, s);
  IP_CUDA_CHECK_LAUNCH("adam_kernel");
}

}  // namespace ip::cuda
