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
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "experiments/common/results.h"
#include "kernels/common/activation_list.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- reading and grouping ----

// A platform: the files that share a file-name prefix, outprefix, device and hardware. The paper
// names platforms by file prefix (dc_cpu, dc_gpu, …) while its outprefix fields say other things
// ("servercpu"), so the prefix is the name shown.
struct Platform {
  std::string name, outprefix, device, hardware_name;
  std::vector<std::string> files;
  std::vector<ip::ScaleResult> scales;  // sorted by pred_items, one per pred_items
};

// "dc_cpu" from dc_cpu_1591619160.50882.json; "run" from run.all.1700000000.json (ours).
std::string file_prefix(const std::string& path) {
  std::string stem = fs::path(path).stem().string();
  std::size_t all = stem.find(".all.");
  if (all != std::string::npos) return stem.substr(0, all);
  std::size_t us = stem.rfind('_');
  if (us == std::string::npos) return stem;
  std::string tail = stem.substr(us + 1);
  bool numeric = !tail.empty() && tail.find_first_not_of("0123456789.") == std::string::npos;
  return numeric ? stem.substr(0, us) : stem;
}

class Loader {
 public:
  // Explicit files must be result files; inside a directory, JSON that is not one (a benchmark's
  // output, say) is skipped with a note. Unreadable or malformed files are errors either way.
  void add_path(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> files;
      for (const auto& entry : fs::directory_iterator(path, ec))
        if (entry.is_regular_file() && entry.path().extension() == ".json")
          files.push_back(entry.path().string());
      if (ec) throw std::runtime_error(path + ": cannot list directory: " + ec.message());
      if (files.empty()) throw std::runtime_error(path + ": directory has no .json files");
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) add_file(f, true);
    } else if (fs::exists(path, ec)) {
      add_file(path, false);
    } else {
      throw std::runtime_error(path + ": no such file or directory");
    }
  }

  std::vector<Platform>& platforms() { return platforms_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  void add_file(const std::string& path, bool from_directory) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open");
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      throw std::runtime_error(path + ": not valid JSON: " + e.what());
    }
    bool known = j.is_array() ||
                 (j.is_object() && (j.contains("pred_times") || j.contains("scales") ||
                                    (j.contains("times") && j.contains("accuracies"))));
    if (!known && from_directory) {
      notes_.push_back(path + ": not a result file; skipped");
      return;
    }
    ip::ResultFile file = ip::read_result_file(path);  // throws naming the file and field
    if (file.kind == ip::ResultFileKind::Mnist) {
      notes_.push_back(path + ": MNIST time-to-accuracy file; skipped (tables are of rand results)");
      return;
    }
    if (file.kind == ip::ResultFileKind::FunctionList) {
      notes_.push_back(path + ": function list; skipped");
      return;
    }
    add_rand(path, std::move(file.rand));
  }

  void add_rand(const std::string& path, ip::RandResults r) {
    std::string name = file_prefix(path);
    auto same = [&](const Platform& p) {
      return p.name == name && p.outprefix == r.outprefix && p.device == r.device &&
             p.hardware_name == r.hardware_name;
    };
    auto it = std::find_if(platforms_.begin(), platforms_.end(), same);
    if (it == platforms_.end()) {
      platforms_.push_back({name, r.outprefix, r.device, r.hardware_name, {}, {}});
      it = platforms_.end() - 1;
    }
    it->files.push_back(path);
    for (ip::ScaleResult& s : r.scales) merge_scale(*it, path, std::move(s));
    std::sort(it->scales.begin(), it->scales.end(),
              [](const ip::ScaleResult& a, const ip::ScaleResult& b) { return a.pred_items < b.pred_items; });
  }

  // rand_power writes each scale twice (its per-scale file and the consolidated file): the same
  // runs seen again are dropped; other runs at the same scale (another invocation) are added.
  void merge_scale(Platform& p, const std::string& path, ip::ScaleResult s) {
    auto it = std::find_if(p.scales.begin(), p.scales.end(),
                           [&](const ip::ScaleResult& o) { return o.pred_items == s.pred_items; });
    if (it == p.scales.end()) {
      p.scales.push_back(std::move(s));
      return;
    }
    if (it->pred_times == s.pred_times) return;
    bool energy_parallel = it->pred_energy.empty() == s.pred_energy.empty();
    it->pred_times.insert(it->pred_times.end(), s.pred_times.begin(), s.pred_times.end());
    if (energy_parallel) {
      it->pred_energy.insert(it->pred_energy.end(), s.pred_energy.begin(), s.pred_energy.end());
    } else {
      it->pred_energy.clear();
      notes_.push_back(path + ": runs at " + std::to_string(s.pred_items) +
                       " items merged with runs without energy; energy left out at that scale");
    }
    it->partial = it->partial || s.partial;
  }

  std::vector<Platform> platforms_;
  std::vector<std::string> notes_;
};

// ---- statistics ----

enum class Stat { Mean, Median, Min };

double summarise(std::vector<double> v, Stat stat) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  switch (stat) {
    case Stat::Mean: {
      double sum = 0;
      for (double x : v) sum += x;
      return sum / static_cast<double>(v.size());
    }
    case Stat::Median: {
      std::size_t h = v.size() / 2;
      return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
    }
    case Stat::Min:
      return v.front();
  }
  return kNaN;
}

struct FunctionStat {
  std::string key, label, group;
  int order = 0;  // activations, dropouts, identity, unknown; table order within a group
  int runs = 0;
  double min_s = kNaN, max_s = kNaN;
  double per_instance = kNaN;         // seconds per instance (the chosen statistic over runs)
  double joules_per_instance = kNaN;  // over runs with a measured or estimated value
  std::string energy_quality;
};

int group_rank(const std::string& group) {
  if (group == "activation") return 0;
  if (group == "dropout") return 1;
  if (group == "identity") return 2;
  return 3;
}

std::vector<FunctionStat> function_stats(const ip::ScaleResult& s, Stat stat) {
  std::map<std::string, std::vector<double>> seconds;
  for (const ip::RunTimes& run : s.pred_times)
    for (const auto& [key, t] : run) seconds[key].push_back(t);
  std::vector<FunctionStat> out;
  const double items = static_cast<double>(s.pred_items);
  for (const auto& [key, ts] : seconds) {
    FunctionStat f;
    f.key = key;
    f.group = ip::group_name_of_key(key);
    const ip::FunctionInfo* info = ip::find_function_by_key(key);
    f.label = info ? info->name : key.substr(key.rfind('.') + 1);
    f.order = group_rank(f.group) * 1000 + (info ? static_cast<int>(info->id) : 999);
    f.runs = static_cast<int>(ts.size());
    f.min_s = *std::min_element(ts.begin(), ts.end());
    f.max_s = *std::max_element(ts.begin(), ts.end());
    f.per_instance = summarise(ts, stat) / items;
    std::vector<double> joules;
    std::set<std::string> qualities;
    for (const ip::RunEnergy& run : s.pred_energy) {
      auto e = run.find(key);
      if (e == run.end() || !std::isfinite(e->second.joules) || e->second.quality == "unavailable")
        continue;
      joules.push_back(e->second.joules);
      qualities.insert(e->second.quality);
    }
    if (!joules.empty()) {
      f.joules_per_instance = summarise(joules, stat) / items;
      for (const std::string& q : qualities) f.energy_quality += (f.energy_quality.empty() ? "" : "+") + q;
    }
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const FunctionStat& a, const FunctionStat& b) {
    return a.order != b.order ? a.order < b.order : a.key < b.key;
  });
  return out;
}

// max/min of seconds per instance within one group at one scale.
struct Spread {
  int n = 0;
  double ratio = kNaN;
  std::string fastest, slowest;
  double fastest_s = kNaN, slowest_s = kNaN;
};

Spread spread_of(const std::vector<FunctionStat>& fs, const std::string& group) {
  Spread sp;
  for (const FunctionStat& f : fs) {
    if (f.group != group || !std::isfinite(f.per_instance)) continue;
    ++sp.n;
    if (sp.n == 1 || f.per_instance < sp.fastest_s) sp.fastest_s = f.per_instance, sp.fastest = f.label;
    if (sp.n == 1 || f.per_instance > sp.slowest_s) sp.slowest_s = f.per_instance, sp.slowest = f.label;
  }
  if (sp.n > 0 && sp.fastest_s > 0) sp.ratio = sp.slowest_s / sp.fastest_s;
  return sp;
}

// Activations' time over Identity's at one scale. The standard deviation is the population one
// (numpy.std's default), over the activations present.
struct Relative {
  int n = 0;
  double mean = kNaN, std = kNaN, min = kNaN, max = kNaN;
};

Relative relative_of(const std::vector<FunctionStat>& fs) {
  Relative r;
  auto id = std::find_if(fs.begin(), fs.end(), [](const FunctionStat& f) { return f.group == "identity"; });
  if (id == fs.end() || !(id->per_instance > 0)) return r;
  std::vector<double> ratios;
  for (const FunctionStat& f : fs)
    if (f.group == "activation" && std::isfinite(f.per_instance)) ratios.push_back(f.per_instance / id->per_instance);
  if (ratios.empty()) return r;
  r.n = static_cast<int>(ratios.size());
  double sum = 0;
  for (double x : ratios) sum += x;
  r.mean = sum / r.n;
  double sq = 0;
  for (double x : ratios) sq += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(sq / r.n);
  r.min = *std::min_element(ratios.begin(), ratios.end());
  r.max = *std::max_element(ratios.begin(), ratios.end());
  return r;
}

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

std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv(double v) { return std::isfinite(v) ? ip::format_number(v) : ""; }

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
      if (t == "all") tables.insert({"per-instance", "spread", "relative"});
      else tables.insert(t);
    }
  }
  if (!opt.csv_out.empty()) ip::check_writable(opt.csv_out);

  Loader loader;
  for (const std::string& in : opt.inputs) loader.add_path(in);
  for (const std::string& note : loader.notes()) std::fprintf(stderr, "power_table: note: %s\n", note.c_str());
  if (loader.platforms().empty()) throw std::runtime_error("no rand result files among the inputs");

  std::string per_instance_csv =
      "platform,outprefix,device,hardware_name,scale,pred_items,function,key,group,runs,min_s,max_s,"
      "seconds_per_instance,relative_to_identity,joules_per_instance,energy_quality\n";
  std::string spread_csv =
      "platform,device,hardware_name,scale,pred_items,group,functions,spread,fastest,"
      "fastest_seconds_per_instance,slowest,slowest_seconds_per_instance\n";
  std::string relative_csv = "platform,device,hardware_name,scale,pred_items,activations,mean,std,min,max\n";

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

    Table spread{head + ": spread (slowest / fastest seconds per instance) within each group",
                 {"scale", "activations", "fastest", "slowest", "dropouts", "fastest", "slowest"}, {}};
    Table relative{head + ": activations' time relative to Identity",
                   {"scale", "n", "mean", "std", "min", "max"}, {}};
    for (std::size_t i = 0; i < p.scales.size(); ++i) {
      const ip::ScaleResult& s = p.scales[i];
      Spread a = spread_of(stats[i], "activation"), d = spread_of(stats[i], "dropout");
      Relative rel = relative_of(stats[i]);
      spread.rows.push_back({scale_label(s), fmt("%.3f", a.ratio), a.fastest, a.slowest, fmt("%.3f", d.ratio),
                             d.fastest, d.slowest});
      relative.rows.push_back({scale_label(s), std::to_string(rel.n), fmt("%.3f", rel.mean), fmt("%.3f", rel.std),
                               fmt("%.3f", rel.min), fmt("%.3f", rel.max)});

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
      const std::pair<std::string, Spread> groups[] = {{"activation", a}, {"dropout", d}};
      for (const auto& [group, sp] : groups) {
        if (sp.n == 0) continue;
        spread_csv += where + group + "," + std::to_string(sp.n) + "," + csv(sp.ratio) + "," + csv(sp.fastest) +
                      "," + csv(sp.fastest_s) + "," + csv(sp.slowest) + "," + csv(sp.slowest_s) + "\n";
      }
      if (rel.n > 0)
        relative_csv += where + std::to_string(rel.n) + "," + csv(rel.mean) + "," + csv(rel.std) + "," +
                        csv(rel.min) + "," + csv(rel.max) + "\n";
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
    ip::write_file_atomic((dir / "power_table_per_instance.csv").string(), per_instance_csv);
    ip::write_file_atomic((dir / "power_table_spread.csv").string(), spread_csv);
    ip::write_file_atomic((dir / "power_table_relative_identity.csv").string(), relative_csv);
    std::fprintf(stderr, "power_table: CSV written to %s (power_table_{per_instance,spread,relative_identity}.csv)\n",
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
                 "Comma-separated tables to print: per-instance, spread, relative, or all")
      ->check([](const std::string& v) {
        std::stringstream ss(v);
        for (std::string t; std::getline(ss, t, ',');)
          if (t != "all" && t != "per-instance" && t != "spread" && t != "relative")
            return "unknown table '" + t + "'; allowed: per-instance, spread, relative, all";
        return std::string();
      })
      ->capture_default_str();
  app.add_option("--csv-out", opt.csv_out,
                 "Directory for the figures' CSVs: power_table_per_instance.csv, "
                 "power_table_spread.csv, power_table_relative_identity.csv (written atomically)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "power_table: %s\n", e.what());
    return 2;
  }
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "power_table: error: %s\n", e.what());
    return 1;
  }
}
