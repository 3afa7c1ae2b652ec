// The timing harness: a call is timed in samples of several calls each (so one sample lasts at
// least Sampling::min_sample_ms and the clock's resolution does not matter), after untimed
// warm-up samples; median, min and max of the per-call time are reported.
#pragma once

#include <functional>
#include <vector>

#include "experiments/kernel_bench/options.h"

namespace ip::bench {

struct Timing {
  double median = 0, min = 0, max = 0;  // seconds per call
  int calls_per_sample = 1;
  int samples = 0;
};

// `sync` makes asynchronous devices finish before the clock is read (a no-op on the CPU).
// With `samples`, each timed sample's seconds per call are appended to it too.
Timing time_calls(const std::function<void()>& call, const std::function<void()>& sync, const Sampling& s,
                  std::vector<double>* samples = nullptr);
// Median, min and max of seconds-per-call samples (at least one).
Timing summarise_samples(std::vector<double> per_call, int calls_per_sample);

// `call` and `reference` timed alternately, sample by sample, so that both see the same machine.
// On the 2-core VM the memory bandwidth available moved from 46 to 70 GB/s between two runs a
// few minutes apart: a copy timed once at the start says little about the machine a minute later,
// when the last kernels run, and their fractions of copy swung by 10-15% between runs.
struct PairedTiming {
  Timing call, reference;
};
PairedTiming time_calls_paired(const std::function<void()>& call, const std::function<void()>& reference,
                               const std::function<void()>& sync, const Sampling& s);

// The 1-minute load average (NaN when unknown): on a shared machine other processes take cores
// from the threads under test, and a multi-threaded kernel then waits for its slowest thread.
double load_average();

}  // namespace ip::bench
