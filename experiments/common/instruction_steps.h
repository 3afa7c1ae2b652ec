// Counting the instructions a piece of code executes without hardware counters: a child process
// runs it while its parent single-steps it with ptrace, one stop per instruction retired. Virtual
// machines rarely expose the CPU's performance counters (perf reports instructions as "not
// supported"); stepping works wherever ptrace does. It is slow (tens of thousands of instructions
// per second in a VM), so it suits small calls, and exact: every instruction counts once, whatever
// its cost.
//
// Protocol: the child calls trace_me() first (it stops until the parent takes over), then
// brackets each stretch to count with two mark() calls; count_marked_windows() in the parent
// returns one count per pair of marks. A count includes a fixed handful of the marks' own
// instructions; the difference of two windows that run the same code on different sizes cancels
// them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace ip {

// Child side. trace_me returns false where this process may not be traced (no ptrace on this
// system, or a seccomp policy forbids it); the child should then exit without marking. A traced
// child should end with _exit: exit-time handlers may not work under a tracer (a sanitizer's
// leak check stops the process's threads with ptrace itself, and fails).
bool trace_me();
void mark();

// Parent side: steps `child` (forked, and calling trace_me then mark) until it exits; the
// instructions between marks 1 and 2, 3 and 4, ... Empty optional when the child could not be
// traced, exited with a non-zero status, was killed, or left a window open.
std::optional<std::vector<std::uint64_t>> count_marked_windows(pid_t child);

}  // namespace ip
