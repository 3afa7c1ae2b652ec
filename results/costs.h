// What each function costs at one scale, from the samples of the rounds design (results.h,
// ScaleResult::samples): seconds per instance, the cost relative to the reference (Identity)
// paired within rounds, the function layers' own time per element, each with a 95% interval,
// a verdict against the reference, the no-op controls' check, and the spread within a group.
// Used by rand_power (its summary and the "costs" it writes), power_table, the figures and
// compare_results, so every tool shows the same numbers.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/results.h"
#include "results/stats.h"

namespace ip {

struct FunctionCost {
  std::string key, label, group;
  int rounds = 0;              // rounds that timed it
  Estimate seconds_per_instance;  // median over rounds, distribution-free interval
  // Median over rounds of (its time / the reference's time around it in the same round), with
  // the distribution-free interval of that median. The reference itself: exactly 1.
  Estimate relative;
  Estimate function_ns_per_element;  // the four function layers alone (NaN where not timed)
  Verdict verdict = Verdict::NotEnoughData;  // relative against 1
  bool reference = false, control = false;
};

// The no-op controls (dropouts in eval mode are the identity): each must come out at 1 within
// the precision the run claims, with an interval (95% over all controls together: Bonferroni)
// that contains 1, or the run is noisy.
struct ControlCheck {
  int controls = 0;
  bool passed = true;
  std::string worst;             // label of the control furthest from 1
  double worst_deviation = 0;    // |relative - 1| of that control
  std::vector<std::string> failures;  // "dropout2d 1.024 [1.011, 1.040]" per failing control
};

// What the machine did beside the measurement during a scale, summed over the samples used.
struct Disturbance {
  long preemptions = 0, page_faults = 0;
  double steal_seconds = 0, other_cpu_seconds = 0;
  bool known = false;  // steal and other processes' time were readable
  int retaken = 0;     // samples disturbed beyond the limit and taken again
  std::string describe() const;  // "312 preemptions, 0.42 s other processes' CPU, 0.00 s steal"
};

struct ScaleCosts {
  int scale = -1;
  uint64_t pred_items = 0;
  std::string reference_label;
  std::vector<FunctionCost> functions;  // activations, dropouts, identity; table order within
  ControlCheck controls;
  // Slowest / fastest relative cost within a group, and the activations' mean relative cost
  // (the paper's figures (b) and (c)), with percentile-bootstrap intervals over rounds.
  Estimate activation_spread, dropout_spread, activation_mean_relative;
  double precision = 0;        // the target the run stopped on (0: none)
  double worst_half_width = 0; // largest relative half-width among the functions
  bool precise = false;        // every function's relative interval within the target
  // What the run can claim: the target when reached, else the worst half-width it reached; the
  // controls are judged against it.
  double stated_precision = 0;
  // Not precise: about how many more rounds (and seconds) the target needs, from the 1/sqrt(n)
  // narrowing of the intervals.
  double more_rounds_needed = 0, more_seconds_needed = 0;
  std::string stop;            // why the rounds stopped (RoundsDesign::stop)
  int rounds = 0;
  Disturbance disturbance;
};

// Per function key, its per-round cost relative to the reference: each sample over the
// geometric mean of the reference samples just before and after it in the same round (either
// one where the other is missing). Rounds without a reference sample are skipped.
std::map<std::string, std::vector<double>> relative_costs_by_round(const ScaleResult& s);
// Per function key, its seconds per instance in each round (the median of its samples there:
// the reference has as many as there are functions).
std::map<std::string, std::vector<double>> seconds_per_instance_by_round(const ScaleResult& s);

// Per function key, its per-round (or per-run) costs relative to the reference and seconds per
// instance: from the samples of a scale measured in rounds, or from the runs of the paper's
// protocol (each function over the reference's time in the same run), so files of either
// design can be compared. `reference` names the reference for paper-protocol scales.
struct RoundValues {
  std::map<std::string, std::vector<double>> relative, seconds_per_instance;
};
RoundValues round_values(const ScaleResult& s, const std::string& reference);

// The paper's figures (b) and (c) with intervals, for a scale of either design: slowest /
// fastest median relative cost within the activations and within the dropouts, and the mean of
// the activations' median relative costs, each with a percentile-bootstrap interval over the
// rounds (runs). `seed` makes the bootstrap reproducible.
struct GroupSummary {
  Estimate activation_spread, dropout_spread, activation_mean_relative;
  std::string fastest_activation, slowest_activation;  // labels at the point estimate
};
GroupSummary group_summary(const RoundValues& v, uint64_t seed);

// Everything above for a scale measured in rounds (s.has_rounds). `precision` overrides the
// design's target when > 0.
ScaleCosts scale_costs(const ScaleResult& s, double precision = 0);

nlohmann::json costs_to_json(const ScaleCosts& c);

// The answer, as a terminal table: per function its seconds per instance, cost relative to the
// reference, the function layers' ns per element (each with its 95% interval), rounds and
// verdict; then the controls' check and why a run is noisy.
std::string format_costs(const ScaleCosts& c);

}  // namespace ip
