#include "experiments/mnist/experiment.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "experiments/common/run_support.h"
#include "experiments/mnist/trainer.h"
#include "measure/timer.h"

using nlohmann::json;

namespace ip::mnist {

void add_options(CLI::App& app, Options& o) {
  app.add_option("--threshold", o.threshold, "test accuracy to reach, in (0, 1]")->capture_default_str();
  app.add_option("--max-epochs", o.max_epochs, "epoch limit, >= 1")->capture_default_str();
  app.add_option("--batch", o.batch,
                 "training batch size, >= 1 (at most the training images: one batch per epoch); lower it "
                 "when memory runs out")
      ->capture_default_str();
  app.add_option("--lr", o.lr, "SGD learning rate, > 0")->capture_default_str();
  app.add_option("--momentum", o.momentum, "SGD momentum, in [0, 1)")->capture_default_str();
  app.add_option("--on-nan", o.on_nan,
                 "when training produces NaN/Inf (reported with the step and the first layer): "
                 "stop (exit with an error) or continue (record the function under \"failed\" "
                 "and train the others)")
      ->capture_default_str();
  app.add_option("--data-dir", o.data_dir,
                 "directory with the IDX files (.gz or not); default: $MNIST_DIR, then data/mnist/ "
                 "(for fashion: $FASHION_MNIST_DIR, data/fashion-mnist/, "
                 "/usr/share/datasets/fashion-mnist/)");
  app.add_option("--dataset", o.dataset, "mnist or fashion (Fashion-MNIST, same format)")->capture_default_str();
  app.add_flag("--eval-in-train-mode", o.eval_in_train_mode,
               "evaluate without switching to eval mode, as the original did (dropouts stay "
               "active while testing)");
  app.add_option("--limit-train", o.limit_train, "use only the first N training images (0 = all)")
      ->capture_default_str();
}

Experiment::Experiment(const Options& o, CommonFlags& common, Session& session)
    : o_(o), common_(common), session_(session) {}

void Experiment::validate() {
  batch_ = static_cast<std::size_t>(std::max(o_.batch, 1));
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  need(o_.threshold > 0 && o_.threshold <= 1, "--threshold: must be in (0, 1]");
  need(o_.max_epochs >= 1, "--max-epochs: must be 1 or more");
  need(o_.batch >= 1, "--batch: must be 1 or more");
  need(o_.lr > 0, "--lr: must be > 0");
  need(o_.momentum >= 0 && o_.momentum < 1, "--momentum: must be in [0, 1)");
  need(o_.limit_train >= 0, "--limit-train: must be 0 (all) or more");
  need(o_.on_nan == "stop" || o_.on_nan == "continue", "--on-nan: '" + o_.on_nan + "' is not one of stop, continue");
  try {
    kind_ = parse_mnist_kind(o_.dataset);
  } catch (const std::exception&) {
    throw std::invalid_argument("--dataset: '" + o_.dataset + "' is not one of mnist, fashion");
  }
}

int Experiment::run(const CLI::App& app) {
  validate();
  if (!common_.resume.empty()) resumed_ = load_resume(common_.resume);
  // "_<unix time>.json" after the prefix.
  session_.open(app, std::string(to_string(kind_)) + "_", 1 + kUnixTimeNameChars + 5, resumed_.path,
                resumed_.file.outprefix);
  load_data();
  write_header();
  todo_ = session_.functions();
  if (!resumed_.path.empty()) take_over_resumed();
  estimate();

  started_ = true;
  results_.partial = true;  // until every function is done: a killed run's file says so
  training_started_ = unix_time_now();
  for (std::size_t fi = 0; fi < todo_.size() && !interrupted(); ++fi)
    if (!train_function(*todo_[fi], fi)) break;
  // Resuming a run whose every function was done (cut short after its last one): mark it complete.
  if (todo_.empty() && !interrupted()) write(false);
  return finish();
}

// Any problem with the files stops here, before results exist.
void Experiment::load_data() {
  train_dir_ = resolve_mnist_dir(o_.data_dir, kind_, MnistSplit::Train);
  const std::string test_dir = resolve_mnist_dir(o_.data_dir, kind_, MnistSplit::Test);
  train_ = load_mnist(train_dir_, MnistSplit::Train, kind_, static_cast<std::size_t>(o_.limit_train));
  test_ = load_mnist(test_dir, MnistSplit::Test, kind_);
  const std::string split_warning = check_split(train_, test_);
  if (!split_warning.empty()) std::fprintf(stderr, "mnist_power: warning: %s\n", split_warning.c_str());
  // What the run really uses is what its file records.
  limit_train_ = o_.limit_train > 0 && static_cast<std::size_t>(o_.limit_train) < train_.file_count ? o_.limit_train : 0;
  if (o_.limit_train > 0 && limit_train_ == 0)
    session_.say("--limit-train " + std::to_string(o_.limit_train) + ": the training file holds " +
                 std::to_string(train_.file_count) + " images; all are used");
  batch_ = std::min(static_cast<std::size_t>(o_.batch), train_.count);
  if (batch_ < static_cast<std::size_t>(o_.batch))
    session_.say("--batch " + std::to_string(o_.batch) + ": more than the " + std::to_string(train_.count) +
                 " training images; one batch of " + std::to_string(batch_) + " per epoch");
  session_.say("data: " + std::to_string(train_.count) + " training images from " + train_.images_path + ", " +
               std::to_string(test_.count) + " test images");
}

void Experiment::write_header() {
  session_.say("mnist_power: " + std::to_string(session_.functions().size()) + " functions on " + common_.device +
               " (" + session_.hardware().summary() + ")");
  EnergyMeter& meter = session_.meter();
  session_.say("energy: " + (meter.available() ? meter.source() : "unavailable: " + meter.unavailable_reason()));
  results_.dataset = to_string(kind_);
  results_.device = common_.device;
  results_.hardware_name = session_.hardware_name();
  results_.started_at = local_time_string(session_.start_unix());
  results_.outprefix = common_.prefix;
  results_.target_accuracy = o_.threshold;
  results_.max_epochs = o_.max_epochs;
  json& p = results_.parameters;
  p = session_.parameters();
  p["batch"] = batch_;
  p["lr"] = o_.lr;
  p["momentum"] = o_.momentum;
  p["train_images"] = train_.count;
  p["test_images"] = test_.count;
  p["limit_train"] = limit_train_;
  p["data_dir"] = train_dir_;
  p["eval_mode"] = o_.eval_in_train_mode ? "train (the original's quirk)" : "eval";
  p["energy_window"] = "each epoch's training loop (batch preparation included, evaluation excluded)";
  p["timing"] = "steady_clock around each training step (forward, backward, update), synchronised";
  p["energy_readings"] = json::object();
  file_time_ = session_.start_unix();
}

// Functions the interrupted run finished or recorded as failed are not trained again.
void Experiment::take_over_resumed() {
  check_resume_settings(resumed_, results_);
  const MnistResults& before = resumed_.file;
  json& p = results_.parameters;
  results_.functions = before.functions;
  results_.failed = before.failed;
  results_.started_at = before.started_at;
  file_time_ = resumed_.unix_time;  // the interrupted run's file is rewritten, not duplicated
  if (before.parameters.contains("energy_readings")) p["energy_readings"] = before.parameters["energy_readings"];
  const std::vector<const FunctionInfo*> functions = todo_;
  todo_.clear();
  for (const FunctionInfo* f : functions) {
    const std::string key = function_key(*f);
    const bool done = before.failed.count(key) ||
                      std::any_of(before.functions.begin(), before.functions.end(),
                                  [&](const MnistFunctionResult& r) { return r.key == key; });
    if (!done) todo_.push_back(f);
  }
  p["resumed"] = {{"from", resumed_.path},
                  {"functions_resumed", functions.size() - todo_.size()},
                  {"interrupted_command_line", before.parameters.value("command_line", "")},
                  {"interrupted_started_at", before.started_at}};
  session_.say("resuming " + resumed_.path + ": " + std::to_string(functions.size() - todo_.size()) +
               " function(s) kept, " + std::to_string(todo_.size()) + " to train");
}

// Two training steps give a rough time per epoch.
void Experiment::estimate() const {
  if (session_.progress().quiet() || train_.count == 0 || todo_.empty()) return;
  Sequential probe = Sequential::parse(describe_model(*todo_[0]), common_.seed);
  probe.to(session_.device());
  Trainer t(probe, o_.lr, o_.momentum, session_.device());
  std::vector<std::size_t> first(std::min(train_.count, 3 * batch_));
  for (std::size_t i = 0; i < first.size(); ++i) first[i] = i;
  t.epoch(train_, std::vector<std::size_t>(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(std::min(first.size(), batch_))),
          batch_);
  const double s = t.epoch(train_, first, batch_);
  if (s < 0) return;  // interrupted
  const double steps_per_epoch = std::ceil(static_cast<double>(train_.count) / static_cast<double>(batch_));
  const double epoch_estimate =
      s / std::ceil(static_cast<double>(first.size()) / static_cast<double>(batch_)) * steps_per_epoch * 1.3;
  session_.say("estimated: about " + format_duration(epoch_estimate) + " per epoch (evaluation included); at most " +
               format_duration(epoch_estimate * o_.max_epochs * static_cast<double>(todo_.size())) + " for " +
               std::to_string(todo_.size()) + " function(s) x " + std::to_string(o_.max_epochs) + " epoch(s)");
}

bool Experiment::train_function(const FunctionInfo& f, std::size_t fi) {
  const Device device = session_.device();
  Sequential model = Sequential::parse(describe_model(f), common_.seed);
  model.set_seed(common_.seed);
  model.to(device);
  Trainer trainer(model, o_.lr, o_.momentum, device);
  MnistFunctionResult r;
  r.key = function_key(f);
  EnergyReading energy;
  bool complete = false;
  for (int epoch = 0; epoch < o_.max_epochs; ++epoch) {
    model.train();
    const std::vector<std::size_t> order =
        seeded_permutation(train_.count, mix_seed(common_.seed ^ 0x6d6e697374ull, static_cast<uint64_t>(epoch)));
    session_.meter().start();
    const double s = trainer.epoch(train_, order, batch_);
    const EnergyReading reading = session_.meter().stop();
    if (!trainer.failure().empty()) {
      const std::string what = std::string("training ") + f.cli_name + ": " + trainer.failure();
      if (o_.on_nan == "stop") throw std::runtime_error(what + " (--on-nan continue records it as failed and goes on)");
      std::fprintf(stderr, "mnist_power: warning: %s; recorded as failed\n", what.c_str());
      results_.failed[r.key] = trainer.failure();
      write(fi + 1 < todo_.size());
      return true;
    }
    if (s < 0) return false;  // interrupted mid-epoch: the function's result is incomplete
    r.train_seconds += s;
    r.epoch_seconds.push_back(s);
    energy = add_readings(energy, reading);
    if (!o_.eval_in_train_mode) model.eval();
    const double acc = accuracy(model, test_, device);
    r.accuracy = acc;
    r.accuracy_curve.push_back(acc);
    r.epochs = epoch + 1;
    r.reached_target = acc >= o_.threshold;
    ++epochs_done_;
    const double e = unix_time_now() - training_started_;
    const double per_epoch = e / static_cast<double>(epochs_done_);
    const double worst_left =
        per_epoch * ((o_.max_epochs - epoch - 1) + static_cast<double>(todo_.size() - fi - 1) * o_.max_epochs);
    char line[512];
    std::snprintf(line, sizeof line,
                  "%-13s (%zu/%zu) epoch %3d/%d: test accuracy %.4f, training %s | elapsed %s, at most %s left",
                  f.cli_name, fi + 1, todo_.size(), epoch + 1, o_.max_epochs, acc,
                  format_duration(r.train_seconds).c_str(), format_duration(e).c_str(),
                  format_duration(worst_left).c_str());
    session_.say(line);
    if (r.reached_target || epoch + 1 == o_.max_epochs) complete = true;
    if (r.reached_target) break;
  }
  if (!complete) return false;
  r.energy = to_result_energy(energy);
  results_.parameters["energy_readings"][r.key] = energy;
  results_.functions.push_back(r);
  write(fi + 1 < todo_.size());
  session_.say(std::string(f.cli_name) + ": " + (r.reached_target ? "reached " : "did not reach ") +
               format_number(o_.threshold) + " after " + std::to_string(r.epochs) + " epoch(s), " +
               format_duration(r.train_seconds) + " in training steps");
  return true;
}

void Experiment::write(bool partial) {
  results_.partial = partial;
  result_path_ = write_mnist_results(common_.out, results_, file_time_);
}

int Experiment::finish() {
  if (!result_path_.empty()) {
    std::printf("%s\n", result_path_.c_str());
    std::printf("%s\n", (result_path_.substr(0, result_path_.size() - 5) + ".csv").c_str());
  }
  std::fflush(stdout);
  if (interrupted()) {
    std::fprintf(stderr, "mnist_power: interrupted by signal %d: %zu finished function(s) %s\n", interrupt_signal(),
                 results_.functions.size(),
                 result_path_.empty() ? "(nothing written)" : ("written (partial=true) to " + result_path_).c_str());
    return interrupted_exit_code();
  }
  session_.say("mnist_power: results in " + result_path_);
  return 0;
}

void Experiment::save_partial() {
  if (!started_ || results_.functions.empty()) return;
  write(true);
  std::fprintf(stderr, "mnist_power: partial results kept in %s\n", result_path_.c_str());
}

std::string Experiment::memory_hint() const {
  return " (training batches of " + std::to_string(batch_) + " images take about " +
         format_bytes(bytes_per_training_row() * static_cast<double>(batch_)) +
         " of activations and gradients); lower --batch";
}

}  // namespace ip::mnist
