// Shared by the CPU kernel tests.
#pragma once

#include <string>

#include <omp.h>

#include "kernels/cpu/kernels.h"

namespace ip {

// Pins a SIMD target (or none) for a scope and restores automatic target choice and the OpenMP
// thread count however the test ends, so a failing test cannot leak its settings into the next.
struct CpuDispatchGuard {
  explicit CpuDispatchGuard(const std::string& target = "") {
    if (!target.empty()) cpu::force_target(target);
  }
  ~CpuDispatchGuard() {
    cpu::force_target("auto");
    omp_set_num_threads(threads);
  }
  CpuDispatchGuard(const CpuDispatchGuard&) = delete;
  CpuDispatchGuard& operator=(const CpuDispatchGuard&) = delete;
  int threads = omp_get_max_threads();
};

}  // namespace ip
