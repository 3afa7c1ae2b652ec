#include "engine/optim.h"

#include <stdexcept>

#include "engine/ops.h"

namespace ip {

void Optimizer::zero_grad() {
  for (const Parameter& p : params_) p.grad->zero();
}

void Optimizer::ensure_state(std::vector<Tensor>& state) {
  state.resize(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& value = *params_[i].value;
    if (value.device() != params_[i].grad->device())
      throw std::logic_error("parameter " + params_[i].name + " and its gradient differ in device");
    if (state[i].empty()) {
      state[i] = Tensor(value.shape(), value.device());
    } else if (state[i].device() != value.device() || state[i].shape() != value.shape()) {
      // The model moved after the optimizer was created: its state no longer matches.
      throw std::logic_error("optimizer state of " + params_[i].name +
                             " is on another device or shape; create the optimizer after to()");
    }
  }
}

void Sgd::step() {
  const bool with_buffer = config_.momentum != 0.0f;
  if (with_buffer) ensure_state(momentum_);
  const bool first = steps_ == 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = *params_[i].value;
    ops::sgd_step(p.device(), p.data(), params_[i].grad->data(),
                  with_buffer ? momentum_[i].data() : nullptr, p.numel(), config_, first);
  }
  ++steps_;
}

void Adam::step() {
  ensure_state(m_);
  ensure_state(v_);
  ++steps_;  // Adam's t starts at 1
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = *params_[i].value;
    ops::adam_step(p.device(), p.data(), params_[i].grad->data(), m_[i].data(), v_[i].data(),
                   p.numel(), config_, steps_);
  }
}

}  // namespace ip
