// Element-wise activations on the GPU: one grid-stride kernel per table row, generated from
// activation_list.h, calling the scalar forms of activation_math.h so the GPU computes exactly the
// formulas the CPU reference computes (up to device libm and FMA contraction).
//
// Launch shape: 256 threads per block, grid = detail::grid_for(work) (at most 32 blocks per SM),
// grid-stride loops. When every pointer has the same offset modulo 16 bytes the body moves float4
// (after a head of up to 3 floats that brings the pointers to a 16-byte boundary); the head and
// the tail of fewer than 4 floats are done one float at a time. Pointers that disagree run
// entirely scalar. Outputs may alias inputs (in place): every element is read before it is written
// by the same thread, and no thread touches another's elements.
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/elementwise.cuh"
#include "kernels/cuda/kernels.h"

namespace ip::cuda {
namespace {

constexpr unsigned kThreads = 256;

// Leading elements to process one at a time so that all pointers are 16-byte aligned after them;
// n (everything scalar) when the pointers are not all at the same offset modulo 16 bytes.
size_t aligned_head(size_t n, std::initializer_list<const void*> pointers) {
  const uintptr_t offset = reinterpret_cast<uintptr_t>(*pointers.begin()) % 16;
  for (const void* ptr : pointers)
    if (reinterpret_cast<uintptr_t>(ptr) % 16 != offset) return n;
  if (offset % sizeof(float) != 0) return n;
  const size_t head = ((16 - offset) % 16) / sizeof(float);
  return head < n ? head : n;
}

// out[i] = op(a[i], b[i]) (b unread when kTwoInputs is false). Elements [0, head) and the last
// (n - head) % 4 are scalar, the rest float4.
template <bool kTwoInputs, typename Op>
__global__ void map_kernel(const float* a, const float* b, float* out, size_t n, size_t head, Op op) {
  const size_t vecs = (n - head) / 4;
  const size_t tail = head + vecs * 4;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t first = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;

  const float4* av = reinterpret_cast<const float4*>(a + head);
  const float4* bv = reinterpret_cast<const float4*>(kTwoInputs ? b + head : a + head);
  float4* ov = reinterpret_cast<float4*>(out + head);
  for (size_t i = first; i < vecs; i += stride) {
    const float4 va = av[i];
    float4 vb = make_float4(0.f, 0.f, 0.f, 0.f);
    if constexpr (kTwoInputs) vb = bv[i];
    ov[i] = make_float4(op(va.x, vb.x), op(va.y, vb.y), op(va.z, vb.z), op(va.w, vb.w));
  }
  const size_t scalars = head + (n - tail);
  for (size_t j = first; j < scalars; j += stride) {
    const size_t i = j < head ? j : tail + (j - head);
    out[i] = op(a[i], kTwoInputs ? b[i] : 0.f);
  }
}

template <bool kTwoInputs, typename Op>
void launch_map(const float* a, const float* b, float* out, size_t n, size_t head, Op op,
                void* stream) {
  if (n == 0) return;
  const size_t vecs = (n - head) / 4;
  const size_t scalars = n - vecs * 4;
  const unsigned grid = detail::grid_for(vecs > scalars ? vecs : scalars, kThreads);
  map_kernel<kTwoInputs><<<grid, kThreads, 0, detail::as_stream(stream)>>>(a, b, out, n, head, op);
  IP_CUDA_CHECK_LAUNCH("map_kernel");
}

// ---- PReLU weight gradient ----
// Deterministic: the grid depends on n only, each thread sums its grid-stride elements in double,
// each block reduces in a fixed tree, and the host adds the block partials in block order.
constexpr unsigned kReduceBlocks = 512;

__global__ void prelu_grad_partials(const float* x, const float* dy, size_t n, double* partials) {
  __shared__ double shared[kThreads];
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  double acc = 0.0;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    acc += static_cast<double>(dy[i]) * PReLU::weight_derivative(static_cast<double>(x[i]));
  shared[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned half = kThreads / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

// ---- RReLU, train mode ----
// The slope must match the CPU's bit for bit, so its arithmetic is written with round-to-nearest
// intrinsics: nvcc would otherwise contract lower + (upper - lower) * u into one FMA, which the
// CPU reference (RReLU::train_slope, no FMA) does not do.
__device__ __forceinline__ float rrelu_slope(uint32_t word, Params<float> p) {
  const float u = static_cast<float>(word >> 8) * (1.0f / 16777216.0f);  // philox::uniform
  return __fadd_rn(p.p0, __fmul_rn(__fsub_rn(p.p1, p.p0), u));
}

// One thread per group of 4 consecutive elements: one Philox block gives the 4 draws
// (philox.h: element i uses word i % 4 of block i / 4), so the slopes match the CPU for any grid.
// Writes out = x > 0 ? x : x * slope and, when noise is not null, noise = x > 0 ? 1 : slope.
__global__ void rrelu_train_forward_kernel(const float* x, float* out, float* noise, size_t n,
                                           Params<float> p, uint64_t seed, bool vectorized) {
  const size_t groups = (n + 3) / 4;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const philox::Block r = philox::philox4x32_10(
        philox::Block{{static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32), philox::kRReLUStream, 0u}},
        static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    const size_t i0 = g * 4;
    float xs[4] = {0.f, 0.f, 0.f, 0.f};
    if (vectorized && i0 + 4 <= n) {
      const float4 vx = reinterpret_cast<const float4*>(x)[g];
      xs[0] = vx.x, xs[1] = vx.y, xs[2] = vx.z, xs[3] = vx.w;
    } else {
      for (size_t j = 0; j < 4 && i0 + j < n; ++j) xs[j] = x[i0 + j];
    }
    float ys[4], factors[4];
    for (int j = 0; j < 4; ++j) {
      factors[j] = xs[j] > 0.f ? 1.f : rrelu_slope(r.v[j], p);
      ys[j] = xs[j] > 0.f ? xs[j] : __fmul_rn(xs[j], factors[j]);
    }
    if (vectorized && i0 + 4 <= n) {
      reinterpret_cast<float4*>(out)[g] = make_float4(ys[0], ys[1], ys[2], ys[3]);
      if (noise) reinterpret_cast<float4*>(noise)[g] = make_float4(factors[0], factors[1], factors[2], factors[3]);
    } else {
      for (size_t j = 0; j < 4 && i0 + j < n; ++j) {
        out[i0 + j] = ys[j];
        if (noise) noise[i0 + j] = factors[j];
      }
    }
  }
}

// dx = dy * noise, grid-stride over elements (a memory-bound multiply; no draws).
__global__ void rrelu_train_backward_kernel(const float* noise, const float* dy, float* dx, size_t n) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dx[i] = __fmul_rn(dy[i], noise[i]);
}

}  // namespace

void activation_forward(FunctionId id, const float* x, float* y, size_t n, Params<float> p,
                        void* stream) {
  detail::with_elementwise_op<false>(id, p, "activation_forward", [&](auto op) {
    launch_map<false>(x, nullptr, y, n, aligned_head(n, {x, y}), op, stream);
  });
}

void activation_backward(FunctionId id, const float* x, const float* dy, float* dx, size_t n,
                         Params<float> p, void* stream) {
  detail::with_elementwise_op<true>(id, p, "activation_backward", [&](auto op) {
    launch_map<true>(x, dy, dx, n, aligned_head(n, {x, dy, dx}), op, stream);
  });
}

double prelu_weight_grad(const float* x, const float* dy, size_t n, void* stream) {
  if (n == 0) return 0.0;
  const size_t wanted = (n + kThreads - 1) / kThreads;
  const unsigned blocks = static_cast<unsigned>(wanted < kReduceBlocks ? wanted : kReduceBlocks);
  const cudaStream_t s = detail::as_stream(stream);
  void* raw = nullptr;
  // Stream-ordered allocation: no device-wide synchronisation, safe with concurrent streams.
  IP_CUDA_CHECK(cudaMallocAsync(&raw, blocks * sizeof(double), s));
  double* partials = static_cast<double*>(raw);
  std::vector<double> host(blocks);
  prelu_grad_partials<<<blocks, kThreads, 0, s>>>(x, dy, n, partials);
  const cudaError_t launch = cudaGetLastError();
  if (launch != cudaSuccess) {
    (void)cudaFreeAsync(raw, s);
    detail::throw_error(launch, "launch of prelu_grad_partials", __FILE__, __LINE__);
  }
  IP_CUDA_CHECK(cudaMemcpyAsync(host.data(), partials, blocks * sizeof(double),
                                cudaMemcpyDeviceToHost, s));
  IP_CUDA_CHECK(cudaFreeAsync(raw, s));
  IP_CUDA_CHECK(cudaStreamSynchronize(s));
  double sum = 0.0;
  for (double partial : host) sum += partial;
  return sum;
}

void rrelu_train_forward(const float* x, float* y, float* noise, size_t n, Params<float> p,
                         uint64_t seed, void* stream) {
  if (n == 0) return;
  // The groups of 4 start at element 0, so float4 needs every pointer itself 16-byte aligned.
  const bool vectorized = aligned_head(n, {x, y, noise ? noise : y}) == 0;
  const size_t groups = (n + 3) / 4;
  rrelu_train_forward_kernel<<<detail::grid_for(groups, kThreads), kThreads, 0,
                               detail::as_stream(stream)>>>(x, y, noise, n, p, seed, vectorized);
  IP_CUDA_CHECK_LAUNCH("rrelu_train_forward_kernel");
}

void rrelu_train_backward(const float* noise, const float* dy, float* dx, size_t n, void* stream) {
  if (n == 0) return;
  rrelu_train_backward_kernel<<<detail::grid_for(n, kThreads), kThreads, 0,
                                detail::as_stream(stream)>>>(noise, dy, dx, n);
  IP_CUDA_CHECK_LAUNCH("rrelu_train_backward_kernel");
}

}  // namespace ip::cuda
