// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator, so the random draw of element i depends only on (seed, stream, i) and
// never on thread count, SIMD width or CUDA launch shape. CPU and CUDA masks are therefore equal.
//
// The project's draw for element (or row) index i of a stream:
//   block  = philox4x32_10(counter = {lo32(i / 4), hi32(i / 4), stream, 0}, key = {lo32(seed), hi32(seed)})
//   word   = block[i % 4]
//   u24    = word >> 8                      (24 uniform bits)
//   keep   = u24 < DropoutConstants::keep_below
//   u      = u24 * 2^-24 in [0, 1)          (RReLU's train-mode slope)
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common/philox_streams.h"

#if defined(__CUDACC__)
#define IP_PHILOX_HD __host__ __device__ __forceinline__
#else
#define IP_PHILOX_HD inline
#endif

namespace ip::philox {

// Streams keep the draws of different uses independent under the same seed; their ids are
// assigned in philox_streams.h.

constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;
constexpr uint32_t kWeyl1 = 0xBB67AE85u;
constexpr int kRounds = 10;

struct Block {
  uint32_t v[4];
};

IP_PHILOX_HD void mul_hi_lo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  *lo = static_cast<uint32_t>(product);
}

IP_PHILOX_HD Block philox4x32_10(Block counter, uint32_t key0, uint32_t key1) {
  for (int round = 0; round < kRounds; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mul_hi_lo(kMul0, counter.v[0], &hi0, &lo0);
    mul_hi_lo(kMul1, counter.v[2], &hi1, &lo1);
    counter = Block{{hi1 ^ counter.v[1] ^ key0, lo1, hi0 ^ counter.v[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

// The 32-bit draw for index i of a stream.
IP_PHILOX_HD uint32_t draw32(uint64_t seed, uint32_t stream, uint64_t i) {
  const uint64_t block_index = i >> 2;
  const Block out = philox4x32_10(
      Block{{static_cast<uint32_t>(block_index), static_cast<uint32_t>(block_index >> 32), stream, 0u}},
      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return out.v[i & 3];
}

IP_PHILOX_HD uint32_t draw24(uint64_t seed, uint32_t stream, uint64_t i) {
  return draw32(seed, stream, i) >> 8;
}

// Uniform in [0, 1), exactly representable in float.
IP_PHILOX_HD float uniform(uint64_t seed, uint32_t stream, uint64_t i) {
  return static_cast<float>(draw24(seed, stream, i)) * (1.0f / 16777216.0f);
}

// Standard normal value i of a stream, by Box-Muller over the uniforms 2i and 2i + 1: the same
// value on every machine and for any thread count. Host only (double-precision libm).
inline double normal(uint64_t seed, uint32_t stream, uint64_t i) {
  // 1 - u keeps the logarithm's argument in (0, 1].
  const double u1 = 1.0 - uniform(seed, stream, 2 * i);
  const double u2 = uniform(seed, stream, 2 * i + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace ip::philox
