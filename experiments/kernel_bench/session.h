// One kernel_bench run's measurements: the primitives every sweep (CPU, CUDA, GEMM) times its
// rows with, and the rows they produce, printed as they are measured and kept for the summary
// and the result files.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/kernel_bench/cases.h"
#include "experiments/kernel_bench/options.h"
#include "experiments/kernel_bench/rows.h"

namespace ip::bench {

class Session {
 public:
  explicit Session(const Options& opt) : opt_(opt) {}
  const Options& options() const { return opt_; }

  // A row of the arrays `b` on (device, SIMD target, threads), not yet measured.
  KernelRow base_row(const std::string& device, const std::string& target, int threads, const Buffers& b) const;

  // The copy references ("function" names them), one row each; returns the faster one, which
  // every kernel row of this size, thread count and target is then timed alternately with.
  using NamedCall = std::pair<std::string, std::function<void()>>;
  std::function<void()> measure_copies(const KernelRow& base, const std::vector<NamedCall>& copies,
                                       const std::function<void()>& sync);

  // Times one kernel row alternately with the copy reference `copy` (time_calls_paired):
  // r.copy_gbps is that paired copy's bandwidth. Prints and records the row.
  void measure(KernelRow& r, double bytes, const std::function<void()>& call, const std::function<void()>& sync,
               const std::function<void()>& copy);

  // Times one GEMM call (2 M N K flops per call); the caller completes, prints and records it.
  // With `samples`, the timed samples' seconds per call are appended to it too (for pooling).
  GemmRow time_gemm(const std::string& device, const std::string& target, int threads, const GemmShape& g,
                    const std::string& backend, const std::function<void()>& call,
                    const std::function<void()>& sync, std::vector<double>* samples = nullptr) const;
  void record_gemm(const GemmRow& r);

  // A CUDA variant that disagreed with the reference (reported, not timed; fails the run).
  void record_validation_failure(nlohmann::json failure) { failures_.push_back(std::move(failure)); }

  const std::vector<KernelRow>& kernels() const { return kernels_; }
  const std::vector<GemmRow>& gemm() const { return gemm_; }
  const nlohmann::json& validation_failures() const { return failures_; }

 private:
  void record(KernelRow& r);

  const Options& opt_;
  std::vector<KernelRow> kernels_;
  std::vector<GemmRow> gemm_;
  nlohmann::json failures_ = nlohmann::json::array();
};

// The sweeps, each over the sizes, SIMD targets and thread counts asked for. CPU sweeps leave the
// dispatch on the best target.
void run_kernels_cpu(Session& s, const std::vector<const FunctionInfo*>& functions,
                     const std::vector<std::size_t>& sizes, const std::vector<std::string>& targets,
                     const std::vector<int>& threads, const std::vector<std::string>& dirs);
void run_gemm_cpu(Session& s, const std::vector<GemmShape>& shapes, const std::vector<std::string>& targets,
                  const std::vector<int>& threads);
#ifdef INFERENCEPOWER_HAVE_CUDA
void run_kernels_cuda(Session& s, const std::vector<const FunctionInfo*>& functions,
                      const std::vector<std::size_t>& sizes, const std::vector<std::string>& dirs,
                      const VariantChoice& choice);
void run_gemm_cuda(Session& s, const std::vector<GemmShape>& shapes);
#endif

}  // namespace ip::bench
