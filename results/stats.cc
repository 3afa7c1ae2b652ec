#include "results/stats.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ip {

bool Estimate::has_interval() const { return std::isfinite(low) && std::isfinite(high); }

double Estimate::relative_half_width() const {
  if (!has_interval() || !(value != 0) || !std::isfinite(value))
    return std::numeric_limits<double>::infinity();
  return std::max(value - low, high - value) / std::fabs(value);
}

bool Estimate::contains(double x) const { return has_interval() && low <= x && x <= high; }

double median(std::vector<double> values) {
  if (values.empty()) return kNaN;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  const double upper = values[mid];
  if (values.size() % 2) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + mid);
  return 0.5 * (lower + upper);
}

double binomial_half_cdf(int n, int k) {
  if (k < 0) return 0;
  if (k >= n) return 1;
  // Terms in logs: C(n, i) / 2^n underflows doubles from n ~ 1100 on.
  double sum = 0;
  const double log_half_n = n * std::log(0.5);
  for (int i = 0; i <= k; ++i)
    sum += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + log_half_n);
  return std::min(1.0, sum);
}

int median_interval_rank(int n, double level) {
  if (n < 1 || !(level > 0 && level < 1)) return 0;
  // Coverage of [x_(k), x_(n+1-k)] is 1 - 2 P(X <= k-1); it falls as k grows.
  int best = 0;
  for (int k = 1; 2 * k <= n + 1; ++k) {
    if (1.0 - 2.0 * binomial_half_cdf(n, k - 1) >= level) best = k;
    else break;
  }
  return best;
}

Estimate median_estimate(std::vector<double> values, double level) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
               values.end());
  Estimate e;
  e.n = static_cast<int>(values.size());
  if (values.empty()) return e;
  std::sort(values.begin(), values.end());
  e.value = median(values);
  const int k = median_interval_rank(e.n, level);
  if (k > 0) {
    e.low = values[k - 1];
    e.high = values[e.n - k];
    e.coverage = 1.0 - 2.0 * binomial_half_cdf(e.n, k - 1);
  }
  return e;
}

namespace {

// SplitMix64: a small, well-mixed generator; the bootstrap needs reproducibility, not crypto.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

// Linear interpolation between order statistics (numpy's default quantile).
double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

Estimate bootstrap_estimate(const std::vector<std::vector<double>>& groups,
                            const std::function<double(const std::vector<std::vector<double>>&)>& statistic,
                            int resamples, uint64_t seed, double level) {
  Estimate e;
  e.value = statistic(groups);
  e.n = groups.empty() ? 0 : static_cast<int>(groups.front().size());
  for (const auto& g : groups) e.n = std::min<int>(e.n, static_cast<int>(g.size()));
  if (e.n < 2 || resamples < 10 || !std::isfinite(e.value)) return e;
  SplitMix64 rng{seed};
  std::vector<std::vector<double>> draw(groups.size());
  std::vector<double> stats;
  stats.reserve(resamples);
  for (int r = 0; r < resamples; ++r) {
    for (size_t g = 0; g < groups.size(); ++g) {
      draw[g].resize(groups[g].size());
      for (double& v : draw[g]) v = groups[g][rng.below(groups[g].size())];
    }
    const double s = statistic(draw);
    if (std::isfinite(s)) stats.push_back(s);
  }
  if (stats.size() < static_cast<size_t>(resamples) / 2) return e;
  std::sort(stats.begin(), stats.end());
  e.low = quantile_sorted(stats, (1 - level) / 2);
  e.high = quantile_sorted(stats, (1 + level) / 2);
  e.coverage = level;
  return e;
}

Verdict verdict_against_one(const Estimate& ratio) {
  if (!ratio.has_interval()) return Verdict::NotEnoughData;
  if (ratio.low > 1) return Verdict::Slower;
  if (ratio.high < 1) return Verdict::Faster;
  return Verdict::Indistinguishable;
}

std::string verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Slower: return "slower";
    case Verdict::Faster: return "faster";
    case Verdict::Indistinguishable: return "indistinguishable";
    case Verdict::NotEnoughData: return "n/a";
  }
  return "n/a";
}

Comparison compare_ratio(const Estimate& ratio, double margin) {
  if (!ratio.has_interval()) return Comparison::Unclear;
  if (ratio.low >= 1 - margin && ratio.high <= 1 + margin) return Comparison::Same;
  if (ratio.low > 1) return Comparison::Slower;
  if (ratio.high < 1) return Comparison::Faster;
  return Comparison::Unclear;
}

std::string comparison_name(Comparison c) {
  switch (c) {
    case Comparison::Same: return "SAME";
    case Comparison::Faster: return "FASTER";
    case Comparison::Slower: return "SLOWER";
    case Comparison::Unclear: return "UNCLEAR";
  }
  return "UNCLEAR";
}

}  // namespace ip
