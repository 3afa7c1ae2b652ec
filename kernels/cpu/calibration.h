// Reference kernels that say what the machine allows, for the benchmarks (kernel_bench): the
// fastest copy we can write and the FMA throughput of the cores. The engine does not use them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ip::cpu {

// y = x written like the element-wise kernels: Highway loads and stores, OpenMP over the same
// fixed chunks, and non-temporal (streaming) stores exactly when they stream (streaming.h). The
// copy an element-wise kernel is up against: its instructions minus the arithmetic. Any alignment
// and size; x and y must not overlap.
void vector_copy(const float* x, float* y, size_t n);

// Runs `iterations` steps of independent FMA chains on every OpenMP thread (enough chains to hide
// the FMA latency, so the loop runs at the FMA units' throughput) and returns the floating-point
// operations done (2 per lane per FMA, all threads). Time it to get the machine's FMA peak.
double fma_chains(uint64_t iterations);

}  // namespace ip::cpu
