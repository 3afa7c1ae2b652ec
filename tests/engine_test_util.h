// Helpers shared by the engine tests: deterministic test data and finite-difference checks.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/sequential.h"
#include "kernels/common/philox.h"

namespace ip::test {

// Uniform values in [lo, hi) from Philox, on a stream the engine never draws from.
inline std::vector<float> uniform_values(size_t n, uint64_t seed, float lo, float hi) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * philox::uniform(seed, philox::kTestDataStream, i);
  return v;
}

inline Tensor uniform_tensor(const Shape& shape, uint64_t seed, float lo = -1, float hi = 1) {
  return Tensor::from_vector(shape, uniform_values(shape.numel(), seed, lo, hi));
}

// Loss of the model's output; with_grad fills *grad with dL/d(output).
using LossFn = std::function<double(const Tensor& out, Tensor* grad)>;

// Compares every parameter gradient of `model` (at most `per_tensor` elements of each, spread
// over the tensor) with central differences of `loss` in steps of ±h. The forward runs in
// float32, so each loss value carries a rounding error of a few eps32·|L|; divided by 2h that
// is the difference quotient's noise, allowed on top of rel·|g| (the truncation error).
inline void expect_gradients_match(Sequential& model, const Tensor& x, const LossFn& loss,
                                   float h, double rel, size_t per_tensor = 24,
                                   const std::string& skip_prefix = "") {
  model.zero_grad();
  Tensor dy;
  const double l0 = loss(model.forward(x), &dy);
  const double noise = 8 * 1.1920929e-7 * std::max(std::fabs(l0), 1.0) / (2.0 * h);
  model.backward(dy);
  for (const Parameter& p : model.parameters()) {
    if (!skip_prefix.empty() && p.name.rfind(skip_prefix, 0) == 0) continue;
    const std::vector<float> g = p.grad->to_vector();
    const size_t n = p.value->numel();
    const size_t stride = std::max<size_t>(1, n / per_tensor);
    for (size_t i = 0; i < n; i += stride) {
      float* w = p.value->data() + i;
      const float saved = *w;
      *w = saved + h;
      const double up = loss(model.forward(x), nullptr);
      *w = saved - h;
      const double down = loss(model.forward(x), nullptr);
      *w = saved;
      const double fd = (up - down) / (2.0 * static_cast<double>(h));
      const double tol = rel * std::fabs(static_cast<double>(g[i])) + noise;
      EXPECT_NEAR(g[i], fd, tol) << p.name << "[" << i << "] of " << model.describe();
    }
  }
}

}  // namespace ip::test
