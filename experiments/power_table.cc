// power_table: tables of random-data inference results, ours (rand_power's per-scale and
// consolidated files) and the paper's (../shared/reference/paper/*.json), per platform.
//
// For each platform it prints seconds (and joules, when measured) per instance per function and
// scale, the spread (slowest / fastest) within the activation group and within the dropout group
// at each scale — the paper's figure (b) — and the activations' cost relative to Identity, mean
// and standard deviation — figure (c). --csv-out writes the same numbers as CSV for the figures.
//
// Exit status: 0 success, 1 a file could not be read (the message names it), 2 usage error.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "experiments/common/cli.h"
#include "kernels/common/activation_list.h"
#include "results/analysis.h"
#include "results/costs.h"
#include "results/results.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Platforms, per-function statistics, spread and relative cost live in analysis.h, shared with
// the figures program so that tables and figures always show the same numbers.
using ip::FunctionStat;
using ip::kNaN;
using ip::Platform;
using ip::Relative;
using ip::Spread;
using ip::Stat;
using ip::function_stats;
using ip::relative_of;
using ip::spread_of;

// ---- rendering ----

std::string fmt(const char* spec, double v) {
  if (!std::isfinite(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

std::string scale_label(const ip::ScaleResult& s) {
  return s.scale >= 0 ? "10^" + std::to_string(s.scale) : std::to_string(s.pred_items);
}

struct Table {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

std::string latex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$' || c == '{' || c == '}') out += '\\';
    if (c == '^') {
      out += "\\^{}";
      continue;
    }
    out += c;
  }
  return out;
}

void print_table(const Table& t, const std::string& format) {
  const std::size_t cols = t.header.size();
  if (format == "markdown") {
    std::printf("### %s\n\n|", t.title.c_str());
    for (const std::string& h : t.header) std::printf(" %s |", h.c_str());
    std::printf("\n|");
    for (std::size_t c = 0; c < cols; ++c) std::fputs(c == 0 ? "---|" : "---:|", stdout);
    std::printf("\n");
    for (const auto& row : t.rows) {
      std::printf("|");
      for (const std::string& cell : row) std::printf(" %s |", cell.c_str());
      std::printf("\n");
    }
    std::printf("\n");
  } else if (format == "latex") {
    std::printf("\\begin{table}[ht]\n\\centering\n\\caption{%s}\n\\begin{tabular}{l%s}\n\\hline\n",
                latex_escape(t.title).c_str(), std::string(cols - 1, 'r').c_str());
    auto line = [&](const std::vector<std::string>& cells) {
      for (std::size_t c = 0; c < cells.size(); ++c)
        std::printf("%s%s", c ? " & " : "", latex_escape(cells[c]).c_str());
      std::printf(" \\\\\n");
    };
    line(t.header);
    std::printf("\\hline\n");
    for (const auto& row : t.rows) line(row);
    std::printf("\\hline\n\\end{tabular}\n\\end{table}\n\n");
  } else {
    std::vector<std::size_t> width(cols, 0);
    for (std::size_t c = 0; c < cols; ++c) width[c] = t.header[c].size();
    for (const auto& row : t.rows)
      for (std::size_t c = 0; c < cols; ++c) width[c] = std::max(width[c], row[c].size());
    auto line = [&](const std::vector<std::string>& cells) {
      for (std::size_t c = 0; c < cols; ++c) {
        // First column left-aligned (names), numbers right-aligned.
        if (c == 0) std::printf("%-*s", static_cast<int>(width[c]), cells[c].c_str());
        else std::printf("  %*s", static_cast<int>(width[c]), cells[c].c_str());
      }
      std::printf("\n");
    };
    std::printf("%s\n", t.title.c_str());
    line(t.header);
    std::size_t total = 0;
    for (std::size_t w : width) total += w + 2;
    std::printf("%s\n", std::string(total - 2, '-').c_str());
    for (const auto& row : t.rows) line(row);
    std::printf("\n");
  }
}

// ---- CSV ----

std::string csv(const std::string& s) { return ip::csv_field(s); }
std::string csv(double v) { return ip::csv_number(v); }

struct Options {
  std::vector<std::string> inputs;
  std::string format = "text";
  std::string stat = "mean";
  std::string tables = "all";
  std::string csv_out;
};

int run(const Options& opt) {
  Stat stat = opt.stat == "median" ? Stat::Median : opt.stat == "min" ? Stat::Min : Stat::Mean;
  std::set<std::string> tables;
  {
    std::stringstream ss(opt.tables);
    for (std::string t; std::getline(ss, t, ',');) {
      if (t == "all") tables.insert({"costs", "per-instance", "spread", "relative"});
      else tables.insert(t);
    }
  }
  if (!opt.csv_out.empty()) ip::check_writable(opt.csv_out);

  ip::ResultLoader loader;
  for (const std::string& in : opt.inputs) loader.add_path(in);
  for (const std::string& note : loader.notes()) std::fprintf(stderr, "power_table: note: %s\n", note.c_str());
  // The loader also reads what the figures draw; the tables are of rand results only.
  for (const ip::MnistSet& m : loader.mnist())
    for (const std::string& f : m.files)
      std::fprintf(stderr, "power_table: note: %s: MNIST time-to-accuracy file; skipped (tables are of rand results)\n",
                   f.c_str());
  for (const ip::KernelBenchFile& k : loader.kernel_bench())
    std::fprintf(stderr, "power_table: note: %s: kernel_bench file; skipped (tables are of rand results)\n",
                 k.path.c_str());
  if (loader.platforms().empty()) throw std::runtime_error("no rand result files among the inputs");

  std::string per_instance_csv =
      "platform,outprefix,device,hardware_name,scale,pred_items,function,key,group,runs,min_s,max_s,"
      "seconds_per_instance,relative_to_identity,joules_per_instance,energy_quality\n";
  std::string spread_csv =
      "platform,device,hardware_name,scale,pred_items,group,functions,spread,fastest,"
      "fastest_seconds_per_instance,slowest,slowest_seconds_per_instance,median_based_spread,ci_low,ci_high\n";
  std::string relative_csv =
      "platform,device,hardware_name,scale,pred_items,activations,mean,std,min,max,median_based_mean,"
      "ci_low,ci_high\n";
  std::string costs_csv =
      "platform,scale,pred_items,function,key,group,rounds,seconds_per_instance,spi_ci_low,spi_ci_high,"
      "relative,relative_ci_low,relative_ci_high,function_ns_per_element,fn_ci_low,fn_ci_high,verdict,"
      "control,noisy_scale\n";
  const std::string reference = ip::function_key(ip::function_info(ip::FunctionId::Identity));

  const char* stat_name = opt.stat.c_str();
  for (const Platform& p : loader.platforms()) {
    std::string head = p.name + " (" + (p.hardware_name.empty() ? "unknown hardware" : p.hardware_name) +
                       ", " + (p.device.empty() ? "unknown device" : p.device) +
                       (p.outprefix != p.name && !p.outprefix.empty() ? ", outprefix " + p.outprefix : "") + ")";
    std::vector<std::vector<FunctionStat>> stats;
    std::set<std::string> unknown;
    for (const ip::ScaleResult& s : p.scales) {
      stats.push_back(function_stats(s, stat));
      for (const FunctionStat& f : stats.back())
        if (f.group == "unknown") unknown.insert(f.key);
      if (s.partial)
        std::fprintf(stderr, "power_table: note: %s: scale %s is partial (an interrupted run)\n",
                     p.name.c_str(), scale_label(s).c_str());
    }
    for (const std::string& k : unknown)
      std::fprintf(stderr,
                   "power_table: note: %s: function '%s' is not in the activation table; shown, but "
                   "left out of the groups\n",
                   p.name.c_str(), k.c_str());

    // Rows: every function seen at any scale, in group then table order.
    std::vector<FunctionStat> rows;
    for (const auto& per_scale : stats)
      for (const FunctionStat& f : per_scale)
        if (std::none_of(rows.begin(), rows.end(), [&](const FunctionStat& r) { return r.key == f.key; }))
          rows.push_back(f);
    std::sort(rows.begin(), rows.end(), [](const FunctionStat& a, const FunctionStat& b) {
      return a.order != b.order ? a.order < b.order : a.key < b.key;
    });
    auto find = [](const std::vector<FunctionStat>& v, const std::string& key) -> const FunctionStat* {
      for (const FunctionStat& f : v)
        if (f.key == key) return &f;
      return nullptr;
    };

    bool any_energy = false;
    for (const auto& per_scale : stats)
      for (const FunctionStat& f : per_scale) any_energy = any_energy || std::isfinite(f.joules_per_instance);

    Table time{head + ": seconds per instance (" + stat_name + " over runs)", {"function", "group"}, {}};
    Table energy{head + ": joules per instance (" + stat_name + " over runs)", {"function", "group"}, {}};
    for (const ip::ScaleResult& s : p.scales) {
      time.header.push_back(scale_label(s));
      energy.header.push_back(scale_label(s));
    }
    for (const FunctionStat& r : rows) {
      std::vector<std::string> t{r.label, r.group}, e{r.label, r.group};
      for (const auto& per_scale : stats) {
        const FunctionStat* f = find(per_scale, r.key);
        t.push_back(f ? fmt("%.3e", f->per_instance) : "-");
        e.push_back(f ? fmt("%.3e", f->joules_per_instance) : "-");
      }
      time.rows.push_back(t);
      energy.rows.push_back(e);
    }

    Table spread{head + ": spread (slowest / fastest seconds per instance, means over runs) within each "
                        "group; beside it the same of per-run medians, with a 95% bootstrap CI over runs (rounds)",
                 {"scale", "activations", "median-based [95% CI]", "fastest", "slowest", "dropouts",
                  "median-based [95% CI]", "fastest", "slowest"},
                 {}};
    Table relative{head + ": activations' time relative to Identity (means over runs); beside it the "
                          "mean of per-run medians with a 95% bootstrap CI over runs (rounds)",
                   {"scale", "n", "mean", "median-based [95% CI]", "std", "min", "max"}, {}};
    for (std::size_t i = 0; i < p.scales.size(); ++i) {
      const ip::ScaleResult& s = p.scales[i];
      Spread a = spread_of(stats[i], "activation"), d = spread_of(stats[i], "dropout");
      Relative rel = relative_of(stats[i]);
      const ip::GroupSummary g = ip::group_summary(ip::round_values(s, reference), s.pred_items);
      auto ci = [](const ip::Estimate& e) {
        return fmt("%.3f", e.value) +
               (e.has_interval() ? " [" + fmt("%.3f", e.low) + ", " + fmt("%.3f", e.high) + "]" : std::string());
      };
      spread.rows.push_back({scale_label(s), fmt("%.3f", a.ratio), ci(g.activation_spread), a.fastest, a.slowest,
                             fmt("%.3f", d.ratio), ci(g.dropout_spread), d.fastest, d.slowest});
      relative.rows.push_back({scale_label(s), std::to_string(rel.n), fmt("%.3f", rel.mean),
                               ci(g.activation_mean_relative), fmt("%.3f", rel.std), fmt("%.3f", rel.min),
                               fmt("%.3f", rel.max)});

      const std::string where = csv(p.name) + "," + csv(p.device) + "," + csv(p.hardware_name) + "," +
                                std::to_string(s.scale) + "," + std::to_string(s.pred_items) + ",";
      const FunctionStat* id = nullptr;
      for (const FunctionStat& f : stats[i])
        if (f.group == "identity") id = &f;
      for (const FunctionStat& f : stats[i]) {
        double rel_id = id && id->per_instance > 0 ? f.per_instance / id->per_instance : kNaN;
        per_instance_csv += csv(p.name) + "," + csv(p.outprefix) + "," + csv(p.device) + "," +
                            csv(p.hardware_name) + "," + std::to_string(s.scale) + "," +
                            std::to_string(s.pred_items) + "," + csv(f.label) + "," + csv(f.key) + "," + f.group +
                            "," + std::to_string(f.runs) + "," + csv(f.min_s) + "," + csv(f.max_s) + "," +
                            csv(f.per_instance) + "," + csv(rel_id) + "," + csv(f.joules_per_instance) + "," +
                            csv(f.energy_quality) + "\n";
      }
      const std::tuple<std::string, Spread, ip::Estimate> groups[] = {{"activation", a, g.activation_spread},
                                                                        {"dropout", d, g.dropout_spread}};
      for (const auto& [group, sp, e] : groups) {
        if (sp.n == 0) continue;
        spread_csv += where + group + "," + std::to_string(sp.n) + "," + csv(sp.ratio) + "," + csv(sp.fastest) +
                      "," + csv(sp.fastest_s) + "," + csv(sp.slowest) + "," + csv(sp.slowest_s) + "," +
                      csv(e.value) + "," + csv(e.low) + "," + csv(e.high) + "\n";
      }
      if (rel.n > 0)
        relative_csv += where + std::to_string(rel.n) + "," + csv(rel.mean) + "," + csv(rel.std) + "," +
                        csv(rel.min) + "," + csv(rel.max) + "," + csv(g.activation_mean_relative.value) + "," +
                        csv(g.activation_mean_relative.low) + "," + csv(g.activation_mean_relative.high) + "\n";
      if (s.has_rounds && !s.samples.empty()) {
        const ip::ScaleCosts c = ip::scale_costs(s);
        if (tables.count("costs")) {
          if (opt.format == "text") {
            std::printf("%s: costs (rounds paired with Identity)\n%s\n", head.c_str(), ip::format_costs(c).c_str());
          } else {
            Table t{head + ": costs at " + scale_label(s) + " (" + std::to_string(c.rounds) + " rounds)",
                    {"function", "s/instance", "vs Identity", "95% CI", "ns/element", "verdict"}, {}};
            for (const ip::FunctionCost& f : c.functions)
              t.rows.push_back({f.label + (f.control ? " (control)" : ""), fmt("%.4g", f.seconds_per_instance.value),
                                fmt("%.4f", f.relative.value),
                                f.relative.has_interval() ? "[" + fmt("%.4f", f.relative.low) + ", " +
                                                                fmt("%.4f", f.relative.high) + "]"
                                                          : "-",
                                fmt("%.3f", f.function_ns_per_element.value),
                                f.reference ? "reference" : ip::verdict_name(f.verdict)});
            print_table(t, opt.format);
          }
        }
        for (const ip::FunctionCost& f : c.functions) {
          auto three = [](const ip::Estimate& e) { return csv(e.value) + "," + csv(e.low) + "," + csv(e.high); };
          costs_csv += csv(p.name) + "," + std::to_string(s.scale) + "," + std::to_string(s.pred_items) + "," +
                       csv(f.label) + "," + csv(f.key) + "," + f.group + "," + std::to_string(f.rounds) + "," +
                       three(f.seconds_per_instance) + "," + three(f.relative) + "," +
                       three(f.function_ns_per_element) + "," +
                       (f.reference ? "reference" : ip::verdict_name(f.verdict)) + "," +
                       (f.control ? "true" : "false") + "," + (c.controls.passed ? "false" : "true") + "\n";
        }
      }
    }

    if (tables.count("per-instance")) {
      print_table(time, opt.format);
      if (any_energy) print_table(energy, opt.format);
    }
    if (tables.count("spread")) print_table(spread, opt.format);
    if (tables.count("relative")) print_table(relative, opt.format);
  }

  if (!opt.csv_out.empty()) {
    const fs::path dir(opt.csv_out);
    ip::FileSet set;  // the figures read them together: all of one run, or none
    set.add((dir / "power_table_per_instance.csv").string(), per_instance_csv);
    set.add((dir / "power_table_spread.csv").string(), spread_csv);
    set.add((dir / "power_table_relative_identity.csv").string(), relative_csv);
    set.add((dir / "power_table_costs.csv").string(), costs_csv);
    set.commit();
    std::fprintf(stderr,
                 "power_table: CSV written to %s (power_table_{per_instance,spread,relative_identity,costs}.csv)\n",
                 opt.csv_out.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "power_table: tables of random-data inference results per platform — ours (rand_power's "
      "per-scale and consolidated JSON) and the paper's files (../shared/reference/paper). Prints "
      "seconds (and joules, when measured) per instance per function and scale, the spread "
      "(slowest/fastest) within the activation and the dropout group per scale, and the "
      "activations' cost relative to Identity (mean and population standard deviation). Platforms "
      "are the files sharing a file-name prefix, outprefix, device and hardware_name; the same runs "
      "read twice (per-scale and consolidated file) count once. Notes go to stderr."};
  Options opt;
  app.add_option("inputs", opt.inputs,
                 "Result files or directories (every *.json in a directory; JSON that is not a "
                 "result file is skipped there, MNIST and function-list files are skipped with a note)")
      ->required();
  app.add_option("--format", opt.format, "Table format: text, markdown or latex")
      ->check(CLI::IsMember({"text", "markdown", "latex"}))
      ->capture_default_str();
  app.add_option("--stat", opt.stat,
                 "How a function's runs at one scale are combined: mean (the paper's figures), "
                 "median or min")
      ->check(CLI::IsMember({"mean", "median", "min"}))
      ->capture_default_str();
  app.add_option("--tables", opt.tables,
                 "Comma-separated tables to print: costs (runs measured in rounds), per-instance, "
                 "spread, relative, or all")
      ->check([](const std::string& v) {
        if (v.empty()) return std::string("empty; allowed: costs, per-instance, spread, relative, all");
        std::stringstream ss(v);
        for (std::string t; std::getline(ss, t, ',');)
          if (t != "all" && t != "costs" && t != "per-instance" && t != "spread" && t != "relative")
            return "unknown table '" + t + "'; allowed: costs, per-instance, spread, relative, all";
        return std::string();
      })
      ->capture_default_str();
  app.add_option("--csv-out", opt.csv_out,
                 "Directory for the figures' CSVs: power_table_per_instance.csv, "
                 "power_table_spread.csv, power_table_relative_identity.csv, power_table_costs.csv "
                 "(written atomically)");
  if (const int rc = ip::parse_command_line(app, argc, argv, "power_table"); rc >= 0) return rc;
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "power_table: error: %s\n", e.what());
    return 1;
  }
}
