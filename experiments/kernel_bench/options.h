// kernel_bench's command line: the settings of a run and the parsers of its list-valued flags.
// Everything is parsed before anything is measured: a typo must not cost a long run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/common/activation_list.h"

namespace CLI {
class App;
}

namespace ip::bench {

// How one measurement is sampled (timing.h): calls per sample sized to last min_sample_ms, then
// `warmup` untimed samples and `repeats` timed ones.
struct Sampling {
  int repeats = 10;
  int warmup = 2;
  double min_sample_ms = 2.0;
};

struct Options {
  std::string functions = "all";
  std::string directions = "forward,backward";
  std::string devices = "auto";
  std::string sizes = "1MiB,16MiB,256MiB";
  std::string threads;  // default: OpenMP's maximum
  std::string targets = "auto";
  std::string gemm_shapes = "experiments";
  bool large_gemm = false;
  int gemm_rounds = 1;  // CPU GEMM: own and OpenBLAS blocks alternated this many times
  std::size_t cols = 1024;
  Sampling sampling;
  std::string variant = "production";  // CUDA kernel variants: production, all or a number
  uint64_t seed = 1;
  std::string out;
  bool quick = false;
  bool list_targets = false;
  std::string summary;  // "" or "targets": the pass/fail table of targets.h
  double energy_check = 0;  // seconds per window of the NVML counter-vs-sampling check; 0 = off
};

// --energy-check: reads NVML's total-energy counter and its power sampling over the same
// window, idle and under an SGEMM loop, instead of timing kernels. Exits 0 with the reason where
// there is no GPU or NVML.
int run_energy_check(const Options& opt, const std::string& command_line);

// What kernel_bench does, for --help.
std::string description();
// Declares every flag on `app`, bound to `opt`.
void add_options(CLI::App& app, Options& opt);
// --quick: the smoke-run defaults for every flag the user did not give.
void apply_quick(const CLI::App& app, Options& opt);

struct GemmShape {
  std::size_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = true;
  std::string label() const;  // "64x1024x1024:nt"
};

// --variant: the production kernels only (number 0), every variant (all) or variant `number` of
// each family. The range is checked against the variant registry.
struct VariantChoice {
  bool all = false;
  int number = 0;  // 0: production
};

// Each parser throws std::invalid_argument naming its flag and what it accepts.
std::vector<std::string> split(const std::string& s);  // comma-separated, empty items dropped
std::string join(const std::vector<std::string>& v, const char* sep = ", ");
// run_support's list ("all", "paper" or CLI names) plus "none" (GEMM only).
std::vector<const FunctionInfo*> parse_functions(const std::string& spec);
// "256MiB" / "64KiB" / "1GiB" = bytes of one float32 array; a plain number is a count of elements.
std::size_t parse_size(const std::string& s);
// Each at least one row of `cols`; an empty list is refused.
std::vector<std::size_t> parse_sizes(const std::string& spec, std::size_t cols);
std::vector<GemmShape> parse_shapes(const Options& opt);
// Thread counts, each checked against the CPUs (check_thread_count: a warning above them, an
// error far above); `from_flag` false when the count is OpenMP's (OMP_NUM_THREADS).
std::vector<int> parse_threads(const std::string& spec, bool from_flag);
// "auto" (the best), "all" or target names; each target once, in the order given.
std::vector<std::string> parse_targets(const std::string& spec);
VariantChoice parse_variant(const std::string& spec);

}  // namespace ip::bench
