#include "experiments/kernel_bench/executed.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <vector>

#include <omp.h>

#include "experiments/common/instruction_steps.h"
#include "experiments/kernel_bench/cases.h"
#include "experiments/kernel_bench/options.h"
#include "kernels/cpu/kernels.h"

extern char** environ;

namespace ip::bench {

namespace {

// The child's task, "function direction target cols seed", in its environment.
constexpr const char* kChildVariable = "IP_KERNEL_BENCH_COUNTED_KERNEL";
// The two calls whose difference is counted: 2 rows and 4 rows, at least a few Philox calls and
// row-wise passes of any width, and quick to step through (~1 s at 40k steps/s for dropout).
constexpr std::size_t kRowsFewer = 2, kRowsMore = 4;

// Runs the kernel once on `rows` rows untimed (dispatch, page faults, lazy binding) and once
// between marks.
bool run_marked(const FunctionInfo& f, const std::string& row_name, const std::string& direction, std::size_t rows,
                std::size_t cols, uint64_t seed) {
  Buffers b = shape_of(rows * cols, cols);
  HostArray x = host_alloc(b.n), dy = host_alloc(b.n), y = host_alloc(b.n), dx = host_alloc(b.n);
  HostArray mask = host_alloc(mask_words(b.n));
  fill_normal(x.get(), b.n, 4.0f, seed);
  fill_normal(dy.get(), b.n, 4.0f, seed + 1);
  fill_normal(y.get(), b.n, 1.0f, seed + 2);
  fill_normal(dx.get(), b.n, 1.0f, seed + 3);
  b.x = x.get(), b.dy = dy.get(), b.y = y.get(), b.dx = dx.get();
  b.mask = reinterpret_cast<std::uint32_t*>(mask.get());
  std::vector<std::function<void()>> prepare;
  for (const Case& c : make_cases(Device::Cpu, f, b, {direction}, seed, prepare)) {
    if (c.function != row_name) continue;
    for (auto& p : prepare) p();
    c.call();
    mark();
    c.call();
    mark();
    return true;
  }
  return false;
}

}  // namespace

int run_as_counted_child() {
  const char* task = std::getenv(kChildVariable);
  if (task == nullptr) return -1;
  std::istringstream in(task);
  std::string row_name, direction, target;
  std::size_t cols = 0;
  uint64_t seed = 0;
  if (!(in >> row_name >> direction >> target >> cols >> seed) || cols == 0) return 3;
  if (!trace_me()) return 4;
  try {
    ip::cpu::force_target(target);
    omp_set_num_threads(1);
    const FunctionInfo* f = parse_functions(row_name.substr(0, row_name.find(':'))).at(0);
    for (std::size_t rows : {kRowsFewer, kRowsMore})
      if (!run_marked(*f, row_name, direction, rows, cols, seed)) return 5;
  } catch (const std::exception&) {
    return 1;
  }
  return 0;
}

std::optional<double> executed_instructions_per_vector(const std::string& function, const std::string& direction,
                                                       const std::string& target, std::size_t cols, uint64_t seed) {
  // Everything the child needs is built before fork: this process may run OpenMP threads, and
  // between fork and exec the child may only make async-signal-safe calls.
  const std::string task = std::string(kChildVariable) + "=" + function + " " + direction + " " + target + " " +
                           std::to_string(cols) + " " + std::to_string(seed);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, kChildVariable, std::strlen(kChildVariable)) != 0) env.push_back(*e);
  env.push_back(const_cast<char*>(task.c_str()));
  env.push_back(nullptr);
  char name[] = "kernel_bench";
  char* argv[] = {name, nullptr};
  std::fflush(nullptr);  // nothing buffered may be written twice
  const pid_t child = fork();
  if (child < 0) return std::nullopt;
  if (child == 0) {
    execve("/proc/self/exe", argv, env.data());
    _exit(127);
  }
  const auto windows = count_marked_windows(child);
  if (!windows || windows->size() != 2 || (*windows)[1] < (*windows)[0]) return std::nullopt;
  const double vectors = static_cast<double>((kRowsMore - kRowsFewer) * cols) / static_cast<double>(ip::cpu::vector_floats());
  return static_cast<double>((*windows)[1] - (*windows)[0]) / vectors;
}

}  // namespace ip::bench
