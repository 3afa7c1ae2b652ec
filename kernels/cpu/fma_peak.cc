// fma_chains (calibration.h): the FMA throughput of the cores, for kernel_bench's GEMM table.
//
// One FMA chain runs at one FMA per latency (4 cycles on Zen4 and Skylake); a core issues two per
// cycle, so at least 8 independent chains are needed to reach throughput. 12 chains leave margin
// and still fit AVX2's 16 registers with the two constants (no spills). Each step is
// acc = acc * a + b with a just below 1: the values converge to b / (1 - a) and never overflow or
// become subnormal (which would slow some cores down).
#include <cstddef>
#include <cstdint>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/fma_peak.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Returns the floating-point operations done; *sink gets the sum so the loop is not removed.
double FmaChainsOneThread(uint64_t iterations, float* sink) {
  const hn::ScalableTag<float> d;
  const auto a = hn::Set(d, 0.999f), b = hn::Set(d, 1e-3f);
  auto c0 = hn::Set(d, 0.0f), c1 = hn::Set(d, 0.1f), c2 = hn::Set(d, 0.2f), c3 = hn::Set(d, 0.3f);
  auto c4 = hn::Set(d, 0.4f), c5 = hn::Set(d, 0.5f), c6 = hn::Set(d, 0.6f), c7 = hn::Set(d, 0.7f);
  auto c8 = hn::Set(d, 0.8f), c9 = hn::Set(d, 0.9f), c10 = hn::Set(d, 1.0f), c11 = hn::Set(d, 1.1f);
  for (uint64_t i = 0; i < iterations; ++i) {
    c0 = hn::MulAdd(c0, a, b), c1 = hn::MulAdd(c1, a, b), c2 = hn::MulAdd(c2, a, b);
    c3 = hn::MulAdd(c3, a, b), c4 = hn::MulAdd(c4, a, b), c5 = hn::MulAdd(c5, a, b);
    c6 = hn::MulAdd(c6, a, b), c7 = hn::MulAdd(c7, a, b), c8 = hn::MulAdd(c8, a, b);
    c9 = hn::MulAdd(c9, a, b), c10 = hn::MulAdd(c10, a, b), c11 = hn::MulAdd(c11, a, b);
  }
  const auto sum = hn::Add(hn::Add(hn::Add(hn::Add(c0, c1), hn::Add(c2, c3)), hn::Add(hn::Add(c4, c5), c6)),
                           hn::Add(hn::Add(hn::Add(c7, c8), hn::Add(c9, c10)), c11));
  *sink = hn::GetLane(hn::SumOfLanes(d, sum));
  return 2.0 * 12.0 * static_cast<double>(hn::Lanes(d)) * static_cast<double>(iterations);
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu/calibration.h"

namespace ip::cpu {
HWY_EXPORT(FmaChainsOneThread);

double fma_chains(uint64_t iterations) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(FmaChainsOneThread);
  double flops = 0;
#pragma omp parallel reduction(+ : flops)
  {
    float sink;  // written by a call through a dispatch table: the chains cannot be optimised away
    flops += kernel(iterations, &sink);
  }
  return flops;
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
