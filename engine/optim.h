// Optimizers over a model's parameter registry, with PyTorch's update rules and defaults
// (the kernels in kernels/cpu/linalg.h and their CUDA twins do the arithmetic). State tensors
// are created on the parameters' device at the first step, as PyTorch creates them lazily.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/layers.h"
#include "kernels/common/optim_math.h"

namespace ip {

// SgdConfig and AdamConfig (PyTorch defaults) come from kernels/common/optim_math.h.

class Optimizer {
 public:
  explicit Optimizer(std::vector<Parameter> params) : params_(std::move(params)) {}
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  int64_t steps() const { return steps_; }

 protected:
  // Checks that state i exists on its parameter's device (allocating it at the first step).
  void ensure_state(std::vector<Tensor>& state);

  std::vector<Parameter> params_;
  int64_t steps_ = 0;
};

// SGD with momentum: the buffer starts as the first gradient, then buf = m·buf + (1-d)·g.
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Parameter> params, const SgdConfig& config)
      : Optimizer(std::move(params)), config_(config) {}
  void step() override;

 private:
  SgdConfig config_;
  std::vector<Tensor> momentum_;
};

// Adam with bias correction (amsgrad off); m and v start at zero.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Parameter> params, const AdamConfig& config)
      : Optimizer(std::move(params)), config_(config) {}
  void step() override;

 private:
  AdamConfig config_;
  std::vector<Tensor> m_, v_;
};

}  // namespace ip
