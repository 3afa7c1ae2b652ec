// Partial-vector loads and stores for the last (count < Lanes) elements of a row or range.
//
// Why not MaskedLoad/BlendedStore everywhere: in Highway 1.0.3, MaskedLoad on SSE4/SSSE3 is
// IfThenElseZero(m, Load(d, p)) — an aligned full-vector load, which faults on a misaligned p and
// reads past the end of the buffer. AVX2/AVX-512 have real masked loads and stores; the other
// targets go through a small aligned stack buffer.

// Also: a store that streams when asked (StoreMaybeStream); when to ask is streaming.h's rule.

// Per-target include guard (re-included once per target by foreach_target.h).
#if defined(IP_CPU_TAIL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef IP_CPU_TAIL_INL_H_
#undef IP_CPU_TAIL_INL_H_
#else
#define IP_CPU_TAIL_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hwy/cache_control.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define IP_CPU_HAVE_MASKED_MEMORY 1
#else
#define IP_CPU_HAVE_MASKED_MEMORY 0
#endif

// Lanes in the buffers below: the target's widest vector of T, which holds Lanes(d) for every tag
// d. (Highway 1.0.3's MaxLanes(d) does not bound Lanes(d) for fractional tags on SVE2_128: it gives
// 1 for Rebind<float, ScalableTag<double>>, whose vectors have 2 lanes there.)
template <class D>
constexpr size_t TailBufferLanes() {
  return HWY_MAX_BYTES / sizeof(hn::TFromD<D>);
}

// Lanes [0, count) from p, the others zero. count <= Lanes(d).
template <class D>
HWY_INLINE hn::Vec<D> LoadTail(D d, const hn::TFromD<D>* p, size_t count) {
#if IP_CPU_HAVE_MASKED_MEMORY
  return hn::MaskedLoad(hn::FirstN(d, count), d, p);
#else
  HWY_ALIGN hn::TFromD<D> buf[TailBufferLanes<D>()] = {};
  // The bound is the contract already; stated, it also keeps GCC from warning about paths where
  // it cannot prove it (a caller's tail that a one-lane target never reaches).
  std::memcpy(buf, p, std::min(count, TailBufferLanes<D>()) * sizeof(*p));
  return hn::Load(d, buf);
#endif
}

// Writes lanes [0, count) of v to p and nothing beyond. count <= Lanes(d).
template <class D>
HWY_INLINE void StoreTail(D d, hn::Vec<D> v, hn::TFromD<D>* p, size_t count) {
#if IP_CPU_HAVE_MASKED_MEMORY
  hn::BlendedStore(v, hn::FirstN(d, count), d, p);
#else
  HWY_ALIGN hn::TFromD<D> buf[TailBufferLanes<D>()];
  hn::Store(v, d, buf);
  std::memcpy(p, buf, std::min(count, TailBufferLanes<D>()) * sizeof(*p));  // as in LoadTail
#endif
}

#undef IP_CPU_HAVE_MASKED_MEMORY

// Stores a full vector v at p: non-temporal (hn::Stream) when `stream` and p is vector-aligned,
// which Stream requires; a normal store otherwise (the results are the same either way). Callers
// that streamed call hwy::FlushStream() before their output is handed on.
template <class D>
HWY_INLINE void StoreMaybeStream(D d, hn::Vec<D> v, hn::TFromD<D>* p, bool stream) {
  const size_t bytes = hn::Lanes(d) * sizeof(*p);
  if (stream && reinterpret_cast<uintptr_t>(p) % bytes == 0) {
    hn::Stream(v, d, p);
  } else {
    hn::StoreU(v, d, p);
  }
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // IP_CPU_TAIL_INL_H_
