// The bandwidth targets of the CPU kernels and the pass/fail table kernel_bench prints against
// them (--summary targets): effective bandwidth as a fraction of the copy measured in the same
// run, with a compute-bound calibration that says why a kernel misses.
#pragma once

#include <string>
#include <vector>

#include "experiments/kernel_bench/rows.h"

namespace ip::bench {

// The fraction of copy a kernel of `kind` ("elementwise", "rowwise", "dropout") must reach in
// `direction`: 90% forward and 85% backward (element-wise and dropout), 80% row-wise.
double target_fraction(const std::string& kind, const std::string& direction);
// "90% forward, 85% backward, 80% row-wise" for help texts.
std::string describe_targets();

// Instructions in the inner loop of `function`'s element-wise kernel per vector in `direction` on
// SIMD `target` (load, store and loop control included), as this build compiled it: counted at
// build time by kernels/cpu/opcount (x86 builds with Python). 0 where not counted: row-wise and
// dropout kernels, RReLU's training forward, other builds.
struct LoopInstructions {
  int all = 0, vector = 0;
};
LoopInstructions loop_instructions(const std::string& function, const std::string& direction,
                                   const std::string& target);

// The table over the CPU kernel rows (every size, thread count and SIMD target measured), then
// one line per SIMD target with its count of rows that meet their target. Returns the misses.
int print_targets_summary(const std::vector<KernelRow>& rows, double load_before, double load_after);

}  // namespace ip::bench
