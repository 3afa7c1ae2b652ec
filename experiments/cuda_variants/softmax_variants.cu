// Row-wise (Softmax, Softmin, LogSoftmax) variants, naive to tuned:
//   1 one thread per row, running the scalar row loops of activation_math.h (forward_row /
//     backward_row) as they are: neighbouring threads read addresses `cols` floats apart, so no
//     load is coalesced, and few rows leave most of the GPU idle.
//   2 one warp per row at every width, reductions by warp shuffles (4 rows per 128-thread block).
//   3 one 256-thread block per row at every width, reductions through a shared-memory tree.
//   4 production (kernels/cuda/softmax.cu): warp per row up to 1024 columns, block per row above,
//     shuffles then a fixed-order combination of the warps.
// Variants 2 and 3 compute the formulas of forward_row/backward_row (max with NaN winning,
// s = sum exp(sign*x - m), y = exp(sign*x - m) * (1/s) or (x - m) - log s; backward
// dx = sign*y*(dy - sum(dy*y)) or dy - exp(y)*sum(dy)); only the order of the sums differs.
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "experiments/cuda_variants/variants.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/kernels.h"

namespace ip::cuda::variants {
namespace {

constexpr unsigned kRowThreads = 128;  // variant 1: rows per block
constexpr unsigned kWarpBlock = 128;   // variant 2: 4 warps, one row each
constexpr unsigned kTreeBlock = 256;   // variant 3: threads of one row (a power of two for the tree)

template <FunctionId kId>
constexpr bool kIsLog = std::is_same_v<Math<kId>, LogSoftmax>;
template <FunctionId kId>
constexpr float kSign = std::is_same_v<Math<kId>, Softmin> ? -1.f : 1.f;

__device__ __forceinline__ float nan_max(float a, float b) { return (b > a || b != b) ? b : a; }
struct MaxOp {
  __device__ float operator()(float a, float b) const { return nan_max(a, b); }
};
struct SumOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};

// ---- variant 1 ----
template <FunctionId kId>
__global__ void thread_per_row(const float* in, const float* in2, float* out, size_t rows, size_t cols, bool backward) {
  const size_t r = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (r >= rows) return;
  const size_t off = r * cols;
  if (backward) {
    Math<kId>::backward_row(in + off, in2 + off, out + off, cols);
  } else {
    Math<kId>::forward_row(in + off, out + off, cols);
  }
}

// ---- the row computation shared by variants 2 and 3 ----
// `lane` of `width` threads handles columns lane, lane + width, ...; reduce(v, op) combines the
// width partial values and gives every thread the result.
template <bool kLog, typename Reduce>
__device__ __forceinline__ void forward_row_parallel(const float* x, float* y, size_t cols, float sign, unsigned lane,
                                                     unsigned width, Reduce reduce) {
  float m = -INFINITY;
  for (size_t c = lane; c < cols; c += width) m = nan_max(m, sign * x[c]);
  m = reduce(m, MaxOp{});
  float s = 0.f;
  for (size_t c = lane; c < cols; c += width) s += math::exp_(sign * x[c] - m);
  s = reduce(s, SumOp{});
  if constexpr (kLog) {
    const float log_s = math::log_(s);
    for (size_t c = lane; c < cols; c += width) y[c] = (x[c] - m) - log_s;
  } else {
    const float inv = 1.f / s;
    for (size_t c = lane; c < cols; c += width) y[c] = math::exp_(sign * x[c] - m) * inv;
  }
}

template <bool kLog, typename Reduce>
__device__ __forceinline__ void backward_row_parallel(const float* y, const float* dy, float* dx, size_t cols,
                                                      float sign, unsigned lane, unsigned width, Reduce reduce) {
  float acc = 0.f;
  for (size_t c = lane; c < cols; c += width) acc += kLog ? dy[c] : dy[c] * y[c];
  acc = reduce(acc, SumOp{});
  for (size_t c = lane; c < cols; c += width)
    dx[c] = kLog ? dy[c] - math::exp_(y[c]) * acc : sign * y[c] * (dy[c] - acc);
}

// ---- variant 2: a tree of shuffle-downs to lane 0, then a broadcast ----
struct WarpReduce {
  template <typename Op>
  __device__ float operator()(float v, Op op) const {
    for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_down_sync(0xffffffffu, v, offset));
    return __shfl_sync(0xffffffffu, v, 0);
  }
};

template <bool kLog>
__global__ void warp_per_row(const float* in, const float* in2, float* out, size_t rows, size_t cols, float sign,
                             bool backward) {
  const size_t r = (static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  if (r >= rows) return;  // r is the same for all 32 lanes, so whole warps leave together
  const size_t off = r * cols;
  const unsigned lane = threadIdx.x % 32;
  if (backward) {
    backward_row_parallel<kLog>(in + off, in2 + off, out + off, cols, sign, lane, 32, WarpReduce{});
  } else {
    forward_row_parallel<kLog>(in + off, out + off, cols, sign, lane, 32, WarpReduce{});
  }
}

// ---- variant 3: halving tree in shared memory, a barrier per level ----
struct TreeReduce {
  float* buf;  // kTreeBlock floats
  template <typename Op>
  __device__ float operator()(float v, Op op) const {
    buf[threadIdx.x] = v;
    __syncthreads();
    for (unsigned half = kTreeBlock / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) buf[threadIdx.x] = op(buf[threadIdx.x], buf[threadIdx.x + half]);
      __syncthreads();
    }
    const float result = buf[0];
    __syncthreads();  // everyone has read buf[0] before the next reduction overwrites it
    return result;
  }
};

template <bool kLog>
__global__ void block_per_row(const float* in, const float* in2, float* out, size_t cols, float sign, bool backward) {
  __shared__ float buf[kTreeBlock];
  const size_t off = static_cast<size_t>(blockIdx.x) * cols;
  if (backward) {
    backward_row_parallel<kLog>(in + off, in2 + off, out + off, cols, sign, threadIdx.x, kTreeBlock, TreeReduce{buf});
  } else {
    forward_row_parallel<kLog>(in + off, out + off, cols, sign, threadIdx.x, kTreeBlock, TreeReduce{buf});
  }
}

unsigned blocks_for(size_t work, unsigned per_block, const char* variant) {
  const size_t blocks = (work + per_block - 1) / per_block;
  if (blocks > 0x7fffffffu)  // gridDim.x's limit: these variants have no loop over rows
    throw std::invalid_argument(std::string(variant) + ": too many rows for one grid");
  return static_cast<unsigned>(blocks);
}

enum class Shape { ThreadPerRow, WarpPerRow, BlockPerRow };

template <Shape kShape>
void launch(const Args& a, void* stream) {
  ::ip::cuda::detail::check_function_id(a.id);
  visit_function(a.id, [&](auto fid) {
    constexpr FunctionId kId = decltype(fid)::value;
    if constexpr (FunctionTraits<kId>::kind == KernelKind::Rowwise) {
      if (a.rows == 0 || a.cols == 0) return;
      const cudaStream_t s = ::ip::cuda::detail::as_stream(stream);
      if constexpr (kShape == Shape::ThreadPerRow) {
        thread_per_row<kId><<<blocks_for(a.rows, kRowThreads, "thread-per-row"), kRowThreads, 0, s>>>(
            a.in, a.in2, a.out, a.rows, a.cols, a.backward);
        IP_CUDA_CHECK_LAUNCH("thread_per_row");
      } else if constexpr (kShape == Shape::WarpPerRow) {
        warp_per_row<kIsLog<kId>><<<blocks_for(a.rows, kWarpBlock / 32, "warp-per-row"), kWarpBlock, 0, s>>>(
            a.in, a.in2, a.out, a.rows, a.cols, kSign<kId>, a.backward);
        IP_CUDA_CHECK_LAUNCH("warp_per_row");
      } else {
        block_per_row<kIsLog<kId>><<<blocks_for(a.rows, 1, "block-per-row"), kTreeBlock, 0, s>>>(
            a.in, a.in2, a.out, a.cols, kSign<kId>, a.backward);
        IP_CUDA_CHECK_LAUNCH("block_per_row");
      }
    } else {
      ::ip::cuda::detail::throw_wrong_kind(a.id, "row-wise variant", "a row-wise function");
    }
  });
}

void production(const Args& a, void* stream) {
  if (a.backward) {
    rowwise_backward(a.id, a.in, a.in2, a.out, a.rows, a.cols, stream);
  } else {
    rowwise_forward(a.id, a.in, a.out, a.rows, a.cols, stream);
  }
}

}  // namespace

std::vector<Variant> detail::rowwise_list() {
  return {
      {1, "thread-per-row", "one thread per row running the scalar row loops (uncoalesced loads)", false,
       launch<Shape::ThreadPerRow>},
      {2, "warp-per-row", "one warp per row at every width, shuffle reductions, 4 rows per 128-thread block", false,
       launch<Shape::WarpPerRow>},
      {3, "block-per-row", "one 256-thread block per row at every width, shared-memory tree reductions", false,
       launch<Shape::BlockPerRow>},
      {4, "warp|block", "production: warp per row up to 1024 columns, 256-thread block per row above", true,
       production},
  };
}

}  // namespace ip::cuda::variants
