// Reading result files: ours (both experiments, every schema field checked) and the paper's.
#include "results/results.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace ip {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

// ---- reading ----

double unix_time_from_name(const std::string& path) {
  std::string stem = fs::path(path).stem().string();
  std::size_t us = stem.rfind('_');
  if (us == std::string::npos) return 0;
  const char* first = stem.data() + us + 1;
  const char* last = stem.data() + stem.size();
  double t = 0;
  auto res = std::from_chars(first, last, t);
  return res.ec == std::errc() && res.ptr == last ? t : 0;
}

namespace {

// Validates fields of one file; every error names the file and the field.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& problem) const {
    throw std::runtime_error(path_ + ": " + (where.empty() ? "" : where + ": ") + problem);
  }

  json parse() const {
    std::ifstream in(path_, std::ios::binary);
    if (!in) fail("", "cannot open: " + errno_text());
    // nlohmann's parser is iterative, but copying a value (the verbatim "parameters") recurses
    // once per level: a 2 MB file of nested brackets overflowed the stack of power_table. Our
    // files nest 5 levels deep; refuse absurd depths while parsing, before anything is copied.
    constexpr int kMaxDepth = 256;
    struct TooDeep {};
    auto limit_depth = [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    };
    try {
      return json::parse(in, limit_depth);
    } catch (const TooDeep&) {
      fail("", "JSON nested more than " + std::to_string(kMaxDepth) + " levels deep");
    } catch (const json::exception& e) {
      fail("", std::string("not valid JSON: ") + e.what());
    }
  }

  double number(const json& v, const std::string& where) const {
    if (!v.is_number()) fail(where, "expected a number, found " + std::string(v.type_name()));
    return v.get<double>();
  }
  double seconds(const json& v, const std::string& where) const {
    double s = number(v, where);
    if (!std::isfinite(s) || s < 0) fail(where, "expected a non-negative number of seconds");
    return s;
  }
  uint64_t count(const json& v, const std::string& where) const {
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    // Python writes whole floats as 100000.0 in some hands; accept them when exact.
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (d >= 0 && d <= 1e18 && d == std::floor(d)) return static_cast<uint64_t>(d);
    }
    fail(where, "expected a non-negative integer");
  }
  std::string string(const json& obj, const char* field, const std::string& fallback = "") const {
    auto it = obj.find(field);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_string()) fail(field, "expected a string");
    return it->get<std::string>();
  }
  const json* object_field(const json& obj, const std::string& field, bool required) const {
    auto it = obj.find(field);
    if (it == obj.end()) {
      if (required) fail("", "missing field '" + field + "'");
      return nullptr;
    }
    if (!it->is_object()) fail(field, "expected an object");
    return &*it;
  }
  RunTimes times(const json& obj, const std::string& where) const {
    RunTimes out;
    for (const auto& [key, v] : obj.items()) out[key] = seconds(v, where + "[\"" + key + "\"]");
    return out;
  }
  Energy energy(const json& v, const std::string& where) const {
    if (!v.is_object()) fail(where, "expected an object {joules, quality, source}");
    Energy e;
    auto j = v.find("joules");
    if (j != v.end() && !j->is_null()) e.joules = number(*j, where + ".joules");
    auto q = v.find("quality");
    if (q != v.end()) {
      if (!q->is_string()) fail(where + ".quality", "expected a string");
      e.quality = q->get<std::string>();
    }
    auto s = v.find("source");
    if (s != v.end()) {
      if (!s->is_string()) fail(where + ".source", "expected a string");
      e.source = s->get<std::string>();
    }
    return e;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};


int scale_of_items(uint64_t items) {
  int n = 0;
  for (; items >= 10 && items % 10 == 0; items /= 10) ++n;
  return items == 1 ? n : -1;
}

// "failed": {function key: reason} (ours; absent when nothing failed).
std::map<std::string, std::string> read_failed(const Reader& rd, const json& j) {
  std::map<std::string, std::string> out;
  if (const json* f = rd.object_field(j, "failed", false))
    for (const auto& [key, reason] : f->items()) {
      if (!reason.is_string()) rd.fail("failed[\"" + key + "\"]", "expected a reason (text)");
      out[key] = reason.get<std::string>();
    }
  return out;
}

// The header fields shared by every scale (the top of a per-scale or consolidated file).
void read_header(const Reader& rd, const json& j, RandResults& r) {
  r.failed = read_failed(rd, j);
  r.device = rd.string(j, "device");
  r.hardware_name = rd.string(j, "hardware_name");
  r.outprefix = rd.string(j, "outprefix");
  if (j.contains("train_epochs"))
    r.train_epochs = static_cast<int>(rd.count(j["train_epochs"], "train_epochs"));
  if (const json* params = rd.object_field(j, "parameters", false)) {
    r.parameters = *params;
    if (params->contains("test_size_cap"))
      r.test_size_cap = rd.count((*params)["test_size_cap"], "parameters.test_size_cap");
  }
  // runs_planned is ours; the paper's files only say how many runs they hold.
  if (j.contains("runs_planned"))
    r.runs = static_cast<int>(rd.count(j["runs_planned"], "runs_planned"));
  else if (j.contains("runs"))
    r.runs = static_cast<int>(rd.count(j["runs"], "runs"));
}

// The rounds design of a scale and its samples (consolidated files only).
void read_design(const Reader& rd, const json& d, const std::string& where, ScaleResult& s) {
  auto text = [&](const char* f) { return rd.string(d, f); };
  auto number = [&](const char* f) {
    if (!d.contains(f)) rd.fail(where, std::string("missing field '") + f + "'");
    return rd.number(d[f], where + "." + f);
  };
  if (text("name") != "rounds") rd.fail(where + ".name", "unknown design '" + text("name") + "'");
  s.has_rounds = true;
  RoundsDesign& r = s.rounds;
  r.reference = text("reference");
  r.pairing = text("pairing");
  if (r.pairing != "neighbours") rd.fail(where + ".pairing", "expected neighbours");
  r.reps = d.contains("reps") ? rd.count(d["reps"], where + ".reps") : 1;
  r.min_sample_seconds = number("min_sample_seconds");
  r.function_elements_per_instance = number("function_elements_per_instance");
  r.precision = number("precision");
  r.budget_seconds = number("budget_seconds");
  r.measuring_seconds = number("measuring_seconds");
  r.stop = text("stop");
  if (d.contains("disturbance_limit")) r.disturbance_limit = number("disturbance_limit");
  if (d.contains("controls")) {
    if (!d["controls"].is_array()) rd.fail(where + ".controls", "expected a list of function keys");
    for (const json& c : d["controls"]) {
      if (!c.is_string()) rd.fail(where + ".controls", "expected a list of function keys");
      r.controls.push_back(c.get<std::string>());
    }
  }
}

void read_samples(const Reader& rd, const json& list, const std::string& where, ScaleResult& s) {
  if (!list.is_array()) rd.fail(where, "expected a list of samples");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string w = where + "[" + std::to_string(i) + "]";
    const json& j = list[i];
    if (!j.is_object()) rd.fail(w, "expected an object");
    Sample m;
    m.key = rd.string(j, "key");
    if (m.key.empty()) rd.fail(w + ".key", "missing function key");
    for (const char* f : {"round", "position", "seconds"})
      if (!j.contains(f)) rd.fail(w, std::string("missing field '") + f + "'");
    m.round = static_cast<int>(rd.count(j["round"], w + ".round"));
    m.position = static_cast<int>(rd.count(j["position"], w + ".position"));
    m.reps = j.contains("reps") ? rd.count(j["reps"], w + ".reps") : 1;
    m.seconds = rd.seconds(j["seconds"], w + ".seconds");
    if (j.contains("linear_seconds")) m.linear_seconds = rd.seconds(j["linear_seconds"], w + ".linear_seconds");
    if (j.contains("function_seconds"))
      m.function_seconds = rd.seconds(j["function_seconds"], w + ".function_seconds");
    if (j.contains("page_faults")) m.page_faults = static_cast<long>(rd.count(j["page_faults"], w + ".page_faults"));
    if (j.contains("preemptions")) m.preemptions = static_cast<long>(rd.count(j["preemptions"], w + ".preemptions"));
    if (j.contains("steal_seconds")) m.steal_seconds = rd.seconds(j["steal_seconds"], w + ".steal_seconds");
    if (j.contains("other_cpu_seconds"))
      m.other_cpu_seconds = rd.seconds(j["other_cpu_seconds"], w + ".other_cpu_seconds");
    if (j.contains("energy")) m.energy = rd.energy(j["energy"], w + ".energy");
    if (j.contains("disturbed")) {
      if (!j["disturbed"].is_boolean()) rd.fail(w + ".disturbed", "expected true or false");
      m.disturbed = j["disturbed"].get<bool>();
    }
    s.samples.push_back(std::move(m));
  }
}

ScaleResult read_scale(const Reader& rd, const json& j, const std::string& where,
                       uint64_t test_size_cap) {
  if (!j.is_object()) rd.fail(where, "expected an object");
  auto field = [&](const char* name) { return where.empty() ? std::string(name) : where + "." + name; };
  ScaleResult s;
  if (!j.contains("pred_items")) rd.fail(where, "missing field 'pred_items'");
  s.pred_items = rd.count(j["pred_items"], field("pred_items"));
  if (s.pred_items == 0) rd.fail(field("pred_items"), "must be at least 1");
  s.test_chunk_size = j.contains("test_chunk_size")
                          ? rd.count(j["test_chunk_size"], field("test_chunk_size"))
                          : std::min(s.pred_items, test_size_cap);

  auto pt = j.find("pred_times");
  if (pt == j.end()) rd.fail(where, "missing field 'pred_times'");
  if (!pt->is_array()) rd.fail(field("pred_times"), "expected a list of runs");
  for (std::size_t run = 0; run < pt->size(); ++run) {
    std::string w = field("pred_times") + "[" + std::to_string(run) + "]";
    if (!(*pt)[run].is_object()) rd.fail(w, "expected an object {function: seconds}");
    s.pred_times.push_back(rd.times((*pt)[run], w));
  }
  auto tt = j.find("train_times");
  if (tt != j.end()) {
    if (!tt->is_object()) rd.fail(field("train_times"), "expected an object {function: seconds}");
    s.train_times = rd.times(*tt, field("train_times"));
  }
  auto pe = j.find("pred_energy");
  if (pe != j.end()) {
    if (!pe->is_array() || pe->size() != s.pred_times.size())
      rd.fail(field("pred_energy"), "expected a list with one entry per run of pred_times");
    for (std::size_t run = 0; run < pe->size(); ++run) {
      std::string w = field("pred_energy") + "[" + std::to_string(run) + "]";
      if (!(*pe)[run].is_object()) rd.fail(w, "expected an object {function: energy}");
      RunEnergy e;
      for (const auto& [key, v] : (*pe)[run].items()) e[key] = rd.energy(v, w + "[\"" + key + "\"]");
      s.pred_energy.push_back(std::move(e));
    }
  }
  if (j.contains("design")) {
    if (!j["design"].is_object()) rd.fail(field("design"), "expected an object");
    read_design(rd, j["design"], field("design"), s);
    if (!j.contains("samples")) rd.fail(where, "missing field 'samples' (the rounds design's samples)");
    read_samples(rd, j["samples"], field("samples"), s);
  }
  s.started_at = rd.string(j, "started_at");
  if (j.contains("partial")) {
    if (!j["partial"].is_boolean()) rd.fail(field("partial"), "expected true or false");
    s.partial = j["partial"].get<bool>();
  }
  // The scale: ours says it, the paper's files keep it under parameters.
  const json* scale = nullptr;
  if (j.contains("scale")) scale = &j["scale"];
  else if (j.contains("parameters") && j["parameters"].is_object() && j["parameters"].contains("scale"))
    scale = &j["parameters"]["scale"];
  if (scale) {
    if (!scale->is_number_integer()) rd.fail(field("scale"), "expected an integer");
    s.scale = scale->get<int>();
  } else {
    s.scale = scale_of_items(s.pred_items);
  }
  return s;
}

RandResults rand_from_json(const Reader& rd, const json& j) {
  RandResults r;
  read_header(rd, j, r);
  r.source_paths.push_back(rd.path());
  if (j.contains("scales")) {
    if (!j["scales"].is_array()) rd.fail("scales", "expected a list of per-scale objects");
    for (std::size_t i = 0; i < j["scales"].size(); ++i)
      r.scales.push_back(read_scale(rd, j["scales"][i], "scales[" + std::to_string(i) + "]",
                                    r.test_size_cap));
  } else {
    r.scales.push_back(read_scale(rd, j, "", r.test_size_cap));
    r.scales.back().unix_time = unix_time_from_name(rd.path());
  }
  // Our files record when their invocation started (per-scale and consolidated alike); the
  // paper's files do not, and each of them is the only record of its runs.
  const auto started = r.parameters.find("started_unix");
  const std::string invocation = started != r.parameters.end() && started->is_number()
                                     ? "started " + format_number(started->get<double>())
                                     : rd.path();
  for (ScaleResult& s : r.scales)
    for (std::size_t run = 0; run < s.pred_times.size(); ++run)
      s.run_ids.push_back(invocation + "#" + std::to_string(run));
  return r;
}

MnistResults mnist_from_json(const Reader& rd, const json& j) {
  MnistResults r;
  const json& times = *rd.object_field(j, "times", true);
  const json& accuracies = *rd.object_field(j, "accuracies", true);
  const json* epochs = rd.object_field(j, "epochs", false);
  const json* reached = rd.object_field(j, "reached_target", false);
  const json* curves = rd.object_field(j, "accuracy_curves", false);
  const json* epoch_seconds = rd.object_field(j, "epoch_seconds", false);
  const json* energy = rd.object_field(j, "energy", false);

  r.dataset = rd.string(j, "dataset", r.dataset);
  r.device = rd.string(j, "device");
  r.hardware_name = rd.string(j, "hardware_name");
  r.started_at = rd.string(j, "started_at");
  r.outprefix = rd.string(j, "outprefix", r.outprefix);
  if (j.contains("target_accuracy")) r.target_accuracy = rd.number(j["target_accuracy"], "target_accuracy");
  if (j.contains("max_epochs")) r.max_epochs = static_cast<int>(rd.count(j["max_epochs"], "max_epochs"));
  if (const json* params = rd.object_field(j, "parameters", false)) r.parameters = *params;
  r.failed = read_failed(rd, j);
  if (j.contains("partial")) {
    if (!j["partial"].is_boolean()) rd.fail("partial", "expected true or false");
    r.partial = j["partial"].get<bool>();
  }

  for (const auto& [k, v] : accuracies.items())
    if (!times.contains(k)) rd.fail("accuracies[\"" + k + "\"]", "has no entry in times");
  for (const auto& [k, v] : times.items()) {
    const std::string at = "[\"" + k + "\"]";
    MnistFunctionResult f;
    f.key = key_from_mnist_key(k);
    f.train_seconds = rd.seconds(v, "times" + at);
    if (!accuracies.contains(k)) rd.fail("times" + at, "has no entry in accuracies");
    f.accuracy = rd.number(accuracies[k], "accuracies" + at);
    if (epochs && epochs->contains(k)) f.epochs = static_cast<int>(rd.count((*epochs)[k], "epochs" + at));
    // The paper's files do not say; its figure greys the bars below the target accuracy.
    f.reached_target = f.accuracy >= r.target_accuracy;
    if (reached && reached->contains(k)) {
      if (!(*reached)[k].is_boolean()) rd.fail("reached_target" + at, "expected true or false");
      f.reached_target = (*reached)[k].get<bool>();
    }
    if (curves && curves->contains(k)) {
      const json& c = (*curves)[k];
      if (!c.is_array()) rd.fail("accuracy_curves" + at, "expected a list of accuracies");
      for (std::size_t e = 0; e < c.size(); ++e)
        f.accuracy_curve.push_back(rd.number(c[e], "accuracy_curves" + at + "[" + std::to_string(e) + "]"));
    }
    if (epoch_seconds && epoch_seconds->contains(k)) {
      const json& c = (*epoch_seconds)[k];
      if (!c.is_array()) rd.fail("epoch_seconds" + at, "expected a list of seconds");
      for (std::size_t e = 0; e < c.size(); ++e)
        f.epoch_seconds.push_back(rd.seconds(c[e], "epoch_seconds" + at + "[" + std::to_string(e) + "]"));
    }
    if (energy && energy->contains(k)) f.energy = rd.energy((*energy)[k], "energy" + at);
    r.functions.push_back(std::move(f));
  }
  return r;
}

bool is_rand_json(const json& j) {
  return j.is_object() && (j.contains("pred_times") || j.contains("scales"));
}

}  // namespace

RandResults read_rand_file(const std::string& path) {
  Reader rd(path);
  json j = rd.parse();
  if (!is_rand_json(j)) rd.fail("", "not a rand result file (no 'pred_times' or 'scales')");
  return rand_from_json(rd, j);
}

std::vector<RandResults> read_rand_files(const std::vector<std::string>& paths) {
  std::vector<RandResults> groups;
  for (const std::string& path : paths) {
    RandResults r = read_rand_file(path);
    auto same = [&](const RandResults& g) {
      return std::tie(g.outprefix, g.device, g.hardware_name) ==
             std::tie(r.outprefix, r.device, r.hardware_name);
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end()) {
      groups.push_back(std::move(r));
      continue;
    }
    it->runs = std::max(it->runs, r.runs);
    it->source_paths.push_back(path);
    for (ScaleResult& s : r.scales) it->scales.push_back(std::move(s));
  }
  for (RandResults& g : groups)
    std::stable_sort(g.scales.begin(), g.scales.end(),
                     [](const ScaleResult& a, const ScaleResult& b) { return a.pred_items < b.pred_items; });
  return groups;
}

MnistResults read_mnist_file(const std::string& path) {
  Reader rd(path);
  json j = rd.parse();
  if (!j.is_object()) rd.fail("", "not an MNIST result file (expected an object)");
  return mnist_from_json(rd, j);
}

ResultFile read_result_file(const std::string& path) {
  Reader rd(path);
  json j = rd.parse();
  ResultFile out;
  if (j.is_array()) {
    out.kind = ResultFileKind::FunctionList;
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (!j[i].is_string()) rd.fail("[" + std::to_string(i) + "]", "expected a function key");
      out.functions.push_back(j[i].get<std::string>());
    }
  } else if (is_rand_json(j)) {
    out.kind = ResultFileKind::Rand;
    out.rand = rand_from_json(rd, j);
  } else if (j.is_object() && j.contains("times") && j.contains("accuracies")) {
    out.kind = ResultFileKind::Mnist;
    out.mnist = mnist_from_json(rd, j);
  } else {
    rd.fail("", "not a result file (no 'pred_times', 'scales', or 'times' and 'accuracies')");
  }
  return out;
}

}  // namespace ip
