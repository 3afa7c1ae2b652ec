// Element-wise activation kernels on the CPU: per-target Highway loops over one chunk (below,
// compiled once per target and exported with HWY_EXPORT) and, in the HWY_ONCE part, the public
// entry points of kernels.h, which split the work into fixed chunks for OpenMP and dispatch each
// chunk to the best target. OpenMP stays out of HWY_NAMESPACE (clang 14 crashes on it there).
//
// Results never depend on the thread count: every element gets the same vector code whatever its
// position (tails use masked loads and stores, not a scalar loop), and the one reduction (PReLU's
// weight gradient) sums fixed chunks in a fixed order.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/cpu/streaming.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/activations.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/cpu/activations-inl.h"
#include "kernels/cpu/tail-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Elements before `out + head` is vector-aligned (Stream needs aligned addresses); < lanes.
template <class D>
HWY_INLINE size_t HeadToAlign(D d, const float* out, size_t n) {
  const size_t bytes = hn::Lanes(d) * sizeof(float);
  const size_t misalign = reinterpret_cast<uintptr_t>(out) % bytes;
  const size_t head = misalign == 0 || misalign % sizeof(float) != 0 ? 0 : (bytes - misalign) / sizeof(float);
  return std::min(head, n);
}

// The streamed loops (arrays far beyond the caches) prefetch their inputs 4 KiB ahead. Without
// it the exp/tanh forms ran at 40-70% of a copy at 256 MiB on 2 threads while one thread in L1
// was 2-4x faster than the bandwidth needs: with 20-40 instructions per cache line the hardware
// prefetchers alone presumably kept too few misses in flight (NOTES.md). One prefetch per
// vector: on AVX2 two per line, the second costs an instruction and nothing else.
constexpr size_t kPrefetchFloats = 1024;

// y = f(x) over n elements with the vector form F. With `stream`, the output goes to memory with
// non-temporal stores: a normal store first reads the line it writes (read for ownership), so a
// kernel over arrays far larger than the caches moves 3 bytes per 2 it needs and tops out near
// 2/3 of a copy (glibc's memcpy avoids that read). Only for large arrays (the caller decides):
// streamed data is not in the cache for whoever reads it next. The head before the first aligned
// output goes through the tail path (tail-inl.h): the same vector code, so results are unchanged.
template <class F>
HWY_INLINE void ElementwiseForwardLoop(const float* x, float* y, size_t n, float p0, float p1, bool stream) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto vp0 = hn::Set(d, p0);
  const auto vp1 = hn::Set(d, p1);
  size_t i = 0;
  if (stream) {
    const size_t head = HeadToAlign(d, y, n);
    if (head > 0) StoreTail(d, F::forward(d, LoadTail(d, x, head), vp0, vp1), y, head);
    i = head;
    if (reinterpret_cast<uintptr_t>(y + i) % (lanes * sizeof(float)) == 0) {
      const auto streamed = [&](size_t at) IP_INLINE_LAMBDA {
        hwy::Prefetch(x + at + kPrefetchFloats);
        return F::forward(d, hn::LoadU(d, x + at), vp0, vp1);
      };
      const auto store = [&](hn::Vec<decltype(d)> v, size_t at) IP_INLINE_LAMBDA { hn::Stream(v, d, y + at); };
      i = StepsOfFourVectors(d, i, n, streamed, store);
      for (; i + lanes <= n; i += lanes) store(streamed(i), i);
      hwy::FlushStream();
    }
  }
  const auto cached = [&](size_t at) IP_INLINE_LAMBDA { return F::forward(d, hn::LoadU(d, x + at), vp0, vp1); };
  const auto store = [&](hn::Vec<decltype(d)> v, size_t at) IP_INLINE_LAMBDA { hn::StoreU(v, d, y + at); };
  i = StepsOfFourVectors(d, i, n, cached, store);
  for (; i + lanes <= n; i += lanes) store(cached(i), i);
  if (i < n) {  // the tail runs the same vector code on a partial vector
    StoreTail(d, F::forward(d, LoadTail(d, x + i, n - i), vp0, vp1), y + i, n - i);
  }
}

// dx = dy * f'(x).
template <class F>
HWY_INLINE void ElementwiseBackwardLoop(const float* x, const float* dy, float* dx, size_t n, float p0,
                                        float p1, bool stream) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const auto vp0 = hn::Set(d, p0);
  const auto vp1 = hn::Set(d, p1);
  size_t i = 0;
  if (stream) {  // as in the forward loop
    const size_t head = HeadToAlign(d, dx, n);
    if (head > 0) {
      const auto g = F::derivative(d, LoadTail(d, x, head), vp0, vp1);
      StoreTail(d, hn::Mul(LoadTail(d, dy, head), g), dx, head);
    }
    i = head;
    if (reinterpret_cast<uintptr_t>(dx + i) % (lanes * sizeof(float)) == 0) {
      const auto streamed = [&](size_t at) IP_INLINE_LAMBDA {
        if constexpr (DerivativeReadsX<F>::value) hwy::Prefetch(x + at + kPrefetchFloats);
        hwy::Prefetch(dy + at + kPrefetchFloats);
        return hn::Mul(hn::LoadU(d, dy + at), F::derivative(d, hn::LoadU(d, x + at), vp0, vp1));
      };
      const auto store = [&](hn::Vec<decltype(d)> v, size_t at) IP_INLINE_LAMBDA { hn::Stream(v, d, dx + at); };
      i = StepsOfFourVectors(d, i, n, streamed, store);
      for (; i + lanes <= n; i += lanes) store(streamed(i), i);
      hwy::FlushStream();
    }
  }
  const auto cached = [&](size_t at) IP_INLINE_LAMBDA {
    return hn::Mul(hn::LoadU(d, dy + at), F::derivative(d, hn::LoadU(d, x + at), vp0, vp1));
  };
  const auto store = [&](hn::Vec<decltype(d)> v, size_t at) IP_INLINE_LAMBDA { hn::StoreU(v, d, dx + at); };
  i = StepsOfFourVectors(d, i, n, cached, store);
  for (; i + lanes <= n; i += lanes) store(cached(i), i);
  if (i < n) {
    const auto g = F::derivative(d, LoadTail(d, x + i, n - i), vp0, vp1);
    StoreTail(d, hn::Mul(LoadTail(d, dy + i, n - i), g), dx + i, n - i);
  }
}

// One switch per chunk (not per element) picks the loop instantiated for the row's vector form
// (and, for forms that specialise on their parameters' values, for that variant).
void ActivationForwardChunk(int id, const float* x, float* y, size_t n, float p0, float p1, bool stream) {
  visit_function(static_cast<FunctionId>(id), [&](auto fid) {
    constexpr FunctionId kId = decltype(fid)::value;
    if constexpr (FunctionTraits<kId>::kind == KernelKind::Elementwise) {
      WithForm<typename VecOf<kId>::type>(p0, p1, [&](auto form) {
        ElementwiseForwardLoop<decltype(form)>(x, y, n, p0, p1, stream);
      });
    }
  });
}

void ActivationBackwardChunk(int id, const float* x, const float* dy, float* dx, size_t n, float p0,
                             float p1, bool stream) {
  visit_function(static_cast<FunctionId>(id), [&](auto fid) {
    constexpr FunctionId kId = decltype(fid)::value;
    if constexpr (FunctionTraits<kId>::kind == KernelKind::Elementwise) {
      WithForm<typename VecOf<kId>::type>(p0, p1, [&](auto form) {
        ElementwiseBackwardLoop<decltype(form)>(x, dy, dx, n, p0, p1, stream);
      });
    }
  });
}

// sum of dy * (x > 0 ? 0 : x) over one chunk, products and sums in double (float lanes promoted).
double PReLUWeightGradChunk(const float* x, const float* dy, size_t n) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;  // as many float lanes as double lanes
  const size_t lanes = hn::Lanes(dd);
  auto acc0 = hn::Zero(dd);
  auto acc1 = hn::Zero(dd);  // two chains hide the add latency
  const auto weight_derivative = [&](auto vx) {  // PReLU::weight_derivative: x > 0 ? 0 : x
    return hn::PromoteTo(dd, hn::IfThenZeroElse(hn::Gt(vx, hn::Zero(df)), vx));
  };
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    acc0 = hn::MulAdd(hn::PromoteTo(dd, hn::LoadU(df, dy + i)), weight_derivative(hn::LoadU(df, x + i)), acc0);
    acc1 = hn::MulAdd(hn::PromoteTo(dd, hn::LoadU(df, dy + i + lanes)),
                      weight_derivative(hn::LoadU(df, x + i + lanes)), acc1);
  }
  for (; i < n; i += lanes) {  // at most two partial steps; padding lanes are 0 * 0
    const size_t count = std::min(lanes, n - i);
    acc0 = hn::MulAdd(hn::PromoteTo(dd, LoadTail(df, dy + i, count)),
                      weight_derivative(LoadTail(df, x + i, count)), acc0);
  }
  return hn::GetLane(hn::SumOfLanes(dd, hn::Add(acc0, acc1)));
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu/chunks.h"
#include "kernels/cpu/kernels.h"

namespace ip::cpu {
HWY_EXPORT(ActivationForwardChunk);
HWY_EXPORT(ActivationBackwardChunk);
HWY_EXPORT(PReLUWeightGradChunk);

namespace {

void require_elementwise(FunctionId id) {
  const FunctionInfo& info = function_info(id);
  if (info.kind != KernelKind::Elementwise) {
    throw std::invalid_argument(std::string(info.name) + " is not an element-wise function");
  }
}

}  // namespace

void activation_forward(FunctionId id, const float* x, float* y, size_t n, Params<float> p) {
  require_elementwise(id);
  const auto kernel = HWY_DYNAMIC_DISPATCH(ActivationForwardChunk);
  const bool stream = use_streaming_stores(n * sizeof(float));
  for_each_chunk(n, [&](size_t begin, size_t end) {
    kernel(static_cast<int>(id), x + begin, y + begin, end - begin, p.p0, p.p1, stream);
  });
}

void activation_backward(FunctionId id, const float* x, const float* dy, float* dx, size_t n,
                         Params<float> p) {
  require_elementwise(id);
  const auto kernel = HWY_DYNAMIC_DISPATCH(ActivationBackwardChunk);
  const bool stream = use_streaming_stores(n * sizeof(float));
  for_each_chunk(n, [&](size_t begin, size_t end) {
    kernel(static_cast<int>(id), x + begin, dy + begin, dx + begin, end - begin, p.p0, p.p1,
           stream);
  });
}

double prelu_weight_grad(const float* x, const float* dy, size_t n) {
  // Fixed chunks, one partial per chunk, combined in chunk order: the same sum for any thread count.
  std::vector<double> partial(chunk_count(n), 0.0);
  const auto kernel = HWY_DYNAMIC_DISPATCH(PReLUWeightGradChunk);
  for_each_chunk(n, [&](size_t begin, size_t end) {
    partial[begin / kChunkElements] = kernel(x + begin, dy + begin, end - begin);
  });
  double sum = 0.0;
  for (double s : partial) sum += s;
  return sum;
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
