// Result files of both experiments: function keys, number and time formats, the JSON and CSV
// writers. Writing files safely: results_files.cc; reading them back: results_read.cc.
#include "results/results.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <tuple>

namespace ip {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kGenerator = "inferencepower";
constexpr int kSchemaVersion = 1;
constexpr const char* kClassPrefix = "<class '";
constexpr const char* kClassSuffix = "'>";

}  // namespace

// ---- function keys ----

std::string function_key(const FunctionInfo& f) {
  std::string key = f.torch_path;
  if (f.torch_args[0] != '\0') key += std::string("(") + f.torch_args + ")";
  return key;
}

std::string mnist_key_from_key(const std::string& key) {
  std::size_t paren = key.find('(');
  std::string path = key.substr(0, paren);
  std::string args = paren == std::string::npos ? "" : key.substr(paren);
  return kClassPrefix + path + kClassSuffix + args;
}

std::string key_from_mnist_key(const std::string& mnist_key) {
  const std::string prefix = kClassPrefix;
  if (mnist_key.compare(0, prefix.size(), prefix) != 0) return mnist_key;
  std::size_t end = mnist_key.find(kClassSuffix, prefix.size());
  if (end == std::string::npos) return mnist_key;
  return mnist_key.substr(prefix.size(), end - prefix.size()) +
         mnist_key.substr(end + std::strlen(kClassSuffix));
}

const FunctionInfo* find_function_by_key(const std::string& key) {
  for (const FunctionInfo& f : kFunctionInfo)
    if (function_key(f) == key) return &f;
  return nullptr;
}

std::string group_name_of_key(const std::string& key) {
  const FunctionInfo* f = find_function_by_key(key);
  if (!f) return "unknown";
  switch (f->group) {
    case FunctionGroup::Activation: return "activation";
    case FunctionGroup::Dropout: return "dropout";
    case FunctionGroup::IdentityGroup: return "identity";
  }
  return "unknown";
}

// ---- small formatting helpers ----

double unix_time_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string local_time_string(double unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y %Z", &tm);
  return buf;
}

std::string format_number(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_number(double v) { return std::isfinite(v) ? format_number(v) : ""; }

namespace {

// Python's repr of time.time() names the paper's files: fixed notation, shortest digits.
std::string format_unix_time(double t) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, t, std::chars_format::fixed);
  std::string s(buf, res.ptr);
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

std::string cli_name_of_key(const std::string& key) {
  const FunctionInfo* f = find_function_by_key(key);
  return f ? f->cli_name : "";
}

json energy_to_json(const Energy& e) {
  json j;
  j["joules"] = std::isfinite(e.joules) ? json(e.joules) : json(nullptr);
  j["quality"] = e.quality;
  j["source"] = e.source;
  return j;
}

void require_finite(double v, const std::string& what) {
  if (!std::isfinite(v)) throw std::invalid_argument(what + " is not a finite number of seconds");
}

void check_outprefix(const std::string& prefix) {
  if (prefix.empty() || prefix.find('/') != std::string::npos)
    throw std::invalid_argument("output prefix '" + prefix + "' must be non-empty and without '/'");
}

std::string join_path(const std::string& dir, const std::string& name) {
  return (fs::path(dir.empty() ? "." : dir) / name).string();
}

}  // namespace


// ---- rand results ----

double RunSpread::max_over_min() const {
  return min_seconds > 0 ? max_seconds / min_seconds : std::numeric_limits<double>::quiet_NaN();
}

std::map<std::string, RunSpread> run_spreads(const ScaleResult& s) {
  std::map<std::string, RunSpread> out;
  for (const RunTimes& run : s.pred_times)
    for (const auto& [key, sec] : run) {
      RunSpread& sp = out[key];
      sp.min_seconds = sp.runs ? std::min(sp.min_seconds, sec) : sec;
      sp.max_seconds = sp.runs ? std::max(sp.max_seconds, sec) : sec;
      ++sp.runs;
    }
  return out;
}

// status is "ok" on measured rows; a function listed in `failed` has one row of its own with
// status "failed", the reason, and the measurement columns empty, so a filter on status keeps
// only measurements and a missing function is never silent.
const char* const kRandCsvHeader =
    "function,torch_key,group,scale,instances,run,seconds,seconds_per_instance,energy_joules,"
    "energy_quality,energy_source,runs,run_spread,status,reason";

json scale_to_json(const RandResults& r, const ScaleResult& s) {
  if (!s.pred_energy.empty() && s.pred_energy.size() != s.pred_times.size())
    throw std::invalid_argument("pred_energy must be empty or have one entry per run");
  json j;
  // The paper's fields.
  j["train_epochs"] = r.train_epochs;
  j["pred_items"] = s.pred_items;
  j["test_chunk_size"] = s.test_chunk_size;
  j["train_times"] = json::object();
  for (const auto& [key, sec] : s.train_times) {
    require_finite(sec, "train_times[" + key + "]");
    j["train_times"][key] = sec;
  }
  j["pred_times"] = json::array();
  for (std::size_t run = 0; run < s.pred_times.size(); ++run) {
    json times = json::object();
    for (const auto& [key, sec] : s.pred_times[run]) {
      require_finite(sec, "pred_times[" + std::to_string(run) + "][" + key + "]");
      times[key] = sec;
    }
    j["pred_times"].push_back(std::move(times));
  }
  j["device"] = r.device;
  j["hardware_name"] = r.hardware_name;
  // Tools index pred_times by range(runs): "runs" counts the runs present, the plan is separate.
  j["runs"] = s.pred_times.size();
  j["outprefix"] = r.outprefix;
  j["started_at"] = s.started_at;
  json params = r.parameters.is_object() ? r.parameters : json::object();
  params["test_size_cap"] = r.test_size_cap;
  // The paper's option to run experiment-impact-tracker; we never do (our meters are separate).
  if (!params.contains("track_impact")) params["track_impact"] = false;
  params["train_epochs"] = r.train_epochs;
  params["runs"] = r.runs;
  params["device"] = r.device;
  params["outprefix"] = r.outprefix;
  params["scale"] = s.scale;
  j["parameters"] = std::move(params);
  // Ours.
  j["scale"] = s.scale;
  j["runs_planned"] = r.runs;
  j["partial"] = s.partial;
  if (!r.failed.empty()) j["failed"] = r.failed;
  if (!s.pred_energy.empty()) {
    j["pred_energy"] = json::array();
    for (const RunEnergy& run : s.pred_energy) {
      json e = json::object();
      for (const auto& [key, energy] : run) e[key] = energy_to_json(energy);
      j["pred_energy"].push_back(std::move(e));
    }
  }
  j["generator"] = kGenerator;
  j["schema_version"] = kSchemaVersion;
  return j;
}

namespace {

json sample_to_json(const Sample& m) {
  json j = {{"function", cli_name_of_key(m.key)}, {"key", m.key},      {"round", m.round},
            {"position", m.position},             {"reps", m.reps},    {"seconds", m.seconds},
            {"page_faults", m.page_faults},       {"preemptions", m.preemptions}};
  require_finite(m.seconds, "sample of " + m.key);
  if (std::isfinite(m.linear_seconds)) j["linear_seconds"] = m.linear_seconds;
  if (std::isfinite(m.function_seconds)) j["function_seconds"] = m.function_seconds;
  if (m.steal_seconds >= 0) j["steal_seconds"] = m.steal_seconds;
  if (m.other_cpu_seconds >= 0) j["other_cpu_seconds"] = m.other_cpu_seconds;
  if (m.energy.quality != "unavailable") j["energy"] = energy_to_json(m.energy);
  if (m.disturbed) j["disturbed"] = true;
  return j;
}

json design_to_json(const RoundsDesign& d) {
  return {{"name", "rounds"},
          {"reference", d.reference},
          {"pairing", d.pairing},
          {"reps", d.reps},
          {"min_sample_seconds", d.min_sample_seconds},
          {"function_elements_per_instance", d.function_elements_per_instance},
          {"controls", d.controls},
          {"precision", d.precision},
          {"budget_seconds", d.budget_seconds},
          {"measuring_seconds", d.measuring_seconds},
          {"stop", d.stop},
          {"disturbance_limit", d.disturbance_limit}};
}

// What both kinds of result file say of the run itself (json objects keep their keys sorted, so
// where they are set does not change the file).
template <class Results>
json run_fields(const Results& r) {
  json j;
  j["generator"] = kGenerator;
  j["schema_version"] = kSchemaVersion;
  j["device"] = r.device;
  j["hardware_name"] = r.hardware_name;
  j["outprefix"] = r.outprefix;
  j["parameters"] = r.parameters.is_object() ? r.parameters : json::object();
  if (!r.failed.empty()) j["failed"] = r.failed;
  return j;
}

}  // namespace

json rand_to_json(const RandResults& r) {
  json j = run_fields(r);
  j["runs"] = r.runs;
  j["train_epochs"] = r.train_epochs;
  j["parameters"]["test_size_cap"] = r.test_size_cap;
  bool partial = false;
  j["scales"] = json::array();
  for (const ScaleResult& s : r.scales) {
    partial = partial || s.partial;
    json scale = scale_to_json(r, s);
    if (s.has_rounds) {
      scale["design"] = design_to_json(s.rounds);
      scale["samples"] = json::array();
      for (const Sample& m : s.samples) scale["samples"].push_back(sample_to_json(m));
    }
    scale["run_spread"] = json::object();
    for (const auto& [key, sp] : run_spreads(s)) {
      const double ratio = sp.max_over_min();
      scale["run_spread"][key] = {{"runs", sp.runs},
                                  {"min_seconds", sp.min_seconds},
                                  {"max_seconds", sp.max_seconds},
                                  {"max_over_min", std::isfinite(ratio) ? json(ratio) : json(nullptr)}};
    }
    j["scales"].push_back(std::move(scale));
  }
  j["partial"] = partial;
  return j;
}

std::string rand_to_csv(const RandResults& r) {
  std::string out = std::string(kRandCsvHeader) + "\n";
  for (const ScaleResult& s : r.scales) {
    const std::map<std::string, RunSpread> spreads = run_spreads(s);
    for (std::size_t run = 0; run < s.pred_times.size(); ++run) {
      for (const auto& [key, sec] : s.pred_times[run]) {
        Energy energy;
        if (run < s.pred_energy.size()) {
          auto it = s.pred_energy[run].find(key);
          if (it != s.pred_energy[run].end()) energy = it->second;
        }
        double per_instance = s.pred_items ? sec / static_cast<double>(s.pred_items) : NAN;
        out += csv_field(cli_name_of_key(key)) + "," + csv_field(key) + "," +
               group_name_of_key(key) + "," + std::to_string(s.scale) + "," +
               std::to_string(s.pred_items) + "," + std::to_string(run) + "," + csv_number(sec) +
               "," + csv_number(per_instance) + "," + csv_number(energy.joules) + "," +
               csv_field(energy.quality) + "," + csv_field(energy.source) + "," +
               std::to_string(spreads.at(key).runs) + "," +
               csv_number(spreads.at(key).max_over_min()) + ",ok,\n";
      }
    }
  }
  for (const auto& [key, reason] : r.failed)
    out += csv_field(cli_name_of_key(key)) + "," + csv_field(key) + "," + group_name_of_key(key) +
           ",,,,,,,,,,,failed," + csv_field(reason) + "\n";
  return out;
}

std::string scale_file_path(const std::string& dir, const RandResults& r, std::size_t index) {
  check_outprefix(r.outprefix);
  const ScaleResult& s = r.scales.at(index);
  const double t = s.unix_time > 0 ? s.unix_time : unix_time_now();
  return join_path(dir, r.outprefix + "_" + format_unix_time(t) + ".json");
}

std::string write_scale_file(const std::string& dir, const RandResults& r, std::size_t index) {
  const std::string path = scale_file_path(dir, r, index);
  write_file_atomic(path, scale_to_json(r, r.scales.at(index)).dump() + "\n");
  return path;
}

std::string consolidated_stem(const std::string& outprefix, double unix_time) {
  check_outprefix(outprefix);
  return outprefix + ".all." + format_unix_time(unix_time);
}

std::string write_rand_consolidated(const std::string& dir, const std::string& stem,
                                    const RandResults& r) {
  std::string json_path = join_path(dir, stem + ".json");
  // One set; the JSON is the record of the run, so it is the last to change.
  FileSet set;
  set.add(join_path(dir, stem + ".csv"), rand_to_csv(r));
  set.add(json_path, rand_to_json(r).dump(1) + "\n");
  set.commit();
  return json_path;
}

// ---- MNIST results ----

// status as in the rand CSV: "ok", or "failed" with the reason and the other columns empty.
const char* const kMnistCsvHeader =
    "function,torch_key,group,dataset,seconds,accuracy,epochs,reached_target,energy_joules,"
    "energy_quality,energy_source,status,reason";

json mnist_to_json(const MnistResults& r) {
  json j = run_fields(r);
  for (const char* field : {"times", "accuracies", "epochs", "reached_target", "accuracy_curves",
                            "epoch_seconds", "energy"})
    j[field] = json::object();
  for (const MnistFunctionResult& f : r.functions) {
    const std::string k = mnist_key_from_key(f.key);
    if (j["times"].contains(k)) throw std::invalid_argument("MNIST result for " + f.key + " twice");
    require_finite(f.train_seconds, "times[" + f.key + "]");
    j["times"][k] = f.train_seconds;
    j["accuracies"][k] = f.accuracy;
    j["epochs"][k] = f.epochs;
    j["reached_target"][k] = f.reached_target;
    j["accuracy_curves"][k] = f.accuracy_curve;
    j["epoch_seconds"][k] = f.epoch_seconds;
    j["energy"][k] = energy_to_json(f.energy);
  }
  j["dataset"] = r.dataset;
  j["started_at"] = r.started_at;
  j["target_accuracy"] = r.target_accuracy;
  j["max_epochs"] = r.max_epochs;
  j["partial"] = r.partial;
  return j;
}

std::string mnist_to_csv(const MnistResults& r) {
  std::string out = std::string(kMnistCsvHeader) + "\n";
  for (const MnistFunctionResult& f : r.functions) {
    out += csv_field(cli_name_of_key(f.key)) + "," + csv_field(f.key) + "," +
           group_name_of_key(f.key) + "," + csv_field(r.dataset) + "," +
           csv_number(f.train_seconds) + "," + csv_number(f.accuracy) + "," +
           std::to_string(f.epochs) + "," + (f.reached_target ? "true" : "false") + "," +
           csv_number(f.energy.joules) + "," + csv_field(f.energy.quality) + "," +
           csv_field(f.energy.source) + ",ok,\n";
  }
  for (const auto& [key, reason] : r.failed)
    out += csv_field(cli_name_of_key(key)) + "," + csv_field(key) + "," + group_name_of_key(key) +
           "," + csv_field(r.dataset) + ",,,,,,,,failed," + csv_field(reason) + "\n";
  return out;
}

std::string mnist_result_path(const std::string& dir, const std::string& outprefix, double unix_time) {
  check_outprefix(outprefix);
  return join_path(dir, outprefix + "_" + format_unix_time(unix_time) + ".json");
}

std::string write_mnist_results(const std::string& dir, const MnistResults& r, double unix_time) {
  const std::string json_path =
      mnist_result_path(dir, r.outprefix, unix_time > 0 ? unix_time : unix_time_now());
  FileSet set;
  set.add(json_path.substr(0, json_path.size() - 5) + ".csv", mnist_to_csv(r));
  set.add(json_path, mnist_to_json(r).dump(1) + "\n");
  set.commit();
  return json_path;
}

}  // namespace ip
