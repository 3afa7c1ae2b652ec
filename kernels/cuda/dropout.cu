// Train-mode Dropout, Dropout2d, Dropout3d and AlphaDropout over a rows x cols input, with masks
// identical to the CPU's (reference_kernels.h): element i (or row i / cols when the constants say
// by_row, i.e. Dropout3d on 2-D input) is kept when philox::draw24(seed, kDropoutStream, index) <
// keep_below. Philox is counter-based, so the mask does not depend on the launch shape.
// Forward stores the keep decisions as bits (kernels/common/dropout_mask.h: a bit per element, or
// per row for Dropout3d) and backward reads them instead of running Philox again.
//
// Launch shape: 256-thread blocks, grid = detail::grid_for(groups), grid-stride over groups of 4
// consecutive elements. Element-wise masks: one Philox block per group gives its 4 draws (element
// i uses word i % 4 of block i / 4); the 8 lanes of a warp that hold one mask word's 32 elements
// OR their 4-bit pieces together with shuffles and one of them stores the word, so each word has
// one writer. Row masks: a thread draws once per row it meets (once per group when cols >= 4);
// the row bits are stored by a second grid-stride loop over mask words (8 Philox blocks per
// word). Groups move as float4 when every pointer is 16-byte aligned (groups start at element
// 0), the last partial group and misaligned inputs one float at a time. In place works.
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

// Keep decisions of the 4 elements of group g (elements 4 g .. 4 g + 3) from the draws.
__device__ __forceinline__ void draw_group(size_t g, size_t cols, const DropoutConstants& c, uint64_t seed,
                                           bool keep[4]) {
  const size_t i0 = g * 4;
  if (!c.by_row) {
    const philox::Block r = philox::philox4x32_10(
        philox::Block{{static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32), philox::kDropoutStream, 0u}},
        static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
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
}

// Keep decisions of group g from the stored mask (units past the input are never read).
__device__ __forceinline__ void read_group(size_t g, size_t n, size_t cols, bool by_row, const uint32_t* mask,
                                           bool keep[4]) {
  const size_t i0 = g * 4;
  if (!by_row) {
    // i0 is a multiple of 4, so the group's 4 bits lie in one word.
    const uint32_t bits = mask[g / 8] >> (4 * (g % 8));
    for (int j = 0; j < 4; ++j) keep[j] = (bits >> j) & 1u;
  } else {
    size_t row = i0 / cols, col = i0 - row * cols;
    for (int j = 0; j < 4; ++j) {
      keep[j] = i0 + j < n && ((mask[row / 32] >> (row % 32)) & 1u);
      if (++col == cols) {
        col = 0;
        ++row;
      }
    }
  }
}

// in = x (forward) or dy (backward); out = y or dx.
template <bool kBackward>
__device__ __forceinline__ void store_group(const float* in, float* out, size_t g, size_t n, const bool keep[4],
                                            const DropoutConstants& c, bool vectorized) {
  const size_t i0 = g * 4;
  if (vectorized && i0 + 4 <= n) {
    const float4 v = reinterpret_cast<const float4*>(in)[g];
    reinterpret_cast<float4*>(out)[g] =
        make_float4(element<kBackward>(v.x, keep[0], c), element<kBackward>(v.y, keep[1], c),
                    element<kBackward>(v.z, keep[2], c), element<kBackward>(v.w, keep[3], c));
  } else {
    for (size_t j = 0; j < 4 && i0 + j < n; ++j) out[i0 + j] = element<kBackward>(in[i0 + j], keep[j], c);
  }
}

// Forward: y from x, and the mask. The whole warp runs every iteration of the group loop (the
// grid stride and a warp's first group are multiples of 32), so the shuffles see all 32 lanes;
// lanes past the last group contribute no bits.
__global__ void dropout_forward_kernel(const float* in, float* out, uint32_t* mask, size_t n, size_t rows,
                                       size_t cols, DropoutConstants c, uint64_t seed, bool vectorized) {
  const size_t groups = (n + 3) / 4;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t first = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const unsigned lane = threadIdx.x % 32;
  for (size_t g = first; g - lane < groups; g += stride) {
    const bool active = g < groups;
    bool keep[4] = {false, false, false, false};
    if (active) {
      draw_group(g, cols, c, seed, keep);
      store_group<false>(in, out, g, n, keep, c, vectorized);
    }
    if (!c.by_row) {
      uint32_t bits = 0;
      for (int j = 0; j < 4; ++j)
        bits |= static_cast<uint32_t>(active && keep[j] && g * 4 + j < n) << (4 * (lane % 8) + j);
      bits |= __shfl_xor_sync(0xffffffffu, bits, 1);
      bits |= __shfl_xor_sync(0xffffffffu, bits, 2);
      bits |= __shfl_xor_sync(0xffffffffu, bits, 4);
      if (active && lane % 8 == 0) mask[g / 8] = bits;  // elements 4 g .. 4 g + 31
    }
  }
  if (c.by_row) {
    const uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
    for (size_t w = first; w < (rows + 31) / 32; w += stride) {
      uint32_t bits = 0;
      for (uint32_t q = 0; q < 8; ++q) {  // rows 32 w + 4 q .. 32 w + 4 q + 3: one Philox block
        const uint64_t block = w * 8 + q;
        const philox::Block r = philox::philox4x32_10(
            philox::Block{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), philox::kDropoutStream,
                           0u}},
            key0, key1);
        for (uint32_t j = 0; j < 4; ++j)
          bits |= static_cast<uint32_t>(32 * w + 4 * q + j < rows && (r.v[j] >> 8) < c.keep_below) << (4 * q + j);
      }
      mask[w] = bits;
    }
  }
}

// Backward: dx from dy and the mask; no draws.
__global__ void dropout_backward_kernel(const float* in, float* out, const uint32_t* mask, size_t n, size_t cols,
                                        DropoutConstants c, bool vectorized) {
  const size_t groups = (n + 3) / 4;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    bool keep[4];
    read_group(g, n, cols, c.by_row, mask, keep);
    store_group<true>(in, out, g, n, keep, c, vectorized);
  }
}

// rows * cols, checked for overflow.
size_t checked_size(size_t rows, size_t cols) {
  if (cols != 0 && rows > std::numeric_limits<size_t>::max() / cols)
    throw std::invalid_argument("dropout: rows * cols overflows");
  return rows * cols;
}

bool aligned16(const float* a, const float* b) {
  return reinterpret_cast<uintptr_t>(a) % 16 == 0 && reinterpret_cast<uintptr_t>(b) % 16 == 0;
}

}  // namespace

void dropout_forward(FunctionId id, const float* x, float* y, uint32_t* mask, size_t rows, size_t cols,
                     float p, uint64_t seed, void* stream) {
  detail::check_function_id(id);
  const DropoutConstants c = dropout_constants(id, p);  // throws for other kinds and bad p
  const size_t n = checked_size(rows, cols);
  if (n == 0) return;
  const size_t groups = (n + 3) / 4;
  dropout_forward_kernel<<<detail::grid_for(groups, kThreads), kThreads, 0, detail::as_stream(stream)>>>(
      x, y, mask, n, rows, cols, c, seed, aligned16(x, y));
  IP_CUDA_CHECK_LAUNCH("dropout_forward_kernel");
}

void dropout_backward(FunctionId id, const float* dy, float* dx, const uint32_t* mask, size_t rows,
                      size_t cols, float p, void* stream) {
  detail::check_function_id(id);
  const DropoutConstants c = dropout_constants(id, p);
  const size_t n = checked_size(rows, cols);
  if (n == 0) return;
  const size_t groups = (n + 3) / 4;
  dropout_backward_kernel<<<detail::grid_for(groups, kThreads), kThreads, 0, detail::as_stream(stream)>>>(
      dy, dx, mask, n, cols, c, aligned16(dy, dx));
  IP_CUDA_CHECK_LAUNCH("dropout_backward_kernel");
}

}  // namespace ip::cuda
