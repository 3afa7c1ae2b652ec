#include "experiments/rand/experiment.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "engine/model_file.h"
#include "experiments/common/preflight.h"
#include "kernels/cpu/kernels.h"
#include "measure/timer.h"
#include "results/costs.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace ip::rand {

namespace {
constexpr int kMaxScale = 9;
// --breakdown's one-instance check: predicting one instance costs at most what its kernels cost
// plus this; what the engine adds around the kernels (layer dispatch, shape checks, buffer
// reuse) must stay below it.
constexpr double kOverheadLimit = 5e-6;
}  // namespace

void add_options(CLI::App& app, Options& o) {
  app.add_option("--scales", o.scales, "scales n (10^n instances): a range 0-8 or a list 0,5; each 0..9")
      ->capture_default_str();
  app.add_option("--design", o.design,
                 "rounds: every round times every function once in a fresh shuffled order, paired "
                 "with Identity in the same round, until each cost's 95% CI is within --precision "
                 "or --budget is spent; paper: the original protocol, one loop per function per "
                 "run, --runs runs (for reproducing the paper's figures)")
      ->capture_default_str();
  app.add_option("--precision", o.precision,
                 "rounds: stop when every function's 95% CI of its cost relative to Identity is "
                 "within this fraction of it (0.01 = ±1%), in (0, 1)")
      ->capture_default_str();
  app.add_option("--budget", o.budget,
                 "rounds: time for measuring all scales (training excluded), e.g. 90s, 4m, 1h; each "
                 "scale gets an even share of what is left, and at least 6 rounds")
      ->capture_default_str();
  app.add_option("--min-sample", o.min_sample,
                 "rounds: a sample repeats the prediction of 10^n instances until it lasts this "
                 "long (e.g. 15ms), so the clock and thread start-up do not dominate")
      ->capture_default_str();
  app.add_option("--runs", o.runs, "paper design: runs per scale (function order shuffled per run), >= 1")
      ->capture_default_str();
  app.add_option("--train-epochs", o.train_epochs, "Adam steps on the fixed batch, >= 0")->capture_default_str();
  app.add_option("--lr", o.lr, "Adam learning rate, > 0")->capture_default_str();
  app.add_option("--chunk-cap", o.chunk_cap, "most rows per predict call, >= 1; lower it when memory runs out")
      ->capture_default_str();
  app.add_option("--dropout-mode", o.dropout_mode,
                 "eval (dropouts pass through, as the paper; they are then the no-op controls) or "
                 "train (dropouts draw masks)")
      ->capture_default_str();
  app.add_option("--gemm", o.gemm, "GEMM backend: own, blas (CPU, OpenBLAS) or cublas (CUDA)")->capture_default_str();
  app.add_option("--model-cache", o.model_cache, "directory of trained models, keyed by model, seed, epochs and lr")
      ->capture_default_str();
  app.add_flag("--no-model-cache", o.no_cache, "always train, never read or write the cache");
  app.add_option("--warmup", o.warmup,
                 "untimed predict calls of one chunk before each sample (each timed loop), so that "
                 "it starts from its own network's cache state rather than the previous one's; 0 "
                 "times from cold")
      ->capture_default_str();
  app.add_option("--gpu-timing", o.gpu_timing,
                 "CUDA only: sync (wait for the GPU before stopping the clock) or async (the "
                 "original's unsynchronised timing, which records launch time at small scales)")
      ->capture_default_str();
  app.add_flag("--breakdown", o.breakdown,
               "paper design: after each timed loop, one more loop timing each layer "
               "(synchronised): seconds in GEMM vs activation vs dropout. Either design: before "
               "measuring, per function, one instance's prediction against its kernels called "
               "alone (fastest of 300 rounds each), the overhead in us, within 5 us or a miss");
  app.add_flag("--no-pin", o.no_pin, "do not pin OpenMP threads to CPUs (pinned by default)");
  app.add_option("--on-nan", o.on_nan,
                 "when training produces NaN/Inf (reported with the step and the first layer): "
                 "stop (exit with an error) or continue (record the function under \"failed\" and "
                 "measure the others)")
      ->capture_default_str();
}

Experiment::Experiment(const Options& o, CommonFlags& common, Session& session)
    : o_(o), common_(common), session_(session) {}

void Experiment::validate() {
  scales_ = parse_scales(o_.scales, kMaxScale);
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  need(o_.design == "rounds" || o_.design == "paper", "--design: '" + o_.design + "' is not one of rounds, paper");
  rounds_ = o_.design == "rounds";
  need(o_.runs >= 1, "--runs: must be 1 or more, got " + std::to_string(o_.runs));
  need(o_.train_epochs >= 0, "--train-epochs: must be 0 or more");
  need(o_.chunk_cap >= 1, "--chunk-cap: must be 1 or more");
  need(o_.warmup >= 0, "--warmup: must be 0 or more");
  need(std::isfinite(o_.lr) && o_.lr > 0, "--lr: must be a finite number > 0");
  need(std::isfinite(o_.precision) && o_.precision > 0 && o_.precision < 1, "--precision: must be in (0, 1)");
  need(o_.on_nan == "stop" || o_.on_nan == "continue", "--on-nan: '" + o_.on_nan + "' is not one of stop, continue");
  need(o_.dropout_mode == "eval" || o_.dropout_mode == "train",
       "--dropout-mode: '" + o_.dropout_mode + "' is not one of eval, train");
  need(o_.gpu_timing == "sync" || o_.gpu_timing == "async",
       "--gpu-timing: '" + o_.gpu_timing + "' is not one of sync, async");
  budget_seconds_ = parse_duration(o_.budget, "--budget");
  min_sample_seconds_ = parse_duration(o_.min_sample, "--min-sample");
  need(min_sample_seconds_ <= 60, "--min-sample: at most 60 s");
}

int Experiment::run(const CLI::App& app) {
  validate();
  if (!common_.resume.empty()) resumed_ = load_resume(common_.resume);
  session_.open(app, "", longest_file_name(0), resumed_.path, resumed_.file.outprefix);
  configure_gemm(o_.gemm, session_.device());
  use_cache_ = !o_.no_cache && o_.train_epochs > 0;
  if (use_cache_) check_model_cache();
  write_header();
  prepare_data();
  train_models();
  if (interrupted()) {
    std::fprintf(stderr, "rand_power: interrupted during training; no measurements to write\n");
    return interrupted_exit_code();
  }
  check_overhead();
  measure();
  return finish();
}

// Every model the run will save has a place in the cache before anything is trained: a cache
// on a read-only or full file system, or a directory where a model file belongs, is found now,
// not after the first model is trained. A cache that already holds every model is only read.
void Experiment::check_model_cache() {
  TrainingSettings t;
  t.steps = o_.train_epochs;
  t.lr = o_.lr;
  t.seed = common_.seed;
  t.cache_dir = o_.model_cache;
  std::vector<const FunctionInfo*> functions = session_.functions();
  if (rounds_) functions.push_back(&function_info(FunctionId::Identity));
  std::size_t longest = 0;
  bool to_write = false;
  for (const FunctionInfo* f : functions) {
    const std::string path = cache_path(t, f->cli_name, describe_model(*f));
    std::error_code ec;
    if (fs::is_directory(path, ec))
      throw std::runtime_error("--model-cache: " + path + " is a directory, where the model of " +
                               f->cli_name + " is to be cached");
    to_write = to_write || !fs::exists(path, ec);
    longest = std::max(longest, fs::path(path).filename().string().size());
  }
  if (to_write || !fs::is_directory(o_.model_cache)) session_.prepare_directory(o_.model_cache, "--model-cache", longest);
}

void Experiment::write_header() {
  const HardwareInfo& hw = session_.hardware();
  session_.say("rand_power: " + std::to_string(session_.functions().size()) + " functions, scales " +
               o_.scales + ", " + (rounds_ ? "rounds (budget " + format_duration(budget_seconds_) + ")"
                                           : std::to_string(o_.runs) + " run(s) of the paper's protocol") +
               " on " + common_.device + " (" + hw.summary() + ")");
  EnergyMeter& meter = session_.meter();
  session_.say("energy: " + (meter.available() ? meter.source() : "unavailable: " + meter.unavailable_reason()));
  results_.device = common_.device;
  results_.hardware_name = session_.hardware_name();
  results_.outprefix = common_.prefix;
  results_.runs = rounds_ ? 0 : o_.runs;
  results_.train_epochs = o_.train_epochs;
  results_.test_size_cap = static_cast<uint64_t>(o_.chunk_cap);
  json& p = results_.parameters;
  p = session_.parameters();
  p["scales"] = scales_;
  p["design"] = o_.design;
  if (rounds_) {
    p["precision"] = o_.precision;
    p["budget_seconds"] = budget_seconds_;
    p["min_sample_seconds"] = min_sample_seconds_;
  }
  p["lr"] = o_.lr;
  p["gemm"] = o_.gemm;
  p["dropout_mode"] = o_.dropout_mode;
  p["gpu_timing"] = o_.gpu_timing;
  p["warmup_calls"] = o_.warmup;
  p["breakdown"] = o_.breakdown;
  p["model_cache"] = use_cache_ ? o_.model_cache : "";
  p["timing"] = "steady_clock around each sample; " +
                std::string(session_.device() == Device::Cuda && o_.gpu_timing == "async"
                                ? "not synchronised (the original's artifact)"
                                : "synchronised before the clock stops");
  stem_ = consolidated_stem(common_.prefix, session_.start_unix());
  if (!resumed_.path.empty()) {
    check_resume_settings(resumed_, results_);
    stem_ = resumed_.stem;  // the interrupted run's files are rewritten, not duplicated
    results_.failed = resumed_.file.failed;
    extras_.overhead = resumed_.overhead;
    size_t samples_resumed = 0;
    for (const ScaleResult& sc : resumed_.file.scales) samples_resumed += sc.samples.size();
    p["resumed"] = {{"from", resumed_.path},
                    {"cells_resumed", resumed_.cells.size()},
                    {"samples_resumed", samples_resumed},
                    {"note", "measurements with \"resumed\": true and the rounds present before this "
                             "invocation come from the interrupted run"},
                    {"interrupted_command_line", resumed_.file.parameters.value("command_line", "")},
                    {"interrupted_started_at", resumed_.file.parameters.value("started_at", "")}};
    session_.say("resuming " + resumed_.path);
  }
}

void Experiment::prepare_data() {
  for (int n : scales_) max_chunk_ = std::max(max_chunk_, chunking(n, o_.chunk_cap).chunk);
  // The input chunk and each layer's output of one chunk: refuse what cannot fit at all, before
  // a huge allocation that the system might grant and then kill the process for.
  const double chunk_bytes = static_cast<double>(max_chunk_) * kInFeatures * sizeof(float) * 7;
  if (session_.device() == Device::Cpu && physical_memory_bytes() > 0 &&
      chunk_bytes > static_cast<double>(physical_memory_bytes()))
    throw std::invalid_argument("--chunk-cap: a prediction chunk of " + std::to_string(max_chunk_) +
                                " rows needs about " + format_bytes(chunk_bytes) + ", more than this machine's " +
                                format_bytes(static_cast<double>(physical_memory_bytes())) +
                                " of memory; lower --chunk-cap");
  session_.say("preparing data: " + std::to_string(max_chunk_) + " x " + std::to_string(kInFeatures) +
               " random inputs");
  input_ = Tensor::from_vector({max_chunk_, kInFeatures},
                               normal_values(max_chunk_ * kInFeatures, common_.seed, philox::kRandPredictInputStream))
               .to(session_.device());
}

void Experiment::train_models() {
  std::vector<const FunctionInfo*> functions = session_.functions();
  const FunctionInfo& identity = function_info(FunctionId::Identity);
  if (rounds_ && std::find(functions.begin(), functions.end(), &identity) == functions.end()) {
    functions.push_back(&identity);  // the reference every cost is relative to
    session_.say("rounds: identity added as the reference");
  }
  TrainingSettings t;
  t.steps = o_.train_epochs;
  t.lr = o_.lr;
  t.seed = common_.seed;
  t.cache_dir = use_cache_ ? o_.model_cache : "";
  // A function whose every cell an interrupted paper-design run measured needs no training.
  auto all_done = [&](const std::string& key) {
    if (resumed_.cells.empty()) return false;
    for (int n : scales_)
      for (int run = 0; run < o_.runs; ++run)
        if (!resumed_.cells.count({key, n, run})) return false;
    return true;
  };
  candidates_ = make_candidates(functions, t, session_.device(), all_done);
  const size_t to_train = std::count_if(candidates_.begin(), candidates_.end(),
                                        [](const Candidate& c) { return c.needs_training; });
  if (to_train == 0) return;
  const TrainingBatch batch = training_batch(common_.seed, session_.device());
  Timer elapsed;
  size_t trained = 0;
  RunTimes train_times;
  for (Candidate& c : candidates_) {
    if (!c.needs_training) continue;
    std::string failure;
    const double s = train(c.model, o_.train_epochs, o_.lr, batch, session_.device(), &failure);
    if (!failure.empty()) {
      const std::string what = std::string("training ") + c.info->cli_name + ": " + failure;
      if (o_.on_nan == "stop") throw std::runtime_error(what + " (--on-nan continue records it as failed and goes on)");
      std::fprintf(stderr, "rand_power: warning: %s; recorded as failed, not measured\n", what.c_str());
      results_.failed[c.key] = failure;
      continue;
    }
    if (s < 0) return;  // interrupted
    c.train_seconds = s;
    c.model.to(session_.device());  // drops the training buffers
    if (use_cache_) {
      // The cache only saves time: a model that cannot be saved (the disk filled up since the
      // start) is trained again next time, and this run goes on.
      try {
        save_model(c.model, c.cache_path);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rand_power: warning: model not cached (%s); it will be trained again next time\n",
                     e.what());
      }
    }
    ++trained;
    const double e = elapsed.seconds();
    session_.say("trained " + std::string(c.info->cli_name) + " (" + std::to_string(trained) + "/" +
                 std::to_string(to_train) + ") in " + format_duration(s) + "; ETA " +
                 format_duration(e / trained * static_cast<double>(to_train - trained)));
  }
  candidates_.erase(std::remove_if(candidates_.begin(), candidates_.end(),
                                   [&](const Candidate& c) { return results_.failed.count(c.key) > 0; }),
                    candidates_.end());
}

void Experiment::check_overhead() {
  if (!o_.breakdown) return;
  const Tensor row = input_.rows(0, 1);
  int misses = 0;
  for (Candidate& c : candidates_) {
    set_inference_mode(c.model, o_.dropout_mode == "train");
    const Overhead m = measure_overhead(c.model, row, session_.device());
    const bool pass = m.overhead() <= kOverheadLimit;
    misses += pass ? 0 : 1;
    extras_.overhead[c.key] = {{"function", c.info->cli_name}, {"predict_seconds", m.predict},
                               {"kernels_seconds", m.kernels}, {"layers_with_kernels", m.layers_timed},
                               {"overhead_seconds", m.overhead()}, {"limit_seconds", kOverheadLimit},
                               {"pass", pass}};
    char line[256];
    std::snprintf(line, sizeof line,
                  "one instance, %-13s predict %8.2f us, its kernels alone %8.2f us, overhead %6.2f us (limit %.0f us) %s",
                  c.info->cli_name, m.predict * 1e6, m.kernels * 1e6, m.overhead() * 1e6,
                  kOverheadLimit * 1e6, pass ? "PASS" : "MISS");
    session_.say(line);
    c.model.to(session_.device());  // frees the 1-row buffers
  }
  session_.say("one-instance overhead: " + std::to_string(candidates_.size() - misses) + " of " +
               std::to_string(candidates_.size()) + " functions within " + format_number(kOverheadLimit * 1e6) +
               " us of their kernels (fastest of 300 rounds each)");
}

void Experiment::checkpoint(bool complete) {
  if (results_.scales.empty() && results_.failed.empty()) return;
  write_consolidated(common_.out, stem_, results_, extras_, complete);
}

void Experiment::measure() {
  const Preflight pre = preflight(!o_.no_pin);
  extras_.preflight = pre.to_json();
  for (const std::string& w : pre.warnings) session_.say("warning: " + w);
  session_.say("threads: " + std::to_string(pre.threads) + ", " + pre.pinning);
  started_ = true;

  TimingNetwork network(session_.device(), common_.seed);
  Bench bench{session_, network, input_, 100000, 0, false, false, nullptr};
  bench.chunk_cap = static_cast<uint64_t>(o_.chunk_cap);
  bench.seed = common_.seed;
  bench.dropout_train = o_.dropout_mode == "train";
  bench.async = session_.device() == Device::Cuda && o_.gpu_timing == "async";
  bench.checkpoint = [this] { checkpoint(false); };

  RunTimes train_times;
  for (const Candidate& c : candidates_)
    if (c.train_seconds >= 0) train_times[c.key] = c.train_seconds;
  for (const auto& [cell, j] : resumed_.cells) extras_.measurements.push_back(resumed_measurement(j));

  if (candidates_.empty()) return;  // every function failed to train: results.failed says why
  size_t reference = candidates_.size();
  std::vector<std::string> controls;
  for (size_t i = 0; i < candidates_.size(); ++i) {
    if (candidates_[i].info->id == FunctionId::Identity) reference = i;
    if (candidates_[i].info->group == FunctionGroup::Dropout && o_.dropout_mode == "eval")
      controls.push_back(candidates_[i].key);
  }
  if (rounds_ && reference == candidates_.size())
    throw std::runtime_error("the reference, identity, could not be trained (" +
                             results_.failed[function_key(function_info(FunctionId::Identity))] +
                             "): costs relative to it cannot be measured");
  if (rounds_ && controls.empty())
    session_.say("note: no no-op controls in this run (eval-mode dropouts are the controls)");
  double budget_left = budget_seconds_;
  for (const ScaleResult& s : resumed_.file.scales) budget_left -= s.rounds.measuring_seconds;

  for (size_t si = 0; si < scales_.size() && !interrupted(); ++si) {
    const int n = scales_[si];
    ScaleResult s;
    for (const ScaleResult& r : resumed_.file.scales)
      if (r.scale == n) s = r;  // a scale the interrupted run started or finished
    const bool finished = s.has_rounds && s.rounds.stop != "interrupted" && !s.samples.empty();
    const Chunking ch = chunking(n, o_.chunk_cap);
    s.scale = n;
    s.pred_items = ch.items;
    s.test_chunk_size = ch.chunk;
    if (s.started_at.empty()) s.started_at = local_time_string(unix_time_now());
    s.train_times.insert(train_times.begin(), train_times.end());
    results_.scales.push_back(s);
    ScaleResult& cur = results_.scales.back();
    if (rounds_) {
      if (!finished) {
        const double share = std::max(0.0, budget_left / static_cast<double>(scales_.size() - si));
        RoundsSettings settings;
        settings.precision = o_.precision;
        settings.min_sample_seconds = min_sample_seconds_;
        settings.warmup = o_.warmup;
        const double before = cur.rounds.measuring_seconds;
        measure_rounds(bench, candidates_, reference, controls, n, share + before, settings, cur);
        budget_left -= cur.rounds.measuring_seconds - before;
      }
      if (!cur.samples.empty()) {
        const ScaleCosts c = scale_costs(cur);
        char line[256];
        std::snprintf(line, sizeof line, "scale 10^%d: %d rounds, stopped on %s; worst 95%% CI half-width %.2f%%; controls %s",
                      n, c.rounds, c.stop.c_str(), 100 * c.worst_half_width,
                      c.controls.controls == 0 ? "none" : c.controls.passed ? "passed" : "NOISY");
        session_.say(line);
      }
    } else {
      PaperSettings settings;
      settings.runs = o_.runs;
      settings.warmup = o_.warmup;
      settings.breakdown = o_.breakdown;
      settings.done = resumed_.cells;
      measure_paper(bench, candidates_, n, settings, cur, extras_.measurements);
    }
    if (cur.pred_times.empty()) {
      results_.scales.pop_back();  // interrupted before its first measurement
      checkpoint(false);
    } else {
      const auto t = resumed_.scale_unix_time.find(n);
      cur.unix_time = t != resumed_.scale_unix_time.end() ? t->second : unix_time_now();
      const int index = static_cast<int>(results_.scales.size() - 1);
      written_.push_back(write_consolidated(common_.out, stem_, results_, extras_, false, index).front());
    }
  }
}

void Experiment::print_answer() const {
  if (!rounds_ || results_.scales.empty() || session_.progress().quiet()) return;
  std::string text = "\n" + format_costs(scale_costs(results_.scales.back()));
  for (const ScaleResult& s : results_.scales) {
    if (&s == &results_.scales.back() || s.samples.empty()) continue;
    const ScaleCosts c = scale_costs(s);
    char line[256];
    std::snprintf(line, sizeof line, "  10^%d: %d rounds, worst CI ±%.2f%%, controls %s%s\n", c.scale, c.rounds,
                  100 * c.worst_half_width,
                  c.controls.controls == 0 ? "none" : c.controls.passed ? "within precision" : "NOISY: ",
                  c.controls.passed ? "" : c.controls.failures.front().c_str());
    text += line;
  }
  std::fprintf(stderr, "%s\n", text.c_str());
}

int Experiment::finish() {
  const bool complete = !interrupted();
  std::vector<std::string> all = written_;
  if (!results_.scales.empty() || !results_.failed.empty()) {
    const std::vector<std::string> consolidated =
        write_consolidated(common_.out, stem_, results_, extras_, complete);
    all.insert(all.end(), consolidated.begin(), consolidated.end());
  }
  print_answer();
  for (const std::string& path : all) std::printf("%s\n", path.c_str());
  std::fflush(stdout);
  if (interrupted()) {
    std::fprintf(stderr, "rand_power: interrupted by signal %d: what was measured is written (partial=true) to %s\n",
                 interrupt_signal(), common_.out.c_str());
    return interrupted_exit_code();
  }
  session_.say("rand_power: results in " + common_.out + " (" + stem_ + ".json and its CSVs, one " +
               common_.prefix + "_<time>.json per scale)");
  return 0;
}

void Experiment::save_partial() {
  if (!started_ || results_.scales.empty()) return;
  results_.scales.back().partial = true;
  for (const std::string& path : write_consolidated(common_.out, stem_, results_, extras_, false))
    std::fprintf(stderr, "rand_power: partial results kept in %s\n", path.c_str());
}

std::string Experiment::memory_hint() const {
  return " (prediction chunks of up to " + std::to_string(o_.chunk_cap) + " rows of 1024 floats); lower --chunk-cap";
}

}  // namespace ip::rand
