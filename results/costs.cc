#include "results/costs.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "results/analysis.h"

namespace ip {

using nlohmann::json;

namespace {

// Samples of each round, in the order they were taken.
// Samples of each round, in the order they were taken; disturbed samples (retaken) left out.
std::map<int, std::vector<const Sample*>> rounds_of(const ScaleResult& s) {
  std::map<int, std::vector<const Sample*>> rounds;
  for (const Sample& m : s.samples)
    if (!m.disturbed) rounds[m.round].push_back(&m);
  for (auto& [round, list] : rounds)
    std::sort(list.begin(), list.end(),
              [](const Sample* a, const Sample* b) { return a->position < b->position; });
  return rounds;
}

std::vector<std::vector<double>> medians_input(const std::map<std::string, std::vector<double>>& by_key,
                                               const std::vector<std::string>& keys) {
  std::vector<std::vector<double>> groups;
  for (const std::string& k : keys) {
    auto it = by_key.find(k);
    if (it != by_key.end() && !it->second.empty()) groups.push_back(it->second);
  }
  return groups;
}

double max_over_min_of_medians(const std::vector<std::vector<double>>& groups) {
  if (groups.size() < 2) return kNaN;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& g : groups) {
    const double m = median(g);
    lo = std::min(lo, m);
    hi = std::max(hi, m);
  }
  return lo > 0 ? hi / lo : kNaN;
}

double mean_of_medians(const std::vector<std::vector<double>>& groups) {
  if (groups.empty()) return kNaN;
  double sum = 0;
  for (const auto& g : groups) sum += median(g);
  return sum / static_cast<double>(groups.size());
}

json estimate_json(const Estimate& e) {
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  return {{"value", num(e.value)}, {"ci_low", num(e.low)}, {"ci_high", num(e.high)},
          {"n", e.n}, {"coverage", num(e.coverage)}};
}

// "1.234 [1.220, 1.250]" with a printf format for the three numbers.
std::string with_interval(const char* spec, const Estimate& e) {
  if (!std::isfinite(e.value)) return "-";
  char buf[128];
  std::snprintf(buf, sizeof buf, spec, e.value);
  std::string out = buf;
  if (e.has_interval()) {
    std::string fmt = std::string(" [") + spec + ", " + spec + "]";
    std::snprintf(buf, sizeof buf, fmt.c_str(), e.low, e.high);
    out += buf;
  }
  return out;
}

}  // namespace

std::string Disturbance::describe() const {
  char buf[256];
  if (known)
    std::snprintf(buf, sizeof buf,
                  "%ld preemptions, %ld page faults, %.2f s of other processes' CPU, %.2f s steal in the "
                  "samples used; %d disturbed sample(s) retaken",
                  preemptions, page_faults, other_cpu_seconds, steal_seconds, retaken);
  else
    std::snprintf(buf, sizeof buf, "%ld preemptions, %ld page faults (other processes' CPU and steal unknown)",
                  preemptions, page_faults);
  return buf;
}

std::map<std::string, std::vector<double>> relative_costs_by_round(const ScaleResult& s) {
  std::map<std::string, std::vector<double>> out;
  const std::string& ref = s.rounds.reference;
  for (const auto& [round, list] : rounds_of(s)) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i]->key == ref) continue;
      const Sample* before = nullptr;
      const Sample* after = nullptr;
      for (size_t b = i; b-- > 0;)
        if (list[b]->key == ref) { before = list[b]; break; }
      for (size_t a = i + 1; a < list.size(); ++a)
        if (list[a]->key == ref) { after = list[a]; break; }
      double reference = 0;
      if (before && after) reference = std::sqrt(before->seconds * after->seconds);
      else if (before) reference = before->seconds;
      else if (after) reference = after->seconds;
      if (reference > 0) out[list[i]->key].push_back(list[i]->seconds / reference);
    }
  }
  return out;
}

std::map<std::string, std::vector<double>> seconds_per_instance_by_round(const ScaleResult& s) {
  std::map<std::string, std::vector<double>> out;
  const double items = static_cast<double>(s.pred_items);
  for (const auto& [round, list] : rounds_of(s)) {
    std::map<std::string, std::vector<double>> times;
    for (const Sample* m : list) times[m->key].push_back(m->seconds);
    for (const auto& [key, t] : times) out[key].push_back(median(t) / items);
  }
  return out;
}

RoundValues round_values(const ScaleResult& s, const std::string& reference) {
  RoundValues v;
  if (s.has_rounds) {
    v.relative = relative_costs_by_round(s);
    v.seconds_per_instance = seconds_per_instance_by_round(s);
    v.relative[s.rounds.reference] = std::vector<double>(v.seconds_per_instance[s.rounds.reference].size(), 1.0);
    return v;
  }
  const double items = static_cast<double>(s.pred_items);
  for (const RunTimes& run : s.pred_times) {
    const auto ref = run.find(reference);
    for (const auto& [key, seconds] : run) {
      v.seconds_per_instance[key].push_back(seconds / items);
      if (ref != run.end() && ref->second > 0) v.relative[key].push_back(seconds / ref->second);
    }
  }
  return v;
}

ScaleCosts scale_costs(const ScaleResult& s, double precision) {
  ScaleCosts c;
  c.scale = s.scale;
  c.pred_items = s.pred_items;
  c.precision = precision > 0 ? precision : s.rounds.precision;
  c.stop = s.rounds.stop;
  c.reference_label = function_label(s.rounds.reference);
  const auto relative = relative_costs_by_round(s);
  const auto per_instance = seconds_per_instance_by_round(s);
  std::map<std::string, std::vector<double>> function_ns;
  std::set<int> rounds;
  const double elements = static_cast<double>(s.pred_items) * s.rounds.function_elements_per_instance;
  std::map<std::pair<std::string, int>, std::pair<double, int>> fn_sums;
  for (const Sample& m : s.samples) {
    if (m.disturbed) {
      ++c.disturbance.retaken;
      continue;
    }
    rounds.insert(m.round);
    c.disturbance.preemptions += m.preemptions;
    c.disturbance.page_faults += m.page_faults;
    if (m.steal_seconds >= 0 && m.other_cpu_seconds >= 0) {
      c.disturbance.known = true;
      c.disturbance.steal_seconds += m.steal_seconds;
      c.disturbance.other_cpu_seconds += m.other_cpu_seconds;
    }
    if (std::isfinite(m.function_seconds) && elements > 0) {
      auto& sum = fn_sums[{m.key, m.round}];
      sum.first += m.function_seconds / elements * 1e9;
      ++sum.second;
    }
  }
  for (const auto& [cell, sum] : fn_sums) function_ns[cell.first].push_back(sum.first / sum.second);
  c.rounds = static_cast<int>(rounds.size());
  const std::set<std::string> controls(s.rounds.controls.begin(), s.rounds.controls.end());

  for (const auto& [key, values] : per_instance) {
    FunctionCost f;
    f.key = key;
    f.label = function_label(key);
    f.group = group_name_of_key(key);
    f.rounds = static_cast<int>(values.size());
    f.seconds_per_instance = median_estimate(values);
    f.reference = key == s.rounds.reference;
    f.control = controls.count(key) > 0;
    if (f.reference) {
      f.relative.value = f.relative.low = f.relative.high = 1;
      f.relative.n = f.rounds;
    } else if (auto it = relative.find(key); it != relative.end()) {
      f.relative = median_estimate(it->second);
      f.verdict = verdict_against_one(f.relative);
    }
    if (auto it = function_ns.find(key); it != function_ns.end())
      f.function_ns_per_element = median_estimate(it->second);
    c.functions.push_back(f);
  }
  std::stable_sort(c.functions.begin(), c.functions.end(), [](const FunctionCost& a, const FunctionCost& b) {
    const int ga = group_rank(a.group), gb = group_rank(b.group);
    if (ga != gb) return ga < gb;
    const FunctionInfo* fa = find_function_by_key(a.key);
    const FunctionInfo* fb = find_function_by_key(b.key);
    if (fa && fb) return fa < fb;  // table order
    return a.key < b.key;
  });

  c.precise = true;
  for (const FunctionCost& f : c.functions) {
    if (f.reference) continue;
    const double hw = f.relative.relative_half_width();
    c.worst_half_width = std::max(c.worst_half_width, hw);
    if (!(hw <= c.precision)) c.precise = false;
  }
  // The precision the run can claim: its target when reached, else what it reached.
  c.stated_precision = c.precise ? c.precision : c.worst_half_width;
  if (!c.precise && c.rounds > 0 && std::isfinite(c.worst_half_width)) {
    // Interval widths shrink as 1/sqrt(rounds).
    const double needed = c.rounds * std::pow(c.worst_half_width / c.precision, 2);
    c.more_rounds_needed = std::max(0.0, std::ceil(needed) - c.rounds);
    c.more_seconds_needed = s.rounds.measuring_seconds / c.rounds * c.more_rounds_needed;
  }
  // Several controls each judged at 95% would flag a perfect run one time in five with four
  // controls: each control's interval is widened to 1 - 0.05/k (Bonferroni) for this check.
  std::map<std::string, std::vector<double>> control_ratios;
  for (const FunctionCost& f : c.functions)
    if (!f.reference && f.control && relative.count(f.key)) control_ratios[f.key] = relative.at(f.key);
  const double level = 1 - 0.05 / std::max<size_t>(1, control_ratios.size());
  for (const FunctionCost& f : c.functions) {
    if (f.reference || !f.control) continue;
    ++c.controls.controls;
    const Estimate wide = median_estimate(control_ratios[f.key], level);
    const double deviation = std::fabs(f.relative.value - 1);
    if (deviation >= c.controls.worst_deviation || c.controls.worst.empty()) {
      c.controls.worst = f.label;
      c.controls.worst_deviation = deviation;
    }
    // A no-op must come out at 1 within the precision the run claims, with an interval that
    // contains 1: anything else is an artefact of the measurement, not a cost.
    const bool ok = deviation <= c.stated_precision && (!wide.has_interval() || wide.contains(1.0));
    if (!ok) {
      c.controls.passed = false;
      c.controls.failures.push_back(f.label + " " + with_interval("%.4f", wide) + " (" +
                                    std::to_string(100 * level).substr(0, 5) + "% CI)");
    }
  }
  const GroupSummary g = group_summary(round_values(s, s.rounds.reference),
                                       0x5eed0000ull + static_cast<uint64_t>(std::max(0, s.scale)));
  c.activation_spread = g.activation_spread;
  c.dropout_spread = g.dropout_spread;
  c.activation_mean_relative = g.activation_mean_relative;
  return c;
}

GroupSummary group_summary(const RoundValues& v, uint64_t seed) {
  std::vector<std::string> activations, dropouts;
  for (const auto& [key, values] : v.relative) {
    if (values.empty()) continue;
    const std::string group = group_name_of_key(key);
    if (group == "activation") activations.push_back(key);
    if (group == "dropout") dropouts.push_back(key);
  }
  GroupSummary g;
  g.activation_spread = bootstrap_estimate(medians_input(v.relative, activations), max_over_min_of_medians, 2000, seed);
  g.dropout_spread = bootstrap_estimate(medians_input(v.relative, dropouts), max_over_min_of_medians, 2000, seed + 1);
  g.activation_mean_relative = bootstrap_estimate(medians_input(v.relative, activations), mean_of_medians, 2000, seed + 2);
  double lo = INFINITY, hi = -INFINITY;
  for (const std::string& k : activations) {
    const double m = median(v.relative.at(k));
    if (m < lo) lo = m, g.fastest_activation = function_label(k);
    if (m > hi) hi = m, g.slowest_activation = function_label(k);
  }
  return g;
}

json costs_to_json(const ScaleCosts& c) {
  json j;
  j["reference"] = c.reference_label;
  j["rounds"] = c.rounds;
  j["precision"] = c.precision;
  j["precise"] = c.precise;
  j["stated_precision"] = std::isfinite(c.stated_precision) ? json(c.stated_precision) : json(nullptr);
  j["more_rounds_needed"] = c.more_rounds_needed;
  j["more_seconds_needed"] = c.more_seconds_needed;
  j["worst_relative_half_width"] = std::isfinite(c.worst_half_width) ? json(c.worst_half_width) : json(nullptr);
  j["stop"] = c.stop;
  j["interval"] = "95%: distribution-free (order statistics) for medians over rounds; percentile "
                  "bootstrap over rounds (2000 resamples) for spreads and means";
  j["functions"] = json::object();
  for (const FunctionCost& f : c.functions)
    j["functions"][f.key] = {{"function", f.label},
                             {"group", f.group},
                             {"rounds", f.rounds},
                             {"seconds_per_instance", estimate_json(f.seconds_per_instance)},
                             {"relative", estimate_json(f.relative)},
                             {"function_ns_per_element", estimate_json(f.function_ns_per_element)},
                             {"verdict", f.reference ? "reference" : verdict_name(f.verdict)},
                             {"control", f.control}};
  j["controls"] = {{"count", c.controls.controls},
                   {"passed", c.controls.passed},
                   {"worst", c.controls.worst},
                   {"worst_deviation", c.controls.worst_deviation},
                   {"failures", c.controls.failures}};
  j["noisy"] = !c.controls.passed;
  j["disturbance"] = {{"retaken_samples", c.disturbance.retaken},
                      {"preemptions", c.disturbance.preemptions},
                      {"page_faults", c.disturbance.page_faults},
                      {"steal_seconds", c.disturbance.known ? json(c.disturbance.steal_seconds) : json(nullptr)},
                      {"other_cpu_seconds", c.disturbance.known ? json(c.disturbance.other_cpu_seconds) : json(nullptr)}};
  j["activation_spread"] = estimate_json(c.activation_spread);
  j["dropout_spread"] = estimate_json(c.dropout_spread);
  j["activation_mean_relative"] = estimate_json(c.activation_mean_relative);
  return j;
}

std::string format_costs(const ScaleCosts& c) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"function", "s/instance [95% CI]", "vs " + c.reference_label + " [95% CI]",
                  "function ns/element [95% CI]", "rounds", "verdict"});
  for (const FunctionCost& f : c.functions) {
    rows.push_back({f.label + (f.control ? " (control)" : ""),
                    with_interval("%.4g", f.seconds_per_instance),
                    f.reference ? "1 (reference)" : with_interval("%.4f", f.relative),
                    with_interval("%.3f", f.function_ns_per_element), std::to_string(f.rounds),
                    f.reference ? "reference" : verdict_name(f.verdict)});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "scale 10^%d (%llu instances), %d rounds, stopped on %s\n", c.scale,
                static_cast<unsigned long long>(c.pred_items), c.rounds, c.stop.c_str());
  out += buf;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      const int w = static_cast<int>(width[i]);
      std::snprintf(buf, sizeof buf, i == 0 ? "%-*s" : "  %*s", w, r[i].c_str());
      out += buf;
    }
    out += "\n";
  }
  std::snprintf(buf, sizeof buf,
                "precision: worst 95%% CI half-width %.2f%% (target %.2f%%): %s\n",
                100 * c.worst_half_width, 100 * c.precision, c.precise ? "reached" : "not reached");
  out += buf;
  if (!c.precise && c.more_rounds_needed > 0) {
    std::snprintf(buf, sizeof buf,
                  "  the target needs about %.0f more rounds here (about %.0f s more of --budget)\n",
                  c.more_rounds_needed, c.more_seconds_needed);
    out += buf;
  }
  if (c.controls.controls == 0) {
    out += "controls: none (dropouts are not no-ops in this run)\n";
  } else if (c.controls.passed) {
    std::snprintf(buf, sizeof buf,
                  "controls: %d no-op(s) within %.2f%% of %s, every interval containing 1 "
                  "(Bonferroni-adjusted; worst: %s, %.2f%%)\n",
                  c.controls.controls, 100 * c.stated_precision, c.reference_label.c_str(),
                  c.controls.worst.c_str(), 100 * c.controls.worst_deviation);
    out += buf;
  } else {
    out += "controls: NOISY - a no-op differs from " + c.reference_label + ":";
    for (const std::string& f : c.controls.failures) out += " " + f + ";";
    out += " during this scale: " + c.disturbance.describe() + "\n";
  }
  return out;
}

}  // namespace ip
