// Element-wise activation variants, naive to vectorised:
//   1 one thread per element, as many blocks as elements / 256 (no grid-stride loop): the launch
//     that textbooks start with; millions of short-lived blocks on large arrays.
//   2 grid-stride loop, scalar loads: a grid sized to the device (detail::grid_for), each thread
//     walks the array with the grid's stride.
//   3 production (kernels/cuda/activations.cu): grid-stride with float4 loads and stores once the
//     pointers are 16-byte aligned, scalar head and tail.
// All call the production functors (kernels/cuda/elementwise.cuh: Math<kId>::forward /
// derivative, the scalar forms of activation_math.h), so they differ only in how threads map to
// elements.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "experiments/cuda_variants/variants.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/kernels.h"

namespace ip::cuda::variants {
namespace {

constexpr unsigned kThreads = 256;

template <bool kTwoInputs, typename Op>
__global__ void one_thread_per_element(const float* a, const float* b, float* out, size_t n, Op op) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) out[i] = op(a[i], kTwoInputs ? b[i] : 0.f);
}

template <bool kTwoInputs, typename Op>
__global__ void grid_stride_scalar(const float* a, const float* b, float* out, size_t n, Op op) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = op(a[i], kTwoInputs ? b[i] : 0.f);
}

enum class Shape { PerElement, GridStride };

template <Shape kShape, bool kTwoInputs, typename Op>
void launch_op(const Args& a, Op op, void* stream) {
  if (a.n == 0) return;
  const cudaStream_t s = ::ip::cuda::detail::as_stream(stream);
  if constexpr (kShape == Shape::PerElement) {
    const size_t blocks = (a.n + kThreads - 1) / kThreads;
    if (blocks > 0x7fffffffu)  // gridDim.x's limit: this variant has no loop to cover the rest
      throw std::invalid_argument("one-thread-per-element variant: " + std::to_string(a.n) + " elements need more than 2^31 - 1 blocks");
    one_thread_per_element<kTwoInputs><<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(a.in, a.in2, a.out, a.n, op);
    IP_CUDA_CHECK_LAUNCH("one_thread_per_element");
  } else {
    grid_stride_scalar<kTwoInputs><<<::ip::cuda::detail::grid_for(a.n, kThreads), kThreads, 0, s>>>(a.in, a.in2, a.out,
                                                                                                  a.n, op);
    IP_CUDA_CHECK_LAUNCH("grid_stride_scalar");
  }
}

template <Shape kShape>
void launch(const Args& a, void* stream) {
  namespace cd = ::ip::cuda::detail;
  if (a.backward) {
    cd::with_elementwise_op<true>(a.id, a.p, "element-wise variant",
                                  [&](auto op) { launch_op<kShape, true>(a, op, stream); });
  } else {
    cd::with_elementwise_op<false>(a.id, a.p, "element-wise variant",
                                   [&](auto op) { launch_op<kShape, false>(a, op, stream); });
  }
}

void production(const Args& a, void* stream) {
  if (a.backward) {
    activation_backward(a.id, a.in, a.in2, a.out, a.n, a.p, stream);
  } else {
    activation_forward(a.id, a.in, a.out, a.n, a.p, stream);
  }
}

}  // namespace

std::vector<Variant> detail::elementwise_list() {
  return {
      {1, "thread-per-elem", "one thread per element, ceil(n/256) blocks of 256, no loop, scalar loads", false,
       launch<Shape::PerElement>},
      {2, "grid-stride", "grid-stride loop over elements, grid sized to the device, scalar loads", false,
       launch<Shape::GridStride>},
      {3, "grid-stride-f4", "production: grid-stride, float4 loads/stores after a scalar head to 16-byte alignment",
       true, production},
  };
}

}  // namespace ip::cuda::variants
