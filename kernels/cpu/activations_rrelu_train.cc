// RReLU in train mode on the CPU, as PyTorch's rrelu_with_noise: forward out = x > 0 ? x : x * slope
// and stores the factor it applied, noise = x > 0 ? 1 : slope; backward dx = dy * noise. Element
// i's slope is lower + (upper - lower) * u_i with u_i the project's Philox draw (philox.h, stream
// kRReLUStream) of index i.
//
// The slopes are drawn with the vector Philox (philox-inl.h) and converted in vector registers:
// the draw's 24 bits convert to float exactly and the scale by 2^-24 is exact, so only
// lower + (upper - lower) * u rounds, and it must round exactly as the reference
// (reference_kernels.h: a product, then a sum). GCC contracts a*b+c into an FMA by default in C++
// (-ffp-contract=fast) on the FMA targets, which would change the last bit; contraction is off for
// this file (the reason it is not in activations.cc, whose forms choose their FMAs explicitly).
// Why vector draws: the scalar generator computes one Philox block per element, about 40 times
// slower than eval mode. Backward reads the stored noise instead of drawing again (which would
// cost as much as forward): a memory-bound multiply, the same product bit for bit (dy * 1 is dy).
//
// Layout as in the other kernel files: per-target chunk kernel in HWY_NAMESPACE, OpenMP over fixed
// chunks in HWY_ONCE (OpenMP inside HWY_NAMESPACE crashes clang 14). Draws depend only on the
// element index, so results do not depend on the thread count.
// No FMA contraction anywhere in this file (see above).
#include "kernels/cpu/fp_contract_off.h"  // first: it applies to everything below

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/activations_rrelu_train.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/inline_lambda.h"
#include "kernels/cpu/philox-inl.h"
#include "kernels/cpu/tail-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Forward reads x 4 KiB ahead with a software prefetch, as the element-wise loops
// (activations.cc): ~10 Philox instructions per element between two loads.
constexpr size_t kPrefetchFloats = 1024;

// Forward over elements [begin, begin + n) of x, y and noise (begin a multiple of 4: a Philox
// block boundary); kNoise false stores no noise. Whether to store noise and to stream are
// template parameters: as run-time flags they were three tests and branches per vector.
template <bool kStream, bool kNoise>
HWY_INLINE void RReLUTrainForward(const float* x, float* y, float* noise, size_t begin, size_t n,
                                  float lower, float upper, uint64_t seed) {
  const hn::ScalableTag<float> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::RebindToSigned<decltype(df)> di;
  const size_t L = hn::Lanes(df);
  const size_t per_call = PhiloxDrawsPerCall(du);
  const auto vlower = hn::Set(df, lower);
  const auto vrange = hn::Set(df, upper - lower);  // (upper - lower) in float, as the reference
  const auto scale24 = hn::Set(df, 1.0f / 16777216.0f);
  const auto zero = hn::Zero(df);
  const auto one = hn::Set(df, 1.0f);
  const PhiloxKeys keys(du, seed);
  const size_t end = begin + n;
  using VU = hn::Vec<decltype(du)>;
  // One vector of output and noise from element i (< end) and its elements' draws; `whole`: a
  // std::true_type when all L lanes lie before end.
  const auto rrelu_vector = [&](size_t i, VU draw, auto whole) IP_INLINE_LAMBDA {
    const auto u = hn::Mul(hn::ConvertTo(df, hn::BitCast(di, hn::ShiftRight<8>(draw))), scale24);
    const auto slope = hn::Add(vlower, hn::Mul(vrange, u));
    const size_t count = decltype(whole)::value ? L : std::min(L, end - i);
    const size_t at = i - begin;
    hwy::Prefetch(x + at + kPrefetchFloats);
    const auto vx = count == L ? hn::LoadU(df, x + at) : LoadTail(df, x + at, count);
    const auto positive = hn::Gt(vx, zero);
    const auto out = hn::IfThenElse(positive, vx, hn::Mul(vx, slope));
    if (count == L) {
      StoreMaybeStream(df, out, y + at, kStream);
      if (kNoise) StoreMaybeStream(df, hn::IfThenElse(positive, one, slope), noise + at, kStream);
    } else {
      StoreTail(df, out, y + at, count);
      if (kNoise) StoreTail(df, hn::IfThenElse(positive, one, slope), noise + at, count);
    }
  };
  for (size_t g = begin; g < end; g += per_call) {
    if constexpr (kPhiloxOrderByTranspose) {
      // The draws stay in registers: transposed into element order (as PhiloxDraws32 does) and
      // used while the other half's rounds are still to run.
      PhiloxWords<PhiloxOrder::kBlockColumns>(du, keys, philox::kRReLUStream, g / 4,
                                              [&](size_t h, VU w0, VU w1, VU w2, VU w3) IP_INLINE_LAMBDA {
        const size_t first = g + h * 4 * L;
        if (first >= end) return;
        TransposeWithinBlocks(du, w0, w1, w2, w3);
        if (HWY_LIKELY(end - first >= 4 * L)) {
          rrelu_vector(first, w0, std::true_type());
          rrelu_vector(first + L, w1, std::true_type());
          rrelu_vector(first + 2 * L, w2, std::true_type());
          rrelu_vector(first + 3 * L, w3, std::true_type());
        } else {
          rrelu_vector(first, w0, std::false_type());
          if (first + L < end) rrelu_vector(first + L, w1, std::false_type());
          if (first + 2 * L < end) rrelu_vector(first + 2 * L, w2, std::false_type());
          if (first + 3 * L < end) rrelu_vector(first + 3 * L, w3, std::false_type());
        }
      });
    } else {
      HWY_ALIGN uint32_t draws[8 * 64];  // PhiloxDrawsPerCall on any target
      PhiloxDraws32(du, keys, philox::kRReLUStream, g / 4, draws);
      for (size_t part = 0; part < per_call / L; ++part) {
        const size_t i = g + part * L;
        if (i >= end) break;
        rrelu_vector(i, hn::Load(du, draws + part * L), std::false_type());
      }
    }
  }
  if (kStream) hwy::FlushStream();
}

// noise == nullptr stores no noise.
void RReLUTrainForwardChunk(const float* x, float* y, float* noise, size_t begin, size_t n,
                            float lower, float upper, uint64_t seed, bool stream) {
  if (stream) {
    if (noise) RReLUTrainForward<true, true>(x, y, noise, begin, n, lower, upper, seed);
    else RReLUTrainForward<true, false>(x, y, noise, begin, n, lower, upper, seed);
  } else {
    if (noise) RReLUTrainForward<false, true>(x, y, noise, begin, n, lower, upper, seed);
    else RReLUTrainForward<false, false>(x, y, noise, begin, n, lower, upper, seed);
  }
}

// Backward over n elements: dx = dy * noise.
void RReLUTrainBackwardChunk(const float* noise, const float* dy, float* dx, size_t n, bool stream) {
  const hn::ScalableTag<float> df;
  const size_t L = hn::Lanes(df);
  size_t i = 0;
  for (; i + L <= n; i += L)
    StoreMaybeStream(df, hn::Mul(hn::LoadU(df, dy + i), hn::LoadU(df, noise + i)), dx + i, stream);
  if (i < n) {
    const size_t count = n - i;
    StoreTail(df, hn::Mul(LoadTail(df, dy + i, count), LoadTail(df, noise + i, count)), dx + i, count);
  }
  if (stream) hwy::FlushStream();
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/common/activation_math.h"
#include "kernels/cpu/chunks.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/streaming.h"

namespace ip::cpu {
HWY_EXPORT(RReLUTrainForwardChunk);
HWY_EXPORT(RReLUTrainBackwardChunk);

// Chunks start on Philox block boundaries, so each chunk draws whole blocks.
static_assert(kChunkElements % 4 == 0, "chunks must start on Philox block boundaries");

void rrelu_train_forward(const float* x, float* y, float* noise, size_t n, Params<float> p,
                         uint64_t seed) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(RReLUTrainForwardChunk);
  const bool stream = use_streaming_stores(n * sizeof(float));
  for_each_chunk(n, [&](size_t begin, size_t end) {
    kernel(x + begin, y + begin, noise ? noise + begin : nullptr, begin, end - begin, p.p0, p.p1,
           seed, stream);
  });
}

void rrelu_train_backward(const float* noise, const float* dy, float* dx, size_t n) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(RReLUTrainBackwardChunk);
  const bool stream = use_streaming_stores(n * sizeof(float));
  for_each_chunk(n, [&](size_t begin, size_t end) {
    kernel(noise + begin, dy + begin, dx + begin, end - begin, stream);
  });
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
