// Train-mode Dropout, Dropout2d, Dropout3d and AlphaDropout over a rows x cols input, with masks
// identical to the CPU's (reference_kernels.h): element i (or row i / cols when the constants say
// by_row, i.e. Dropout3d on 2-D input) is kept when philox::draw24(seed, kDropoutStream, index) <
// keep_below. Philox is counter-based, so the mask does not depend on the launch shape.
//
// Launch shape: 256-thread blocks, grid = detail::grid_for(groups), grid-stride over groups of 4
// consecutive elements. Element-wise masks: one Philox block per group gives its 4 draws (element
// i uses word i % 4 of block i / 4). Row masks: a thread draws once per row it meets (once per
// group when cols >= 4). Groups move as float4 when every pointer is 16-byte aligned (groups start
// at element 0), the last partial group and misaligned inputs one float at a time. In place works.
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/kernels.h"

namespace ip::cuda {
namespace {

constexpr unsigned kThreads = 256;

// dropout_apply / dropout_gradient of activation_math.h, written with round-to-nearest intrinsics:
// nvcc would contract x * scale + offset into one FMA, the CPU rounds twice, and the results must
// be bit-identical (AlphaDropout's offset is not 0). A zero constant is not added, so that -0
// stays -0 as in PyTorch's product x * mask * scale (see dropout_apply).
__device__ __forceinline__ float apply(float x, bool keep, const DropoutConstants& c) {
  if (keep) return c.offset == 0.f ? __fmul_rn(x, c.scale) : __fadd_rn(__fmul_rn(x, c.scale), c.offset);
  return c.dropped_value == 0.f ? __fmul_rn(x, 0.f) : __fadd_rn(__fmul_rn(x, 0.f), c.dropped_value);
}

__device__ __forceinline__ float gradient(float dy, bool keep, const DropoutConstants& c) {
  return keep ? __fmul_rn(dy, c.scale) : 0.f;
}

template <bool kBackward>
__device__ __forceinline__ float element(float v, bool keep, const DropoutConstants& c) {
  if constexpr (kBackward) {
    return gradient(v, keep, c);
  } else {
    return apply(v, keep, c);
  }
}

// in = x (forward) or dy (backward); out = y or dx.
template <bool kBackward>
__global__ void dropout_kernel(const float* in, float* out, size_t n, size_t cols, DropoutConstants c,
                               uint64_t seed, bool vectorized) {
  const size_t groups = (n + 3) / 4;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
  for (size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const size_t i0 = g * 4;
    bool keep[4];
    if (!c.by_row) {
      const philox::Block r = philox::philox4x32_10(
          philox::Block{{static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32), philox::kDropoutStream, 0u}},
          key0, key1);
      for (int j = 0; j < 4; ++j) keep[j] = (r.v[j] >> 8) < c.keep_below;
    } else {
      size_t row = i0 / cols, col = i0 - row * cols;
      size_t drawn_row = row;
      bool row_keep = philox::draw24(seed, philox::kDropoutStream, row) < c.keep_below;
      for (int j = 0; j < 4; ++j) {
        if (row != drawn_row) {  // only when a row ends inside this group
          drawn_row = row;
          row_keep = philox::draw24(seed, philox::kDropoutStream, row) < c.keep_below;
        }
        keep[j] = row_keep;
        if (++col == cols) {
          col = 0;
          ++row;
        }
      }
    }
    if (vectorized && i0 + 4 <= n) {
      const float4 v = reinterpret_cast<const float4*>(in)[g];
      reinterpret_cast<float4*>(out)[g] =
          make_float4(element<kBackward>(v.x, keep[0], c), element<kBackward>(v.y, keep[1], c),
                      element<kBackward>(v.z, keep[2], c), element<kBackward>(v.w, keep[3], c));
    } else {
      for (size_t j = 0; j < 4 && i0 + j < n; ++j) out[i0 + j] = element<kBackward>(in[i0 + j], keep[j], c);
    }
  }
}

template <bool kBackward>
void launch(FunctionId id, const float* in, float* out, size_t rows, size_t cols, float p,
            uint64_t seed, void* stream) {
  detail::check_function_id(id);
  const DropoutConstants c = dropout_constants(id, p);  // throws for other kinds and bad p
  if (cols != 0 && rows > std::numeric_limits<size_t>::max() / cols)
    throw std::invalid_argument("dropout: rows * cols overflows");
  const size_t n = rows * cols;
  if (n == 0) return;
  const bool vectorized = reinterpret_cast<uintptr_t>(in) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
  const size_t groups = (n + 3) / 4;
  dropout_kernel<kBackward><<<detail::grid_for(groups, kThreads), kThreads, 0, detail::as_stream(stream)>>>(
      in, out, n, cols, c, seed, vectorized);
  IP_CUDA_CHECK_LAUNCH("dropout_kernel");
}

}  // namespace

void dropout_forward(FunctionId id, const float* x, float* y, size_t rows, size_t cols, float p,
                     uint64_t seed, void* stream) {
  launch<false>(id, x, y, rows, cols, p, seed, stream);
}

void dropout_backward(FunctionId id, const float* dy, float* dx, size_t rows, size_t cols, float p,
                      uint64_t seed, void* stream) {
  launch<true>(id, dy, dx, rows, cols, p, seed, stream);
}

}  // namespace ip::cuda
