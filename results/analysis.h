// Pure computations over result files, shared by the tables (power_table) and the figures
// (plots/figures): platforms assembled from many files, per-function statistics per scale, the
// spread within a group and the activations' cost relative to Identity (the paper's figures
// (b) and (c)), MNIST runs grouped per platform. Nothing here prints or draws.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/results.h"
#include "results/stats.h"

namespace ip {

// ---- reading and grouping ----

// A platform: the rand files that share a name (file-name prefix unless the caller names it),
// outprefix, device and hardware. The paper names platforms by file prefix (dc_cpu, dc_gpu, …)
// while its outprefix fields say other things ("servercpu"), so the prefix is the name shown.
struct Platform {
  std::string name, outprefix, device, hardware_name;
  std::vector<std::string> files;
  std::vector<ScaleResult> scales;  // sorted by pred_items, one per pred_items
};

// One function's time split by layer kind at one scale and run (rand_power --breakdown, kept in
// the "measurements" of its consolidated file).
struct BreakdownRow {
  std::string key;
  std::string invocation;  // who measured it: its run's start time, else its file
  int scale = 0, run = 0;
  double seconds = 0, gemm = 0, activation = 0, dropout = 0;
};
struct PlatformBreakdown {
  std::string platform;  // Platform::name
  std::vector<BreakdownRow> rows;
};

// MNIST files of one platform; each file is one run of every function in it.
struct MnistSet {
  std::string name, dataset, device, hardware_name;
  std::vector<std::string> files;
  std::vector<MnistResults> runs;
};

// kernel_bench's JSON, kept as written: the figures pick the rows they draw.
struct KernelBenchFile {
  std::string path, name;
  nlohmann::json data;
};

// "dc_cpu" from dc_cpu_1591619160.50882.json; "run" from run.all.1700000000.json (ours);
// "mnist_targets" from the paper's mnist_targets.4332704.214709112.json.
std::string file_prefix(const std::string& path);

class ResultLoader {
 public:
  // A file, or every .json in a directory (its subdirectories too when `recursive`). `name`
  // replaces the file prefix as the platform name when not empty. Explicit files must be result
  // files; inside a directory, JSON that is none is skipped with a note. Unreadable or
  // malformed files are errors either way, and the message names the file.
  void add_path(const std::string& path, const std::string& name = "", bool recursive = false);

  std::vector<Platform>& platforms() { return platforms_; }
  const std::vector<Platform>& platforms() const { return platforms_; }
  const std::vector<MnistSet>& mnist() const { return mnist_; }
  const std::vector<PlatformBreakdown>& breakdowns() const { return breakdowns_; }
  const std::vector<KernelBenchFile>& kernel_bench() const { return kernel_bench_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  void add_file(const std::string& path, const std::string& name, bool from_directory);
  void name_kernel_bench_apart();
  void add_rand(const std::string& path, const std::string& name, RandResults r,
                const nlohmann::json& j);
  void add_mnist(const std::string& path, const std::string& name, MnistResults r);
  void merge_scale(Platform& p, const std::string& path, ScaleResult s);

  std::vector<Platform> platforms_;
  std::vector<MnistSet> mnist_;
  std::vector<PlatformBreakdown> breakdowns_;
  std::vector<KernelBenchFile> kernel_bench_;
  std::vector<std::string> notes_;
};

// ---- statistics ----

enum class Stat { Mean, Median, Min };
double summarise(std::vector<double> v, Stat stat);  // NaN when empty
// Population standard deviation (numpy.std's default); NaN when empty.
double population_std(const std::vector<double>& v);

struct FunctionStat {
  std::string key, label, group;
  int order = 0;  // activations, dropouts, identity, unknown; table order within a group
  int runs = 0;
  double min_s = kNaN, max_s = kNaN;
  double per_instance = kNaN;         // seconds per instance (the chosen statistic over runs)
  double joules_per_instance = kNaN;  // over runs with a measured or estimated value
  std::string energy_quality;         // "measured", "estimated" or both joined by '+'
};

// 0 activation, 1 dropout, 2 identity, 3 anything else: the order of rows and legends.
int group_rank(const std::string& group);
// The label of a function key: the table's name, else the class name after the last '.'.
std::string function_label(const std::string& key);
// Every function present at one scale, in group then table order.
std::vector<FunctionStat> function_stats(const ScaleResult& s, Stat stat);

// max/min of seconds per instance within one group at one scale.
struct Spread {
  int n = 0;
  double ratio = kNaN;
  std::string fastest, slowest;
  double fastest_s = kNaN, slowest_s = kNaN;
};
Spread spread_of(const std::vector<FunctionStat>& fs, const std::string& group);

// Activations' time over Identity's at one scale. The standard deviation is the population one
// (numpy.std's default), over the activations present.
struct Relative {
  int n = 0;
  double mean = kNaN, std = kNaN, min = kNaN, max = kNaN;
};
Relative relative_of(const std::vector<FunctionStat>& fs);

// MNIST: per function over the runs of a set.
struct MnistStat {
  std::string key, label, group;
  int runs = 0, reached = 0;  // runs holding it, and how many of them reached the target
  double mean_s = kNaN, std_s = kNaN, mean_accuracy = kNaN;
  double joules = kNaN;  // mean over runs with a measured or estimated value
  std::string energy_quality;
};
// Sorted by mean time, fastest first.
std::vector<MnistStat> mnist_stats(const MnistSet& set);

// MNIST time to the target, split into what the function and the optimiser decide (epochs to the
// target: the same on any machine) and what the machine charges (seconds per training epoch).
struct MnistEpochStat {
  std::string key, label, group;
  // Runs long enough to tell: those that reached the target or trained the set's largest
  // --max-epochs (a shorter run that stopped early says nothing about epochs to the target).
  int runs = 0, reached = 0;
  int max_epochs = 0;
  std::vector<int> epochs;  // epochs to the target of each run that reached it
  double mean_epochs = kNaN, min_epochs = kNaN, max_epochs_seen = kNaN;
  double final_accuracy = kNaN;  // mean test accuracy after the last epoch, over those runs
  // Seconds in training steps per epoch: each run's median epoch, then the fastest run's (load
  // from other processes only ever adds time), with the range over runs. Every run counts here,
  // short ones included.
  int epoch_runs = 0;
  double epoch_seconds = kNaN, epoch_seconds_lo = kNaN, epoch_seconds_hi = kNaN;
};
// Functions that reached the target first, by mean epochs; then the others by final accuracy.
std::vector<MnistEpochStat> mnist_epoch_stats(const MnistSet& set);

// The paper's epochs to the target, derived from its files, which hold only times and final
// accuracies. A function that never reached the target trained all `max_epochs` epochs, so its
// time / max_epochs is its cost per epoch; the paper's network is GEMM-bound, so every function's
// epoch is taken to cost what those did: the median of them, with their range as the range of
// the derived epochs. A derived count above max_epochs is impossible: that function's epochs
// cost more than the others' (`derivable` false).
struct PaperEpochs {
  std::string key, label;
  double seconds = kNaN, accuracy = kNaN;
  bool reached = false, derivable = false;
  double epochs = kNaN, epochs_lo = kNaN, epochs_hi = kNaN;
};
struct PaperEpochCost {
  int never_reached = 0;  // functions the per-epoch cost is taken from
  double per_epoch = kNaN, per_epoch_lo = kNaN, per_epoch_hi = kNaN;
  std::vector<PaperEpochs> functions;
};
PaperEpochCost paper_epochs(const MnistSet& paper, int max_epochs);

}  // namespace ip
