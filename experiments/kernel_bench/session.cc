#include "experiments/kernel_bench/session.h"

namespace ip::bench {

namespace {

double copy_bytes(const KernelRow& r) { return 2.0 * sizeof(float) * static_cast<double>(r.elements); }

void set_timing(KernelRow& r, double bytes, const Timing& timing) {
  r.bytes = bytes;
  r.timing = timing;
  r.gbps = bytes / r.timing.median * 1e-9;
  r.elements_per_s = static_cast<double>(r.elements) / r.timing.median;
}

}  // namespace

KernelRow Session::base_row(const std::string& device, const std::string& target, int threads,
                            const Buffers& b) const {
  KernelRow r;
  r.device = device, r.target = target, r.threads = threads;
  r.elements = b.n, r.rows = b.rows, r.cols = b.cols;
  return r;
}

std::function<void()> Session::measure_copies(const KernelRow& base, const std::vector<NamedCall>& copies,
                                              const std::function<void()>& sync) {
  std::vector<KernelRow> rows;
  double best = 0;
  std::function<void()> fastest;
  for (const auto& [name, call] : copies) {
    KernelRow r = base;
    r.function = name, r.kind = "copy", r.direction = "-";
    set_timing(r, copy_bytes(r), time_calls(call, sync, opt_.sampling));
    if (r.gbps > best) best = r.gbps, fastest = call;
    rows.push_back(r);
  }
  for (KernelRow& r : rows) {
    r.copy_gbps = best;
    record(r);
  }
  return fastest;
}

void Session::measure(KernelRow& r, double bytes, const std::function<void()>& call,
                      const std::function<void()>& sync, const std::function<void()>& copy) {
  const PairedTiming t = time_calls_paired(call, copy, sync, opt_.sampling);
  set_timing(r, bytes, t.call);
  r.copy_timing = t.reference;
  r.copy_gbps = copy_bytes(r) / t.reference.median * 1e-9;
  record(r);
}

void Session::record(KernelRow& r) {
  r.fraction_of_copy = r.gbps / r.copy_gbps;
  print_kernel_row(r);
  kernels_.push_back(r);
}

GemmRow Session::time_gemm(const std::string& device, const std::string& target, int threads, const GemmShape& g,
                           const std::string& backend, const std::function<void()>& call,
                           const std::function<void()>& sync, std::vector<double>* samples) const {
  GemmRow r;
  r.device = device, r.target = target, r.threads = threads, r.backend = backend, r.g = g, r.shape = g.label();
  r.set_timing(time_calls(call, sync, opt_.sampling, samples));
  return r;
}

void Session::record_gemm(const GemmRow& r) {
  print_gemm_row(r);
  gemm_.push_back(r);
}

}  // namespace ip::bench
