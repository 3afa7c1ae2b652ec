// The GEMM sweep: each shape with our GEMM and the reference library (OpenBLAS on the CPU when it
// loads, cuBLAS on CUDA) in the same run; CPU rows also as a fraction of the FMA peak, measured
// once per SIMD target and thread count in the same run.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <omp.h>

#include "engine/ops.h"
#include "experiments/kernel_bench/session.h"
#include "kernels/cpu/calibration.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/linalg.h"
#include "results/stats.h"
#ifdef INFERENCEPOWER_HAVE_CUDA
#include "kernels/cuda/kernels.h"
#endif

namespace ip::bench {

namespace {

// The FMA peak of `threads` threads on `target`, in FLOP/s (fma_chains, the fastest of at least
// 15 samples: other processes only ever slow a sample down). Prints it.
double measure_fma_peak(const std::string& target, int threads, const Sampling& sampling) {
  ip::cpu::force_target(target);
  omp_set_num_threads(threads);
  // ~3 ms per call (12 FMAs per iteration at ~1 per cycle): long enough that waking the other
  // threads does not count. With 0.1 ms calls and OMP_WAIT_POLICY=passive (make bench), the
  // wake-up of the second thread on a Zen 4 VM took as long as the work: 2 threads measured one
  // core's peak (113 GFLOP/s against 234 with spinning threads).
  constexpr uint64_t kIterations = 1 << 20;
  const double flops = ip::cpu::fma_chains(kIterations);
  Sampling s = sampling;
  s.repeats = std::max(sampling.repeats, 15);
  const double peak = flops / time_calls([] { ip::cpu::fma_chains(kIterations); }, [] {}, s).min;
  std::printf("cpu    %-7s %3d FMA peak (measured: 12 independent FMA chains per thread, all threads, fastest "
              "sample): %.1f GFLOP/s\n", target.c_str(), threads, peak * 1e-9);
  return peak;
}

}  // namespace

void run_gemm_cpu(Session& s, const std::vector<GemmShape>& shapes, const std::vector<std::string>& targets,
                  const std::vector<int>& threads) {
  if (shapes.empty()) return;
  const Options& opt = s.options();
  std::map<std::string, double> fma_peaks;  // "target/threads" → FLOP/s, measured once
  auto fma_peak = [&](const std::string& target, int t) {
    double& peak = fma_peaks[target + "/" + std::to_string(t)];
    if (peak <= 0) peak = measure_fma_peak(target, t, opt.sampling);
    return peak;
  };
  for (const GemmShape& g : shapes) {
    // A is M x K (or K x M when transposed), B is K x N (or N x K); row-major, tight.
    HostArray a = host_alloc(g.M * g.K), bm = host_alloc(g.K * g.N), c = host_alloc(g.M * g.N);
    fill_normal(a.get(), g.M * g.K, 1.0f, opt.seed + 10);
    fill_normal(bm.get(), g.K * g.N, 1.0f, opt.seed + 11);
    fill_normal(c.get(), g.M * g.N, 1.0f, opt.seed + 12);
    const std::size_t lda = g.trans_a ? g.M : g.K, ldb = g.trans_b ? g.K : g.N;
    auto call = [&] {
      ip::ops::gemm(Device::Cpu, g.trans_a, g.trans_b, g.M, g.N, g.K, 1.0f, a.get(), lda, bm.get(), ldb, 0.0f,
                    c.get(), g.N);
    };
    for (const std::string& target : targets) {
      ip::cpu::force_target(target);
      for (int t : threads) {
        omp_set_num_threads(t);
        ip::cpu::blas_set_threads(t);  // OpenBLAS keeps its own pool: same cores as ours
        const bool blas = ip::cpu::blas_available();
        ip::cpu::blas_stop_threads();
        const double peak = fma_peak(target, t);
        // Rounds of one block of our samples, then one of OpenBLAS's; each round's ratio compares
        // two blocks timed seconds apart.
        GemmRow own, ref;
        std::vector<double> own_samples, ref_samples, ratios;
        for (int round = 0; round < opt.gemm_rounds; ++round) {
          // After OpenBLAS's samples its workers still busy-wait on these cores (~0.1 s); our
          // samples then lost 8-32 ms each now and then, and medians up to 2.6x. Round 0 follows
          // the stop before the FMA peak: a second stop with no OpenBLAS call between went with
          // our next samples running 1.5x slower (one thread, 128x1024x10 nn, Zen 5 VM), so once
          // per OpenBLAS block.
          if (round > 0) ip::cpu::blas_stop_threads();
          ip::cpu::set_gemm_backend(ip::cpu::GemmBackend::Own);
          own = s.time_gemm("cpu", target, t, g, "own", call, [] {}, &own_samples);
          if (!blas) continue;
          ip::cpu::set_gemm_backend(ip::cpu::GemmBackend::Blas);
          ref = s.time_gemm("cpu", target, t, g, "openblas", call, [] {}, &ref_samples);
          ip::cpu::set_gemm_backend(ip::cpu::GemmBackend::Own);
          ratios.push_back(own.gflops / ref.gflops);
        }
        if (opt.gemm_rounds > 1) {  // rows over all rounds' samples
          own.set_timing(summarise_samples(std::move(own_samples), own.timing.calls_per_sample));
          if (blas) ref.set_timing(summarise_samples(std::move(ref_samples), ref.timing.calls_per_sample));
        }
        std::vector<GemmRow> rows{own};
        if (blas) {
          rows.push_back(ref);
          const ip::Estimate ratio = ip::median_estimate(ratios);
          rows[0].fraction_of_reference = ratio.value;
          if (ratios.size() > 1) {
            rows[0].fraction_of_reference_min = *std::min_element(ratios.begin(), ratios.end());
            rows[0].fraction_of_reference_max = *std::max_element(ratios.begin(), ratios.end());
          }
          if (ratio.has_interval()) {
            rows[0].fraction_of_reference_low = ratio.low;
            rows[0].fraction_of_reference_high = ratio.high;
            // Read as the results read every comparison: in time, ours over OpenBLAS's in each round
            // (the speed ratio's inverse, so the same interval, inverted).
            std::vector<double> time_ratios;
            for (double r : ratios) time_ratios.push_back(1.0 / r);
            rows[0].reference_verdict = ip::verdict_name(ip::verdict_against_one(ip::median_estimate(time_ratios)));
          }
        }
        for (GemmRow& r : rows) {
          r.fraction_of_peak = r.gflops * 1e9 / peak;
          s.record_gemm(r);
        }
      }
    }
  }
  ip::cpu::force_target("auto");
}

#ifdef INFERENCEPOWER_HAVE_CUDA
void run_gemm_cuda(Session& s, const std::vector<GemmShape>& shapes) {
  const Options& opt = s.options();
  auto sync = [] { ip::cuda::synchronize(); };
  for (const GemmShape& g : shapes) {
    HostArray ha = host_alloc(g.M * g.K), hb = host_alloc(g.K * g.N);
    fill_normal(ha.get(), g.M * g.K, 1.0f, opt.seed + 10);
    fill_normal(hb.get(), g.K * g.N, 1.0f, opt.seed + 11);
    DeviceArray a(g.M * g.K), bm(g.K * g.N), c(g.M * g.N);
    ip::cuda::copy_to_device(a.p, ha.get(), g.M * g.K * sizeof(float));
    ip::cuda::copy_to_device(bm.p, hb.get(), g.K * g.N * sizeof(float));
    const std::size_t lda = g.trans_a ? g.M : g.K, ldb = g.trans_b ? g.K : g.N;
    auto call = [&] {
      ip::ops::gemm(Device::Cuda, g.trans_a, g.trans_b, g.M, g.N, g.K, 1.0f, a.p, lda, bm.p, ldb, 0.0f, c.p, g.N);
    };
    ip::cuda::set_gemm_backend(ip::cuda::GemmBackend::Own);
    GemmRow own = s.time_gemm("cuda", "-", 0, g, "own", call, sync);
    ip::cuda::set_gemm_backend(ip::cuda::GemmBackend::Cublas);
    GemmRow ref = s.time_gemm("cuda", "-", 0, g, "cublas", call, sync);
    ip::cuda::set_gemm_backend(ip::cuda::GemmBackend::Own);
    own.fraction_of_reference = own.gflops / ref.gflops;
    s.record_gemm(own);
    s.record_gemm(ref);
  }
}
#endif

}  // namespace ip::bench
