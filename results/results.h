// Result files of the experiments, in the schema of the paper's original files so that tools
// written for those (see ../shared/reference/paper/README.md) read ours unchanged.
//
// Random-data inference ("rand"), one JSON file per scale named `<outprefix>_<unix time>.json`:
//   pred_items, test_chunk_size, pred_times (list of runs, each {function key: seconds}),
//   train_times ({function key: seconds}), device, hardware_name, runs, train_epochs, outprefix,
//   started_at, parameters — the paper's fields — plus ours: scale, runs_planned, partial,
//   pred_energy (list of runs of {function key: {joules, quality, source}}), generator.
// The consolidated file holds every scale (same objects under "scales"); it is named
// `<outprefix>.all.<unix time>.json` so that a `<outprefix>_*.json` glob written for the paper's
// files sees only per-scale files. The CSV has one row per function × scale × run.
//
// MNIST time-to-accuracy: `times` and `accuracies` keyed like the paper's file ("<class '…'>"),
// plus epochs, reached_target, accuracy_curves, epoch_seconds, energy and the hardware; and a CSV.
//
// Every file is written atomically (temporary file in the same directory, fsync, rename), so an
// interrupted run leaves either the previous file or the new one, never half of one.
//
// The structures here are plain data, independent of the engine: experiments fill them.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/common/activation_list.h"

namespace ip {

// ---- function keys ----

// torch_path, plus "(torch_args)" when the row has constructor arguments, so every table row has
// its own key: GELU_tanh → "torch.nn.modules.activation.GELU(approximate='tanh')".
std::string function_key(const FunctionInfo& f);
// The MNIST files' form: "<class 'torch.nn.modules.activation.ReLU'>", arguments appended after.
std::string mnist_key_from_key(const std::string& key);
// Inverse of mnist_key_from_key; a key not of that form is returned unchanged.
std::string key_from_mnist_key(const std::string& mnist_key);
// The table row whose function_key is `key`; nullptr when none (e.g. a function we lack).
const FunctionInfo* find_function_by_key(const std::string& key);
// "activation", "dropout", "identity", or "unknown" for a key outside the table.
std::string group_name_of_key(const std::string& key);

// ---- data ----

struct Energy {
  double joules = std::numeric_limits<double>::quiet_NaN();  // NaN when not available
  std::string quality = "unavailable";                        // measured | estimated | unavailable
  std::string source;                                         // meter, e.g. "rapl" (empty: none)
};

using RunTimes = std::map<std::string, double>;   // function key → seconds
using RunEnergy = std::map<std::string, Energy>;  // function key → energy

// One timed sample of the rounds design: the network of one function predicting pred_items
// instances `reps` times in a row. `seconds` is the time of one prediction of pred_items
// instances (the sample's time / reps), comparable with a paper-protocol run's time.
struct Sample {
  std::string key;     // function key
  int round = 0;       // rounds are numbered from 0 within one invocation's scale
  int position = 0;    // place in its round's order (reference samples included)
  uint64_t reps = 1;
  double seconds = 0;
  // Parts of `seconds` measured inside the same loop (CPU only; NaN where not measured): the
  // two Linear layers and the four function layers.
  double linear_seconds = std::numeric_limits<double>::quiet_NaN();
  double function_seconds = std::numeric_limits<double>::quiet_NaN();
  // What disturbed it: page faults and involuntary context switches of this process, and the
  // machine's steal time and other processes' CPU time during the sample (-1: unknown).
  long page_faults = 0, preemptions = 0;
  double steal_seconds = -1, other_cpu_seconds = -1;
  // Other processes or the hypervisor took a share of the CPUs during it: the sample was taken
  // again at the same place, and this one is kept for the record but left out of the costs.
  bool disturbed = false;
  Energy energy;
};

// How a scale was measured in interleaved rounds (absent for the paper's protocol).
struct RoundsDesign {
  std::string reference;  // key of the function every cost is relative to (Identity)
  // How each sample meets the reference: "neighbours", the reference timed as often as the
  // functions in one random order, each function compared with the nearest reference sample on
  // either side of it.
  std::string pairing = "neighbours";
  uint64_t reps = 1;                     // predictions per sample
  double min_sample_seconds = 0;         // samples were sized to last at least this long
  double function_elements_per_instance = 0;  // elements the function layers process per instance
  std::vector<std::string> controls;     // keys of the no-op controls (eval-mode dropouts)
  double precision = 0;                  // the stopping rule's target (relative CI half-width)
  double budget_seconds = 0;             // this scale's share of the time budget
  double measuring_seconds = 0;          // time spent measuring it
  std::string stop;  // why rounds stopped: precision | budget | max-rounds | interrupted
  // A sample counts as disturbed when other processes' CPU time plus steal during it exceeds
  // this fraction of the CPU time the sample had (its wall time x the CPUs).
  double disturbance_limit = 0.05;
};

struct ScaleResult {
  int scale = -1;                    // n of 10^n; -1 when pred_items is not a power of ten
  uint64_t pred_items = 0;           // instances predicted per function and run
  uint64_t test_chunk_size = 0;      // rows per predict call
  std::vector<RunTimes> pred_times;  // one map per completed (or interrupted) run
  std::vector<RunEnergy> pred_energy;  // empty, or one map per run (parallel to pred_times)
  RunTimes train_times;              // seconds to train each model (empty when models were cached)
  std::string started_at;            // local time when the scale started, as the paper's files
  double unix_time = 0;              // when the scale was written; names its file (0: now)
  bool partial = false;              // interrupted: fewer runs or functions than planned
  // The rounds design (empty for the paper's protocol and the paper's files): its settings and
  // every sample, from which costs and their intervals are computed (costs.h). pred_times then
  // holds one entry per round (a round is a "run" for tools written for the paper's files).
  bool has_rounds = false;
  RoundsDesign rounds;
  std::vector<Sample> samples;
  // Who each run of pred_times is, "<invocation>#<run index>" (set by the reader: the invocation
  // is the run's start time where the file records it, else the file), so that one run read
  // from two files (a per-scale and a consolidated file) is merged once, however it was read.
  std::vector<std::string> run_ids;
};

struct RandResults {
  std::string device;         // "cpu" or "cuda", as the paper's files
  std::string hardware_name;  // CPU model name or GPU name
  std::string outprefix;
  int runs = 3;               // runs planned per scale
  int train_epochs = 2000;
  uint64_t test_size_cap = 100000;
  nlohmann::json parameters = nlohmann::json::object();  // further settings, recorded verbatim
  std::vector<ScaleResult> scales;
  // Functions left out of the measurements, with the reason (e.g. training diverged under
  // --on-nan continue); written as "failed" so a missing function is never silent.
  std::map<std::string, std::string> failed;
  std::vector<std::string> source_paths;  // files it was read from (reader only)
};

struct MnistFunctionResult {
  std::string key;                     // function_key form
  double train_seconds = 0;            // time in training steps until the target or the limit
  double accuracy = 0;                 // test accuracy after the last epoch
  int epochs = 0;                      // epochs trained (0: unknown, e.g. the paper's files)
  bool reached_target = false;
  std::vector<double> accuracy_curve;  // test accuracy after each epoch
  // Seconds in training steps of each epoch (empty in the paper's files): a function's cost per
  // epoch on this machine, apart from how many epochs it needs.
  std::vector<double> epoch_seconds;
  Energy energy;
};

struct MnistResults {
  std::string dataset = "mnist";  // mnist | fashion
  std::string device, hardware_name, started_at, outprefix = "mnist";
  double target_accuracy = 0.90;
  int max_epochs = 100;
  nlohmann::json parameters = nlohmann::json::object();
  bool partial = false;
  std::vector<MnistFunctionResult> functions;
  std::map<std::string, std::string> failed;  // function key → reason, as RandResults::failed
};

// How far one function's runs at one scale lie apart: a difference between two functions
// smaller than their spread is noise. max/min of the run times: 1 when every run took the same
// time, NaN when the fastest run took 0 s.
struct RunSpread {
  int runs = 0;
  double min_seconds = 0, max_seconds = 0;
  double max_over_min() const;
};
// Per function key, over the runs of `s` that timed it.
std::map<std::string, RunSpread> run_spreads(const ScaleResult& s);

// ---- writing ----

// Files that appear together or not at all: a reader never sees half of a set (say a CSV
// without the JSON it belongs to). commit() writes each file to a temporary file beside its
// target and fsyncs it; only when every one is on disk are they renamed over their targets, in
// the order added (add the file readers look for, the record of the run, last). When writing
// fails (a full disk, a read-only file system) every temporary file is removed, the targets keep
// their previous versions, and the error names the file, the failure and the set.
class FileSet {
 public:
  void add(const std::string& path, const std::string& content);
  // A file another program wrote (e.g. gnuplot) under `temporary`, a name of ours in the target's
  // directory: it joins the set as it is.
  void adopt(const std::string& path, const std::string& temporary);
  void commit();

 private:
  struct Entry {
    std::string path, content, adopted;
  };
  std::vector<Entry> entries_;
};

// Writes `content` to `path` via a temporary file in the same directory, fsync and rename (a
// set of one). On failure it throws std::runtime_error naming the path, removes the temporary
// file and leaves any existing file at `path` untouched.
void write_file_atomic(const std::string& path, const std::string& content);

// Before any work, for every directory a run writes to: creates `dir` if needed, checks that
// the longest file name the run will create there (`longest_name` characters; its temporary
// form is longer) fits the file system, and proves by writing a block and a file of that name
// that files can be created (permission bits say nothing about read-only mounts, full disks or
// root). Throws std::runtime_error starting with "<what> <dir>" otherwise. Then removes stale
// temporary files of ours left there by a killed run; returns their paths.
std::vector<std::string> prepare_output_dir(const std::string& dir, const std::string& what,
                                            std::size_t longest_name);
// prepare_output_dir for a results directory whose names are short.
void check_writable(const std::string& dir);
// Locks the temporary file open as `fd` for as long as its writer keeps `fd` open (flock): the
// kernel drops the lock when the writer exits, killed or not, so that a later run, on this
// machine or on another sharing the directory, can tell a file still being written from a killed
// writer's leftover. Where the file system has no locks the file stays unlocked and age decides.
void lock_temporary(int fd);
// The temporary files a writer keeps open, and so locked, until their renames: hold() locks one
// (lock_temporary) and keeps its descriptor; all are closed when this goes.
class HeldTemporaries {
 public:
  HeldTemporaries() = default;
  HeldTemporaries(const HeldTemporaries&) = delete;
  HeldTemporaries& operator=(const HeldTemporaries&) = delete;
  ~HeldTemporaries();
  void hold(int fd);

 private:
  std::vector<int> fds_;
};
// Temporary files of our naming (a result file's ".<name>.tmp.<pid>.XXXXXX", a model's
// "<name>.ipmodel.tmp.<pid>.XXXXXX", the write probe's) in `dir` whose writer is gone: no one
// holds the file's lock (lock_temporary) and its process no longer exists, at once, or, where
// locks say nothing, once the file is over a minute old; without a pid once it is over an hour
// old (a day with a pid that runs). Removes them and returns their paths.
std::vector<std::string> remove_stale_temporaries(const std::string& dir);
// The length of a temporary file's name for a target name of `name_length` characters.
std::size_t temporary_name_length(std::size_t name_length);

double unix_time_now();
// Local time as the paper's files write it: "Mon Jun  8 14:25:21 2020 CEST".
std::string local_time_string(double unix_time);
// Shortest form that reads back to the same double, like Python's repr: "1591619160.50882".
std::string format_number(double v);
// A CSV field, quoted when it holds a comma, quote or line break.
std::string csv_field(const std::string& s);
// A number for CSV: format_number's form, empty for NaN and infinities.
std::string csv_number(double v);

nlohmann::json scale_to_json(const RandResults& r, const ScaleResult& s);
// The consolidated file: every scale as in its per-scale file, plus (only here, so the per-scale
// files keep the paper's schema) "run_spread": {key: {runs, min_seconds, max_seconds,
// max_over_min}} in each scale.
nlohmann::json rand_to_json(const RandResults& r);
// One row per function x scale x run, with the function's runs and run spread at that scale
// repeated on each of its rows; then one row per failed function (status "failed").
std::string rand_to_csv(const RandResults& r);
nlohmann::json mnist_to_json(const MnistResults& r);
std::string mnist_to_csv(const MnistResults& r);

extern const char* const kRandCsvHeader;
extern const char* const kMnistCsvHeader;

// `<dir>/<outprefix>_<unix time>.json` for r.scales[index]; returns its path.
std::string write_scale_file(const std::string& dir, const RandResults& r, std::size_t index);
// The path write_scale_file writes (the scale's unix_time, or now when it has none).
std::string scale_file_path(const std::string& dir, const RandResults& r, std::size_t index);
// `<dir>/<stem>.json` and `<dir>/<stem>.csv`; returns the JSON's path. Rewriting it after every
// scale (with partial set) keeps what was measured when a long run is cut short.
std::string write_rand_consolidated(const std::string& dir, const std::string& stem,
                                    const RandResults& r);
std::string consolidated_stem(const std::string& outprefix, double unix_time);
// The most characters a unix time takes in a file name (10 digits, a point, the decimals that
// read back to the same double): for probing, before the name is known.
constexpr std::size_t kUnixTimeNameChars = 18;
// `<dir>/<outprefix>_<unix time>.json` and the same stem with .csv; returns the JSON's path.
std::string write_mnist_results(const std::string& dir, const MnistResults& r, double unix_time = 0);
// The JSON path write_mnist_results uses for that time (> 0).
std::string mnist_result_path(const std::string& dir, const std::string& outprefix, double unix_time);
// The time in a `<prefix>_<unix time>.json` name, 0 when the name holds none.
double unix_time_from_name(const std::string& path);

// ---- reading (ours and the paper's files) ----

// A per-scale or consolidated rand file. Errors name the file and the field.
RandResults read_rand_file(const std::string& path);
// Several files, grouped by (outprefix, device, hardware_name); scales sorted by pred_items.
std::vector<RandResults> read_rand_files(const std::vector<std::string>& paths);
MnistResults read_mnist_file(const std::string& path);

enum class ResultFileKind { Rand, Mnist, FunctionList };
struct ResultFile {
  ResultFileKind kind = ResultFileKind::Rand;
  RandResults rand;                    // kind == Rand
  MnistResults mnist;                  // kind == Mnist
  std::vector<std::string> functions;  // kind == FunctionList (e.g. dc_cpu_activation_list.json)
};
// Any result file, its kind told by its content.
ResultFile read_result_file(const std::string& path);

}  // namespace ip
