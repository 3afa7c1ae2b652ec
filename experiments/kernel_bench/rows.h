// The rows kernel_bench measures: one per kernel (or copy reference) and per GEMM, printed as a
// table line when measured and written to the result files at the end.
#pragma once

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/kernel_bench/options.h"
#include "experiments/kernel_bench/timing.h"

namespace ip::bench {

struct KernelRow {
  std::string device, target, function, key, kind, direction;
  int threads = 0;
  std::size_t elements = 0, rows = 0, cols = 0;
  double bytes = 0;  // read + written per call
  Timing timing;
  double gbps = 0, copy_gbps = 0, fraction_of_copy = 0, elements_per_s = 0;
  // The copy timed alternately with this kernel (kernel rows; copy rows have samples == 0).
  Timing copy_timing;
  // Elements per second of one thread on L1-resident arrays (the fastest of the samples: other
  // processes only ever slow a sample down); NaN when not calibrated (--summary not given).
  double compute_elements_per_s = std::nan("");
  // Instructions per vector one call executes (executed.h), for kernels whose loop the build does
  // not count in its assembly; NaN when not counted (--summary not given, or stepping failed).
  double executed_instructions_per_vector = std::nan("");
  // CUDA kernel variant (experiments/cuda_variants): number 1..N within the kind and its name;
  // 0 and "production" for CPU rows and kernels without numbered variants (RReLU train, copy).
  int variant = 0;
  std::string variant_name = "production";
  bool production = true;
};

struct GemmRow {
  std::string device, target, backend, shape;
  int threads = 0;
  GemmShape g;
  Timing timing;
  double gflops = 0;
  double fraction_of_reference = std::nan("");  // own / reference backend, on the own row
  // Over --gemm-rounds rounds (more than one): own/ref is their median, these its range.
  double fraction_of_reference_min = std::nan(""), fraction_of_reference_max = std::nan("");
  // The median's distribution-free 95% interval (at least 6 rounds, else NaN), and what it says:
  // "faster" (ours; the interval above 1), "slower" (below 1), "indistinguishable" (it contains 1),
  // or empty without an interval.
  double fraction_of_reference_low = std::nan(""), fraction_of_reference_high = std::nan("");
  std::string reference_verdict;
  double fraction_of_peak = std::nan("");       // GFLOP/s / measured FMA peak (CPU rows)

  // timing, and gflops from its median (2 M N K flops per call)
  void set_timing(const Timing& t) {
    timing = t;
    gflops = 2.0 * static_cast<double>(g.M) * g.N * g.K / t.median * 1e-9;
  }
};

// What the kernel table's columns mean (printed once before it).
void print_kernel_legend();
void print_kernel_header();
void print_kernel_row(const KernelRow& r);
void print_gemm_header();
void print_gemm_row(const GemmRow& r);

// kernel_bench_<unix time>.json, .csv and _gemm.csv in `dir` (atomic writes): `header` (run
// settings, hardware) with the rows and the CUDA variants that failed validation.
void write_result_files(const std::string& dir, const nlohmann::json& header, const std::vector<KernelRow>& kernels,
                        const std::vector<GemmRow>& gemm, const nlohmann::json& validation_failures);

}  // namespace ip::bench
