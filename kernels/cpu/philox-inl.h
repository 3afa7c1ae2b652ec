// Highway vector form of Philox 4x32-10 (kernels/common/philox.h), producing exactly the scalar
// generator's draws. Used by dropout (dropout.cc) and available to any family that needs the
// project's counter-based draws (e.g. RReLU in train mode).
//
// Layout ("structure of arrays"): one call runs 2 * L (L = Lanes(d)) Philox blocks side by side,
// as two sets of four vectors. Vector word k of a set holds word k of its L counters, so lane j
// works on block (first_block + j) or (first_block + L + j). After the 10 rounds each set's four
// word vectors are interleaved (StoreInterleaved4) so that the draws come out in element order:
// draw of index 4*b + w = word w of block b, as philox.h defines it.
//
// Each round needs the full 32x32->64 products of two counter words with constants. Highway 1.0.3
// only has MulEven (products of the even 32-bit lanes), so the odd lanes are shifted down into the
// even positions and multiplied separately; OddEven then reassembles the high and low halves in
// lane order. That is 2 multiplies + 4 shifts + 2 blends per word pair, cheaper than emulating a
// 32-bit MulHigh.

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

// hi:lo = a * k for every 32-bit lane, k the same constant in every lane.
template <class DU32>
HWY_INLINE void PhiloxMulHiLo(DU32 du32, hn::Vec<DU32> a, uint32_t k, hn::Vec<DU32>* hi,
                              hn::Vec<DU32>* lo) {
#if HWY_TARGET == HWY_SCALAR
  // One lane: a 32-bit vector has no 64-bit partner type of the same lane count, so use the
  // scalar product (the same one philox.h uses).
  uint32_t h, l;
  philox::mul_hi_lo(k, hn::GetLane(a), &h, &l);
  *hi = hn::Set(du32, h);
  *lo = hn::Set(du32, l);
#else
  const hn::RepartitionToWide<DU32> du64;
  const auto vk = hn::Set(du32, k);
  // Products of the even lanes, then of the odd lanes moved down into the even positions.
  const auto even = hn::MulEven(a, vk);
  const auto odd = hn::MulEven(hn::BitCast(du32, hn::ShiftRight<32>(hn::BitCast(du64, a))), vk);
  // Low halves: even products' low words are already in even lanes; odd products' low words move
  // up into the odd lanes. High halves: the reverse.
  *lo = hn::OddEven(hn::BitCast(du32, hn::ShiftLeft<32>(odd)), hn::BitCast(du32, even));
  *hi = hn::OddEven(hn::BitCast(du32, odd), hn::BitCast(du32, hn::ShiftRight<32>(even)));
#endif
}

// One Philox round on L counters (c0..c3 are the counter words per lane).
template <class DU32>
HWY_INLINE void PhiloxRound(DU32 du32, hn::Vec<DU32>& c0, hn::Vec<DU32>& c1, hn::Vec<DU32>& c2,
                            hn::Vec<DU32>& c3, hn::Vec<DU32> k0, hn::Vec<DU32> k1) {
  hn::Vec<DU32> hi0, lo0, hi1, lo1;
  PhiloxMulHiLo(du32, c0, philox::kMul0, &hi0, &lo0);
  PhiloxMulHiLo(du32, c2, philox::kMul1, &hi1, &lo1);
  c0 = hn::Xor(hn::Xor(hi1, c1), k0);
  c1 = lo1;
  c2 = hn::Xor(hn::Xor(hi0, c3), k1);
  c3 = lo0;
}

// Draws per PhiloxDraws32 call: 4 per block, 2 * Lanes(d) blocks. Two independent sets of L
// counters run interleaved because one round is a chain of ~9 cycles of latency (shift,
// multiply, shift, blend, xor) with little work per cycle; two chains keep the multiplier busy.
template <class DU32>
HWY_INLINE size_t PhiloxDrawsPerCall(DU32 du32) {
  return 8 * hn::Lanes(du32);
}

// out[k] = philox::draw32(seed, stream, 4 * first_block + k) for k < PhiloxDrawsPerCall(du32).
// `out` needs no alignment.
template <class DU32>
HWY_INLINE void PhiloxDraws32(DU32 du32, uint64_t seed, uint32_t stream, uint64_t first_block,
                              uint32_t* HWY_RESTRICT out) {
  const size_t L = hn::Lanes(du32);
  const uint32_t block_lo = static_cast<uint32_t>(first_block);
  // Lane j of set s has counter first_block + s * L + j; its low word would wrap (carry into the
  // high word) only when the 2L blocks straddle a multiple of 2^32. That needs more than 2^34
  // elements; keep it exact anyway with the scalar generator.
  if (HWY_UNLIKELY(block_lo > UINT32_MAX - static_cast<uint32_t>(2 * L - 1))) {
    for (size_t k = 0; k < 8 * L; ++k) out[k] = philox::draw32(seed, stream, 4 * first_block + k);
    return;
  }
  const auto hi = hn::Set(du32, static_cast<uint32_t>(first_block >> 32));
  const auto st = hn::Set(du32, stream);
  auto a0 = hn::Iota(du32, block_lo), a1 = hi, a2 = st, a3 = hn::Zero(du32);
  auto b0 = hn::Iota(du32, block_lo + static_cast<uint32_t>(L)), b1 = hi, b2 = st, b3 = a3;
  uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < philox::kRounds; ++round) {
    const auto k0 = hn::Set(du32, key0);
    const auto k1 = hn::Set(du32, key1);
    PhiloxRound(du32, a0, a1, a2, a3, k0, k1);
    PhiloxRound(du32, b0, b1, b2, b3, k0, k1);
    key0 += philox::kWeyl0;
    key1 += philox::kWeyl1;
  }
  hn::StoreInterleaved4(a0, a1, a2, a3, du32, out);
  hn::StoreInterleaved4(b0, b1, b2, b3, du32, out + 4 * L);
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // IP_CPU_PHILOX_INL_H_
