// The MNIST experiment's network and its training (DESIGN.md §1, "mnist"): Linear(784→1024),
// the function 4 times, Linear(1024→10), LogSoftmax; NLL loss; SGD with momentum over shuffled
// batches; test accuracy after each epoch.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/loss.h"
#include "engine/optim.h"
#include "engine/sequential.h"
#include "experiments/common/mnist.h"
#include "kernels/common/activation_list.h"
#include "measure/timer.h"

namespace ip::mnist {

constexpr std::size_t kHidden = 1024;

// "linear(784,1024) relu relu relu relu linear(1024,10) log_softmax"
std::string describe_model(const FunctionInfo& f);

// Bytes one training row takes: its pixels and every layer's output and gradient (what --batch
// scales; a plain std::bad_alloc names no size).
double bytes_per_training_row();

// Fraction of `data` classified correctly (untimed; in large batches).
double accuracy(Sequential& model, const Dataset& data, Device device);

// One training run over shuffled batches. Holds its batch tensors so that no step allocates
// except when the batch size changes (the last, shorter batch of an epoch).
class Trainer {
 public:
  Trainer(Sequential& model, double lr, double momentum, Device device);

  // Trains one epoch in the given order; returns the seconds spent in training steps, or -1 when
  // interrupted or when the loss became NaN/Inf (failure() then says at which step and where).
  double epoch(const Dataset& train, const std::vector<std::size_t>& order, std::size_t batch);
  const std::string& failure() const { return failure_; }

 private:
  Sequential& model_;
  Device device_;
  Timer timer_;
  NllLoss loss_;
  std::unique_ptr<Sgd> optimizer_;
  Tensor full_, last_;
  long long steps_ = 0;
  std::string failure_;
};

}  // namespace ip::mnist
