#include "experiments/common/instruction_steps.h"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ip {

namespace {

// The marks are signals the tracer sees and swallows: the child needs no handler, and a stray
// SIGUSR2 from elsewhere would be passed on (and end the child) rather than read as a mark.
constexpr int kMarkSignal = SIGUSR2;

// The marks signal this thread by a bare tgkill system call rather than raise(), whose path
// (signal masks, and a sanitizer's interceptors in instrumented builds) need not take the same
// number of instructions every time.
pid_t marked_process = 0;
long marked_thread = 0;

}  // namespace

bool trace_me() {
  if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0) return false;
  marked_process = getpid();
  marked_thread = syscall(SYS_gettid);
  raise(SIGSTOP);  // the parent resumes us once it waits for the stop
  return true;
}

void mark() { syscall(SYS_tgkill, marked_process, marked_thread, kMarkSignal); }

std::optional<std::vector<std::uint64_t>> count_marked_windows(pid_t child) {
  std::vector<std::uint64_t> windows;
  bool stepping = false;
  int status = 0;
  // The first stop is trace_me's SIGSTOP; a child that exits first could not be traced.
  if (waitpid(child, &status, 0) != child) return std::nullopt;
  if (!WIFSTOPPED(status)) return std::nullopt;  // exited or killed: nothing to reap any more
  int pass_signal = 0;
  for (;;) {
    const long rc = stepping ? ptrace(PTRACE_SINGLESTEP, child, nullptr, reinterpret_cast<void*>(long{pass_signal}))
                             : ptrace(PTRACE_CONT, child, nullptr, reinterpret_cast<void*>(long{pass_signal}));
    pass_signal = 0;
    if (rc != 0 || waitpid(child, &status, 0) != child) {
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      return std::nullopt;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) break;
    if (!WIFSTOPPED(status)) continue;
    const int sig = WSTOPSIG(status);
    if (sig == SIGTRAP && stepping) {
      ++windows.back();
    } else if (sig == kMarkSignal) {
      stepping = !stepping;
      if (stepping) windows.push_back(0);
    } else {
      pass_signal = sig;
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || stepping) return std::nullopt;
  return windows;
}

}  // namespace ip
