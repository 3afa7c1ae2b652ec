#include "engine/sequential.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace ip {

namespace {

// "name(a,b)" → name and its numeric arguments; "name" → no arguments.
void split_token(const std::string& token, std::string* name, std::vector<std::string>* args) {
  const size_t open = token.find('(');
  if (open == std::string::npos) {
    *name = token;
    return;
  }
  if (token.back() != ')' || open == 0)
    throw std::invalid_argument("malformed layer '" + token + "'");
  *name = token.substr(0, open);
  std::stringstream inner(token.substr(open + 1, token.size() - open - 2));
  std::string a;
  while (std::getline(inner, a, ',')) args->push_back(a);
}

double parse_number(const std::string& s, const std::string& token) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno == ERANGE)
    throw std::invalid_argument("bad number '" + s + "' in layer '" + token + "'");
  return v;
}

size_t parse_size(const std::string& s, const std::string& token) {
  const double v = parse_number(s, token);
  // Linear sizes beyond 2^24 are surely typos (and would not fit a float32 weight count anyway).
  if (!(v >= 1 && v <= 16777216.0) || v != static_cast<double>(static_cast<size_t>(v)))
    throw std::invalid_argument("bad size '" + s + "' in layer '" + token + "'");
  return static_cast<size_t>(v);
}

// *budget: parameters the rest of the description may still declare, out of max (see parse()).
std::unique_ptr<Layer> make_layer(const std::string& token, uint64_t seed, size_t* budget,
                                  size_t max) {
  std::string name;
  std::vector<std::string> args;
  split_token(token, &name, &args);
  if (name == "linear") {
    if (args.size() != 2) throw std::invalid_argument("linear needs (in,out): '" + token + "'");
    const size_t in = parse_size(args[0], token), out = parse_size(args[1], token);
    // Checked before the layer allocates its weights (sizes ≤ 2^24, so no overflow).
    const size_t count = in * out + out;
    if (count > *budget)
      throw std::invalid_argument("layer '" + token + "' needs " + std::to_string(count) +
                                  " parameters, which makes more than the " +
                                  std::to_string(max) + " allowed");
    *budget -= count;
    return std::make_unique<Linear>(in, out, seed);
  }
  const FunctionId id = function_by_cli_name(name);
  const FunctionInfo& info = function_info(id);
  const size_t n_params = (info.param_names[0][0] != '\0') + (info.param_names[1][0] != '\0');
  if (args.size() > n_params)
    throw std::invalid_argument("too many arguments in '" + token + "'");
  Params<float> p = default_params<float>(id);
  if (args.size() > 0) p.p0 = static_cast<float>(parse_number(args[0], token));
  if (args.size() > 1) p.p1 = static_cast<float>(parse_number(args[1], token));
  return std::make_unique<FunctionLayer>(id, p);
}

}  // namespace

Sequential Sequential::parse(const std::string& description, uint64_t seed,
                             size_t max_parameters) {
  Sequential model;
  std::istringstream in(description);
  std::string token;
  size_t budget = max_parameters;
  while (in >> token)
    model.add(make_layer(token, mix_seed(seed, model.size()), &budget, max_parameters));
  if (model.size() == 0) throw std::invalid_argument("empty model description");
  model.set_seed(seed);
  return model;
}

std::string Sequential::describe() const {
  std::string s;
  for (const auto& l : layers_) s += (s.empty() ? "" : " ") + l->describe();
  return s;
}

void Sequential::add(std::unique_ptr<Layer> layer) {
  if (layer->device() != device_) layer->to(device_);
  layer->set_training(training_);
  layer->set_input_grad(layers_.empty() ? input_grad_ : true);
  layers_.push_back(std::move(layer));
}

const Tensor& Sequential::forward(const Tensor& x) {
  if (layers_.empty()) throw std::logic_error("forward on an empty model");
  const Tensor* cur = &x;
  for (auto& l : layers_) cur = &l->forward(*cur);
  return *cur;
}

Shape Sequential::reserve_forward(const Shape& input) {
  Shape shape = input;
  for (auto& l : layers_) shape = l->reserve_forward(shape);
  return shape;
}

const Tensor& Sequential::backward(const Tensor& dy) {
  if (layers_.empty()) throw std::logic_error("backward on an empty model");
  const Tensor* cur = &dy;
  for (size_t i = layers_.size(); i-- > 0;) cur = &layers_[i]->backward(*cur);
  return *cur;
}

std::vector<Parameter> Sequential::parameters() {
  std::vector<Parameter> all;
  for (size_t i = 0; i < layers_.size(); ++i)
    for (Parameter p : layers_[i]->parameters()) {
      p.name = std::to_string(i) + "." + p.name;
      all.push_back(p);
    }
  return all;
}

size_t Sequential::parameter_count() {
  size_t n = 0;
  for (const Parameter& p : parameters()) n += p.value->numel();
  return n;
}

void Sequential::zero_grad() {
  for (const Parameter& p : parameters()) p.grad->zero();
}

void Sequential::to(Device device) {
  require_device(device);
  for (auto& l : layers_) l->to(device);
  device_ = device;
}

void Sequential::set_seed(uint64_t seed) {
  for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->set_seed(mix_seed(seed, i));
}

void Sequential::set_input_grad(bool needed) {
  input_grad_ = needed;
  if (!layers_.empty()) layers_[0]->set_input_grad(needed);
}

void Sequential::set_training(bool training) {
  training_ = training;
  for (auto& l : layers_) l->set_training(training);
}

}  // namespace ip
