// Highway vector form of Philox 4x32-10 (kernels/common/philox.h), producing exactly the scalar
// generator's draws. Used by dropout (dropout.cc) and available to any family that needs the
// project's counter-based draws (e.g. RReLU in train mode).
//
// One call runs 2 * L (L = Lanes(d)) Philox blocks; PhiloxWords hands their words, as vectors,
// to a callback (word k of L blocks per vector, in one of two lane orders: PhiloxOrder) and
// PhiloxDraws32 puts them into element order. How the rounds are laid out, and why, is said at
// PhiloxWords.

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
#include "kernels/cpu/inline_lambda.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Whether the four sets of counters (PhiloxWords) go through their rounds together. Their 16
// vectors of state, the two multipliers, two keys and the products need ~22 registers: x86 below
// AVX-512 has 16, and spilling there costs a store and a load per vector and round (a store of a
// 256-bit vector takes two cycles on Zen 1). There two sets at a time, 8 vectors of state, stay in
// registers; their chains are long enough apart (the second pair's rounds depend on nothing of the
// first's) for out-of-order execution to overlap them.
#if HWY_ARCH_X86 && HWY_TARGET > HWY_AVX3
inline constexpr bool kPhiloxAllSetsAtOnce = false;
#else
inline constexpr bool kPhiloxAllSetsAtOnce = true;
#endif

// The lane order PhiloxWords hands the words in (L = Lanes(du32), first = first_block + h * L):
// - kBlocks: lane j of each word vector holds block first + j.
// - kBlockColumns: position i of 128-bit block q holds block first + (L / 4) i + q, the order in
//   which one 4 x 4 transpose within each 128-bit block (InterleaveLower/Upper only, no shuffle
//   across blocks) turns the four word vectors into draws in element order: vector i then holds
//   the draws of elements 4 first + i L .. + L - 1 (block b gives elements 4 b .. 4 b + 3).
enum class PhiloxOrder { kBlocks, kBlockColumns };

// 4 x 4 transposes of 32-bit lanes within each 128-bit block: position i of block q of vector k
// goes to position k of block q of vector i.
template <class DU32, class V>
HWY_INLINE void TransposeWithinBlocks(DU32 du32, V& v0, V& v1, V& v2, V& v3) {
#if HWY_TARGET == HWY_SCALAR
  (void)du32, (void)v0, (void)v1, (void)v2, (void)v3;  // one lane: no blocks, never called
#else
  const hn::RepartitionToWide<DU32> du64;
  const auto a = hn::BitCast(du64, hn::InterleaveLower(du32, v0, v1));  // v0[0] v1[0] v0[1] v1[1]
  const auto b = hn::BitCast(du64, hn::InterleaveLower(du32, v2, v3));  // v2[0] v3[0] v2[1] v3[1]
  const auto c = hn::BitCast(du64, hn::InterleaveUpper(du32, v0, v1));  // v0[2] v1[2] v0[3] v1[3]
  const auto e = hn::BitCast(du64, hn::InterleaveUpper(du32, v2, v3));  // v2[2] v3[2] v2[3] v3[3]
  v0 = hn::BitCast(du32, hn::InterleaveLower(du64, a, b));
  v1 = hn::BitCast(du32, hn::InterleaveUpper(du64, a, b));
  v2 = hn::BitCast(du32, hn::InterleaveLower(du64, c, e));
  v3 = hn::BitCast(du32, hn::InterleaveUpper(du64, c, e));
#endif
}

// Whether callers put draws (or decisions on them) into element order by PhiloxOrder::
// kBlockColumns and TransposeWithinBlocks: 2 shuffles per vector, none across 128-bit blocks.
// Otherwise kBlocks and an interleave across the whole vector: StoreInterleaved4, or, in dropout
// on AVX-512, the decisions' bits deposited by pdep (SpreadKeepBits), one instruction per word
// there but ~16 instructions per vector between compare and blend elsewhere. Not on SVE (its
// vectors are not 128-bit blocks to Highway 1.0.3's interleaves) nor on one lane.
#if HWY_ARCH_X86 && HWY_TARGET > HWY_AVX3 && HWY_TARGET != HWY_SCALAR
inline constexpr bool kPhiloxOrderByTranspose = true;
#else
inline constexpr bool kPhiloxOrderByTranspose = false;
#endif

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

// The key of every round (philox::philox4x32_10's schedule), each word broadcast over a vector of
// 64-bit lanes and kept in memory. Built once per kernel call; every PhiloxWords call then xors
// them in as memory operands. Broadcasting the two scalars in every round of every call cost
// three instructions per key word (the compiler kept the scalars on the stack), and below AVX-512
// the key vectors also took two of the 16 registers, which spilled round state.
template <class DU32>
struct PhiloxKeys {
  PhiloxKeys(DU32 du32, uint64_t seed_in) : seed(seed_in) {
#if HWY_TARGET != HWY_SCALAR
    const hn::RepartitionToWide<DU32> du64;
    uint32_t key0 = static_cast<uint32_t>(seed), key1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < philox::kRounds; ++round) {
      hn::Store(hn::Set(du64, key0), du64, words[round][0]);
      hn::Store(hn::Set(du64, key1), du64, words[round][1]);
      key0 += philox::kWeyl0;
      key1 += philox::kWeyl1;
    }
#endif
    (void)du32;
  }
  uint64_t seed;
#if HWY_TARGET != HWY_SCALAR
  HWY_ALIGN uint64_t words[philox::kRounds][2][hn::MaxLanes(hn::RepartitionToWide<DU32>())];
#endif
};

// One Philox round of one set of counters: word k of each counter in the low half of a 64-bit
// lane of ck (see PhiloxWords).
template <class DU32, class V32, class V64>
HWY_INLINE void PhiloxRound(DU32 du32, V32 m0, V32 m1, V64 k0, V64 k1, V64& c0, V64& c1, V64& c2,
                            V64& c3) {
  const V64 p0 = hn::MulEven(hn::BitCast(du32, c0), m0);  // word 0 * kMul0, 64 bits
  const V64 p1 = hn::MulEven(hn::BitCast(du32, c2), m1);  // word 2 * kMul1
  // The shifted product first: on AVX-512 Xor3 is one vpternlog that overwrites its first
  // operand, which dies here (the key and the word are needed again).
  c0 = hn::Xor3(hn::ShiftRight<32>(p1), c1, k0);
  c2 = hn::Xor3(hn::ShiftRight<32>(p0), c3, k1);
  c1 = p1;  // low word in the low half; the upper half is never used
  c3 = p0;
}

// The Philox words of blocks first_block + h * L + j (L = Lanes(du32), h = 0, 1, j < L), handed
// to f(h, w0, w1, w2, w3) for h = 0 then 1: wk holds word k of those L blocks ("structure of
// arrays"), lane j for block first_block + h * L + j, or in kOrder's order. Callers turn them
// into element order (draw of index 4 * b + k = word k of block b). A callback rather than an
// array of vectors: SVE vectors are sizeless types, which cannot be array elements; callers with
// much work in it mark it IP_INLINE_LAMBDA.
//
// Layout of the rounds: each 32-bit counter word lives in the low half of a 64-bit lane, so one
// MulEven (32 x 32 -> 64, native on x86: pmuludq) gives the whole product of a word and its
// constant: the low word is the product itself (its upper half is ignored by the next MulEven and
// never leaves the rounds) and the high word one shift away. A round is then 2 multiplies, 2
// shifts and 2 three-way xors per set, with no shuffles; words in 32-bit lanes would also need a
// shift of the odd lanes and two blends per product, 16 operations where this needs 12.
// Four sets of L / 2 counters (ck_s: word k of set s) run interleaved (two at a time where
// vector registers are few, kPhiloxAllSetsAtOnce): one round is a dependency chain of about 7
// cycles (multiply 5, shift 1, xor 1), and independent chains keep the vector ports busy. After
// the rounds, `pack` puts the low halves of two sets into one vector of 32-bit words. The round
// keys come from memory (PhiloxKeys) and the rounds are unrolled.
template <PhiloxOrder kOrder = PhiloxOrder::kBlocks, class DU32, class F>
HWY_INLINE void PhiloxWords(DU32 du32, const PhiloxKeys<DU32>& keys, uint32_t stream, uint64_t first_block,
                            F&& f) {
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
          static_cast<uint32_t>(keys.seed), static_cast<uint32_t>(keys.seed >> 32));
      for (int k = 0; k < 4; ++k) words[k][b] = out.v[k];
    }
    for (size_t h = 0; h < 2; ++h) {
      if constexpr (kOrder == PhiloxOrder::kBlocks) {
        f(h, hn::Load(du32, words[0] + h * L), hn::Load(du32, words[1] + h * L),
          hn::Load(du32, words[2] + h * L), hn::Load(du32, words[3] + h * L));
      } else {
        HWY_ALIGN uint32_t columns[4][hn::MaxLanes(du32)];
        for (size_t k = 0; k < 4; ++k) {
          for (size_t lane = 0; lane < L; ++lane) {
            columns[k][lane] = words[k][h * L + (L / 4) * (lane % 4) + lane / 4];
          }
        }
        f(h, hn::Load(du32, columns[0]), hn::Load(du32, columns[1]), hn::Load(du32, columns[2]),
          hn::Load(du32, columns[3]));
      }
    }
    return;
  }
#if HWY_TARGET != HWY_SCALAR
  const hn::RepartitionToWide<DU32> du64;
  using V64 = hn::Vec<decltype(du64)>;
  const size_t L64 = hn::Lanes(du64);
  const V64 hi = hn::Set(du64, first_block >> 32);
  const V64 st = hn::Set(du64, stream);
  const V64 zero = hn::Zero(du64);
  // kBlocks: set s counts blocks lo + s L64 + lane, and pack concatenates the low words of sets
  // 2h and 2h + 1. kBlockColumns: pack interleaves them (u32 lane 2m from set 2h's 64-bit lane
  // m, 2m + 1 from set 2h + 1's), so 128-bit block q holds lanes 2q and 2q + 1 of both, at
  // positions 0 and 2 (set 2h) and 1 and 3 (set 2h + 1); set 2h's lane 2q + t then counts block
  // q + (L / 2) t and set 2h + 1's the block L / 4 after it (see PhiloxOrder).
  const uint64_t lo = block_lo;
  V64 first_set = hn::Iota(du64, lo), second_set = hn::Iota(du64, lo + L64);
  if constexpr (kOrder == PhiloxOrder::kBlockColumns) {
    const V64 lane = hn::Iota(du64, 0);
    const V64 one = hn::Set(du64, 1);
    const auto odd = hn::Eq(hn::And(lane, one), one);
    first_set = hn::Add(hn::Set(du64, lo), hn::Add(hn::ShiftRight<1>(lane), hn::IfThenElseZero(odd, hn::Set(du64, L / 2))));
    second_set = hn::Add(first_set, hn::Set(du64, L / 4));
  }
  const auto m0 = hn::Set(du32, philox::kMul0);
  const auto m1 = hn::Set(du32, philox::kMul1);
  // Word k of sets 2h and 2h + 1, packed into 32-bit lanes.
  const auto pack = [du32](V64 lower, V64 upper) {
    if constexpr (kOrder == PhiloxOrder::kBlocks) {
      return hn::ConcatEven(du32, hn::BitCast(du32, upper), hn::BitCast(du32, lower));
    } else {
      return hn::OddEven(hn::BitCast(du32, hn::ShiftLeft<32>(upper)), hn::BitCast(du32, lower));
    }
  };
  // Set 2h's and 2h + 1's state is made just before its rounds: where the sets go two at a time,
  // nothing of the second pair then lives across the first pair's callback, whose own work
  // needs the registers (a caller may do all of its per-vector work there).
  const V64 second_half = hn::Set(du64, L);
  if constexpr (kPhiloxAllSetsAtOnce) {
    V64 c0_0 = first_set, c1_0 = hi, c2_0 = st, c3_0 = zero;
    V64 c0_1 = second_set, c1_1 = hi, c2_1 = st, c3_1 = zero;
    V64 c0_2 = hn::Add(first_set, second_half), c1_2 = hi, c2_2 = st, c3_2 = zero;
    V64 c0_3 = hn::Add(second_set, second_half), c1_3 = hi, c2_3 = st, c3_3 = zero;
#pragma GCC unroll 10
    for (int round = 0; round < philox::kRounds; ++round) {
      const V64 k0 = hn::Load(du64, keys.words[round][0]);
      const V64 k1 = hn::Load(du64, keys.words[round][1]);
      PhiloxRound(du32, m0, m1, k0, k1, c0_0, c1_0, c2_0, c3_0);
      PhiloxRound(du32, m0, m1, k0, k1, c0_1, c1_1, c2_1, c3_1);
      PhiloxRound(du32, m0, m1, k0, k1, c0_2, c1_2, c2_2, c3_2);
      PhiloxRound(du32, m0, m1, k0, k1, c0_3, c1_3, c2_3, c3_3);
    }
    f(0, pack(c0_0, c0_1), pack(c1_0, c1_1), pack(c2_0, c2_1), pack(c3_0, c3_1));
    f(1, pack(c0_2, c0_3), pack(c1_2, c1_3), pack(c2_2, c2_3), pack(c3_2, c3_3));
  } else {
    for (size_t h = 0; h < 2; ++h) {
      const V64 offset = h == 0 ? zero : second_half;
      V64 a0 = hn::Add(first_set, offset), a1 = hi, a2 = st, a3 = zero;
      V64 b0 = hn::Add(second_set, offset), b1 = hi, b2 = st, b3 = zero;
#pragma GCC unroll 10
      for (int round = 0; round < philox::kRounds; ++round) {
        const V64 k0 = hn::Load(du64, keys.words[round][0]);
        const V64 k1 = hn::Load(du64, keys.words[round][1]);
        PhiloxRound(du32, m0, m1, k0, k1, a0, a1, a2, a3);
        PhiloxRound(du32, m0, m1, k0, k1, b0, b1, b2, b3);
      }
      f(h, pack(a0, b0), pack(a1, b1), pack(a2, b2), pack(a3, b3));
    }
  }
#endif
}

// out[k] = philox::draw32(seed, stream, 4 * first_block + k) for k < PhiloxDrawsPerCall(du32),
// in element order. `out` needs no alignment.
template <class DU32>
HWY_INLINE void PhiloxDraws32(DU32 du32, const PhiloxKeys<DU32>& keys, uint32_t stream, uint64_t first_block,
                              uint32_t* HWY_RESTRICT out) {
  const size_t L = hn::Lanes(du32);
  using V = hn::Vec<DU32>;
  if constexpr (kPhiloxOrderByTranspose) {
    PhiloxWords<PhiloxOrder::kBlockColumns>(du32, keys, stream, first_block,
                                            [&](size_t h, V w0, V w1, V w2, V w3) IP_INLINE_LAMBDA {
      TransposeWithinBlocks(du32, w0, w1, w2, w3);
      hn::StoreU(w0, du32, out + h * 4 * L);
      hn::StoreU(w1, du32, out + h * 4 * L + L);
      hn::StoreU(w2, du32, out + h * 4 * L + 2 * L);
      hn::StoreU(w3, du32, out + h * 4 * L + 3 * L);
    });
  } else {
    PhiloxWords(du32, keys, stream, first_block, [&](size_t h, V w0, V w1, V w2, V w3) {
      hn::StoreInterleaved4(w0, w1, w2, w3, du32, out + h * 4 * L);
    });
  }
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // IP_CPU_PHILOX_INL_H_
