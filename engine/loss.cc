#include "engine/loss.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ip {

namespace {
// Host view of t: its own memory on the CPU, otherwise a copy into `staging` (sized once).
const float* host_values(const Tensor& t, std::vector<float>& staging) {
  if (t.device() == Device::Cpu) return t.data();
  staging.resize(t.numel());
  t.to_host(staging.data());
  return staging.data();
}

// The gradient buffer: written directly on the CPU, through `staging` otherwise.
float* grad_target(Tensor& grad, const Tensor& like, std::vector<float>& staging) {
  ensure_shape(grad, like.shape(), like.device());
  if (like.device() == Device::Cpu) return grad.data();
  staging.resize(like.numel());
  return staging.data();
}

void finish_grad(Tensor& grad, std::vector<float>& staging) {
  if (grad.device() != Device::Cpu) grad.from_host(staging.data());
}
}  // namespace

double MseLoss::forward_backward(const Tensor& pred, const Tensor& target) {
  return run(pred, target, true);
}
double MseLoss::forward(const Tensor& pred, const Tensor& target) {
  return run(pred, target, false);
}

double MseLoss::run(const Tensor& pred, const Tensor& target, bool with_grad) {
  if (pred.shape() != target.shape())
    throw std::invalid_argument("mse loss: prediction " + pred.shape().str() + " vs target " +
                                target.shape().str());
  const size_t n = pred.numel();
  const float* p = host_values(pred, pred_host_);
  const float* y = host_values(target, target_host_);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(p[i]) - y[i];
    sum += d * d;
  }
  const double scale = reduction_ == Reduction::Mean ? 1.0 / static_cast<double>(n) : 1.0;
  if (with_grad) {
    float* g = grad_target(grad_, pred, grad_host_);
    const float factor = static_cast<float>(2.0 * scale);
    for (size_t i = 0; i < n; ++i) g[i] = factor * (p[i] - y[i]);
    finish_grad(grad_, grad_host_);
  }
  return sum * scale;
}

double NllLoss::forward_backward(const Tensor& log_probs, const std::vector<int32_t>& labels) {
  return run(log_probs, labels, true);
}
double NllLoss::forward(const Tensor& log_probs, const std::vector<int32_t>& labels) {
  return run(log_probs, labels, false);
}

double NllLoss::run(const Tensor& log_probs, const std::vector<int32_t>& labels, bool with_grad) {
  if (log_probs.rank() != 2 || log_probs.dim(0) != labels.size() || labels.empty())
    throw std::invalid_argument("nll loss: input " + log_probs.shape().str() + " with " +
                                std::to_string(labels.size()) + " labels");
  const size_t batch = log_probs.dim(0), classes = log_probs.dim(1);
  for (int32_t label : labels)
    if (label < 0 || static_cast<size_t>(label) >= classes)
      throw std::invalid_argument("nll loss: label " + std::to_string(label) + " outside [0, " +
                                  std::to_string(classes) + ")");
  const float* lp = host_values(log_probs, in_host_);
  double sum = 0;
  for (size_t n = 0; n < batch; ++n) sum += lp[n * classes + labels[n]];
  if (with_grad) {
    float* g = grad_target(grad_, log_probs, grad_host_);
    std::fill(g, g + batch * classes, 0.0f);
    const float w = static_cast<float>(-1.0 / static_cast<double>(batch));
    for (size_t n = 0; n < batch; ++n) g[n * classes + labels[n]] = w;
    finish_grad(grad_, grad_host_);
  }
  return -sum / static_cast<double>(batch);
}

}  // namespace ip
