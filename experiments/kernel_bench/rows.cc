#include "experiments/kernel_bench/rows.h"

#include <cstdio>

namespace ip::bench {

void print_kernel_legend() {
  std::printf("GB/s = (bytes read + written) / median time; copy%% = GB/s / copy's GB/s, that copy timed "
              "alternately with the kernel, sample by sample (same size, threads, target; the machine's bandwidth "
              "moves between minutes), copy = the faster of the copy rows (copy:memcpy = memcpy per thread, copy:vector = "
              "Highway copy over the kernels' chunks, streaming stores for outputs >= 64 MiB as the kernels, "
              "copy:cudaMemcpy on CUDA)\n\n");
}

void print_kernel_header() {
  std::printf("%-6s %-7s %3s %-14s %-8s %10s %9s %9s %9s %8s %6s %8s  %s\n", "device", "target", "thr", "function",
              "dir", "elements", "med_ms", "min_ms", "max_ms", "GB/s", "copy%", "Gelem/s", "variant (* = production)");
}

void print_kernel_row(const KernelRow& r) {
  // Numbered variants show as "2  grid-stride" and the production one as "3* grid-stride-f4".
  const std::string variant = r.variant > 0 ? std::to_string(r.variant) + (r.production ? "* " : "  ") + r.variant_name
                                            : (r.device == "cpu" || r.kind == "copy" ? "-" : "production");
  std::printf("%-6s %-7s %3d %-14s %-8s %10zu %9.4f %9.4f %9.4f %8.2f %6.1f %8.3f  %s\n", r.device.c_str(),
              r.target.c_str(), r.threads, r.function.c_str(), r.direction.c_str(), r.elements, r.timing.median * 1e3,
              r.timing.min * 1e3, r.timing.max * 1e3, r.gbps, 100 * r.fraction_of_copy, r.elements_per_s * 1e-9,
              variant.c_str());
  std::fflush(stdout);
}

void print_gemm_header() {
  std::printf("own/ref = our GFLOP/s / the reference library's (OpenBLAS, cuBLAS); with --gemm-rounds (CPU), the "
              "median of the rounds' ratios, their range, and from 6 rounds on the median's 95%% interval and what it "
              "says: faster or slower (ours; the interval clear of 1.0) or indistinguishable (it contains 1.0)\n");
  std::printf("%-6s %-7s %3s %-22s %-8s %9s %9s %9s %9s %8s %11s %11s %6s %s\n", "device", "target", "thr",
              "gemm MxNxK:op", "backend", "med_ms", "min_ms", "max_ms", "GFLOP/s", "own/ref", "ref range",
              "95% CI", "%peak", "vs ref");
}

void print_gemm_row(const GemmRow& r) {
  char frac[16] = "", range[32] = "", interval[32] = "", peak[16] = "-";
  if (std::isfinite(r.fraction_of_reference)) std::snprintf(frac, sizeof frac, "%.3f", r.fraction_of_reference);
  if (std::isfinite(r.fraction_of_reference_min) && std::isfinite(r.fraction_of_reference_max))
    std::snprintf(range, sizeof range, "%.3f-%.3f", r.fraction_of_reference_min, r.fraction_of_reference_max);
  if (std::isfinite(r.fraction_of_reference_low) && std::isfinite(r.fraction_of_reference_high))
    std::snprintf(interval, sizeof interval, "%.3f-%.3f", r.fraction_of_reference_low, r.fraction_of_reference_high);
  if (std::isfinite(r.fraction_of_peak)) std::snprintf(peak, sizeof peak, "%.1f", 100 * r.fraction_of_peak);
  std::printf("%-6s %-7s %3d %-22s %-8s %9.3f %9.3f %9.3f %9.1f %8s %11s %11s %6s %s\n", r.device.c_str(),
              r.target.c_str(), r.threads, r.shape.c_str(), r.backend.c_str(), r.timing.median * 1e3,
              r.timing.min * 1e3, r.timing.max * 1e3, r.gflops, frac, range, interval, peak,
              r.reference_verdict.c_str());
  std::fflush(stdout);
}

}  // namespace ip::bench
