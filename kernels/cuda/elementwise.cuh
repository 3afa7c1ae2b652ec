// The element-wise functions as device functors, and the one dispatch from a table id to them.
// Shared by the production kernels (activations.cu) and the numbered variants of kernel_bench
// (experiments/cuda_variants/elementwise_variants.cu), so that every variant computes exactly the
// production arithmetic per element and they differ only in how threads map to elements.
#pragma once

#include <type_traits>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/cuda/check.cuh"

namespace ip::cuda::detail {

// out = f(x); the second argument (no second input) is ignored.
template <FunctionId kId>
struct ForwardOp {
  Params<float> p;
  __device__ float operator()(float x, float) const { return Math<kId>::forward(x, p); }
};

// dx = dy * f'(x).
template <FunctionId kId>
struct BackwardOp {
  Params<float> p;
  __device__ float operator()(float x, float dy) const { return dy * Math<kId>::derivative(x, p); }
};

// Calls launch(op) with ForwardOp<id> (kBackward false: one input) or BackwardOp<id> (kBackward
// true: x and dy) of the element-wise function `id`. Throws std::invalid_argument for an id
// outside the table or of another kernel family; `entry` names the caller in that message.
template <bool kBackward, class Launch>
void with_elementwise_op(FunctionId id, Params<float> p, const char* entry, Launch&& launch) {
  check_function_id(id);
  visit_function(id, [&](auto fid) {
    constexpr FunctionId kId = decltype(fid)::value;
    if constexpr (FunctionTraits<kId>::kind == KernelKind::Elementwise) {
      using Op = std::conditional_t<kBackward, BackwardOp<kId>, ForwardOp<kId>>;
      launch(Op{p});
    } else {
      throw_wrong_kind(id, entry, "an element-wise function");
    }
  });
}

}  // namespace ip::cuda::detail
