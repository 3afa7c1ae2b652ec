// Highway vector form of Philox 4x32-10 (kernels/common/philox.h), producing exactly the scalar
// generator's draws. Used by dropout (dropout.cc) and available to any family that needs the
// project's counter-based draws (e.g. RReLU in train mode).
//
// One call runs 2 * L (L = Lanes(d)) Philox blocks; PhiloxWords returns their words as vectors
// (word k of L consecutive blocks per vector) and PhiloxDraws32 interleaves them into element
// order. How the rounds are laid out, and why, is said at PhiloxWords.

// Per-target include guard (the usual Highway pattern: this header is re-included once per target
// by foreach_target.h).
#if defined(IP_CPU_PHILOX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef IP_CPU_PHILOX_INL_H_
#undef IP_CPU_PHILOX_INL_H_
#else
#define IP_CPU_PHILOX_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "kernels/common/philox.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Blocks per call: 2 * Lanes(du32) (four sets of Lanes(du32) / 2 counters, see below).
template <class DU32>
HWY_INLINE size_t PhiloxBlocksPerCall(DU32 du32) {
  return 2 * hn::Lanes(du32);
}

// Draws per PhiloxDraws32 call: 4 per block.
template <class DU32>
HWY_INLINE size_t PhiloxDrawsPerCall(DU32 du32) {
  return 4 * PhiloxBlocksPerCall(du32);
}

// The Philox words of blocks first_block + h * L + j (L = Lanes(du32), h = 0, 1, j < L):
// w[h][k] holds word k of those L blocks, lane j for block first_block + h * L + j ("structure of
// arrays"). Callers turn them into element order (draw of index 4 * b + k = word k of block b).
//
// Layout of the rounds: each 32-bit counter word lives in the low half of a 64-bit lane, so one
// MulEven (32 x 32 -> 64, native on x86: pmuludq) gives the whole product of a word and its
// constant: the low word is the product itself (its upper half is ignored by the next MulEven and
// never leaves the rounds) and the high word one shift away. A round is then 2 multiplies, 2
// shifts and 2 three-way xors per set, with no shuffles; words in 32-bit lanes would also need a
// shift of the odd lanes and two blends per product, 16 operations where this needs 12.
// Four sets of L / 2 counters run interleaved: one round is a dependency chain of about 7 cycles
// (multiply 5, shift 1, xor 1), and four independent chains keep the vector ports busy.
// After the rounds, ConcatEven packs the low halves of two sets into one vector of 32-bit words.
template <class DU32>
HWY_INLINE void PhiloxWords(DU32 du32, uint64_t seed, uint32_t stream, uint64_t first_block,
                            hn::Vec<DU32> w[2][4]) {
  const size_t L = hn::Lanes(du32);
  const uint32_t block_lo = static_cast<uint32_t>(first_block);
  // The low word of a counter would wrap (carry into the high word) only when the 2L blocks
  // straddle a multiple of 2^32, which needs more than 2^34 elements; stay exact anyway with
  // the scalar generator.
  bool scalar = HWY_UNLIKELY(block_lo > UINT32_MAX - static_cast<uint32_t>(2 * L - 1));
#if HWY_TARGET == HWY_SCALAR
  scalar = true;  // one lane: no 64-bit partner type of the same lane count
#endif
  if (scalar) {
    HWY_ALIGN uint32_t words[4][2 * hn::MaxLanes(du32)];
    for (size_t b = 0; b < 2 * L; ++b) {
      const uint64_t block = first_block + b;
      const philox::Block out = philox::philox4x32_10(
          philox::Block{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), stream, 0u}},
          static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
      for (int k = 0; k < 4; ++k) words[k][b] = out.v[k];
    }
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 4; ++k) w[h][k] = hn::Load(du32, words[k] + h * L);
    return;
  }
#if HWY_TARGET != HWY_SCALAR
  const hn::RepartitionToWide<DU32> du64;
  using V64 = hn::Vec<decltype(du64)>;
  const size_t L64 = hn::Lanes(du64);
  const V64 hi = hn::Set(du64, first_block >> 32);
  const V64 st = hn::Set(du64, stream);
  const V64 zero = hn::Zero(du64);
  V64 c0[4], c1[4], c2[4], c3[4];
  for (size_t s = 0; s < 4; ++s) {
    c0[s] = hn::Iota(du64, static_cast<uint64_t>(block_lo) + s * L64);
    c1[s] = hi;
    c2[s] = st;
    c3[s] = zero;
  }
  const auto m0 = hn::Set(du32, philox::kMul0);
  const auto m1 = hn::Set(du32, philox::kMul1);
  uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < philox::kRounds; ++round) {
    const V64 k0 = hn::Set(du64, key0);
    const V64 k1 = hn::Set(du64, key1);
    for (size_t s = 0; s < 4; ++s) {
      const V64 p0 = hn::MulEven(hn::BitCast(du32, c0[s]), m0);  // word 0 * kMul0, 64 bits
      const V64 p1 = hn::MulEven(hn::BitCast(du32, c2[s]), m1);  // word 2 * kMul1
      c0[s] = hn::Xor(hn::Xor(hn::ShiftRight<32>(p1), c1[s]), k0);
      c2[s] = hn::Xor(hn::Xor(hn::ShiftRight<32>(p0), c3[s]), k1);
      c1[s] = p1;  // low word in the low half; the upper half is never used
      c3[s] = p0;
    }
    key0 += philox::kWeyl0;
    key1 += philox::kWeyl1;
  }
  for (int h = 0; h < 2; ++h) {
    w[h][0] = hn::ConcatEven(du32, hn::BitCast(du32, c0[2 * h + 1]), hn::BitCast(du32, c0[2 * h]));
    w[h][1] = hn::ConcatEven(du32, hn::BitCast(du32, c1[2 * h + 1]), hn::BitCast(du32, c1[2 * h]));
    w[h][2] = hn::ConcatEven(du32, hn::BitCast(du32, c2[2 * h + 1]), hn::BitCast(du32, c2[2 * h]));
    w[h][3] = hn::ConcatEven(du32, hn::BitCast(du32, c3[2 * h + 1]), hn::BitCast(du32, c3[2 * h]));
  }
#endif
}

// out[k] = philox::draw32(seed, stream, 4 * first_block + k) for k < PhiloxDrawsPerCall(du32),
// in element order. `out` needs no alignment.
template <class DU32>
HWY_INLINE void PhiloxDraws32(DU32 du32, uint64_t seed, uint32_t stream, uint64_t first_block,
                              uint32_t* HWY_RESTRICT out) {
  hn::Vec<DU32> w[2][4];
  PhiloxWords(du32, seed, stream, first_block, w);
  const size_t L = hn::Lanes(du32);
  hn::StoreInterleaved4(w[0][0], w[0][1], w[0][2], w[0][3], du32, out);
  hn::StoreInterleaved4(w[1][0], w[1][1], w[1][2], w[1][3], du32, out + 4 * L);
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // IP_CPU_PHILOX_INL_H_
