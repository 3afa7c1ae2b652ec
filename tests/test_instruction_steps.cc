// The instruction counter without hardware counters (experiments/common/instruction_steps.h): a
// child runs loops of a known number of instructions between marks and the parent's counts must
// differ by exactly that number.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include <gtest/gtest.h>

#include "experiments/common/instruction_steps.h"

namespace {

// `iterations` turns of a two-instruction loop (decrement, branch back while not zero).
#if defined(__x86_64__)
#define IP_HAVE_COUNTED_LOOP 1
void counted_loop(uint64_t iterations) {
  asm volatile("1: dec %0\n\tjnz 1b" : "+r"(iterations) : : "cc");
}
#elif defined(__aarch64__)
#define IP_HAVE_COUNTED_LOOP 1
void counted_loop(uint64_t iterations) {
  asm volatile("1: subs %0, %0, #1\n\tb.ne 1b" : "+r"(iterations) : : "cc");
}
#endif

#ifdef IP_HAVE_COUNTED_LOOP
// A child that runs the loop iterations[k] times in window k, then exits with `exit_status`; with
// `leave_open`, one more window is opened and never closed. Every window runs the same code, so
// the marks' own instructions are the same in each. Only async-signal-safe calls between fork
// and _exit: the test process may run threads.
pid_t child_with_loops(std::initializer_list<uint64_t> iterations, int exit_status = 0, bool leave_open = false) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  if (!ip::trace_me()) _exit(4);
  for (uint64_t n : iterations) {
    ip::mark();
    counted_loop(n);
    ip::mark();
  }
  if (leave_open) ip::mark();
  _exit(exit_status);
}

TEST(InstructionSteps, CountsExactlyTheInstructionsBetweenMarks) {
  const auto windows = ip::count_marked_windows(child_with_loops({1000, 4000, 1000}));
  if (!windows) GTEST_SKIP() << "this system does not let a process be traced (ptrace)";
  ASSERT_EQ(windows->size(), 3u);
  // The same code on more iterations: 2 instructions per extra turn, the marks' own cancel.
  EXPECT_EQ((*windows)[1] - (*windows)[0], 2u * 3000u);
  EXPECT_EQ((*windows)[2], (*windows)[0]);
  EXPECT_GT((*windows)[0], 2u * 1000u);
}

TEST(InstructionSteps, FailedOrUnfinishedChildrenGiveNoCount) {
  if (!ip::count_marked_windows(child_with_loops({10}))) GTEST_SKIP() << "no ptrace on this system";
  EXPECT_FALSE(ip::count_marked_windows(child_with_loops({10}, 3)).has_value()) << "non-zero exit";
  EXPECT_FALSE(ip::count_marked_windows(child_with_loops({10}, 0, true)).has_value()) << "window left open";
}
#endif

}  // namespace
