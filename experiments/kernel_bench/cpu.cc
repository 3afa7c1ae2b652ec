// The CPU kernel sweep: every function, direction and size on each SIMD target and thread count,
// each kernel row timed alternately with the faster of two copies of the same size.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <omp.h>

#include "experiments/kernel_bench/executed.h"
#include "experiments/kernel_bench/session.h"
#include "experiments/kernel_bench/targets.h"
#include "kernels/cpu/calibration.h"
#include "kernels/cpu/kernels.h"
#include "results/results.h"

namespace ip::bench {

namespace {

// Elements per array of the compute-bound calibration: 4 arrays of 8 KiB stay in a 48 KiB L1d,
// so the kernel runs at the speed of its instructions, not of memory. Two rows of 1024 for the
// row-wise kernels.
constexpr std::size_t kCalibrationElements = 2048;

// One thread on the L1-resident arrays: elements per second at the speed of the instructions
// (the fastest sample: other processes only ever slow a sample down).
double calibrate(const Buffers& small, const std::vector<std::function<void()>>& prepare, const Case& c,
                 const Sampling& sampling) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  for (auto& p : prepare) p();
  Sampling s = sampling;
  s.repeats = std::max(sampling.repeats, 15);
  s.min_sample_ms = 1.0;
  const Timing t = time_calls(c.call, [] {}, s);
  omp_set_num_threads(threads);
  return static_cast<double>(small.n) / t.min;
}

std::string count_key(const std::string& function, const std::string& direction, const std::string& target) {
  return function + " " + direction + " " + target;
}

// Instructions per vector executed by the kernels whose loop the build did not count (row-wise,
// dropout, RReLU train), per function, direction and target (not size or thread count), keyed by
// count_key. Counted before any large array exists: each count forks this process, and a fork
// marks every page of the parent copy-on-write until the child has exec'd.
std::map<std::string, double> count_executed(const std::vector<const FunctionInfo*>& functions,
                                             const std::vector<std::string>& targets,
                                             const std::vector<std::string>& dirs, const Options& opt) {
  std::map<std::string, double> counted;
  const Buffers shape = shape_of(2 * opt.cols, opt.cols);  // for the case names; nothing is called
  for (const std::string& target : targets) {
    ip::cpu::force_target(target);  // the vector width the counts are divided by
    for (const FunctionInfo* f : functions) {
      std::vector<std::function<void()>> unused;
      for (const Case& c : make_cases(Device::Cpu, *f, shape, dirs, opt.seed, unused)) {
        if (loop_instructions(c.function, c.direction, target).all > 0) continue;
        const std::optional<double> per_vector =
            executed_instructions_per_vector(c.function, c.direction, target, opt.cols, opt.seed);
        counted[count_key(c.function, c.direction, target)] = per_vector ? *per_vector : std::nan("");
      }
    }
  }
  ip::cpu::force_target("auto");
  return counted;
}

}  // namespace

void run_kernels_cpu(Session& s, const std::vector<const FunctionInfo*>& functions,
                     const std::vector<std::size_t>& sizes, const std::vector<std::string>& targets,
                     const std::vector<int>& threads, const std::vector<std::string>& dirs) {
  const Options& opt = s.options();
  const std::map<std::string, double> executed =
      opt.summary.empty() ? std::map<std::string, double>() : count_executed(functions, targets, dirs, opt);
  for (std::size_t requested : sizes) {
    Buffers b = shape_of(requested, opt.cols);
    HostArray x = host_alloc(b.n), dy = host_alloc(b.n), y = host_alloc(b.n), dx = host_alloc(b.n);
    HostArray copy_out = host_alloc(b.n);
    HostArray mask = host_alloc(mask_words(b.n));  // 4-byte units, used as uint32_t only
    b.mask = reinterpret_cast<std::uint32_t*>(mask.get());
    fill_normal(x.get(), b.n, 4.0f, opt.seed);
    fill_normal(dy.get(), b.n, 4.0f, opt.seed + 1);
    fill_normal(y.get(), b.n, 1.0f, opt.seed + 2);
    fill_normal(dx.get(), b.n, 1.0f, opt.seed + 3);
    b.x = x.get(), b.dy = dy.get(), b.y = y.get(), b.dx = dx.get();
    // Small arrays for the compute-bound calibration (--summary): the same kernels, in L1.
    Buffers small = shape_of(std::min(requested, kCalibrationElements), opt.cols);
    HostArray sx = host_alloc(small.n), sdy = host_alloc(small.n), sy = host_alloc(small.n),
              sdx = host_alloc(small.n), smask = host_alloc(mask_words(small.n));
    small.mask = reinterpret_cast<std::uint32_t*>(smask.get());
    std::copy(b.x, b.x + small.n, sx.get());
    std::copy(b.dy, b.dy + small.n, sdy.get());
    std::copy(b.y, b.y + small.n, sy.get());
    std::copy(b.dx, b.dx + small.n, sdx.get());
    small.x = sx.get(), small.dy = sdy.get(), small.y = sy.get(), small.dx = sdx.get();
    for (const std::string& target : targets) {
      ip::cpu::force_target(target);
      for (int t : threads) {
        omp_set_num_threads(t);
        // The copies write an array of their own: they run between the samples of every kernel,
        // whose inputs (a forward output, a mask, RReLU's noise) must stay as prepared.
        const std::function<void()> copy = s.measure_copies(
            s.base_row("cpu", target, t, b),
            {{"copy:memcpy", [&] { memcpy_copy(b.x, copy_out.get(), b.n); }},
             {"copy:vector", [&] { ip::cpu::vector_copy(b.x, copy_out.get(), b.n); }}},
            [] {});
        for (const FunctionInfo* f : functions) {
          std::vector<std::function<void()>> prepare, small_prepare;
          std::vector<Case> cases = make_cases(Device::Cpu, *f, b, dirs, opt.seed, prepare);
          std::vector<Case> small_cases;
          if (!opt.summary.empty()) small_cases = make_cases(Device::Cpu, *f, small, dirs, opt.seed, small_prepare);
          for (std::size_t k = 0; k < cases.size(); ++k) {
            Case& c = cases[k];
            for (auto& p : prepare) p();
            KernelRow r = s.base_row("cpu", target, t, b);
            r.function = c.function, r.key = function_key(*c.info), r.kind = c.kind, r.direction = c.direction;
            if (k < small_cases.size()) {
              r.compute_elements_per_s = calibrate(small, small_prepare, small_cases[k], opt.sampling);
              if (auto it = executed.find(count_key(r.function, r.direction, target)); it != executed.end())
                r.executed_instructions_per_vector = it->second;
            }
            s.measure(r, c.bytes, c.call, [] {}, copy);
          }
        }
      }
    }
  }
  ip::cpu::force_target("auto");
}

}  // namespace ip::bench
