// Statistics for timings: a median with a distribution-free confidence interval, a percentile
// bootstrap, and the verdicts drawn from an interval. Pure functions over numbers: nothing here
// knows about functions, files or the engine.
//
// Why these: timings on shared machines have heavy, one-sided tails (a preempted thread, another
// guest's burst of memory traffic) and drift. A median ignores the tails, and the interval of
// order statistics covers the true median at the stated rate for any continuous distribution,
// without assuming normality (the only assumption: samples are independent, which interleaved
// rounds and per-round ratios make as true as a machine allows).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace ip {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A point estimate with a confidence interval. low/high are NaN when the sample is too small for
// an interval at the requested level (the estimate itself may still exist).
struct Estimate {
  double value = kNaN, low = kNaN, high = kNaN;
  int n = 0;                  // values it was computed from
  double coverage = kNaN; // the interval's exact coverage (order statistics), or the level asked
  bool has_interval() const;
  // Larger distance from the estimate to an end of the interval, relative to the estimate
  // (0.01 = "±1%"); +inf without an interval.
  double relative_half_width() const;
  bool contains(double x) const;  // false without an interval
};

// The sample median (the mean of the two middle values when n is even); NaN when empty.
double median(std::vector<double> values);

// Ranks of the distribution-free interval for a median: the largest k >= 1 such that
// [x_(k), x_(n+1-k)] covers the median with probability >= level, from the Binomial(n, 1/2)
// distribution of the number of values below it. 0 when no such k exists (n too small: at the
// 95% level n must be at least 6).
int median_interval_rank(int n, double level);
// P(X <= k) for X ~ Binomial(n, 1/2).
double binomial_half_cdf(int n, int k);

// Median of `values` with its distribution-free interval at `level` (NaN values are ignored).
Estimate median_estimate(std::vector<double> values, double level = 0.95);

// Percentile bootstrap: `groups` are independent samples; each resample draws every group with
// replacement (same size), and `statistic` maps the resampled groups to one number. The interval
// is the [(1-level)/2, (1+level)/2] quantile range of `resamples` statistics; value is the
// statistic of the original groups. Deterministic for a seed.
Estimate bootstrap_estimate(const std::vector<std::vector<double>>& groups,
                            const std::function<double(const std::vector<std::vector<double>>&)>& statistic,
                            int resamples = 2000, uint64_t seed = 1, double level = 0.95);

// Against a reference of 1 (a cost relative to Identity, or a ratio of two runs):
enum class Verdict { Slower, Faster, Indistinguishable, NotEnoughData };
// Slower when the whole interval lies above 1, Faster when below, Indistinguishable when it
// contains 1, NotEnoughData without an interval.
Verdict verdict_against_one(const Estimate& ratio);
std::string verdict_name(Verdict v);  // "slower", "faster", "indistinguishable", "n/a"

// Two runs compared: ratio = second / first with its interval, and a margin of practical
// equivalence (0.01 = 1%). Same when the whole interval lies within 1 ± margin; otherwise Slower
// (interval above 1) or Faster (below 1); Unclear when it straddles 1 and leaves the margin.
enum class Comparison { Same, Faster, Slower, Unclear };
Comparison compare_ratio(const Estimate& ratio, double margin);
std::string comparison_name(Comparison c);  // "SAME", "FASTER", "SLOWER", "UNCLEAR"

}  // namespace ip
