// kernel_bench --energy-check: NVML's total-energy counter against its power sampling.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/ops.h"
#include "experiments/common/hardware.h"
#include "experiments/kernel_bench/cases.h"
#include "experiments/kernel_bench/options.h"
#include "measure/energy.h"
#include "results/results.h"
#ifdef INFERENCEPOWER_HAVE_CUDA
#include "kernels/cuda/kernels.h"
#endif

namespace ip::bench {

namespace {
using json = nlohmann::json;
#ifdef INFERENCEPOWER_HAVE_CUDA  // the load window's clock; a build without CUDA has no load
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
#endif
}  // namespace

// --energy-check: NVML's two sources of GPU energy, the total-energy counter and board power
// sampled every 10 ms and integrated, read over the same window, once with the GPU idle and once
// under load, to say how far the joules that rand_power and mnist_power record (the counter where
// the GPU has one) can be trusted. They are known to disagree: the counter is refreshed every few
// tens of ms, the power reading is the driver's average over up to a second, so it lags a change of
// load. Nothing is timed; a machine without a GPU or NVML gets the reason, and exit status 0.
int run_energy_check(const Options& opt, const std::string& command_line) {
  const double seconds = opt.energy_check;
  std::printf("kernel_bench: energy check: NVML total-energy counter against power sampling, %.1f s idle, "
              "then %.1f s under load (SGEMM 16384x1024x1024 in a loop)\n", seconds, seconds);
  json result = {{"generator", "inferencepower kernel_bench --energy-check"},
                 {"command_line", command_line},
                 {"started_at", ip::local_time_string(ip::unix_time_now())},
                 {"seconds_per_window", seconds},
                 {"hardware", ip::describe_hardware().to_json()},
                 {"relative_difference", "second (power sampling) / first (total-energy counter) - 1"}};
  std::string why;
#ifdef INFERENCEPOWER_HAVE_CUDA
  bool ok = ip::cuda::available(&why);
#else
  bool ok = false;
  why = "built without CUDA (no nvcc when configured)";
#endif
  std::shared_ptr<const ip::NvmlApi> api;
  if (ok) ok = (api = ip::load_nvml(&why)) != nullptr;
  std::unique_ptr<ip::NvmlEnergyMeter> counter;
  std::unique_ptr<ip::NvmlPowerMeter> sampling;
  if (ok) {
    counter = std::make_unique<ip::NvmlEnergyMeter>(api);
    sampling = std::make_unique<ip::NvmlPowerMeter>(api);
    if (!counter->available()) ok = false, why = counter->unavailable_reason();
    else if (!sampling->available()) ok = false, why = sampling->unavailable_reason();
  }
  auto report = [&](const char* label, const ip::MeterComparison& c) {
    auto side = [](const ip::EnergyReading& r) {
      char text[160];
      if (r.usable())
        std::snprintf(text, sizeof text, "%.3f J over %.3f s (%.1f W)", r.joules, r.seconds, r.watts());
      else
        std::snprintf(text, sizeof text, "unavailable (%s)", r.reason.c_str());
      return std::string(text);
    };
    std::printf("energy check %-4s: counter %s; sampling %s", label, side(c.first).c_str(), side(c.second).c_str());
    if (std::isfinite(c.relative_difference)) std::printf("; sampling/counter - 1 = %+.1f%%", 100 * c.relative_difference);
    std::printf("\n");
    for (const ip::EnergyReading* r : {&c.first, &c.second})
      for (const std::string& w : r->warnings) std::printf("  %s: %s\n", r->source.c_str(), w.c_str());
    result[label] = c;
  };
  if (!ok) {
    std::printf("energy check: not possible here: %s\n", why.c_str());
    result["unavailable"] = why;
  } else {
#ifdef INFERENCEPOWER_HAVE_CUDA
    const std::size_t M = 16384, N = 1024, K = 1024;  // about 1-3 ms per call on an H100-class GPU
    HostArray ha = host_alloc(M * K), hb = host_alloc(N * K);
    fill_normal(ha.get(), M * K, 1.0f, opt.seed + 20);  // random data: zeros draw less power
    fill_normal(hb.get(), N * K, 1.0f, opt.seed + 21);
    DeviceArray a(M * K), b(N * K), c(M * N);
    ip::cuda::copy_to_device(a.p, ha.get(), M * K * sizeof(float));
    ip::cuda::copy_to_device(b.p, hb.get(), N * K * sizeof(float));
    auto gemm = [&] { ip::ops::gemm(ip::Device::Cuda, false, true, M, N, K, 1.0f, a.p, K, b.p, K, 0.0f, c.p, N); };
    gemm();  // the kernel loaded and the memory touched before either window
    ip::cuda::synchronize();
    std::this_thread::sleep_for(std::chrono::duration<double>(1.0));  // let the power average settle
    report("idle", ip::compare_meters(*counter, *sampling, [&] {
             std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
           }));
    long long calls = 0;
    report("load", ip::compare_meters(*counter, *sampling, [&] {
             const double end = now_s() + seconds;
             while (now_s() < end) {
               gemm();
               ip::cuda::synchronize();
               ++calls;
             }
           }));
    result["load_gemm_calls"] = calls;
    result["load"]["work"] = "own SGEMM 16384x1024x1024 (nt), random normal inputs, synchronised after each call";
#else
    (void)report;
#endif
  }
  if (!opt.out.empty()) {
    const std::string path = opt.out + "/energy_check_" +
                             std::to_string(static_cast<long long>(ip::unix_time_now())) + ".json";
    ip::write_file_atomic(path, result.dump(1) + "\n");
    std::fprintf(stderr, "kernel_bench: energy check in %s\n", path.c_str());
  }
  return 0;
}

}  // namespace ip::bench
