// Non-finite values in training. The cheap check runs every step on the loss, which is already
// on the host (see loss.h); only when it is NaN or Inf does locate_non_finite() copy parameters
// and layer outputs to the host to name where the bad values first appear.
#pragma once

#include <string>

#include "engine/sequential.h"
#include "engine/tensor.h"

namespace ip {

// True when every element of `t` is finite (copies a CUDA tensor to the host: diagnostics only).
bool all_finite(const Tensor& t);

// Runs `x` through `model` layer by layer and returns where the first non-finite value is, in
// layer order: a layer's parameters before its output, e.g.
//   "layer 0 (linear(4,8)) parameter weight" or "layer 2 (relu) output".
// Returns "" when every parameter and output is finite.
std::string locate_non_finite(Sequential& model, const Tensor& x);

}  // namespace ip
