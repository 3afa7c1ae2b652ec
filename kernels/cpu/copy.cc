// vector_copy (calibration.h): the benchmarks' copy reference, written like the element-wise
// kernels (Highway per target in HWY_NAMESPACE, OpenMP over fixed chunks in HWY_ONCE, streaming
// stores by the same rule, streaming.h).
//
// Why not memcpy alone: on a 2-core Zen 4 VM, glibc's memcpy (one call per thread,
// 256 MiB) moved 23 GB/s while ReLU, which streams its output (activations.cc), moved 40-62 GB/s,
// so "fraction of copy" read 150-270%. A copy written the way our kernels are is the fair
// reference; kernel_bench measures both and takes the faster.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/copy.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/cpu/tail-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Streaming stores need vector-aligned addresses: a partial vector first brings y to alignment
// (x may stay misaligned: loads are unaligned), then whole vectors, then the tail.
void VectorCopyChunk(const float* x, float* y, size_t n, bool stream) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  if (stream) {
    const size_t misalign = reinterpret_cast<uintptr_t>(y) % (lanes * sizeof(float));
    if (misalign != 0 && misalign % sizeof(float) == 0) {
      i = std::min(n, lanes - misalign / sizeof(float));
      StoreTail(d, LoadTail(d, x, i), y, i);
    }
    if (reinterpret_cast<uintptr_t>(y + i) % (lanes * sizeof(float)) == 0) {
      for (; i + lanes <= n; i += lanes) hn::Stream(hn::LoadU(d, x + i), d, y + i);
      hwy::FlushStream();
    }
  }
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::LoadU(d, x + i), d, y + i);
  if (i < n) StoreTail(d, LoadTail(d, x + i, n - i), y + i, n - i);
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu/calibration.h"
#include "kernels/cpu/chunks.h"
#include "kernels/cpu/streaming.h"

namespace ip::cpu {
HWY_EXPORT(VectorCopyChunk);

void vector_copy(const float* x, float* y, size_t n) {
  // The element-wise kernels' chunks: the same work split over the same threads.
  const auto kernel = HWY_DYNAMIC_DISPATCH(VectorCopyChunk);
  const bool stream = use_streaming_stores(n * sizeof(float));
  for_each_chunk(n, [&](size_t begin, size_t end) {
    kernel(x + begin, y + begin, end - begin, stream);
  });
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
