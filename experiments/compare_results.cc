// compare_results: two rand_power result files side by side (two machines, two builds, two
// dates): per scale and function, the second's cost relative to Identity and its seconds per
// instance over the first's, with a 95% bootstrap interval (rounds, or runs of the paper's
// protocol, resampled within each file), and a verdict: SAME (the interval within ±--margin),
// FASTER or SLOWER (the interval entirely below or above 1) or UNCLEAR.
//
// The relative cost is the function's own cost, with each file's machine drift cancelled
// within its rounds; seconds per instance compares the machines (or builds) as they ran.
//
// Exit status: 0 compared, 1 a file could not be read or the files share nothing, 2 usage error.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "experiments/common/cli.h"
#include "results/analysis.h"
#include "results/costs.h"
#include "results/results.h"
#include "results/stats.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A file, or the newest consolidated file (<prefix>.all.<time>.json) in a directory.
std::string resolve(const std::string& path) {
  if (!fs::is_directory(path)) return path;
  std::string best;
  double best_time = -1;
  for (const auto& e : fs::directory_iterator(path)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".json" || name.find(".all.") == std::string::npos) continue;
    const std::string stem = e.path().stem().string();  // <prefix>.all.<unix time>
    const double when = std::atof(stem.substr(stem.rfind(".all.") + 5).c_str());
    if (when > best_time) {
      best_time = when;
      best = e.path().string();
    }
  }
  if (best.empty()) throw std::runtime_error(path + ": no consolidated result file (<prefix>.all.<time>.json)");
  return best;
}

struct Row {
  std::string label;
  double a = ip::kNaN, b = ip::kNaN;
  ip::Estimate ratio;
  ip::Comparison verdict = ip::Comparison::Unclear;
};

// B/A of the medians, resampling each file's rounds.
ip::Estimate ratio_of_medians(const std::vector<double>& a, const std::vector<double>& b, uint64_t seed) {
  return ip::bootstrap_estimate({a, b}, [](const std::vector<std::vector<double>>& g) {
    return ip::median(g[1]) / ip::median(g[0]);
  }, 2000, seed);
}

std::string fmt(double v, const char* spec) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

void print_rows(const std::string& title, const std::vector<Row>& rows, const char* spec) {
  std::printf("%s\n", title.c_str());
  std::printf("  %-14s %12s %12s  %-28s %s\n", "function", "A", "B", "B/A [95% CI]", "verdict");
  for (const Row& r : rows)
    std::printf("  %-14s %12s %12s  %-28s %s\n", r.label.c_str(), fmt(r.a, spec).c_str(), fmt(r.b, spec).c_str(),
                (fmt(r.ratio.value, "%.4f") + " [" + fmt(r.ratio.low, "%.4f") + ", " + fmt(r.ratio.high, "%.4f") + "]").c_str(),
                ip::comparison_name(r.verdict).c_str());
}

json rows_json(const std::vector<Row>& rows) {
  json out = json::array();
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  for (const Row& r : rows)
    out.push_back({{"function", r.label}, {"a", num(r.a)}, {"b", num(r.b)}, {"ratio", num(r.ratio.value)},
                   {"ci_low", num(r.ratio.low)}, {"ci_high", num(r.ratio.high)},
                   {"verdict", ip::comparison_name(r.verdict)}});
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string first, second, json_out;
  double margin = 0.01;
  CLI::App app{
      "compare_results: compares two rand_power result files (consolidated <prefix>.all.<time>.json, "
      "or a directory holding one: the newest is taken). Per scale and function: the second's cost "
      "relative to Identity and its seconds per instance over the first's, with a 95% bootstrap "
      "interval (each file's rounds resampled), and SAME / FASTER / SLOWER / UNCLEAR."};
  app.add_option("first", first, "result file (or directory) A")->required();
  app.add_option("second", second, "result file (or directory) B")->required();
  app.add_option("--margin", margin,
                 "SAME when B/A's whole interval lies within 1 ± this (0.01 = ±1%); in (0, 1)")
      ->capture_default_str();
  app.add_option("--json", json_out, "also write the comparison as JSON to this file");
  if (const int rc = ip::parse_command_line(app, argc, argv, "compare_results"); rc >= 0) return rc;
  if (!(std::isfinite(margin) && margin > 0 && margin < 1)) {
    std::fprintf(stderr, "compare_results: error: --margin: must be in (0, 1) (see --help)\n");
    return 2;
  }
  try {
    const std::string path_a = resolve(first), path_b = resolve(second);
    const ip::RandResults a = ip::read_rand_file(path_a), b = ip::read_rand_file(path_b);
    const std::string reference = ip::function_key(ip::function_info(ip::FunctionId::Identity));
    std::printf("A: %s (%s, %s)\nB: %s (%s, %s)\nmargin of SAME: ±%.2f%%; intervals: percentile bootstrap over "
                "each file's rounds (runs), 2000 resamples\n\n",
                path_a.c_str(), a.hardware_name.c_str(), a.parameters.value("started_at", "?").c_str(),
                path_b.c_str(), b.hardware_name.c_str(), b.parameters.value("started_at", "?").c_str(),
                100 * margin);
    json out = {{"a", path_a}, {"b", path_b}, {"margin", margin}, {"scales", json::array()}};
    std::map<std::string, int> counts;
    int shared_scales = 0;
    for (const ip::ScaleResult& sa : a.scales)
      for (const ip::ScaleResult& sb : b.scales) {
        if (sa.pred_items != sb.pred_items) continue;
        ++shared_scales;
        const ip::RoundValues va = ip::round_values(sa, reference), vb = ip::round_values(sb, reference);
        std::vector<Row> relative, per_instance;
        for (const ip::FunctionInfo& f : ip::kFunctionInfo) {
          const std::string key = ip::function_key(f);
          const uint64_t seed = std::hash<std::string>{}(key) ^ sa.pred_items;
          if (key != reference && va.relative.count(key) && vb.relative.count(key)) {
            Row r;
            r.label = f.cli_name;
            r.a = ip::median(va.relative.at(key));
            r.b = ip::median(vb.relative.at(key));
            r.ratio = ratio_of_medians(va.relative.at(key), vb.relative.at(key), seed);
            r.verdict = ip::compare_ratio(r.ratio, margin);
            ++counts[ip::comparison_name(r.verdict)];
            relative.push_back(r);
          }
          if (va.seconds_per_instance.count(key) && vb.seconds_per_instance.count(key)) {
            Row r;
            r.label = f.cli_name;
            r.a = ip::median(va.seconds_per_instance.at(key));
            r.b = ip::median(vb.seconds_per_instance.at(key));
            r.ratio = ratio_of_medians(va.seconds_per_instance.at(key), vb.seconds_per_instance.at(key), seed + 1);
            r.verdict = ip::compare_ratio(r.ratio, margin);
            per_instance.push_back(r);
          }
        }
        const std::string scale = sa.scale >= 0 ? "10^" + std::to_string(sa.scale) : std::to_string(sa.pred_items);
        print_rows("scale " + scale + ": cost relative to Identity (B/A)", relative, "%.4f");
        print_rows("scale " + scale + ": seconds per instance (B/A)", per_instance, "%.4g");
        std::printf("\n");
        out["scales"].push_back({{"scale", sa.scale}, {"instances", sa.pred_items},
                                 {"relative", rows_json(relative)}, {"seconds_per_instance", rows_json(per_instance)}});
      }
    if (shared_scales == 0) {
      std::fprintf(stderr, "compare_results: error: %s and %s share no scale\n", path_a.c_str(), path_b.c_str());
      return 1;
    }
    std::printf("relative costs: %d SAME, %d FASTER, %d SLOWER, %d UNCLEAR\n", counts["SAME"], counts["FASTER"],
                counts["SLOWER"], counts["UNCLEAR"]);
    out["relative_verdicts"] = counts;
    if (!json_out.empty()) ip::write_file_atomic(json_out, out.dump(1) + "\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_results: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
