#include "engine/layers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "engine/ops.h"
#include "kernels/common/dropout_mask.h"
#include "kernels/common/philox.h"

namespace ip {

uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

FunctionId function_by_cli_name(const std::string& name) {
  for (const FunctionInfo& f : kFunctionInfo)
    if (name == f.cli_name) return f.id;
  throw std::invalid_argument("unknown function '" + name + "'");
}

void Layer::to(Device device) {
  require_device(device);
  device_ = device;
}

void Layer::check_input(const Tensor& x, const char* what) const {
  if (x.empty() || x.rank() < 1)
    throw std::invalid_argument(describe() + ": " + what + " is empty");
  if (x.device() != device_)
    throw std::invalid_argument(describe() + ": " + what + " is on " + device_name(x.device()) +
                                " but the layer is on " + device_name(device_));
}

// ---- Linear ----------------------------------------------------------------------------------

Linear::Linear(size_t in, size_t out, uint64_t seed) : in_(in), out_(out) {
  if (in == 0 || out == 0) throw std::invalid_argument("linear layer needs non-zero sizes");
  weight = Tensor({out, in});
  bias = Tensor({out});
  weight_grad = Tensor({out, in});
  bias_grad = Tensor({out});
  // kaiming_uniform_(a=sqrt(5)) and PyTorch's bias rule both reduce to the bound 1/sqrt(in).
  const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(in)));
  float* w = weight.data();
  for (size_t i = 0; i < weight.numel(); ++i)
    w[i] = bound * (2.0f * philox::uniform(seed, philox::kInitWeightStream, i) - 1.0f);
  float* b = bias.data();
  for (size_t i = 0; i < out; ++i)
    b[i] = bound * (2.0f * philox::uniform(seed, philox::kInitBiasStream, i) - 1.0f);
}

std::string Linear::describe() const {
  return "linear(" + std::to_string(in_) + "," + std::to_string(out_) + ")";
}

const Tensor& Linear::forward(const Tensor& x) {
  check_input(x, "input");
  if (x.rank() != 2 || x.dim(1) != in_)
    throw std::invalid_argument(describe() + ": input shape " + x.shape().str());
  const size_t batch = x.dim(0);
  ensure_shape(y_, {batch, out_}, device_);
  input_ = x;  // a handle: backward needs x for dW
  ops::gemm(device_, false, true, batch, out_, in_, 1.0f, x.data(), in_, weight.data(), in_, 0.0f,
            y_.data(), out_);
  ops::add_bias_rows(device_, y_.data(), bias.data(), batch, out_);
  return y_;
}

Shape Linear::reserve_forward(const Shape& input) {
  if (input.rank != 2 || input[1] != in_)
    throw std::invalid_argument(describe() + ": input shape " + input.str());
  ensure_shape(y_, {input[0], out_}, device_);
  return y_.shape();
}

const Tensor& Linear::backward(const Tensor& dy) {
  check_input(dy, "gradient");
  if (input_.empty() || dy.shape() != y_.shape())
    throw std::invalid_argument(describe() + ": backward without a matching forward");
  const size_t batch = dy.dim(0);
  // dW += dyᵀ · x and db += column sums of dy (accumulating, as PyTorch does).
  ops::gemm(device_, true, false, out_, in_, batch, 1.0f, dy.data(), out_, input_.data(), in_,
            1.0f, weight_grad.data(), in_);
  ops::sum_rows(device_, dy.data(), batch, out_, bias_grad.data(), true);
  if (!input_grad_) {
    dx_ = Tensor();
    return dx_;
  }
  ensure_shape(dx_, {batch, in_}, device_);
  ops::gemm(device_, false, false, batch, in_, out_, 1.0f, dy.data(), out_, weight.data(), in_,
            0.0f, dx_.data(), in_);
  return dx_;
}

std::vector<Parameter> Linear::parameters() {
  return {{"weight", &weight, &weight_grad}, {"bias", &bias, &bias_grad}};
}

void Linear::to(Device device) {
  Layer::to(device);
  weight = weight.to(device);
  bias = bias.to(device);
  weight_grad = weight_grad.to(device);
  bias_grad = bias_grad.to(device);
  input_ = y_ = dx_ = Tensor();
}

// ---- FunctionLayer ---------------------------------------------------------------------------

FunctionLayer::FunctionLayer(FunctionId id) : FunctionLayer(id, default_params<float>(id)) {}

FunctionLayer::FunctionLayer(FunctionId id, Params<float> params)
    : id_(id), kind_(function_info(id).kind), params_(params) {
  if (id_ == FunctionId::PReLU) {
    weight = Tensor({1});
    weight_grad = Tensor({1});
    weight.from_host(&params_.p0);
  }
}

std::string FunctionLayer::describe() const {
  const FunctionInfo& info = function_info(id_);
  const Params<float> d = default_params<float>(id_);
  std::string s = info.cli_name;
  if (params_.p0 == d.p0 && params_.p1 == d.p1) return s;
  // Non-default arguments are written out so that parse() rebuilds the same function.
  char buf[64];
  if (info.param_names[1][0] != '\0')
    std::snprintf(buf, sizeof buf, "(%.9g,%.9g)", params_.p0, params_.p1);
  else
    std::snprintf(buf, sizeof buf, "(%.9g)", params_.p0);
  return s + buf;
}

bool FunctionLayer::random_in_this_mode() const {
  return training_ && (id_ == FunctionId::RReLU || kind_ == KernelKind::Dropout);
}

float FunctionLayer::prelu_weight() const {
  float w;
  weight.to_host(&w);  // 4 bytes; on CUDA a small synchronous copy, the optimizer owns the value
  return w;
}

const Tensor& FunctionLayer::forward(const Tensor& x) {
  check_input(x, "input");
  passed_through_ = id_ == FunctionId::Identity || (kind_ == KernelKind::Dropout && !training_);
  if (passed_through_) return x;

  forward_random_ = random_in_this_mode();
  if (forward_random_) step_seed_ = mix_seed(seed_, step_++);
  ensure_shape(y_, x.shape(), device_);
  input_ = x;
  const size_t n = x.numel(), rows = x.dim(0), cols = rows ? n / rows : 0;
  switch (kind_) {
    case KernelKind::Elementwise:
      if (forward_random_) {
        ensure_shape(noise_, x.shape(), device_);
        ops::rrelu_train_forward(device_, x.data(), y_.data(), noise_.data(), n, params_, step_seed_);
      } else {
        Params<float> p = params_;
        if (id_ == FunctionId::PReLU) p.p0 = prelu_weight();
        ops::activation_forward(device_, id_, x.data(), y_.data(), n, p);
      }
      break;
    case KernelKind::Rowwise:
      ops::rowwise_forward(device_, id_, x.data(), y_.data(), rows, cols);
      break;
    case KernelKind::Dropout:
      // At least one word, so that the mask has storage even for an input without elements.
      ensure_shape(mask_, {std::max<size_t>(1, dropout_mask_words(id_, rows, cols))}, device_);
      ops::dropout_forward(device_, id_, x.data(), y_.data(), dropout_mask(), rows, cols,
                           params_.p0, step_seed_);
      break;
  }
  return y_;
}

Shape FunctionLayer::reserve_forward(const Shape& input) {
  if (id_ == FunctionId::Identity || (kind_ == KernelKind::Dropout && !training_)) return input;
  ensure_shape(y_, input, device_);
  if (kind_ == KernelKind::Elementwise && random_in_this_mode()) ensure_shape(noise_, input, device_);
  if (kind_ == KernelKind::Dropout) {
    const size_t rows = input.rank ? input[0] : 0, cols = rows ? input.numel() / rows : 0;
    ensure_shape(mask_, {std::max<size_t>(1, dropout_mask_words(id_, rows, cols))}, device_);
  }
  return input;
}

const Tensor& FunctionLayer::backward(const Tensor& dy) {
  check_input(dy, "gradient");
  if (passed_through_) return dy;
  if (input_.empty() || dy.shape() != y_.shape())
    throw std::invalid_argument(describe() + ": backward without a matching forward");
  const size_t n = dy.numel(), rows = dy.dim(0), cols = rows ? n / rows : 0;

  if (id_ == FunctionId::PReLU) {
    const double g = ops::prelu_weight_grad(device_, input_.data(), dy.data(), n);
    float acc;
    weight_grad.to_host(&acc);
    acc += static_cast<float>(g);
    weight_grad.from_host(&acc);
  }
  if (!input_grad_) {
    dx_ = Tensor();
    return dx_;
  }
  ensure_shape(dx_, dy.shape(), device_);
  switch (kind_) {
    case KernelKind::Elementwise:
      // The mode of the forward decides (training_ may have changed since).
      if (forward_random_) {
        ops::rrelu_train_backward(device_, noise_.data(), dy.data(), dx_.data(), n);
      } else {
        Params<float> p = params_;
        if (id_ == FunctionId::PReLU) p.p0 = prelu_weight();
        ops::activation_backward(device_, id_, input_.data(), dy.data(), dx_.data(), n, p);
      }
      break;
    case KernelKind::Rowwise:
      ops::rowwise_backward(device_, id_, y_.data(), dy.data(), dx_.data(), rows, cols);
      break;
    case KernelKind::Dropout:
      // The mask of the matching forward (a dropout that ran in train mode; in eval mode it
      // passed through above).
      ops::dropout_backward(device_, id_, dy.data(), dx_.data(), dropout_mask(), rows, cols,
                            params_.p0);
      break;
  }
  return dx_;
}

std::vector<Parameter> FunctionLayer::parameters() {
  if (id_ != FunctionId::PReLU) return {};
  return {{"weight", &weight, &weight_grad}};
}

uint32_t* FunctionLayer::dropout_mask() const {
  return reinterpret_cast<uint32_t*>(mask_.data());
}

void FunctionLayer::to(Device device) {
  Layer::to(device);
  if (id_ == FunctionId::PReLU) {
    weight = weight.to(device);
    weight_grad = weight_grad.to(device);
  }
  input_ = y_ = dx_ = noise_ = mask_ = Tensor();
}

}  // namespace ip
