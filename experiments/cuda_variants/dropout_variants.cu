// Train-mode dropout variants (Dropout, Dropout2d, Dropout3d, AlphaDropout), naive to vectorised:
//   1 one thread per element, each computing the whole Philox block of its element and keeping
//     one word of four (philox::draw24): 4x the random-number work of the others.
//   2 one thread per group of 4 elements, one Philox block for the group's 4 draws, scalar loads.
//   3 production (kernels/cuda/dropout.cu): as 2, with float4 loads and stores when aligned;
//     forward also stores the keep mask as bits and backward reads them instead of drawing.
// The masks are bit-identical in all of them because Philox is counter-based: element i (row
// i / cols for Dropout3d) always gets word i % 4 of block i / 4, whoever computes it.
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "experiments/cuda_variants/variants.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/kernels.h"

namespace ip::cuda::variants {
namespace {

constexpr unsigned kThreads = 256;

// dropout_apply / dropout_gradient of activation_math.h with explicit round-to-nearest operations:
// nvcc would contract x * scale + offset into an FMA (one rounding) where the host rounds twice,
// and AlphaDropout's offset is not 0, so the plain scalar form would not be bit-identical.
__device__ __forceinline__ float value(float v, bool keep, const DropoutConstants& c, bool backward) {
  if (backward) return keep ? __fmul_rn(v, c.scale) : 0.f;
  return keep ? __fadd_rn(__fmul_rn(v, c.scale), c.offset) : __fadd_rn(__fmul_rn(v, 0.f), c.dropped_value);
}

__global__ void thread_per_element(const float* in, float* out, size_t n, size_t cols, DropoutConstants c,
                                   uint64_t seed, bool backward) {
  const size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const bool keep = philox::draw24(seed, philox::kDropoutStream, c.by_row ? i / cols : i) < c.keep_below;
  out[i] = value(in[i], keep, c, backward);
}

__global__ void group_of_four_scalar(const float* in, float* out, size_t n, size_t cols, DropoutConstants c,
                                     uint64_t seed, bool backward) {
  const size_t groups = (n + 3) / 4;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t g = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += stride) {
    const size_t first = g * 4;
    const size_t count = n - first < 4 ? n - first : 4;
    if (!c.by_row) {
      const philox::Block r = philox::philox4x32_10(
          philox::Block{{static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32), philox::kDropoutStream, 0u}},
          static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
      for (size_t j = 0; j < count; ++j) out[first + j] = value(in[first + j], (r.v[j] >> 8) < c.keep_below, c, backward);
    } else {
      // One draw per row: a group spans at most 4 rows, and usually one.
      size_t last_row = std::numeric_limits<size_t>::max();
      bool keep = false;
      for (size_t j = 0; j < count; ++j) {
        const size_t row = (first + j) / cols;
        if (row != last_row) {
          keep = philox::draw24(seed, philox::kDropoutStream, row) < c.keep_below;
          last_row = row;
        }
        out[first + j] = value(in[first + j], keep, c, backward);
      }
    }
  }
}

enum class Shape { PerElement, GroupOfFour };

template <Shape kShape>
void launch(const Args& a, void* stream) {
  ::ip::cuda::detail::check_function_id(a.id);
  const DropoutConstants c = dropout_constants(a.id, a.drop_p);  // throws for other kinds and bad p
  if (a.cols != 0 && a.rows > std::numeric_limits<size_t>::max() / a.cols)
    throw std::invalid_argument("dropout variant: rows * cols overflows");
  const size_t n = a.rows * a.cols;
  if (n == 0) return;
  const cudaStream_t s = ::ip::cuda::detail::as_stream(stream);
  if constexpr (kShape == Shape::PerElement) {
    const size_t blocks = (n + kThreads - 1) / kThreads;
    if (blocks > 0x7fffffffu)  // gridDim.x's limit: this variant has no loop to cover the rest
      throw std::invalid_argument("one-thread-per-element variant: " + std::to_string(n) + " elements need more than 2^31 - 1 blocks");
    thread_per_element<<<static_cast<unsigned>(blocks), kThreads, 0, s>>>(a.in, a.out, n, a.cols, c, a.seed, a.backward);
    IP_CUDA_CHECK_LAUNCH("thread_per_element");
  } else {
    group_of_four_scalar<<<::ip::cuda::detail::grid_for((n + 3) / 4, kThreads), kThreads, 0, s>>>(
        a.in, a.out, n, a.cols, c, a.seed, a.backward);
    IP_CUDA_CHECK_LAUNCH("group_of_four_scalar");
  }
}

void production(const Args& a, void* stream) {
  if (a.backward) {
    dropout_backward(a.id, a.in, a.out, a.mask, a.rows, a.cols, a.drop_p, stream);
  } else {
    dropout_forward(a.id, a.in, a.out, a.mask, a.rows, a.cols, a.drop_p, a.seed, stream);
  }
}

}  // namespace

std::vector<Variant> detail::dropout_list() {
  return {
      {1, "philox-per-elem", "one thread per element, a whole Philox block per element (one word of four used)",
       false, launch<Shape::PerElement>},
      {2, "philox-per-4", "grid-stride over groups of 4 elements, one Philox block per group, scalar loads", false,
       launch<Shape::GroupOfFour>},
      {3, "philox-per-4-f4-mask",
       "production: as 2, float4 loads/stores when both pointers are 16-byte aligned; forward stores the mask as "
       "bits, backward reads them (no Philox)",
       true, production},
  };
}

}  // namespace ip::cuda::variants
