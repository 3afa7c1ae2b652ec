// Row-wise Softmax, Softmin and LogSoftmax over the feature dimension (rows x cols, row-major),
// with the formulas of activation_math.h's forward_row/backward_row:
//   max m (NaN wins, so a NaN row is NaN), s = sum exp(sign*x - m),
//   Softmax/Softmin y = exp(sign*x - m) * (1/s); LogSoftmax y = (x - m) - log(s);
//   backward: Softmax dx = sign*y*(dy - sum(dy*y)); LogSoftmax dx = dy - exp(y)*sum(dy).
// A row of all -inf gives NaN (exp(-inf - -inf)), a single -inf element gives 0, as on the CPU.
//
// Launch shapes (one scheme per width, both grid-stride over rows):
//   cols <= 1024: one warp per row, 4 warps (rows) per 128-thread block; reductions are warp
//                 shuffles only, so short rows never wait on a block barrier.
//   cols  > 1024: one 256-thread block per row; warp shuffles, then the 8 warp results are
//                 combined through shared memory in a fixed order.
// Each pass reads the row again from global memory (it stays in L1/L2 between passes); every
// element is read before the same thread writes it, so y may alias x (and dx may alias dy).
#include <cmath>
#include <type_traits>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/kernels.h"

namespace ip::cuda {
namespace {

constexpr size_t kWarpMaxCols = 1024;
constexpr unsigned kWarpBlock = 128;  // 4 rows per block in the warp-per-row scheme
constexpr unsigned kRowBlock = 256;   // threads of one row in the block-per-row scheme

struct NanMax {  // activation_math.h's row_max step: NaN wins, so it propagates
  __device__ float operator()(float a, float b) const { return (b > a || b != b) ? b : a; }
};
struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};

// Combines v over the kThreads threads that share a row; every one of them gets the result.
// scratch holds kThreads / 32 floats (unused when kThreads == 32).
template <unsigned kThreads, typename Op>
__device__ __forceinline__ float row_reduce(float v, Op op, float* scratch) {
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  if constexpr (kThreads > 32) {
    __syncthreads();  // the previous reduction's readers are done with scratch
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    v = scratch[0];
    for (unsigned w = 1; w < kThreads / 32; ++w) v = op(v, scratch[w]);
  }
  return v;
}

// kThreads threads per row, kBlock threads per block (kBlock / kThreads rows per block).
template <unsigned kThreads, unsigned kBlock, bool kLog>
__global__ void rowwise_forward_kernel(const float* x, float* y, size_t rows, size_t cols, float sign) {
  __shared__ float scratch[kThreads / 32];
  constexpr unsigned kRowsPerBlock = kBlock / kThreads;
  const unsigned lane = threadIdx.x % kThreads;
  const size_t row_stride = static_cast<size_t>(gridDim.x) * kRowsPerBlock;
  for (size_t r = static_cast<size_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kThreads; r < rows;
       r += row_stride) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = -INFINITY;
    for (size_t c = lane; c < cols; c += kThreads) m = NanMax{}(m, sign * xr[c]);
    m = row_reduce<kThreads>(m, NanMax{}, scratch);
    float s = 0.f;
    for (size_t c = lane; c < cols; c += kThreads) s += math::exp_(sign * xr[c] - m);
    s = row_reduce<kThreads>(s, Add{}, scratch);
    if constexpr (kLog) {
      const float log_sum = math::log_(s);
      for (size_t c = lane; c < cols; c += kThreads) yr[c] = (xr[c] - m) - log_sum;
    } else {
      const float inv = 1.f / s;
      for (size_t c = lane; c < cols; c += kThreads) yr[c] = math::exp_(sign * xr[c] - m) * inv;
    }
  }
}

template <unsigned kThreads, unsigned kBlock, bool kLog>
__global__ void rowwise_backward_kernel(const float* y, const float* dy, float* dx, size_t rows,
                                        size_t cols, float sign) {
  __shared__ float scratch[kThreads / 32];
  constexpr unsigned kRowsPerBlock = kBlock / kThreads;
  const unsigned lane = threadIdx.x % kThreads;
  const size_t row_stride = static_cast<size_t>(gridDim.x) * kRowsPerBlock;
  for (size_t r = static_cast<size_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kThreads; r < rows;
       r += row_stride) {
    const float* yr = y + r * cols;
    const float* dyr = dy + r * cols;
    float* dxr = dx + r * cols;
    float acc = 0.f;
    if constexpr (kLog) {
      for (size_t c = lane; c < cols; c += kThreads) acc += dyr[c];
    } else {
      for (size_t c = lane; c < cols; c += kThreads) acc += dyr[c] * yr[c];
    }
    acc = row_reduce<kThreads>(acc, Add{}, scratch);
    if constexpr (kLog) {
      for (size_t c = lane; c < cols; c += kThreads) dxr[c] = dyr[c] - math::exp_(yr[c]) * acc;
    } else {
      for (size_t c = lane; c < cols; c += kThreads) dxr[c] = sign * yr[c] * (dyr[c] - acc);
    }
  }
}

template <bool kLog>
void launch_forward(const float* x, float* y, size_t rows, size_t cols, float sign, void* stream) {
  if (rows == 0 || cols == 0) return;
  const cudaStream_t s = detail::as_stream(stream);
  if (cols <= kWarpMaxCols) {
    const unsigned grid = detail::grid_for(rows, kWarpBlock / 32);
    rowwise_forward_kernel<32, kWarpBlock, kLog><<<grid, kWarpBlock, 0, s>>>(x, y, rows, cols, sign);
  } else {
    const unsigned grid = detail::grid_for(rows, 1);
    rowwise_forward_kernel<kRowBlock, kRowBlock, kLog><<<grid, kRowBlock, 0, s>>>(x, y, rows, cols, sign);
  }
  IP_CUDA_CHECK_LAUNCH("rowwise_forward_kernel");
}

template <bool kLog>
void launch_backward(const float* y, const float* dy, float* dx, size_t rows, size_t cols, float sign,
                     void* stream) {
  if (rows == 0 || cols == 0) return;
  const cudaStream_t s = detail::as_stream(stream);
  if (cols <= kWarpMaxCols) {
    const unsigned grid = detail::grid_for(rows, kWarpBlock / 32);
    rowwise_backward_kernel<32, kWarpBlock, kLog><<<grid, kWarpBlock, 0, s>>>(y, dy, dx, rows, cols, sign);
  } else {
    const unsigned grid = detail::grid_for(rows, 1);
    rowwise_backward_kernel<kRowBlock, kRowBlock, kLog><<<grid, kRowBlock, 0, s>>>(y, dy, dx, rows, cols, sign);
  }
  IP_CUDA_CHECK_LAUNCH("rowwise_backward_kernel");
}

// From a Rowwise table row to its formula: LogSoftmax has its own; Softmin is Softmax of -x.
template <FunctionId kId>
constexpr bool kIsLog = std::is_same_v<Math<kId>, LogSoftmax>;
template <FunctionId kId>
constexpr float kSign = std::is_same_v<Math<kId>, Softmin> ? -1.f : 1.f;

}  // namespace

void rowwise_forward(FunctionId id, const float* x, float* y, size_t rows, size_t cols, void* stream) {
  detail::check_function_id(id);
  visit_function(id, [&](auto fid) {
    constexpr FunctionId kId = decltype(fid)::value;
    if constexpr (FunctionTraits<kId>::kind == KernelKind::Rowwise) {
      launch_forward<kIsLog<kId>>(x, y, rows, cols, kSign<kId>, stream);
    } else {
      detail::throw_wrong_kind(id, "rowwise_forward", "a row-wise function");
    }
  });
}

void rowwise_backward(FunctionId id, const float* y, const float* dy, float* dx, size_t rows,
                      size_t cols, void* stream) {
  detail::check_function_id(id);
  visit_function(id, [&](auto fid) {
    constexpr FunctionId kId = decltype(fid)::value;
    if constexpr (FunctionTraits<kId>::kind == KernelKind::Rowwise) {
      launch_backward<kIsLog<kId>>(y, dy, dx, rows, cols, kSign<kId>, stream);
    } else {
      detail::throw_wrong_kind(id, "rowwise_backward", "a row-wise function");
    }
  });
}

}  // namespace ip::cuda
