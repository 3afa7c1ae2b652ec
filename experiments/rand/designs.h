// The two ways rand_power measures a scale.
//
// Rounds (the default): every round times every function once and the reference (Identity) as
// many times, all in one fresh random order. Each function's cost relative to the reference
// comes from the reference samples nearest to it on either side: the machine's speed drifts over
// seconds to minutes (on a 2-core VM, lag-1 autocorrelation 0.6-0.9 between 7-70 ms samples),
// so neighbours share it and it cancels; and since the order is random, what ran just before a
// sample is the same mix for the functions and the reference. A sample repeats
// short predictions until it lasts long enough to dwarf the clock and the fork-join noise, and
// starts with an untimed prediction of its own. Rounds go on until every function's 95% interval
// is within the precision target, or the scale's share of the time budget is spent. Statistics:
// costs.h.
//
// Paper: the original protocol, for reproducing its figures: per run one loop of 10^n
// instances per function, functions in a shuffled order, --runs runs.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/common/session.h"
#include "experiments/rand/model.h"
#include "experiments/rand/timing.h"
#include "results/results.h"

namespace ip::rand {

// What both designs need from the run around them.
struct Bench {
  Session& session;
  TimingNetwork& network;
  const Tensor& input;        // the largest chunk of random instances
  uint64_t chunk_cap = 100000;
  uint64_t seed = 1234;
  bool dropout_train = false, async = false;
  // Rewrites the consolidated file with what is measured so far (partial); called between
  // samples at most every few seconds, so a killed run loses little.
  std::function<void()> checkpoint;
};

struct RoundsSettings {
  double precision = 0.01;         // target relative half-width of every relative cost's 95% CI
  double min_sample_seconds = 0.015;
  int min_rounds = 6;              // the fewest for a 95% distribution-free interval
  int max_rounds = 500;
  // Untimed predictions of one chunk before each sample: every sample then starts from its own
  // network's cache state. Without them each function sample followed a reference sample and
  // each reference sample followed a function, and the no-op controls came out 1-1.5% faster
  // than the reference at 10^3-10^4.
  int warmup = 1;
};

// Measures one scale in rounds into `s` (which may already hold rounds of an interrupted run),
// spending at most `budget_seconds` beyond the minimum rounds. `reference` indexes the
// reference candidate; `controls` are the no-op controls' keys.
void measure_rounds(Bench& b, std::vector<Candidate>& candidates, size_t reference,
                    const std::vector<std::string>& controls, int scale, double budget_seconds,
                    const RoundsSettings& settings, ScaleResult& s);

// One measurement of the paper's protocol, with the per-layer split of --breakdown.
struct PaperMeasurement {
  Sample sample;
  int scale = 0, run = 0;
  bool has_breakdown = false;
  double gemm = 0, activation = 0, dropout = 0;  // seconds per layer kind
  nlohmann::json resumed;  // non-null: kept verbatim from an interrupted run
};
using PaperCell = std::tuple<std::string, int, int>;  // (function key, scale, run)

struct PaperSettings {
  int runs = 3, warmup = 1;
  bool breakdown = false;
  std::map<PaperCell, nlohmann::json> done;  // cells an interrupted run measured
};

// Measures one scale with the paper's protocol into `s` and `measurements`.
void measure_paper(Bench& b, std::vector<Candidate>& candidates, int scale,
                   const PaperSettings& settings, ScaleResult& s,
                   std::vector<PaperMeasurement>& measurements);

// One instance's prediction against its kernels called alone (--breakdown).
struct Overhead {
  double predict = 0, kernels = 0;  // seconds: fastest prediction, fastest round of its kernels
  int layers_timed = 0;             // layers that run kernels (Linear: GEMM + bias add)
  double overhead() const { return predict - kernels; }
};
Overhead measure_overhead(Sequential& model, const Tensor& row, Device device);

}  // namespace ip::rand
