// Losses with their gradients. They are computed on the host in double (the outputs are small:
// batch × classes); for CUDA tensors the values are staged through host buffers that are
// allocated once per shape, and the gradient is written back to a device tensor.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace ip {

enum class Reduction { Sum, Mean };

// MSELoss: sum or mean over all elements of (pred - target)².
class MseLoss {
 public:
  explicit MseLoss(Reduction reduction) : reduction_(reduction) {}
  // Returns the loss; grad() then holds dL/dpred on pred's device.
  double forward_backward(const Tensor& pred, const Tensor& target);
  double forward(const Tensor& pred, const Tensor& target);
  const Tensor& grad() const { return grad_; }

 private:
  double run(const Tensor& pred, const Tensor& target, bool with_grad);
  Reduction reduction_;
  Tensor grad_;
  std::vector<float> pred_host_, target_host_, grad_host_;
};

// NLLLoss (mean) on log-probabilities [batch][classes] (the output of a LogSoftmax layer):
// -(1/batch) Σₙ logp[n][label n].
class NllLoss {
 public:
  double forward_backward(const Tensor& log_probs, const std::vector<int32_t>& labels);
  double forward(const Tensor& log_probs, const std::vector<int32_t>& labels);
  const Tensor& grad() const { return grad_; }

 private:
  double run(const Tensor& log_probs, const std::vector<int32_t>& labels, bool with_grad);
  Tensor grad_;
  std::vector<float> in_host_, grad_host_;
};

}  // namespace ip
