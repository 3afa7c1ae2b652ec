// kernel_bench: how fast each kernel runs against what the machine allows.
//
// Element-wise, row-wise and dropout kernels are memory-bound, so each is reported as effective
// bandwidth (bytes the kernel must read + write, counted once) beside a copy measured in the same
// run at the same size, thread count and SIMD target: "fraction of copy" is the number that says
// whether a kernel is as fast as the memory allows. The copy is the faster of two, both printed:
// memcpy (one call per thread) and our own copy (ip::cpu::vector_copy: the kernels' loads, stores,
// chunking and streaming-store rule without the arithmetic); on CUDA, cudaMemcpy device to device.
// GEMM is compute-bound: GFLOP/s beside the reference library's (OpenBLAS on CPU, cuBLAS on
// CUDA) in the same run and, on CPU, as a fraction of the FMA peak measured in the same run.
//
// The pieces: options (the command line), cases (what is timed and the bytes it moves), timing
// (the harness), session (rows measured and recorded), cpu / cuda / gemm (the sweeps), targets
// (--summary targets), rows and result_files (the table and the JSON/CSV files).
//
// Exit status: 0 success, 1 run-time failure, 2 usage error.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "experiments/common/hardware.h"
#include "experiments/common/run_support.h"
#include "experiments/kernel_bench/executed.h"
#include "experiments/kernel_bench/session.h"
#include "experiments/kernel_bench/targets.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/linalg.h"
#include "results/results.h"
#ifdef INFERENCEPOWER_HAVE_CUDA
#include "kernels/cuda/kernels.h"
#endif

namespace {

using json = nlohmann::json;
namespace bench = ip::bench;

int run(const bench::Options& opt, const std::string& command_line) {
  // Parse everything before measuring anything: a typo must not cost a long run.
  const std::vector<const ip::FunctionInfo*> functions = bench::parse_functions(opt.functions);
  const std::vector<std::string> dirs = bench::split(opt.directions);
  const std::vector<std::size_t> sizes = bench::parse_sizes(opt.sizes, opt.cols);
  const std::vector<bench::GemmShape> shapes = bench::parse_shapes(opt);
  const std::vector<int> threads = bench::parse_threads(
      opt.threads.empty() ? std::to_string(omp_get_max_threads()) : opt.threads, !opt.threads.empty());
  if (!(opt.sampling.min_sample_ms > 0 && opt.sampling.min_sample_ms <= 60000))
    throw std::invalid_argument("--min-sample-ms: must be in (0, 60000], got " +
                                ip::format_number(opt.sampling.min_sample_ms));
  const std::vector<std::string> targets = bench::parse_targets(opt.targets);
  const bench::VariantChoice variant = bench::parse_variant(opt.variant);
  if (!(opt.energy_check >= 0) || opt.energy_check > 600)
    throw std::invalid_argument("--energy-check: seconds per window in [0, 600], got " +
                                ip::format_number(opt.energy_check));
  if (opt.energy_check > 0) {
    if (!opt.out.empty()) ip::prepare_output_dir(opt.out, "--out", 64);
    return bench::run_energy_check(opt, command_line);
  }

  if (functions.empty() && shapes.empty())
    throw std::invalid_argument("nothing to time: --functions none and --gemm-shapes none");

  bool want_cpu = opt.devices == "auto" || opt.devices.find("cpu") != std::string::npos;
  bool want_cuda = opt.devices.find("cuda") != std::string::npos;
  std::string cuda_note;
#ifdef INFERENCEPOWER_HAVE_CUDA
  const bool cuda_ok = ip::cuda::available(&cuda_note);
#else
  const bool cuda_ok = false;
  cuda_note = "built without CUDA (no nvcc when configured)";
#endif
  if (want_cuda && !cuda_ok) throw std::invalid_argument("--devices cuda: " + cuda_note);
  if (opt.devices == "auto") want_cuda = cuda_ok;
  // kernel_bench_<unix time>_gemm.csv is its longest name.
  if (!opt.out.empty()) ip::prepare_output_dir(opt.out, "--out", 64);

  const std::string started_at = ip::local_time_string(ip::unix_time_now());
  const ip::HardwareInfo hw = ip::describe_hardware();
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("kernel_bench: %s\n", hw.summary().c_str());
  std::printf("kernel_bench: repeats %d (median), warm-up %d, samples >= %.2f ms, inputs N(0,1) x 4, cols %zu, "
              "GEMM rounds %d",
              opt.sampling.repeats, opt.sampling.warmup, opt.sampling.min_sample_ms, opt.cols, opt.gemm_rounds);
  if (ip::cpu::blas_available())
    std::printf(", OpenBLAS core %s (OPENBLAS_CORETYPE=%s)", ip::cpu::blas_core_name().c_str(), coretype ? coretype : "unset");
  if (!want_cuda) std::printf(", cuda: %s", cuda_note.empty() ? "not requested" : cuda_note.c_str());
  // The GEMM's choice of one thread or all for small products depends on them (kernels/cpu/gemm.cc).
  const char* const wait_policy = std::getenv("OMP_WAIT_POLICY");
  const char* const spin_count = std::getenv("GOMP_SPINCOUNT");
  std::printf(", OMP_WAIT_POLICY=%s, GOMP_SPINCOUNT=%s\n", wait_policy ? wait_policy : "unset",
              spin_count ? spin_count : "unset");
  const double load = bench::load_average();
  const int max_threads = *std::max_element(threads.begin(), threads.end());
  if (load + max_threads > hw.logical_cores + 0.5)
    std::fprintf(stderr,
                 "kernel_bench: warning: load average %.1f on %d logical cores: with %d threads, other processes "
                 "share the cores and multi-threaded timings are unreliable (see min/max)\n",
                 load, hw.logical_cores, max_threads);
  bench::print_kernel_legend();

  bench::Session session(opt);
  if (!functions.empty() && !sizes.empty()) {
    bench::print_kernel_header();
    if (want_cpu) bench::run_kernels_cpu(session, functions, sizes, targets, threads, dirs);
#ifdef INFERENCEPOWER_HAVE_CUDA
    if (want_cuda) bench::run_kernels_cuda(session, functions, sizes, dirs, variant);
#else
    (void)variant;
#endif
    std::printf("\n");
  }
  if (opt.summary == "targets") bench::print_targets_summary(session.kernels(), load, bench::load_average());
  if (!shapes.empty()) {
    bench::print_gemm_header();
    if (want_cpu) bench::run_gemm_cpu(session, shapes, targets, threads);
#ifdef INFERENCEPOWER_HAVE_CUDA
    if (want_cuda) bench::run_gemm_cuda(session, shapes);
#endif
  }

  if (!opt.out.empty()) {
    const json header = {{"generator", "inferencepower kernel_bench"},
                         {"command_line", command_line},
                         {"started_at", started_at},
                         {"hardware", hw.to_json()},
                         {"load_average_1min", std::isfinite(load) ? json(load) : json()},
                         {"openblas_coretype", coretype ? coretype : ""},
                         {"openblas_core", ip::cpu::blas_core_name()},
                         {"omp_wait_policy", wait_policy ? wait_policy : ""},
                         {"gomp_spincount", spin_count ? spin_count : ""},
                         {"settings",
                          {{"repeats", opt.sampling.repeats}, {"warmup", opt.sampling.warmup},
                           {"gemm_rounds", opt.gemm_rounds},
                           {"min_sample_ms", opt.sampling.min_sample_ms}, {"cols", opt.cols}, {"seed", opt.seed},
                           {"input", "normal(0,1) x 4"}, {"cuda_variant", opt.variant}}}};
    bench::write_result_files(opt.out, header, session.kernels(), session.gemm(), session.validation_failures());
  }
  if (!session.validation_failures().empty()) {
    std::fprintf(stderr, "kernel_bench: %zu CUDA kernel variant(s) disagreed with the scalar reference and were not "
                 "timed (see above)\n", session.validation_failures().size());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // A child started to count a kernel's instructions (--summary) does only that, and ends without
  // exit-time handlers, which may not work under its tracer (instruction_steps.h).
  if (const int rc = bench::run_as_counted_child(); rc >= 0) {
    std::fflush(nullptr);
    _exit(rc);
  }
  CLI::App app{bench::description()};
  bench::Options opt;
  bench::add_options(app, opt);
  if (const int rc = ip::parse_command_line(app, argc, argv, "kernel_bench"); rc >= 0) return rc;
  if (opt.list_targets) {
    std::printf("%s\n", bench::join(ip::cpu::available_targets(), ",").c_str());
    return 0;
  }
  bench::apply_quick(app, opt);
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  try {
    return run(opt, command_line);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "kernel_bench: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kernel_bench: error: %s\n", e.what());
    return 1;
  }
}
