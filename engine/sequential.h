// A chain of layers with one description string that names it, e.g.
//   "linear(1024,1024) gelu gelu gelu gelu linear(1024,16)"
// (function names are the table's CLI names; non-default function arguments are written as
// "leaky_relu(0.2)"). parse() turns the string back into a model; model files store it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/layers.h"

namespace ip {

class Sequential {
 public:
  Sequential() = default;
  Sequential(Sequential&&) = default;
  Sequential& operator=(Sequential&&) = default;

  // Builds a model from its description; Linear layer i is initialised from mix_seed(seed, i)
  // and set_seed(seed) seeds the random layers. Throws std::invalid_argument on a bad token, or
  // when the Linear layers would hold more than max_parameters scalars (checked before they
  // allocate: a model file passes the count its data holds, so a damaged description cannot
  // make the loader allocate terabytes).
  static Sequential parse(const std::string& description, uint64_t seed = 0,
                          size_t max_parameters = SIZE_MAX);
  std::string describe() const;

  void add(std::unique_ptr<Layer> layer);
  size_t size() const { return layers_.size(); }
  Layer& layer(size_t i) { return *layers_.at(i); }

  const Tensor& forward(const Tensor& x);
  // Every layer's forward buffers for an input of this shape (Layer::reserve_forward); returns
  // the output shape.
  Shape reserve_forward(const Shape& input);
  // Backpropagates dL/d(output); returns dL/d(input), which is empty unless input_grad(true).
  const Tensor& backward(const Tensor& dy);

  // Every learnable tensor, named "<layer index>.<name>" as in PyTorch's Sequential.
  std::vector<Parameter> parameters();
  size_t parameter_count();  // total number of scalars
  void zero_grad();

  void train() { set_training(true); }
  void eval() { set_training(false); }
  bool training() const { return training_; }
  void to(Device device);
  Device device() const { return device_; }
  // Per-layer seeds mix_seed(seed, i) for the random layers (RReLU, dropouts in train mode).
  void set_seed(uint64_t seed);
  // Whether backward computes the gradient of the model input (off by default).
  void set_input_grad(bool needed);

 private:
  void set_training(bool training);

  std::vector<std::unique_ptr<Layer>> layers_;
  bool training_ = true;
  bool input_grad_ = false;
  Device device_ = Device::Cpu;
};

}  // namespace ip
