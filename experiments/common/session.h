// A measuring session: what rand_power and mnist_power share around their own experiment.
// The flags every measuring program has, their validation before any work, the device and CPU
// set-up, the energy meter, the hardware description and the common part of a result file's
// header, the interrupt handlers, progress lines with an ETA, and one error boundary that keeps
// what was measured (partial files) when something fails.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/device.h"
#include "experiments/common/hardware.h"
#include "experiments/common/run_support.h"
#include "kernels/common/activation_list.h"
#include "measure/energy.h"

namespace CLI {
class App;
}

namespace ip {

// The flags every measuring program shares.
struct CommonFlags {
  std::string functions = "all", device = "cpu", target = "auto", energy = "auto";
  std::string out = "data/results", prefix, resume;
  int threads = 0;
  uint64_t seed = 1234;
  bool quiet = false;
};

// Registers the common flags on `app`, with the program's own words for what the seed seeds,
// the default file name prefix and what --resume continues from.
void add_common_flags(CLI::App& app, CommonFlags& f, const std::string& seed_help,
                      const std::string& prefix_help, const std::string& resume_help);

// One measuring program's experiment, as its Session runs it.
class Experiment {
 public:
  virtual ~Experiment() = default;
  // The whole run; returns the exit code (an exception escapes to Session::run).
  virtual int run(const CLI::App& app) = 0;
  // Writes what was measured so far, marked partial (after an error).
  virtual void save_partial() = 0;
  // What an out-of-memory error adds: the size a flag scales, and the flag.
  virtual std::string memory_hint() const = 0;
};

class Session {
 public:
  Session(std::string program, CommonFlags& flags, int argc, char** argv);

  // Validates the common flags and sets everything up, before any work: the function list, the
  // device (rewriting flags.device to what was chosen), threads and SIMD target, the energy
  // meter, the hardware description and the interrupt handlers. When resuming, the interrupted
  // run's directory (unless --out was given) and prefix are taken over; a different --prefix is
  // refused. The prefix defaults to <prefix_lead><host>_<device> (the device chosen, so that
  // --device auto names what ran). The results directory is probed for
  // files of the prefix plus `longest_suffix` characters (prepare_output_dir), and stale
  // temporary files of a killed run are removed from it.
  void open(const CLI::App& app, const std::string& prefix_lead, std::size_t longest_suffix,
            const std::string& resumed_path = "", const std::string& resumed_prefix = "");

  const std::string& program() const { return program_; }
  const std::vector<const FunctionInfo*>& functions() const { return functions_; }
  Device device() const { return device_; }
  EnergyMeter& meter() { return *meter_; }
  const HardwareInfo& hardware() const { return hardware_; }
  // The GPU's name on CUDA, else the CPU model: the result files' hardware_name.
  std::string hardware_name() const;
  double start_unix() const { return start_unix_; }
  const Progress& progress() const { return progress_; }
  void say(const std::string& line) const { progress_.line(line); }

  // The part of a result file's "parameters" every program writes: functions, seed, threads,
  // SIMD target, energy mode and meter, hardware, command line and start time.
  nlohmann::json parameters() const;

  // Probes another directory the run writes to (e.g. a model cache) as open() probes --out,
  // naming `flag` in errors, and removes stale temporary files from it.
  void prepare_directory(const std::string& dir, const std::string& flag, std::size_t longest_name) const;

  // Runs `experiment` and returns its exit code. An exception is reported in one line
  // ("<program>: error: ..."; running out of memory adds the experiment's memory_hint), then
  // save_partial keeps what was measured (its own failure is reported too), and the exit code is 1.
  int run(Experiment& experiment, const CLI::App& app) const;

 private:
  std::string program_;
  CommonFlags& flags_;
  std::string command_line_;
  std::vector<const FunctionInfo*> functions_;
  Device device_ = Device::Cpu;
  std::unique_ptr<EnergyMeter> meter_;
  HardwareInfo hardware_;
  double start_unix_ = 0;
  Progress progress_;
};

// Remaining seconds of a plan: what is left of it, at the pace measured so far. One second of
// planned work is blended in so the first, overhead-heavy steps do not swing it.
double eta_seconds(double elapsed, double done, double total);

}  // namespace ip
