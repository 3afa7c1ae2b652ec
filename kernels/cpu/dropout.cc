// Train-mode dropout (Dropout, Dropout2d, Dropout3d, AlphaDropout) over a (rows, cols) input.
//
// Every variant is y = keep ? x * scale + offset : x * 0 + dropped_value, dx = keep ? dy * scale : 0
// with the constants of dropout_constants() and keep decided by the project's Philox draw
// (philox.h) of the element index, or of the row index for Dropout3d (by_row). Forward stores the
// keep decisions as a bit mask (kernels/common/dropout_mask.h: a bit per element, or per row for
// Dropout3d); backward reads that mask instead of drawing again. The results are bit-identical
// to reference::dropout_forward/backward (which draw from the seed in both directions): the draws
// are exact integers and the arithmetic is the same two float operations in the same order. That
// needs a*b+c NOT to be contracted into an FMA, which GCC does by default in C++
// (-ffp-contract=fast) on the AVX2 and AVX-512 targets; AlphaDropout's kept values (x*a + b) then
// differed from the reference in the last bit. Contraction is switched off for this file below.
//
// Cost: forward's mask draw dominates (10 Philox rounds per 4 elements). The vector Philox runs
// 2 L blocks per call (L 32-bit lanes); every block feeds four consecutive elements. Backward
// reads 1 mask bit per element and is a masked scaled copy.
//
// Layout of this file: per-target kernels over an index range in HWY_NAMESPACE; OpenMP over
// fixed chunks in HWY_ONCE, dispatching per chunk (OpenMP inside HWY_NAMESPACE crashes clang 14).
// Chunk boundaries depend only on n, never on the thread count, and the draws only on the index,
// so the output does not depend on the thread count either. Chunks start on multiples of 32 mask
// units, so every mask word is written by one chunk (one thread) only.
// No FMA contraction anywhere in this file (see above).
#include "kernels/cpu/fp_contract_off.h"  // first: it applies to everything below

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/dropout.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/inline_lambda.h"
#include "kernels/cpu/philox-inl.h"
#include "kernels/cpu/tail-inl.h"

// Bit i of a byte moved to bit 4 i (SpreadKeepBits). Defined once: this file is compiled once per
// SIMD target.
#ifndef IP_KERNELS_CPU_DROPOUT_NIBBLE_TABLE
#define IP_KERNELS_CPU_DROPOUT_NIBBLE_TABLE
namespace ip::cpu {
struct BitsToNibbles {
  uint32_t spread[256];
  constexpr BitsToNibbles() : spread() {
    for (uint32_t byte = 0; byte < 256; ++byte) {
      for (uint32_t bit = 0; bit < 8; ++bit) spread[byte] |= ((byte >> bit) & 1u) << (4 * bit);
    }
  }
  constexpr uint32_t operator[](size_t byte) const { return spread[byte]; }
};
inline constexpr BitsToNibbles kBitsToNibbles;
}  // namespace ip::cpu
#endif

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The most draws one PhiloxDraws32 call can make on any target (8 per 32-bit lane; AVX-512 has 16
// lanes; allow for wider vectors elsewhere).
constexpr size_t kMaxDrawsPerCall = 8 * 64;

// Forward reads its input 4 KiB ahead with a software prefetch: ~10 Philox instructions per
// element leave the hardware prefetchers alone too few misses in flight at sizes far beyond the
// caches (as the element-wise activations, activations.cc). The element-wise forward asks for
// its output lines 4 KiB ahead too where its stores are not streamed (below): each line is then
// read before it is written, and without the request that read came when the burst of stores did.
// The streamed loops (backward, and Dropout3d's forward) prefetch their input too, though they
// are short: at 256 MiB on 2 threads of a Zen 1 VM they ran at 83-93% of a copy without it and
// at 90-104% with it (NOTES.md).
constexpr size_t kPrefetchFloats = 1024;

// Element-wise masks take vectors of at most 16 lanes: a Philox call's 4 L keep bits per half then
// fill at most one 64-bit word (SpreadKeepBits) and a vector's L bits at most one 32-bit mask word
// (LoadKeep). That is the whole vector on every x86 target; SVE vectors wider than 512 bits run
// partly empty.
using DElements = hn::CappedTag<float, 16>;

// One vector of dropout output from a vector of inputs and the keep mask of its lanes.
// kMayAdd false: the caller knows offset and dropped_value are 0 (every variant but AlphaDropout),
// and the loop carries no test of them.
template <bool kBackward, bool kMayAdd = true, class D, class M>
HWY_INLINE hn::Vec<D> DropoutVec(D d, hn::Vec<D> v, M keep, const DropoutConstants& c) {
  const auto scale = hn::Set(d, c.scale);
  if constexpr (kBackward) {
    return hn::IfThenElseZero(keep, hn::Mul(v, scale));
  } else {
    // Both branches as dropout_apply computes them: (x * scale) + offset and (x * 0) +
    // dropped_value, each addition skipped when its constant is 0 (that keeps -0, as PyTorch's
    // product does), so -0, inf and NaN come out exactly as there. The tests on the constants
    // are uniform across the whole call and predict perfectly.
    auto kept = hn::Mul(v, scale);
    if (kMayAdd && c.offset != 0.0f) kept = hn::Add(kept, hn::Set(d, c.offset));
    auto dropped = hn::Mul(v, hn::Zero(d));
    if (kMayAdd && c.dropped_value != 0.0f) dropped = hn::Add(dropped, hn::Set(d, c.dropped_value));
    return hn::IfThenElse(keep, kept, dropped);
  }
}

// The mask bits of a vector's L <= 64 lanes, lane j at bit j, and a mask from such bits (zero
// past lane L). An AVX-512 mask is a register of these bits, one move either way; through
// memory, as Highway 1.0.3's StoreMaskBits and LoadMaskBits go, GCC rebuilt each value a byte at
// a time (4-6 instructions per conversion in the forward's AVX-512 loop).
template <class D>
HWY_INLINE uint64_t MaskBits(D d, hn::Mask<D> m) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  (void)d;
  return static_cast<uint64_t>(m.raw);
#else
  uint8_t bytes[8] = {};
  hn::StoreMaskBits(d, m, bytes);
  uint64_t bits = 0;
  for (size_t b = 0; b < (hn::Lanes(d) + 7) / 8; ++b) bits |= uint64_t{bytes[b]} << (8 * b);
  return bits;
#endif
}

template <class D>
HWY_INLINE hn::Mask<D> MaskFromBits(D d, uint64_t bits) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  (void)d;
  hn::Mask<D> m;
  m.raw = static_cast<decltype(m.raw)>(bits);
  return m;
#else
  uint8_t bytes[8];
  for (size_t b = 0; b < 8; ++b) bytes[b] = static_cast<uint8_t>(bits >> (8 * b));
  return hn::LoadMaskBits(d, bytes);
#endif
}

// Keep bits of L consecutive blocks' word k (bit j = block j), spread so that bit j lands on bit
// 4 j + k: the bit of element 4 j + k in element order. L <= 16, so 4 L bits fit in 64.
// AVX-512 CPUs deposit the bits with BMI2's pdep, one instruction; elsewhere a table spreads a
// byte at a time: AMD before Zen 3 (AVX2 only) runs pdep in microcode, tens of cycles each,
// which made the forward 2.2x slower there.
template <class D>
HWY_INLINE uint64_t SpreadKeepBits(D d, hn::Mask<D> m, int k) {
  const uint64_t bits = MaskBits(d, m);
#if HWY_ARCH_X86_64 && HWY_TARGET <= HWY_AVX3
  return _pdep_u64(bits, uint64_t{0x1111111111111111} << k);
#else
  uint64_t spread = 0;
  for (size_t b = 0; b < (hn::Lanes(d) + 7) / 8; ++b) {
    spread |= uint64_t{kBitsToNibbles[static_cast<uint8_t>(bits >> (8 * b))]} << (32 * b);
  }
  return spread << k;
#endif
}

// The element-wise forward streams outputs of 64 MiB and more (streaming.h's rule: no read of
// each line before it is written) on AVX-512 only, where the bursts of stores after each Philox
// call are short: at 256 MiB on 2 threads of a Zen 5 VM 0.89-0.94x the time of normal stores
// with the output prefetched, on an Intel AVX-512 VM ~5% faster (an older Zen 4 measurement,
// of longer rounds, had them slower); with AVX2's longer rounds between the bursts 1.04-1.07x
// slower on Zen 5 and no faster on Intel (NOTES.md).
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr bool kStreamElementsForward = true;
#else
constexpr bool kStreamElementsForward = false;
#endif

// Element-wise masks (Dropout, Dropout2d and AlphaDropout on 2-D input), forward: elements
// [begin, end) of in/out, begin a multiple of 32 (a Philox block boundary and a mask word
// boundary). in may equal out. Writes mask words begin / 32 .. (end + 31) / 32 - 1, the bits past
// `end` in the last one 0.
//
// The keep decisions are made on the Philox words as they come out of the rounds (word k of L
// blocks per vector), four compares per 4 L elements, and put into element order one of two
// ways (kPhiloxOrderByTranspose): below AVX-512 the four decision vectors are transposed within
// 128-bit blocks (the words in PhiloxOrder::kBlockColumns) and each is the blend mask of L
// consecutive elements, while the half of the call's words is still in registers; elsewhere
// their bits are interleaved into element order as plain integer bits (SpreadKeepBits: one pdep
// per word on AVX-512) and each vector's mask is loaded from its L bits. Either way the
// element-order bits are also the stored mask: one or two 32-bit stores per 4 L elements
// (L >= 8), or a word assembled from 32 / 4L pieces. kStream: full vectors go out with
// non-temporal stores (kStreamElementsForward says where), out then vector-aligned.
// c by value: a local copy that the output stores cannot alias, so its fields stay in registers
// and DropoutVec's tests on them are loop-invariant (with a reference, every store could change
// c.offset and forced reloads; measured ~12% slower on L2-resident arrays).
template <bool kMayAdd, bool kStream>
HWY_INLINE void DropoutElementsForward(const DropoutConstants c, const float* in, float* out,
                                       uint32_t* mask, size_t begin, size_t end, uint64_t seed) {
  const DElements df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t L = hn::Lanes(df);
  // The 24-bit draws and keep_below (<= 2^24) both fit in int32, so a signed compare suffices
  // (Highway 1.0.3 lacks unsigned comparisons on some targets).
  const auto keep_below = hn::Set(di, static_cast<int32_t>(c.keep_below));
  const uint64_t lane_bits = L >= 64 ? ~uint64_t{0} : (uint64_t{1} << L) - 1;
  const size_t per_call = PhiloxDrawsPerCall(du);
  const size_t half_bits = 4 * L;  // elements (mask bits) per half of a call; <= 64
  uint32_t pending = 0;            // half_bits < 32: the mask word being assembled
  const PhiloxKeys keys(du, seed);
  using VU = hn::Vec<decltype(du)>;
  // Word k's keep decisions (draw >> 8 < keep_below per lane), spread into element order.
  const auto word_keep_bits = [&](VU w, int k) {
    return SpreadKeepBits(di, hn::Lt(hn::BitCast(di, hn::ShiftRight<8>(w)), keep_below), k);
  };
  // The mask bits of the half of a call that starts at element `first` (a multiple of 4 L).
  const auto store_mask = [&](size_t first, uint64_t keep_bits) {
    const size_t valid = std::min(half_bits, end - first);
    const uint64_t stored = valid >= 64 ? keep_bits : keep_bits & ((uint64_t{1} << valid) - 1);
    if (half_bits >= 32) {  // first is a multiple of 32: whole words
      mask[first / 32] = static_cast<uint32_t>(stored);
      if (valid > 32) mask[first / 32 + 1] = static_cast<uint32_t>(stored >> 32);
    } else {
      pending |= static_cast<uint32_t>(stored) << (first % 32);
      if ((first + half_bits) % 32 == 0 || first + valid == end) {
        mask[first / 32] = pending;
        pending = 0;
      }
    }
  };
  // A whole vector of output: streamed (kStream, every such store vector-aligned) or not.
  const auto store_out = [df](hn::Vec<DElements> v, float* p) IP_INLINE_LAMBDA {
    if constexpr (kStream) {
      hn::Stream(v, df, p);
    } else {
      hn::StoreU(v, df, p);
    }
  };
  // One vector of output from element i (< end) and its keep mask. Always inlined: as a call in
  // the last half's path, the registers saved around it cost the whole halves too (6 more
  // instructions per vector executed on AVX2).
  const auto apply = [&](size_t i, hn::Mask<DElements> keep) IP_INLINE_LAMBDA {
    if (HWY_LIKELY(end - i >= L)) {
      hwy::Prefetch(in + i + kPrefetchFloats);
      if constexpr (!kStream) hwy::Prefetch(out + i + kPrefetchFloats);
      store_out(DropoutVec<false, kMayAdd>(df, hn::LoadU(df, in + i), keep, c), out + i);
    } else {
      const size_t count = end - i;
      StoreTail(df, DropoutVec<false, kMayAdd>(df, LoadTail(df, in + i, count), keep, c), out + i, count);
    }
  };
  for (size_t g = begin; g < end; g += per_call) {
    if constexpr (kPhiloxOrderByTranspose) {
      // Draws in element order after the transposes: keep vector e decides elements first + e L.
      PhiloxWords<PhiloxOrder::kBlockColumns>(du, keys, philox::kDropoutStream, g / 4,
                                              [&](size_t h, VU w0, VU w1, VU w2, VU w3) IP_INLINE_LAMBDA {
        const size_t first = g + h * half_bits;
        if (first >= end) return;
        const auto keep_lanes = [&](VU w) {
          return hn::BitCast(du, hn::VecFromMask(di, hn::Lt(hn::BitCast(di, hn::ShiftRight<8>(w)), keep_below)));
        };
        VU k0 = keep_lanes(w0), k1 = keep_lanes(w1), k2 = keep_lanes(w2), k3 = keep_lanes(w3);
        TransposeWithinBlocks(du, k0, k1, k2, k3);
        uint64_t keep_bits = 0;
        // Vector e of the half. In a whole half (all four vectors before `end`, every half but
        // the last) no vector tests for the end, and input and output are asked for once per
        // 64-byte line rather than once per vector.
        const auto vector_e = [&](auto whole, size_t e, VU k) IP_INLINE_LAMBDA {
          constexpr bool kWhole = decltype(whole)::value;
          const size_t i = first + e * L;
          if (!kWhole && i >= end) return;
          const auto keep = hn::MaskFromVec(hn::BitCast(df, k));
          keep_bits |= MaskBits(df, keep) << (e * L);
          if constexpr (kWhole) {
            if (e * L * sizeof(float) % 64 == 0) {
              hwy::Prefetch(in + i + kPrefetchFloats);
              if constexpr (!kStream) hwy::Prefetch(out + i + kPrefetchFloats);
            }
            store_out(DropoutVec<false, kMayAdd>(df, hn::LoadU(df, in + i), keep, c), out + i);
          } else {
            apply(i, keep);
          }
        };
        const auto four_vectors = [&](auto whole) IP_INLINE_LAMBDA {
          vector_e(whole, 0, k0);
          vector_e(whole, 1, k1);
          vector_e(whole, 2, k2);
          vector_e(whole, 3, k3);
        };
        if (HWY_LIKELY(end - first >= half_bits)) {
          four_vectors(std::true_type());
        } else {
          four_vectors(std::false_type());
        }
        store_mask(first, keep_bits);
      });
    } else {
      uint64_t half_keep_bits[2];  // bit e: keep element g + h * half_bits + e
      PhiloxWords(du, keys, philox::kDropoutStream, g / 4, [&](size_t h, VU w0, VU w1, VU w2, VU w3) {
        half_keep_bits[h] = word_keep_bits(w0, 0) | word_keep_bits(w1, 1) | word_keep_bits(w2, 2) |
                            word_keep_bits(w3, 3);
      });
      for (size_t h = 0; h < 2; ++h) {
        const size_t first = g + h * half_bits;
        if (first >= end) break;
        const uint64_t keep_bits = half_keep_bits[h];
        store_mask(first, keep_bits);
        for (size_t e = 0; e < 4; ++e) {
          const size_t i = first + e * L;
          if (i >= end) break;
          apply(i, MaskFromBits(df, (keep_bits >> (e * L)) & lane_bits));
        }
      }
    }
  }
}

// Keep mask of the L elements from element i (i a multiple of L, L <= 32) out of the stored bits.
template <class D>
HWY_INLINE hn::Mask<D> LoadKeep(D d, const uint32_t* mask, size_t i) {
  const size_t L = hn::Lanes(d);
  const uint32_t lane_bits = L >= 32 ? ~uint32_t{0} : (uint32_t{1} << L) - 1;
  return MaskFromBits(d, (mask[i / 32] >> (i % 32)) & lane_bits);
}

// Element-wise masks, backward from the stored mask: elements [begin, end), begin a multiple of
// 32. dx = keep ? dy * scale : 0, one vector stored per vector loaded, so with `stream` full
// vectors go out with non-temporal stores (StoreMaybeStream).
HWY_INLINE void DropoutElementsBackward(const DropoutConstants c, const float* in, float* out,
                                        const uint32_t* mask, size_t begin, size_t end,
                                        bool stream) {
  const DElements df;
  const size_t L = hn::Lanes(df);
  size_t i = begin;
  for (; i + L <= end; i += L) {
    if (stream) hwy::Prefetch(in + i + kPrefetchFloats);
    const auto keep = LoadKeep(df, mask, i);
    StoreMaybeStream(df, DropoutVec<true>(df, hn::LoadU(df, in + i), keep, c), out + i, stream);
  }
  if (i < end) {
    const size_t count = end - i;
    const auto keep = LoadKeep(df, mask, i);
    StoreTail(df, DropoutVec<true>(df, LoadTail(df, in + i, count), keep, c), out + i, count);
  }
  if (stream) hwy::FlushStream();
}

// Row masks (Dropout3d on 2-D input): rows [row_begin, row_end), row_begin a multiple of 32.
// Forward draws once per row index and stores a bit per row; backward reads the bit. With
// `stream`, full vectors go to memory with non-temporal stores (StoreMaybeStream).
template <bool kBackward>
HWY_INLINE void DropoutRows(const DropoutConstants c, const float* in, float* out,
                            const uint32_t* mask_in, uint32_t* mask_out, size_t row_begin,
                            size_t row_end, size_t cols, uint64_t seed, bool stream) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const size_t L = hn::Lanes(df);
  const size_t per_call = PhiloxDrawsPerCall(du);
  HWY_ALIGN uint32_t draws[kMaxDrawsPerCall];
  const PhiloxKeys keys(du, seed);
  size_t window = 0;  // draws[k] is the draw of row index window + k
  bool have_window = false;
  uint32_t word = 0;  // forward: the mask word of rows r & ~31 .. r
  for (size_t r = row_begin; r < row_end; ++r) {
    bool keep_row;
    if constexpr (kBackward) {
      keep_row = (mask_in[r / 32] >> (r % 32)) & 1u;
    } else {
      if (!have_window || r - window >= per_call) {
        window = r & ~size_t{3};
        PhiloxDraws32(du, keys, philox::kDropoutStream, window / 4, draws);
        have_window = true;
      }
      keep_row = (draws[r - window] >> 8) < c.keep_below;
      word |= static_cast<uint32_t>(keep_row) << (r % 32);
      if (r % 32 == 31 || r + 1 == row_end) {
        mask_out[r / 32] = word;
        word = 0;
      }
    }
    const auto keep = keep_row ? hn::FirstN(df, L) : hn::FirstN(df, 0);
    const float* x = in + r * cols;
    float* y = out + r * cols;
    size_t i = 0;
    for (; i + L <= cols; i += L) {
      if (stream) hwy::Prefetch(x + i + kPrefetchFloats);
      StoreMaybeStream(df, DropoutVec<kBackward>(df, hn::LoadU(df, x + i), keep, c), y + i, stream);
    }
    if (i < cols) {
      const size_t count = cols - i;
      StoreTail(df, DropoutVec<kBackward>(df, LoadTail(df, x + i, count), keep, c), y + i, count);
    }
  }
  if (stream) hwy::FlushStream();
}

// Exported entry points (HWY_EXPORT takes only non-template functions).
void DropoutForwardElements(const DropoutConstants* c, const float* x, float* y, uint32_t* mask,
                            size_t begin, size_t end, uint64_t seed, bool large_output) {
  const bool may_add = c->offset != 0.0f || c->dropped_value != 0.0f;
  // Every vector the loop stores is as aligned as y (begin and each vector's first element are
  // multiples of 16 floats): streamed whole, or not at all.
  if (kStreamElementsForward && large_output && reinterpret_cast<uintptr_t>(y) % 64 == 0) {
    if (may_add) {
      DropoutElementsForward<true, kStreamElementsForward>(*c, x, y, mask, begin, end, seed);
    } else {
      DropoutElementsForward<false, kStreamElementsForward>(*c, x, y, mask, begin, end, seed);
    }
    hwy::FlushStream();
  } else if (may_add) {
    DropoutElementsForward<true, false>(*c, x, y, mask, begin, end, seed);
  } else {
    DropoutElementsForward<false, false>(*c, x, y, mask, begin, end, seed);
  }
}
void DropoutBackwardElements(const DropoutConstants* c, const float* dy, float* dx,
                             const uint32_t* mask, size_t begin, size_t end, bool stream) {
  DropoutElementsBackward(*c, dy, dx, mask, begin, end, stream);
}
void DropoutForwardRows(const DropoutConstants* c, const float* x, float* y, uint32_t* mask,
                        size_t row_begin, size_t row_end, size_t cols, uint64_t seed,
                        bool stream) {
  DropoutRows<false>(*c, x, y, nullptr, mask, row_begin, row_end, cols, seed, stream);
}
void DropoutBackwardRows(const DropoutConstants* c, const float* dy, float* dx,
                         const uint32_t* mask, size_t row_begin, size_t row_end, size_t cols,
                         bool stream) {
  DropoutRows<true>(*c, dy, dx, mask, nullptr, row_begin, row_end, cols, 0, stream);
}

// Any index range, any start: whole vector-Philox calls, copying the part inside the range.
void PhiloxDrawsRange(uint64_t seed, uint32_t stream, uint64_t first_index, size_t n,
                      uint32_t* out) {
  const hn::ScalableTag<uint32_t> du;
  const size_t per_call = PhiloxDrawsPerCall(du);
  HWY_ALIGN uint32_t draws[kMaxDrawsPerCall];
  const PhiloxKeys keys(du, seed);
  size_t done = 0;
  while (done < n) {
    const uint64_t index = first_index + done;
    const uint64_t window = index & ~uint64_t{3};
    PhiloxDraws32(du, keys, stream, window / 4, draws);
    const size_t skip = static_cast<size_t>(index - window);
    const size_t take = std::min(per_call - skip, n - done);
    std::memcpy(out + done, draws + skip, take * sizeof(uint32_t));
    done += take;
  }
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu/chunks.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/philox_draws.h"
#include "kernels/cpu/streaming.h"

namespace ip::cpu {
HWY_EXPORT(DropoutForwardElements);
HWY_EXPORT(DropoutBackwardElements);
HWY_EXPORT(DropoutForwardRows);
HWY_EXPORT(DropoutBackwardRows);
HWY_EXPORT(PhiloxDrawsRange);

namespace {

// Element chunks start on a Philox block boundary and on a whole draw batch of every target (no
// draws are wasted between chunks), and no two chunks share a mask word.
static_assert(kChunkElements % (8 * 64) == 0, "chunks must start on Philox block boundaries");
static_assert(kChunkElements % 32 == 0, "chunks must start on mask word boundaries");

// Row-mask chunks: whole mask words of rows (32 rows, a bit each), about kChunkElements
// elements. With very wide rows a chunk is still 32 rows: a word of the mask must have one
// writer, and such inputs are large enough that 32-row chunks still spread over threads unless
// rows < 64.
size_t rows_per_chunk(size_t cols) {
  const size_t rows = std::max<size_t>(1, kChunkElements / cols);
  return (rows + 31) / 32 * 32;
}

}  // namespace

void dropout_forward(FunctionId id, const float* x, float* y, uint32_t* mask, size_t rows,
                     size_t cols, float p, uint64_t seed) {
  // Throws std::invalid_argument for a non-dropout id or p outside [0, 1].
  const DropoutConstants c = dropout_constants(id, static_cast<double>(p));
  const size_t n = rows * cols;
  if (n == 0) return;
  const bool stream = use_streaming_stores(n * sizeof(float));
  if (!c.by_row) {
    for_each_chunk(n, [&](size_t begin, size_t end) {
      HWY_DYNAMIC_DISPATCH(DropoutForwardElements)(&c, x, y, mask, begin, end, seed, stream);
    });
  } else {
    for_each_chunk(rows, rows_per_chunk(cols), [&](size_t begin, size_t end) {
      HWY_DYNAMIC_DISPATCH(DropoutForwardRows)(&c, x, y, mask, begin, end, cols, seed, stream);
    });
  }
}

void dropout_backward(FunctionId id, const float* dy, float* dx, const uint32_t* mask,
                      size_t rows, size_t cols, float p) {
  const DropoutConstants c = dropout_constants(id, static_cast<double>(p));
  const size_t n = rows * cols;
  if (n == 0) return;
  const bool stream = use_streaming_stores(n * sizeof(float));
  if (!c.by_row) {
    for_each_chunk(n, [&](size_t begin, size_t end) {
      HWY_DYNAMIC_DISPATCH(DropoutBackwardElements)(&c, dy, dx, mask, begin, end, stream);
    });
  } else {
    for_each_chunk(rows, rows_per_chunk(cols), [&](size_t begin, size_t end) {
      HWY_DYNAMIC_DISPATCH(DropoutBackwardRows)(&c, dy, dx, mask, begin, end, cols, stream);
    });
  }
}

void philox_draws32(uint64_t seed, uint32_t stream, uint64_t first_index, size_t n,
                    uint32_t* out) {
  if (n == 0) return;
  HWY_DYNAMIC_DISPATCH(PhiloxDrawsRange)(seed, stream, first_index, n, out);
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
