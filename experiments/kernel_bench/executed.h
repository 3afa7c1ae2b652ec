// Instructions per vector that a CPU kernel executes, counted by single-stepping it
// (experiments/common/instruction_steps.h) in a child kernel_bench. For the kernels whose work is
// not one loop that the build can count in its assembly (row-wise passes, dropout's Philox rounds
// between the vectors they decide): the summary's `ins` column for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace ip::bench {

// Executed instructions per vector (of the SIMD target's floats) of one call of `function`'s CPU
// kernel in `direction` on `target`, one thread: the difference between calls on 2 and 4 rows of
// `cols`, so that the per-call work (dispatch, OpenMP, setup) cancels. Empty where the child could
// not be run or traced.
std::optional<double> executed_instructions_per_vector(const std::string& function, const std::string& direction,
                                                       const std::string& target, std::size_t cols, uint64_t seed);

// kernel_bench's main calls this first: when the environment names a kernel to count, this process
// is that child; it runs it and returns the exit status. Otherwise -1.
int run_as_counted_child();

}  // namespace ip::bench
