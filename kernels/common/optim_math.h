// Optimizer settings and the per-step scalars derived from them, shared by the CPU and CUDA
// update kernels: PyTorch's torch.optim.SGD and torch.optim.Adam (amsgrad off), defaults included.
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ip {

// SGD: g += weight_decay * p; buf = first_step ? g : momentum * buf + (1 - dampening) * g;
// g = nesterov ? g + momentum * buf : buf; p -= lr * g. Momentum 0 uses no buffer.
struct SgdConfig {
  float lr = 1e-3f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

// Adam: g += weight_decay * p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g²;
// p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t >= 1.
struct AdamConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

// Scalars of one SGD step, as floats (what a float tensor op in PyTorch uses).
struct SgdScalars {
  float lr, momentum, one_minus_dampening, weight_decay;
  bool use_momentum, nesterov, first_step;
};

// Scalars of one Adam step; the bias corrections are computed in double, as PyTorch computes them
// from Python floats, then rounded once.
struct AdamScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay;
  float step_size;              // lr / (1 - beta1^t)
  float bias_correction2_sqrt;  // sqrt(1 - beta2^t)
};

// Validates the settings (std::invalid_argument) and derives one step's scalars.
inline SgdScalars sgd_scalars(const SgdConfig& config, bool first_step, bool has_buffer) {
  if (config.nesterov && (config.momentum <= 0.0f || config.dampening != 0.0f))
    throw std::invalid_argument("sgd_step: Nesterov momentum requires momentum > 0 and dampening 0");
  SgdScalars s{};
  s.lr = config.lr;
  s.momentum = config.momentum;
  s.one_minus_dampening = 1.0f - config.dampening;
  s.weight_decay = config.weight_decay;
  s.use_momentum = config.momentum != 0.0f;
  s.nesterov = config.nesterov;
  s.first_step = first_step;
  if (s.use_momentum && !has_buffer)
    throw std::invalid_argument("sgd_step: momentum != 0 needs a momentum buffer");
  return s;
}

inline AdamScalars adam_scalars(const AdamConfig& config, int64_t step) {
  if (step < 1) throw std::invalid_argument("adam_step: step must be >= 1, got " + std::to_string(step));
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
  return s;
}

}  // namespace ip
