#include "experiments/rand/output.h"

#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "experiments/common/run_support.h"
#include "results/costs.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ip::rand {

namespace {

json measurement_json(const PaperMeasurement& pm) {
  if (!pm.resumed.is_null()) return pm.resumed;
  const Sample& m = pm.sample;
  const FunctionInfo* f = find_function_by_key(m.key);
  json j;
  j["function"] = f ? f->cli_name : "";
  j["key"] = m.key;
  j["scale"] = pm.scale;
  j["run"] = pm.run;
  j["seconds"] = m.seconds;
  j["seconds_per_instance"] = m.seconds / std::pow(10.0, pm.scale);
  j["energy"] = {{"joules", std::isfinite(m.energy.joules) ? json(m.energy.joules) : json(nullptr)},
                 {"quality", m.energy.quality},
                 {"source", m.energy.source}};
  j["page_faults"] = m.page_faults;
  j["preemptions"] = m.preemptions;
  if (m.steal_seconds >= 0) {
    j["steal_seconds"] = m.steal_seconds;
    j["other_cpu_seconds"] = m.other_cpu_seconds;
  }
  if (pm.has_breakdown)
    j["breakdown"] = {{"gemm_seconds", pm.gemm}, {"activation_seconds", pm.activation},
                      {"dropout_seconds", pm.dropout}};
  return j;
}

std::string breakdown_csv(const std::vector<PaperMeasurement>& ms) {
  std::string out = "function,torch_key,scale,run,seconds,gemm_seconds,activation_seconds,"
                    "dropout_seconds\n";
  for (const PaperMeasurement& pm : ms) {
    if (!pm.has_breakdown) continue;
    const FunctionInfo* f = find_function_by_key(pm.sample.key);
    out += std::string(f ? f->cli_name : "") + ",\"" + pm.sample.key + "\"," + std::to_string(pm.scale) +
           "," + std::to_string(pm.run) + "," + format_number(pm.sample.seconds) + "," +
           format_number(pm.gemm) + "," + format_number(pm.activation) + "," + format_number(pm.dropout) + "\n";
  }
  return out;
}

std::string number_or_empty(double v) { return std::isfinite(v) ? format_number(v) : ""; }

// One row per function and scale of the rounds design: the costs with their intervals.
std::string costs_csv(const RandResults& r) {
  std::string out =
      "function,torch_key,group,scale,instances,rounds,seconds_per_instance,spi_ci_low,spi_ci_high,"
      "relative,relative_ci_low,relative_ci_high,function_ns_per_element,fn_ci_low,fn_ci_high,"
      "verdict,control,noisy_scale\n";
  for (const ScaleResult& s : r.scales) {
    if (!s.has_rounds || s.samples.empty()) continue;
    const ScaleCosts c = scale_costs(s);
    for (const FunctionCost& f : c.functions) {
      const FunctionInfo* info = find_function_by_key(f.key);
      auto three = [](const Estimate& e) {
        return number_or_empty(e.value) + "," + number_or_empty(e.low) + "," + number_or_empty(e.high);
      };
      out += std::string(info ? info->cli_name : "") + ",\"" + f.key + "\"," + f.group + "," +
             std::to_string(s.scale) + "," + std::to_string(s.pred_items) + "," +
             std::to_string(f.rounds) + "," + three(f.seconds_per_instance) + "," + three(f.relative) +
             "," + three(f.function_ns_per_element) + "," +
             (f.reference ? "reference" : verdict_name(f.verdict)) + "," + (f.control ? "true" : "false") +
             "," + (c.controls.passed ? "false" : "true") + "\n";
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> write_consolidated(const std::string& dir, const std::string& stem,
                                            const RandResults& r, const Extras& extras, bool complete,
                                            int scale_index) {
  const fs::path d(dir);
  // One set: a reader (or --resume) never finds a per-scale file or a CSV without the JSON
  // they belong to, nor the reverse. The JSON is the record of the run, so it is renamed last.
  FileSet set;
  std::vector<std::string> paths;
  if (scale_index >= 0) {
    paths.push_back(scale_file_path(dir, r, static_cast<std::size_t>(scale_index)));
    set.add(paths.back(), scale_to_json(r, r.scales.at(static_cast<std::size_t>(scale_index))).dump() + "\n");
  }
  const std::string csv = (d / (stem + ".csv")).string();
  set.add(csv, rand_to_csv(r));
  bool rounds = false;
  for (const ScaleResult& s : r.scales) rounds = rounds || s.has_rounds;
  std::vector<std::string> extra_paths;
  if (rounds) {
    extra_paths.push_back((d / (stem + ".costs.csv")).string());
    set.add(extra_paths.back(), costs_csv(r));
  }
  if (extras.breakdown) {
    extra_paths.push_back((d / (stem + ".breakdown.csv")).string());
    set.add(extra_paths.back(), breakdown_csv(extras.measurements));
  }
  json j = rand_to_json(r);
  j["design"] = rounds ? "rounds" : "paper";
  j["partial"] = !complete;
  for (size_t i = 0; i < r.scales.size(); ++i) {
    j["scales"][i]["unix_time"] = r.scales[i].unix_time;  // so that --resume rewrites the same files
    if (r.scales[i].has_rounds && !r.scales[i].samples.empty())
      j["scales"][i]["costs"] = costs_to_json(scale_costs(r.scales[i]));
  }
  if (!rounds) {
    j["measurements"] = json::array();
    for (const PaperMeasurement& pm : extras.measurements) j["measurements"].push_back(measurement_json(pm));
  }
  if (!extras.overhead.empty()) j["overhead_one_instance"] = extras.overhead;
  if (!extras.preflight.is_null()) j["preflight"] = extras.preflight;
  const std::string path = (d / (stem + ".json")).string();
  set.add(path, j.dump(1) + "\n");
  set.commit();
  paths.insert(paths.begin() + (scale_index >= 0 ? 1 : 0), path);
  paths.insert(paths.begin() + (scale_index >= 0 ? 2 : 1), csv);
  paths.insert(paths.end(), extra_paths.begin(), extra_paths.end());
  return paths;
}

std::size_t longest_file_name(std::size_t prefix_length) {
  return prefix_length + std::string(".all.").size() + kUnixTimeNameChars + std::string(".breakdown.csv").size();
}

PaperMeasurement resumed_measurement(const json& cell) {
  PaperMeasurement pm;
  pm.sample.key = cell.at("key").get<std::string>();
  pm.scale = cell.at("scale").get<int>();
  pm.run = cell.at("run").get<int>();
  pm.sample.seconds = cell.at("seconds").get<double>();
  if (cell.contains("breakdown")) {
    const json& b = cell["breakdown"];
    pm.has_breakdown = true;
    pm.gemm = b.value("gemm_seconds", 0.0);
    pm.activation = b.value("activation_seconds", 0.0);
    pm.dropout = b.value("dropout_seconds", 0.0);
  }
  pm.resumed = cell;
  pm.resumed["resumed"] = true;
  return pm;
}

Resumed load_resume(const std::string& spec) {
  Resumed r;
  // Only the consolidated file lists every sample; the per-scale files hold the paper's schema.
  r.path = find_resume_file(spec, "consolidated result (<prefix>.all.<time>.json)", [](const json& j) {
    return j.contains("scales") && (j.contains("measurements") || j.value("design", "") == "rounds");
  });
  try {
    const json j = json::parse(read_text_file(r.path));
    if (!j.is_object() || !j.contains("scales"))
      throw std::invalid_argument("not a consolidated rand_power file (<prefix>.all.<time>.json)");
    if (j.value("partial", false) != true)
      throw std::invalid_argument("the run is complete (partial=false): nothing to resume");
    r.design = j.value("design", std::string(j.contains("measurements") ? "paper" : "rounds"));
    r.file = read_rand_file(r.path);
    for (const json& s : j.at("scales"))
      if (s.contains("unix_time")) r.scale_unix_time[s.at("scale").get<int>()] = s.at("unix_time").get<double>();
    if (j.contains("overhead_one_instance")) r.overhead = j["overhead_one_instance"];
    if (j.contains("measurements"))
      for (const json& m : j.at("measurements")) {
        const PaperCell cell{m.at("key").get<std::string>(), m.at("scale").get<int>(), m.at("run").get<int>()};
        if (!find_function_by_key(std::get<0>(cell)))
          throw std::invalid_argument("unknown function " + std::get<0>(cell));
        // A measurement is kept verbatim: it must be one (per-scale files are checked by the reader).
        const json& seconds = m.at("seconds");
        if (std::get<1>(cell) < 0 || std::get<2>(cell) < 0)
          throw std::invalid_argument("measurement of " + std::get<0>(cell) + ": negative scale or run");
        if (!seconds.is_number() || !std::isfinite(seconds.get<double>()) || seconds.get<double>() < 0)
          throw std::invalid_argument("measurement of " + std::get<0>(cell) + " at scale " +
                                      std::to_string(std::get<1>(cell)) + ", run " + std::to_string(std::get<2>(cell)) +
                                      ": " + seconds.dump() + " s is not a time");
        if (!r.cells.emplace(cell, m).second)
          throw std::invalid_argument("measurement of " + std::get<0>(cell) + " listed twice");
      }
  } catch (const std::exception& e) {
    throw std::invalid_argument("--resume: " + r.path + ": " + e.what());
  }
  r.stem = fs::path(r.path).stem().string();
  return r;
}

void check_resume_settings(const Resumed& r, const RandResults& now) {
  const std::string command_line = r.file.parameters.value("command_line", std::string("?"));
  auto same = [&](const std::string& flag, const json& was, const json& is) {
    check_same_setting(flag, was, is, command_line);
  };
  same("--device", r.file.device, now.device);
  same("the hardware", r.file.hardware_name, now.hardware_name);
  same("--runs", r.file.runs, now.runs);
  same("--train-epochs", r.file.train_epochs, now.train_epochs);
  same("--chunk-cap", r.file.test_size_cap, now.test_size_cap);
  check_same_parameters(r.file.parameters, now.parameters, {
      {"functions", "--functions"}, {"scales", "--scales"},       {"seed", "--seed"},
      {"lr", "--lr"},               {"threads", "--threads"},     {"simd_target", "--target"},
      {"gemm", "--gemm"},           {"dropout_mode", "--dropout-mode"},
      {"gpu_timing", "--gpu-timing"}, {"warmup_calls", "--warmup"}, {"breakdown", "--breakdown"},
      {"energy_mode", "--energy"},  {"design", "--design"},       {"precision", "--precision"},
      {"budget_seconds", "--budget"}, {"min_sample_seconds", "--min-sample"}}, command_line);
}

}  // namespace ip::rand
