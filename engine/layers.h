// Layers of a dense network: Linear and one generic FunctionLayer driven by the activation table
// (activation_list.h), so every table row is a layer without a class of its own.
//
// forward() returns a reference to the layer's output buffer (or to its input, for layers that
// are the identity in the current mode); it stays valid until the next forward of that layer.
// backward() takes dL/dy for the last forward, adds the parameter gradients into their grad
// tensors (PyTorch semantics: zero them between steps) and returns dL/dx.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"

namespace ip {

// One learnable tensor and its gradient, as registered by a layer.
struct Parameter {
  std::string name;
  Tensor* value;
  Tensor* grad;
};

// The deterministic seed derivation of the engine (SplitMix64 finaliser over a + golden-ratio *
// (b + 1)): layer seeds from the model seed, per-step seeds from the layer seed.
uint64_t mix_seed(uint64_t a, uint64_t b);

class Layer {
 public:
  virtual ~Layer() = default;
  virtual std::string describe() const = 0;  // e.g. "linear(1024,16)", "gelu"
  virtual const Tensor& forward(const Tensor& x) = 0;
  virtual const Tensor& backward(const Tensor& dy) = 0;
  // Allocates the buffers a forward of an input of this shape writes in the current mode
  // (zero-filled, so their pages are touched) and returns the output's shape: a caller that
  // times forward() keeps allocation and first-touch page faults out of the timed region.
  virtual Shape reserve_forward(const Shape& input) { return input; }
  virtual std::vector<Parameter> parameters() { return {}; }
  // Moves parameters to `device` (a copy); activation buffers are re-created on next use.
  virtual void to(Device device);

  Device device() const { return device_; }
  void set_training(bool training) { training_ = training; }
  bool training() const { return training_; }
  // Base of the per-step seeds of random layers (RReLU and dropouts in train mode).
  void set_seed(uint64_t seed) { seed_ = seed; }
  // When false, backward skips dL/dx and returns an empty tensor (the first layer's input
  // needs no gradient; PyTorch skips it too).
  void set_input_grad(bool needed) { input_grad_ = needed; }
  bool input_grad() const { return input_grad_; }

 protected:
  void check_input(const Tensor& x, const char* what) const;

  Device device_ = Device::Cpu;
  bool training_ = true;
  bool input_grad_ = true;
  uint64_t seed_ = 0;
};

// y = x · Wᵀ + b with W stored [out][in] as in PyTorch.
class Linear : public Layer {
 public:
  // PyTorch's default initialisation: W and b uniform in ±1/sqrt(in), drawn from Philox
  // (philox.h) with key `seed`, stream philox::kInitWeightStream / kInitBiasStream
  // (philox_streams.h), index = element.
  Linear(size_t in, size_t out, uint64_t seed);

  std::string describe() const override;
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape reserve_forward(const Shape& input) override;
  std::vector<Parameter> parameters() override;
  void to(Device device) override;

  size_t in_features() const { return in_; }
  size_t out_features() const { return out_; }
  Tensor weight, bias, weight_grad, bias_grad;

 private:
  size_t in_, out_;
  Tensor input_, y_, dx_;
};

// Any row of the activation table, by its kernel kind:
//   Elementwise  y = f(x) (Identity returns its input; PReLU has one learnable weight, its
//                param0 is the initial value; RReLU draws slopes per step in train mode and
//                uses their mean in eval mode);
//   Rowwise      Softmax/Softmin/LogSoftmax over the features of each row, backward from y;
//   Dropout      train mode: masks from a per-step seed; eval mode: returns its input.
// Input is [rows, features...]: row-wise functions treat everything after dim 0 as one row.
class FunctionLayer : public Layer {
 public:
  explicit FunctionLayer(FunctionId id);
  FunctionLayer(FunctionId id, Params<float> params);

  std::string describe() const override;
  const Tensor& forward(const Tensor& x) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape reserve_forward(const Shape& input) override;
  std::vector<Parameter> parameters() override;
  void to(Device device) override;

  FunctionId id() const { return id_; }
  const Params<float>& params() const { return params_; }
  // The seed the last train-mode forward used (RReLU, dropouts); RReLU's backward reuses it.
  uint64_t step_seed() const { return step_seed_; }
  // Dropouts: the keep mask the last train-mode forward stored (on the layer's device,
  // dropout_mask_words(id, rows, cols) words; kernels/common/dropout_mask.h), which backward
  // reads; nullptr before the first such forward and after to().
  uint32_t* dropout_mask() const;
  Tensor weight, weight_grad;  // PReLU only: one element each

 private:
  bool random_in_this_mode() const;
  float prelu_weight() const;

  FunctionId id_;
  KernelKind kind_;
  Params<float> params_;
  uint64_t step_ = 0;       // train-mode forwards so far
  uint64_t step_seed_ = 0;
  bool passed_through_ = false;  // the last forward returned its input
  bool forward_random_ = false;  // the last forward drew from step_seed_
  Tensor input_, y_, dx_;
  Tensor noise_;  // RReLU in train mode: the factor forward applied per element (backward's dy factor)
  // Dropout's keep mask as raw storage: the words are only ever accessed as uint32_t (through
  // dropout_mask()); a float tensor of as many elements gives the same 4-byte units with the
  // engine's allocation, device handling and reuse (ensure_shape) for free.
  Tensor mask_;
};

// Lower-case table name → id; throws std::invalid_argument listing nothing but the bad name.
FunctionId function_by_cli_name(const std::string& name);

}  // namespace ip
