// The statistics behind every reported cost: the distribution-free interval of a median, the
// bootstrap, verdicts, and the paired costs of the rounds design, checked on synthetic samples
// whose true answer is known (coverage over many seeded trials, drift that must cancel, a no-op
// judged indistinguishable). No timing happens here.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "results/costs.h"
#include "results/results.h"
#include "results/stats.h"

namespace ip {
namespace {

TEST(Stats, MedianIntervalRanksMatchTheBinomial) {
  // Largest k with 1 - 2 P(Bin(n, 1/2) <= k-1) >= 0.95 (computed independently with exact
  // binomial coefficients).
  const std::vector<std::pair<int, int>> expected = {{1, 0},  {5, 0},   {6, 1},   {7, 1},    {10, 2},
                                                     {12, 3}, {20, 6},  {30, 10}, {50, 18},  {100, 40},
                                                     {1000, 469}};
  for (const auto& [n, k] : expected) EXPECT_EQ(median_interval_rank(n, 0.95), k) << "n=" << n;
  EXPECT_NEAR(binomial_half_cdf(12, 2), 79.0 / 4096, 1e-15);
  EXPECT_DOUBLE_EQ(binomial_half_cdf(5, 5), 1.0);
  EXPECT_DOUBLE_EQ(binomial_half_cdf(5, -1), 0.0);
}

TEST(Stats, MedianEstimateUsesOrderStatistics) {
  const Estimate e = median_estimate({5, 1, 4, 2, 3, 6, 9, 8, 7, 10});
  EXPECT_DOUBLE_EQ(e.value, 5.5);
  EXPECT_DOUBLE_EQ(e.low, 2);   // x_(2)
  EXPECT_DOUBLE_EQ(e.high, 9);  // x_(9)
  EXPECT_NEAR(e.coverage, 0.978515625, 1e-12);
  EXPECT_EQ(e.n, 10);
  // Too few values for a 95% interval: the estimate stands alone.
  const Estimate small = median_estimate({3, 1, 2});
  EXPECT_DOUBLE_EQ(small.value, 2);
  EXPECT_FALSE(small.has_interval());
  EXPECT_TRUE(std::isinf(small.relative_half_width()));
  // NaN values are ignored, not sorted somewhere.
  EXPECT_EQ(median_estimate({1, NAN, 2, 3, 4, 5, 6}).n, 6);
}

// Over many seeded trials of a skewed distribution with a known median, the interval covers it
// at its exact binomial rate (0.9614 for n = 12): an off-by-one rank would give 0.9858 or 0.8540.
TEST(Stats, MedianIntervalCoversAtTheStatedRate) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> skewed(0.0, 0.5);  // median exactly 1
  const int trials = 4000;
  int covered = 0;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> v(12);
    for (double& x : v) x = 3.0 * skewed(rng);
    covered += median_estimate(v).contains(3.0) ? 1 : 0;
  }
  const double rate = static_cast<double>(covered) / trials;
  EXPECT_GT(rate, 0.95);
  EXPECT_LT(rate, 0.972);
}

TEST(Stats, BootstrapIntervalOfAMeanCoversTheTruth) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(2.0, 1.0);
  auto mean = [](const std::vector<std::vector<double>>& g) {
    double s = 0;
    for (double x : g[0]) s += x;
    return s / static_cast<double>(g[0].size());
  };
  int covered = 0;
  const int trials = 300;
  for (int t = 0; t < trials; ++t) {
    std::vector<double> v(40);
    for (double& x : v) x = normal(rng);
    covered += bootstrap_estimate({v}, mean, 1000, static_cast<uint64_t>(t)).contains(2.0) ? 1 : 0;
  }
  // Percentile bootstrap of a mean of 40 normal values: close to 95% (slightly under).
  EXPECT_GT(covered, trials * 0.90);
  EXPECT_LT(covered, trials * 0.985);
  // Deterministic for a seed.
  const std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(bootstrap_estimate({v}, mean, 500, 3).low, bootstrap_estimate({v}, mean, 500, 3).low);
}

TEST(Stats, VerdictsAndComparisons) {
  auto est = [](double v, double lo, double hi) {
    Estimate e;
    e.value = v;
    e.low = lo;
    e.high = hi;
    e.n = 10;
    return e;
  };
  EXPECT_EQ(verdict_against_one(est(1.1, 1.05, 1.15)), Verdict::Slower);
  EXPECT_EQ(verdict_against_one(est(0.9, 0.85, 0.95)), Verdict::Faster);
  EXPECT_EQ(verdict_against_one(est(1.0, 0.99, 1.02)), Verdict::Indistinguishable);
  EXPECT_EQ(verdict_against_one(Estimate{}), Verdict::NotEnoughData);
  EXPECT_EQ(compare_ratio(est(1.0, 0.995, 1.004), 0.01), Comparison::Same);
  EXPECT_EQ(compare_ratio(est(1.05, 1.02, 1.08), 0.01), Comparison::Slower);
  EXPECT_EQ(compare_ratio(est(0.95, 0.92, 0.98), 0.01), Comparison::Faster);
  EXPECT_EQ(compare_ratio(est(1.0, 0.97, 1.04), 0.01), Comparison::Unclear);
  // Statistically different but within the margin counts as the same.
  EXPECT_EQ(compare_ratio(est(1.003, 1.001, 1.005), 0.01), Comparison::Same);
  EXPECT_NEAR(est(1.0, 0.98, 1.03).relative_half_width(), 0.03, 1e-15);
}

// ---- the paired costs of the rounds design ----

Sample sample(const std::string& key, int round, int position, double seconds) {
  Sample m;
  m.key = key;
  m.round = round;
  m.position = position;
  m.seconds = seconds;
  return m;
}

const std::string kIdentity = "torch.nn.modules.linear.Identity";
const std::string kRelu = "torch.nn.modules.activation.ReLU";
const std::string kGelu = "torch.nn.modules.activation.GELU";
const std::string kDropout = "torch.nn.modules.dropout.Dropout";

ScaleResult rounds_scale(const std::string& pairing) {
  ScaleResult s;
  s.scale = 4;
  s.pred_items = 10000;
  s.has_rounds = true;
  s.rounds.reference = kIdentity;
  s.rounds.pairing = pairing;
  s.rounds.controls = {kDropout};
  s.rounds.precision = 0.01;
  s.rounds.function_elements_per_instance = 4096;
  return s;
}

TEST(Costs, EachSampleIsComparedWithTheReferenceAroundIt) {
  ScaleResult s = rounds_scale("neighbours");
  // Round 0: I(1.0) relu(2.2) I(1.21) gelu(3.0) I(1.5); round 1 has the reference only after.
  s.samples = {sample(kIdentity, 0, 0, 1.0), sample(kRelu, 0, 1, 2.2), sample(kIdentity, 0, 2, 1.21),
               sample(kGelu, 0, 3, 3.0),     sample(kIdentity, 0, 4, 1.5),
               sample(kRelu, 1, 0, 2.0),     sample(kIdentity, 1, 1, 1.6)};
  const auto r = relative_costs_by_round(s);
  ASSERT_EQ(r.at(kRelu).size(), 2u);
  EXPECT_NEAR(r.at(kRelu)[0], 2.2 / std::sqrt(1.0 * 1.21), 1e-12);
  EXPECT_NEAR(r.at(kRelu)[1], 2.0 / 1.6, 1e-12);
  EXPECT_NEAR(r.at(kGelu)[0], 3.0 / std::sqrt(1.21 * 1.5), 1e-12);
  const auto spi = seconds_per_instance_by_round(s);
  EXPECT_NEAR(spi.at(kIdentity)[0], 1.21 / 10000, 1e-15);  // the median of its three samples
}

// A machine whose speed drifts by ±30% over the run: seconds per instance spread wide, but the
// paired costs cancel the drift, come out at the true ratios, and the no-op control is judged
// indistinguishable from the reference.
ScaleResult drifting_run(uint64_t seed, int rounds, double relu_ratio) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, 0.01);
  ScaleResult s = rounds_scale("neighbours");
  double t = 0;
  auto speed = [&] { return 1.0 + 0.3 * std::sin(t / 7.0); };
  for (int r = 0; r < rounds; ++r) {
    const std::vector<std::pair<std::string, double>> fns = {{kRelu, relu_ratio}, {kDropout, 1.0}, {kGelu, 1.3}};
    int pos = 0;
    auto add = [&](const std::string& key, double ratio) {
      const double secs = 0.01 * ratio * speed() * std::exp(noise(rng));
      Sample m = sample(key, r, pos++, secs);
      m.function_seconds = key == kIdentity || key == kDropout ? 0.0 : secs * 0.2;
      s.samples.push_back(m);
      t += 1;
    };
    add(kIdentity, 1.0);
    for (const auto& [key, ratio] : fns) {
      add(key, ratio);
      add(kIdentity, 1.0);
    }
  }
  return s;
}

TEST(Costs, PairedCostsCancelDriftAndCoverTheTruth) {
  int relu_covered = 0, control_indistinguishable = 0, controls_passed = 0;
  const int trials = 300;
  for (int t = 0; t < trials; ++t) {
    const ScaleCosts c = scale_costs(drifting_run(static_cast<uint64_t>(t), 20, 1.08));
    controls_passed += c.controls.passed ? 1 : 0;
    for (const FunctionCost& f : c.functions) {
      if (f.key == kRelu) relu_covered += f.relative.contains(1.08) ? 1 : 0;
      if (f.key == kDropout) control_indistinguishable += f.verdict == Verdict::Indistinguishable ? 1 : 0;
    }
  }
  // The drift is nearly linear between neighbours, so the paired ratio's noise is the samples'
  // own 1% (times sqrt(1.5)): the interval covers at its nominal rate, >= 95.86% for n = 20.
  EXPECT_GT(relu_covered, trials * 0.93);
  EXPECT_GT(control_indistinguishable, trials * 0.93);
  // Passing also needs the estimate within the 1% precision: nearly always with 1% noise.
  EXPECT_GT(controls_passed, trials * 0.93);

  const ScaleCosts c = scale_costs(drifting_run(99, 20, 1.08));
  for (const FunctionCost& f : c.functions) {
    if (f.key == kIdentity) {
      EXPECT_TRUE(f.reference);
      EXPECT_DOUBLE_EQ(f.relative.value, 1.0);
      // Unpaired, the drift dominates: the seconds per instance spread by tens of percent.
      EXPECT_GT(f.seconds_per_instance.relative_half_width(), 0.1);
    } else {
      EXPECT_LT(f.relative.relative_half_width(), 0.02) << f.label;
    }
    if (f.key == kGelu) {
      EXPECT_EQ(f.verdict, Verdict::Slower);
    }
    if (f.key == kDropout) {
      EXPECT_TRUE(f.control);
      EXPECT_NEAR(f.function_ns_per_element.value, 0.0, 1e-12);
    }
  }
  EXPECT_EQ(c.controls.controls, 1);
  EXPECT_EQ(c.rounds, 20);
  // GELU (1.3) over ReLU (1.08) within the activations, with an interval around it.
  EXPECT_NEAR(c.activation_spread.value, 1.3 / 1.08, 0.02);
  EXPECT_TRUE(c.activation_spread.contains(1.3 / 1.08));
}

TEST(Costs, AControlThatDiffersMarksTheScaleNoisy) {
  ScaleResult s = drifting_run(5, 20, 1.08);
  for (Sample& m : s.samples)
    if (m.key == kDropout) m.seconds *= 1.05;  // a "no-op" 5% slower: something is wrong
  const ScaleCosts c = scale_costs(s);
  EXPECT_FALSE(c.controls.passed);
  ASSERT_EQ(c.controls.failures.size(), 1u);
  EXPECT_NE(c.controls.failures[0].find("Dropout"), std::string::npos);
  EXPECT_NE(format_costs(c).find("NOISY"), std::string::npos);
  const nlohmann::json j = costs_to_json(c);
  EXPECT_EQ(j["noisy"], true);
  EXPECT_EQ(j["functions"][kDropout]["verdict"], "slower");
}

TEST(Costs, RoundsSurviveAWriteAndARead) {
  RandResults r;
  r.device = "cpu";
  r.hardware_name = "test";
  r.outprefix = "t";
  ScaleResult s = drifting_run(3, 8, 1.1);
  s.rounds.stop = "budget";
  s.rounds.reps = 7;
  s.samples[1].linear_seconds = 0.004;
  s.samples[2].steal_seconds = 0.5;
  s.samples[2].other_cpu_seconds = 0.25;
  r.scales.push_back(s);
  const nlohmann::json j = rand_to_json(r);
  const std::string path = ::testing::TempDir() + "/rounds_roundtrip.all.1.json";
  write_file_atomic(path, j.dump());
  const RandResults back = read_rand_file(path);
  ASSERT_EQ(back.scales.size(), 1u);
  const ScaleResult& b = back.scales[0];
  EXPECT_TRUE(b.has_rounds);
  EXPECT_EQ(b.rounds.pairing, "neighbours");
  EXPECT_EQ(b.rounds.reps, 7u);
  EXPECT_EQ(b.rounds.stop, "budget");
  EXPECT_EQ(b.rounds.controls, s.rounds.controls);
  ASSERT_EQ(b.samples.size(), s.samples.size());
  EXPECT_EQ(b.samples[1].linear_seconds, 0.004);
  EXPECT_TRUE(std::isnan(b.samples[0].linear_seconds));
  EXPECT_EQ(b.samples[2].steal_seconds, 0.5);
  EXPECT_EQ(b.samples[5].seconds, s.samples[5].seconds);
  EXPECT_EQ(scale_costs(b).functions.size(), scale_costs(s).functions.size());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace ip
