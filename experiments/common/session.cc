#include "experiments/common/session.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <new>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <omp.h>

#include "kernels/cpu/kernels.h"
#include "results/results.h"

namespace fs = std::filesystem;

namespace ip {

void add_common_flags(CLI::App& app, CommonFlags& f, const std::string& seed_help,
                      const std::string& prefix_help, const std::string& resume_help) {
  app.add_option("--functions", f.functions,
                 "comma-separated CLI names, 'all' (every table row) or 'paper' (the 26 the paper "
                 "timed); valid names: " + valid_function_names())
      ->capture_default_str();
  app.add_option("--device", f.device,
                 "cpu, cuda, or auto (CUDA when a GPU is usable, else the CPU with a notice)")
      ->capture_default_str();
  app.add_option("--threads", f.threads, "OpenMP threads; 0 = OpenMP's default")->capture_default_str();
  app.add_option("--target", f.target,
                 "CPU SIMD target (e.g. AVX3, AVX2, SSE4, EMU128) or auto = best available")
      ->capture_default_str();
  app.add_option("--seed", f.seed, seed_help)->capture_default_str();
  app.add_option("--out", f.out, "results directory")->capture_default_str();
  app.add_option("--prefix", f.prefix, prefix_help);
  app.add_option("--energy", f.energy,
                 "auto (hardware counters when present), off, or estimate[:watts] (labelled "
                 "estimated)")
      ->capture_default_str();
  app.add_option("--resume", f.resume, resume_help);
  app.add_flag("--quiet", f.quiet, "no progress; stdout lists only the result files");
}

Session::Session(std::string program, CommonFlags& flags, int argc, char** argv)
    : program_(std::move(program)), flags_(flags), command_line_(command_line(argc, argv)),
      progress_(flags.quiet) {}

void Session::open(const CLI::App& app, const std::string& prefix_lead, std::size_t longest_suffix,
                   const std::string& resumed_path, const std::string& resumed_prefix) {
  functions_ = parse_function_list(flags_.functions);
  double estimate_watts = 0;
  EnergyMode energy_mode;
  try {
    energy_mode = parse_energy_mode(flags_.energy, &estimate_watts);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("--energy: ") + e.what());
  }
  device_ = resolve_device(flags_.device, program_.c_str());
  const std::string threads_warning = configure_cpu(flags_.threads, flags_.target);
  if (!threads_warning.empty()) std::fprintf(stderr, "%s: warning: %s\n", program_.c_str(), threads_warning.c_str());
  if (!resumed_path.empty()) {
    if (app.count("--out") == 0) flags_.out = fs::path(resumed_path).parent_path().string();
    if (flags_.out.empty()) flags_.out = ".";
    if (flags_.prefix.empty()) flags_.prefix = resumed_prefix;
    if (flags_.prefix != resumed_prefix)
      throw std::invalid_argument("--resume: --prefix differs: the interrupted run had '" +
                                  resumed_prefix + "', this one '" + flags_.prefix + "'");
  }
  if (flags_.prefix.empty()) flags_.prefix = prefix_lead + host_name() + "_" + flags_.device;
  if (flags_.prefix.find('/') != std::string::npos)
    throw std::invalid_argument("--prefix: must not contain '/'");
  prepare_directory(flags_.out, "--out", flags_.prefix.size() + longest_suffix);
  EnergyOptions energy_options;
  energy_options.estimate_watts = estimate_watts;
  meter_ = make_energy_meter(energy_mode, flags_.device, energy_options);
  hardware_ = describe_hardware();
  start_unix_ = unix_time_now();
  install_interrupt_handlers();
}

std::string Session::hardware_name() const {
  return device_ == Device::Cuda && !hardware_.gpu_name.empty() ? hardware_.gpu_name : hardware_.cpu_model;
}

nlohmann::json Session::parameters() const {
  nlohmann::json p;
  p["functions"] = nlohmann::json::array();
  for (const FunctionInfo* f : functions_) p["functions"].push_back(f->cli_name);
  p["seed"] = flags_.seed;
  p["threads"] = omp_get_max_threads();
  p["simd_target"] = cpu::current_target();
  p["energy_mode"] = flags_.energy;
  p["energy_meter"] = {{"source", meter_->source()},
                       {"available", meter_->available()},
                       {"reason", meter_->unavailable_reason()}};
  p["hardware"] = hardware_.to_json();
  p["command_line"] = command_line_;
  p["started_at"] = local_time_string(start_unix_);
  p["started_unix"] = start_unix_;
  return p;
}

void Session::prepare_directory(const std::string& dir, const std::string& flag, std::size_t longest_name) const {
  const std::vector<std::string> removed = prepare_output_dir(dir, flag, longest_name);
  if (!removed.empty())
    progress_.line(program_ + ": removed " + std::to_string(removed.size()) +
                   " stale temporary file(s) of an interrupted run from " + dir);
}

int Session::run(Experiment& experiment, const CLI::App& app) const {
  try {
    return experiment.run(app);
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (dynamic_cast<const std::bad_alloc*>(&e)) message = "out of memory: " + message + experiment.memory_hint();
    std::fprintf(stderr, "%s: error: %s\n", program_.c_str(), message.c_str());
    try {
      experiment.save_partial();
    } catch (const std::exception& e2) {
      std::fprintf(stderr, "%s: error: could not write partial results: %s\n", program_.c_str(), e2.what());
    }
    return 1;
  }
}

double eta_seconds(double elapsed, double done, double total) {
  const double blend = std::min(1.0, total);
  return std::max(0.0, (total - done) * (elapsed + blend) / (done + blend));
}

}  // namespace ip
