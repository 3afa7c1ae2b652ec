#include "results/analysis.h"

#include "results/stats.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

namespace ip {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool all_digits_and_dots(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789.") == std::string::npos;
}

json parse_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": not valid JSON: " + e.what());
  }
}

bool is_kernel_bench(const json& j) { return j.is_object() && j.contains("kernels") && j["kernels"].is_array(); }

double number_or(const json& j, const char* field, double fallback) {
  auto it = j.find(field);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

}  // namespace

std::string file_prefix(const std::string& path) {
  std::string stem = fs::path(path).stem().string();
  std::size_t all = stem.find(".all.");
  if (all != std::string::npos) return stem.substr(0, all);
  std::size_t us = stem.rfind('_');
  if (us != std::string::npos && all_digits_and_dots(stem.substr(us + 1))) return stem.substr(0, us);
  std::size_t dot = stem.find('.');
  if (dot != std::string::npos && dot > 0 && all_digits_and_dots(stem.substr(dot + 1)))
    return stem.substr(0, dot);
  return stem;
}

void ResultLoader::add_path(const std::string& path, const std::string& name, bool recursive) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> files;
    auto take = [&](const fs::directory_entry& entry) {
      if (entry.is_regular_file() && entry.path().extension() == ".json")
        files.push_back(entry.path().string());
    };
    if (recursive) {
      for (const auto& entry : fs::recursive_directory_iterator(path, ec)) take(entry);
    } else {
      for (const auto& entry : fs::directory_iterator(path, ec)) take(entry);
    }
    if (ec) throw std::runtime_error(path + ": cannot list directory: " + ec.message());
    if (files.empty()) throw std::runtime_error(path + ": directory has no .json files");
    std::sort(files.begin(), files.end());
    for (const std::string& f : files) add_file(f, name, true);
  } else if (fs::exists(path, ec)) {
    add_file(path, name, false);
  } else {
    throw std::runtime_error(path + ": no such file or directory");
  }
  name_kernel_bench_apart();
}

namespace {
// kernel_bench's "started_at" ("Thu Nov 26 21:09:04 2026 UTC") as seconds, or -1 without one.
double started_at(const json& j) {
  auto it = j.find("started_at");
  if (it == j.end() || !it->is_string()) return -1;
  std::tm tm{};
  const std::string s = it->get<std::string>();
  if (!strptime(s.c_str(), "%a %b %d %H:%M:%S %Y", &tm)) return -1;
  return static_cast<double>(timegm(&tm));
}
}  // namespace

void ResultLoader::name_kernel_bench_apart() {
  // Several kernel_bench files of one platform (say runs with two OpenMP wait policies) would be
  // drawn under one name, each overwriting the last. The newest keeps the platform's name (it is
  // the figure the README shows); the others are drawn as "<platform>:<file stem>".
  std::map<std::string, std::vector<KernelBenchFile*>> by_name;
  for (KernelBenchFile& k : kernel_bench_) by_name[k.name].push_back(&k);
  for (auto& [name, files] : by_name) {
    if (files.size() < 2) continue;
    // Newest by started_at; files without it count as older, then the later path wins.
    KernelBenchFile* newest = *std::max_element(files.begin(), files.end(), [](auto* a, auto* b) {
      return std::make_pair(started_at(a->data), a->path) < std::make_pair(started_at(b->data), b->path);
    });
    for (KernelBenchFile* k : files) {
      if (k == newest) continue;
      k->name = name + ":" + fs::path(k->path).stem().string();
      notes_.push_back(k->path + ": another kernel_bench file of " + name + " is newer (" +
                       newest->path + "); drawn as " + k->name);
    }
  }
}

void ResultLoader::add_file(const std::string& path, const std::string& name, bool from_directory) {
  json j = parse_json_file(path);
  if (is_kernel_bench(j)) {
    kernel_bench_.push_back({path, name.empty() ? file_prefix(path) : name, std::move(j)});
    return;
  }
  // A list of strings is a function list (the paper's dc_*_activation_list.json); any other
  // array is somebody else's JSON.
  const bool function_list =
      j.is_array() && std::all_of(j.begin(), j.end(), [](const json& e) { return e.is_string(); });
  bool known = function_list ||
               (j.is_object() && (j.contains("pred_times") || j.contains("scales") ||
                                  (j.contains("times") && j.contains("accuracies"))));
  if (!known && from_directory) {
    notes_.push_back(path + ": not a result file; skipped");
    return;
  }
  ResultFile file = read_result_file(path);  // throws naming the file and field
  const std::string platform = name.empty() ? file_prefix(path) : name;
  switch (file.kind) {
    case ResultFileKind::Mnist:
      add_mnist(path, platform, std::move(file.mnist));
      break;
    case ResultFileKind::FunctionList:
      notes_.push_back(path + ": function list; skipped");
      break;
    case ResultFileKind::Rand:
      add_rand(path, platform, std::move(file.rand), j);
      break;
  }
}

void ResultLoader::add_rand(const std::string& path, const std::string& name, RandResults r,
                            const json& j) {
  // The name (a reference folder, or the file prefix) says which platform a file belongs to;
  // outprefix is only recorded (the paper's files put other things there, and two invocations
  // in one folder may have used two prefixes).
  auto same = [&](const Platform& p) {
    return std::tie(p.name, p.device, p.hardware_name) == std::tie(name, r.device, r.hardware_name);
  };
  auto it = std::find_if(platforms_.begin(), platforms_.end(), same);
  if (it == platforms_.end()) {
    platforms_.push_back({name, r.outprefix, r.device, r.hardware_name, {}, {}});
    it = platforms_.end() - 1;
  }
  it->files.push_back(path);
  for (ScaleResult& s : r.scales) merge_scale(*it, path, std::move(s));
  std::sort(it->scales.begin(), it->scales.end(),
            [](const ScaleResult& a, const ScaleResult& b) { return a.pred_items < b.pred_items; });

  // rand_power's consolidated file lists every measurement; those with a breakdown feed the
  // time-breakdown figure. Other files have none, which is not an error.
  auto ms = j.find("measurements");
  if (ms == j.end() || !ms->is_array()) return;
  std::vector<BreakdownRow> rows;
  const json* started = j.contains("parameters") && j["parameters"].is_object() && j["parameters"].contains("started_unix")
                            ? &j["parameters"]["started_unix"]
                            : nullptr;
  const std::string invocation =
      started && started->is_number() ? "started " + format_number(started->get<double>()) : path;
  for (const json& m : *ms) {
    if (!m.is_object() || !m.contains("breakdown") || !m["breakdown"].is_object()) continue;
    const json& b = m["breakdown"];
    BreakdownRow row;
    row.key = m.value("key", std::string());
    row.invocation = invocation;
    row.scale = static_cast<int>(number_or(m, "scale", -1));
    row.run = static_cast<int>(number_or(m, "run", 0));
    row.seconds = number_or(m, "seconds", kNaN);
    row.gemm = number_or(b, "gemm_seconds", kNaN);
    row.activation = number_or(b, "activation_seconds", kNaN);
    row.dropout = number_or(b, "dropout_seconds", kNaN);
    if (row.key.empty() || row.scale < 0 || !std::isfinite(row.gemm))
      throw std::runtime_error(path + ": measurements: a breakdown without key, scale or gemm_seconds");
    rows.push_back(row);
  }
  if (rows.empty()) return;
  auto b = std::find_if(breakdowns_.begin(), breakdowns_.end(),
                        [&](const PlatformBreakdown& pb) { return pb.platform == name; });
  if (b == breakdowns_.end()) {
    breakdowns_.push_back({name, {}});
    b = breakdowns_.end() - 1;
  }
  // The same invocation's rows read twice (a copy of its consolidated file) count once; rows are
  // told apart by who measured them, never by their values.
  for (const BreakdownRow& row : rows) {
    bool seen = std::any_of(b->rows.begin(), b->rows.end(), [&](const BreakdownRow& o) {
      return o.invocation == row.invocation && o.key == row.key && o.scale == row.scale && o.run == row.run;
    });
    if (!seen) b->rows.push_back(row);
  }
}

// rand_power writes each scale twice (its per-scale file and the consolidated file): the same
// runs seen again are dropped; other runs at the same scale (another invocation) are added.
// Runs are merged by who they are (ScaleResult::run_ids), never by their values: the same run
// read from a per-scale and a consolidated file counts once, two runs that happen to hold equal
// times count twice. The rounds design's samples come along with their runs, renumbered to the
// merged run index.
void ResultLoader::merge_scale(Platform& p, const std::string& path, ScaleResult s) {
  auto it = std::find_if(p.scales.begin(), p.scales.end(),
                         [&](const ScaleResult& o) { return o.pred_items == s.pred_items; });
  if (it == p.scales.end()) {
    p.scales.push_back(std::move(s));
    return;
  }
  const bool energy_parallel = it->pred_energy.empty() == s.pred_energy.empty();
  std::map<int, int> merged_index;  // incoming run → its index in the merged scale
  for (std::size_t run = 0; run < s.pred_times.size(); ++run) {
    const std::string& id = s.run_ids.at(run);
    const auto seen = std::find(it->run_ids.begin(), it->run_ids.end(), id);
    if (seen != it->run_ids.end()) {
      merged_index[static_cast<int>(run)] = static_cast<int>(seen - it->run_ids.begin());
      continue;
    }
    merged_index[static_cast<int>(run)] = static_cast<int>(it->pred_times.size());
    it->run_ids.push_back(id);
    it->pred_times.push_back(s.pred_times[run]);
    if (energy_parallel && run < s.pred_energy.size()) it->pred_energy.push_back(s.pred_energy[run]);
  }
  if (!energy_parallel && !it->pred_energy.empty()) {
    it->pred_energy.clear();
    notes_.push_back(path + ": runs at " + std::to_string(s.pred_items) +
                     " items merged with runs without energy; energy left out at that scale");
  }
  if (s.has_rounds) {
    std::set<int> with_samples;
    for (const Sample& m : it->samples) with_samples.insert(m.round);
    for (Sample m : s.samples) {
      const auto to = merged_index.find(m.round);
      if (to == merged_index.end() || with_samples.count(to->second)) continue;
      m.round = to->second;
      it->samples.push_back(std::move(m));
    }
    if (!it->has_rounds) {
      it->has_rounds = true;
      it->rounds = s.rounds;
    }
  }
  it->partial = it->partial || s.partial;
}

void ResultLoader::add_mnist(const std::string& path, const std::string& name, MnistResults r) {
  auto same = [&](const MnistSet& m) {
    return std::tie(m.name, m.dataset, m.device, m.hardware_name) ==
           std::tie(name, r.dataset, r.device, r.hardware_name);
  };
  auto it = std::find_if(mnist_.begin(), mnist_.end(), same);
  if (it == mnist_.end()) {
    mnist_.push_back({name, r.dataset, r.device, r.hardware_name, {}, {}});
    it = mnist_.end() - 1;
  }
  it->files.push_back(path);
  it->runs.push_back(std::move(r));
}

// ---- statistics ----

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

double population_std(const std::vector<double>& v) {
  if (v.empty()) return kNaN;
  double mean = summarise(v, Stat::Mean), sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  return std::sqrt(sq / static_cast<double>(v.size()));
}

int group_rank(const std::string& group) {
  if (group == "activation") return 0;
  if (group == "dropout") return 1;
  if (group == "identity") return 2;
  return 3;
}

std::string function_label(const std::string& key) {
  const FunctionInfo* info = find_function_by_key(key);
  return info ? info->name : key.substr(key.rfind('.') + 1);
}

namespace {

int function_order(const std::string& key, const std::string& group) {
  const FunctionInfo* info = find_function_by_key(key);
  return group_rank(group) * 1000 + (info ? static_cast<int>(info->id) : 999);
}

// Joins the energy qualities seen, e.g. "measured+estimated"; empty when none.
std::string join_qualities(const std::set<std::string>& qualities) {
  std::string out;
  for (const std::string& q : qualities) out += (out.empty() ? "" : "+") + q;
  return out;
}

bool usable(const Energy& e) { return std::isfinite(e.joules) && e.quality != "unavailable"; }

// A row of a per-function table, named: its key, label and group.
template <class Row>
Row named_row(const std::string& key) {
  Row row;
  row.key = key;
  row.label = function_label(key);
  row.group = group_name_of_key(key);
  return row;
}

}  // namespace

std::vector<FunctionStat> function_stats(const ScaleResult& s, Stat stat) {
  std::map<std::string, std::vector<double>> seconds;
  for (const RunTimes& run : s.pred_times)
    for (const auto& [key, t] : run) seconds[key].push_back(t);
  std::vector<FunctionStat> out;
  const double items = static_cast<double>(s.pred_items);
  for (const auto& [key, ts] : seconds) {
    FunctionStat f = named_row<FunctionStat>(key);
    f.order = function_order(key, f.group);
    f.runs = static_cast<int>(ts.size());
    f.min_s = *std::min_element(ts.begin(), ts.end());
    f.max_s = *std::max_element(ts.begin(), ts.end());
    f.per_instance = summarise(ts, stat) / items;
    std::vector<double> joules;
    std::set<std::string> qualities;
    for (const RunEnergy& run : s.pred_energy) {
      auto e = run.find(key);
      if (e == run.end() || !usable(e->second)) continue;
      joules.push_back(e->second.joules);
      qualities.insert(e->second.quality);
    }
    if (!joules.empty()) {
      f.joules_per_instance = summarise(joules, stat) / items;
      f.energy_quality = join_qualities(qualities);
    }
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const FunctionStat& a, const FunctionStat& b) {
    return a.order != b.order ? a.order < b.order : a.key < b.key;
  });
  return out;
}

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

Relative relative_of(const std::vector<FunctionStat>& fs) {
  Relative r;
  auto id = std::find_if(fs.begin(), fs.end(), [](const FunctionStat& f) { return f.group == "identity"; });
  if (id == fs.end() || !(id->per_instance > 0)) return r;
  std::vector<double> ratios;
  for (const FunctionStat& f : fs)
    if (f.group == "activation" && std::isfinite(f.per_instance)) ratios.push_back(f.per_instance / id->per_instance);
  if (ratios.empty()) return r;
  r.n = static_cast<int>(ratios.size());
  r.mean = summarise(ratios, Stat::Mean);
  r.std = population_std(ratios);
  r.min = *std::min_element(ratios.begin(), ratios.end());
  r.max = *std::max_element(ratios.begin(), ratios.end());
  return r;
}

std::vector<MnistStat> mnist_stats(const MnistSet& set) {
  struct Acc {
    std::vector<double> seconds, accuracy, joules;
    int reached = 0;
    std::set<std::string> qualities;
  };
  std::map<std::string, Acc> by_key;
  for (const MnistResults& run : set.runs)
    for (const MnistFunctionResult& f : run.functions) {
      Acc& a = by_key[f.key];
      a.seconds.push_back(f.train_seconds);
      a.accuracy.push_back(f.accuracy);
      a.reached += f.reached_target ? 1 : 0;
      if (usable(f.energy)) a.joules.push_back(f.energy.joules), a.qualities.insert(f.energy.quality);
    }
  std::vector<MnistStat> out;
  for (const auto& [key, a] : by_key) {
    MnistStat m = named_row<MnistStat>(key);
    m.runs = static_cast<int>(a.seconds.size());
    m.reached = a.reached;
    m.mean_s = summarise(a.seconds, Stat::Mean);
    m.std_s = population_std(a.seconds);
    m.mean_accuracy = summarise(a.accuracy, Stat::Mean);
    m.joules = summarise(a.joules, Stat::Mean);
    m.energy_quality = join_qualities(a.qualities);
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const MnistStat& a, const MnistStat& b) {
    return a.mean_s != b.mean_s ? a.mean_s < b.mean_s : a.key < b.key;
  });
  return out;
}

std::vector<MnistEpochStat> mnist_epoch_stats(const MnistSet& set) {
  int longest = 0;
  for (const MnistResults& run : set.runs) longest = std::max(longest, run.max_epochs);
  struct Acc {
    std::vector<int> epochs;
    std::vector<double> accuracy, run_medians;
    int runs = 0;
  };
  std::map<std::string, Acc> by_key;
  for (const MnistResults& run : set.runs)
    for (const MnistFunctionResult& f : run.functions) {
      Acc& a = by_key[f.key];
      if (!f.epoch_seconds.empty()) a.run_medians.push_back(median(f.epoch_seconds));
      if (!f.reached_target && run.max_epochs < longest) continue;  // too short to tell
      ++a.runs;
      a.accuracy.push_back(f.accuracy);
      if (f.reached_target) a.epochs.push_back(f.epochs);
    }
  std::vector<MnistEpochStat> out;
  for (const auto& [key, a] : by_key) {
    MnistEpochStat m = named_row<MnistEpochStat>(key);
    m.runs = a.runs;
    m.reached = static_cast<int>(a.epochs.size());
    m.max_epochs = longest;
    m.epochs = a.epochs;
    if (!a.epochs.empty()) {
      std::vector<double> e(a.epochs.begin(), a.epochs.end());
      m.mean_epochs = summarise(e, Stat::Mean);
      m.min_epochs = *std::min_element(e.begin(), e.end());
      m.max_epochs_seen = *std::max_element(e.begin(), e.end());
    }
    m.final_accuracy = summarise(a.accuracy, Stat::Mean);
    m.epoch_runs = static_cast<int>(a.run_medians.size());
    if (!a.run_medians.empty()) {
      m.epoch_seconds_lo = m.epoch_seconds = *std::min_element(a.run_medians.begin(), a.run_medians.end());
      m.epoch_seconds_hi = *std::max_element(a.run_medians.begin(), a.run_medians.end());
    }
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const MnistEpochStat& a, const MnistEpochStat& b) {
    // Reached, then never reached, then no run long enough to tell.
    auto rank = [](const MnistEpochStat& m) { return m.reached > 0 ? 0 : m.runs > 0 ? 1 : 2; };
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    const bool ra = a.reached > 0;
    if (ra && a.mean_epochs != b.mean_epochs) return a.mean_epochs < b.mean_epochs;
    if (!ra && a.final_accuracy != b.final_accuracy) return a.final_accuracy > b.final_accuracy;
    return a.key < b.key;
  });
  return out;
}

PaperEpochCost paper_epochs(const MnistSet& paper, int max_epochs) {
  PaperEpochCost cost;
  // Mean over the paper's runs (files) per function.
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> by_key;  // seconds, accuracy
  double target = 0.90;
  for (const MnistResults& run : paper.runs) {
    target = run.target_accuracy;
    for (const MnistFunctionResult& f : run.functions) {
      by_key[f.key].first.push_back(f.train_seconds);
      by_key[f.key].second.push_back(f.accuracy);
    }
  }
  std::vector<double> per_epoch;
  for (const auto& [key, v] : by_key) {
    PaperEpochs p;
    p.key = key;
    p.label = function_label(key);
    p.seconds = summarise(v.first, Stat::Mean);
    p.accuracy = summarise(v.second, Stat::Mean);
    // The paper's files round nothing: a reached target reads as >= the target.
    p.reached = p.accuracy >= target;
    if (!p.reached && p.seconds > 0) per_epoch.push_back(p.seconds / max_epochs);
    cost.functions.push_back(p);
  }
  cost.never_reached = static_cast<int>(per_epoch.size());
  if (per_epoch.empty()) return cost;
  cost.per_epoch = median(per_epoch);
  cost.per_epoch_lo = *std::min_element(per_epoch.begin(), per_epoch.end());
  cost.per_epoch_hi = *std::max_element(per_epoch.begin(), per_epoch.end());
  for (PaperEpochs& p : cost.functions) {
    if (!p.reached) continue;
    p.epochs = p.seconds / cost.per_epoch;
    p.epochs_lo = p.seconds / cost.per_epoch_hi;
    p.epochs_hi = p.seconds / cost.per_epoch_lo;
    p.derivable = p.epochs_lo <= max_epochs;
  }
  return cost;
}

}  // namespace ip
