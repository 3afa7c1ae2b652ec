#include "experiments/kernel_bench/timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

namespace ip::bench {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Calls per timed sample: enough that one sample lasts s.min_sample_ms (one untimed call
// measures the call's length).
int calls_per_sample(const std::function<void()>& call, const std::function<void()>& sync, const Sampling& s) {
  const double t0 = now_s();
  call();
  sync();
  const double first = std::max(now_s() - t0, 1e-9);
  return static_cast<int>(std::clamp(std::ceil(s.min_sample_ms * 1e-3 / first), 1.0, 1e6));
}

// Seconds per call of one sample of `calls` calls.
double sample_per_call(const std::function<void()>& call, const std::function<void()>& sync, int calls) {
  const double start = now_s();
  for (int c = 0; c < calls; ++c) call();
  sync();
  return (now_s() - start) / calls;
}

}  // namespace

Timing summarise_samples(std::vector<double> per_call, int calls) {
  std::sort(per_call.begin(), per_call.end());
  Timing t;
  t.calls_per_sample = calls;
  const std::size_t h = per_call.size() / 2;
  t.median = per_call.size() % 2 ? per_call[h] : (per_call[h - 1] + per_call[h]) / 2;
  t.min = per_call.front();
  t.max = per_call.back();
  t.samples = static_cast<int>(per_call.size());
  return t;
}

Timing time_calls(const std::function<void()>& call, const std::function<void()>& sync, const Sampling& s,
                  std::vector<double>* samples) {
  const int calls = calls_per_sample(call, sync, s);
  std::vector<double> per_call;
  for (int k = 0; k < s.warmup + s.repeats; ++k) {
    const double t = sample_per_call(call, sync, calls);
    if (k >= s.warmup) per_call.push_back(t);
  }
  if (samples != nullptr) samples->insert(samples->end(), per_call.begin(), per_call.end());
  return summarise_samples(std::move(per_call), calls);
}

PairedTiming time_calls_paired(const std::function<void()>& call, const std::function<void()>& reference,
                               const std::function<void()>& sync, const Sampling& s) {
  const int calls = calls_per_sample(call, sync, s), ref_calls = calls_per_sample(reference, sync, s);
  std::vector<double> per_call, per_ref;
  for (int k = 0; k < s.warmup + s.repeats; ++k) {
    const double r = sample_per_call(reference, sync, ref_calls);
    const double c = sample_per_call(call, sync, calls);
    if (k >= s.warmup) per_ref.push_back(r), per_call.push_back(c);
  }
  return {summarise_samples(std::move(per_call), calls), summarise_samples(std::move(per_ref), ref_calls)};
}

double load_average() {
  double load = std::nan("");
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = std::nan("");
    std::fclose(f);
  }
  return load;
}

}  // namespace ip::bench
