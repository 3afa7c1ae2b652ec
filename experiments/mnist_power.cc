// mnist_power: time to 90% test accuracy on MNIST per activation function (DESIGN.md §1, "mnist").
//
// Per function: Linear(784→1024), the function 4 times, Linear(1024→10), LogSoftmax; NLL loss;
// SGD lr 1e-4, momentum 0.9; batches of 128, shuffled every epoch (seeded, the same order for every
// function); pixels in [0, 1]. After each epoch, accuracy on the 10,000 test images (eval mode;
// --eval-in-train-mode reproduces the original, which never left train mode); stop at the
// threshold or the epoch limit. Only training steps are timed: forward, backward, update.
//
// --resume continues a run cut short by SIGINT/SIGTERM from its result file (partial=true): the
// functions it holds (finished or failed) keep their values and are not trained again; the others
// are, and the same file is rewritten in place (atomically) until it holds every function once.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "engine/energy.h"
#include "engine/loss.h"
#include "engine/numerics.h"
#include "engine/optim.h"
#include "engine/sequential.h"
#include "engine/timer.h"
#include "experiments/common/hardware.h"
#include "experiments/common/mnist.h"
#include "experiments/common/results.h"
#include "experiments/common/run_support.h"
#include "kernels/cpu/kernels.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kHidden = 1024;
constexpr size_t kEvalBatch = 1000;  // evaluation is untimed; bigger calls just finish sooner

struct Options {
  std::string functions = "all", device = "cpu", data_dir, dataset = "mnist", out = "data/results";
  std::string prefix, energy = "auto", target = "auto", on_nan = "stop", resume;
  double threshold = 0.9, lr = 1e-4, momentum = 0.9;
  int max_epochs = 100, batch = 128, threads = 0;
  long long limit_train = 0;
  uint64_t seed = 1234;
  bool eval_in_train_mode = false, quiet = false;
};

std::string describe_model(const ip::FunctionInfo& f) {
  const std::string fn = f.cli_name;
  return "linear(" + std::to_string(ip::kMnistPixels) + "," + std::to_string(kHidden) + ") " + fn +
         " " + fn + " " + fn + " " + fn + " linear(" + std::to_string(kHidden) + "," +
         std::to_string(ip::kMnistClasses) + ") log_softmax";
}

// Fraction of `data` classified correctly, in batches of kEvalBatch.
double accuracy(ip::Sequential& model, const ip::Dataset& data, ip::Device device) {
  size_t correct = 0;
  for (size_t begin = 0; begin < data.count; begin += kEvalBatch) {
    const size_t rows = std::min(kEvalBatch, data.count - begin);
    const std::vector<float> x(data.images.begin() + begin * ip::kMnistPixels,
                               data.images.begin() + (begin + rows) * ip::kMnistPixels);
    const ip::Tensor input = ip::Tensor::from_vector({rows, size_t(ip::kMnistPixels)}, x, device);
    const std::vector<float> out = model.forward(input).to_vector();
    for (size_t r = 0; r < rows; ++r) {
      const float* row = out.data() + r * ip::kMnistClasses;
      const int predicted = static_cast<int>(std::max_element(row, row + ip::kMnistClasses) - row);
      correct += predicted == data.labels[begin + r];
    }
  }
  return data.count ? static_cast<double>(correct) / static_cast<double>(data.count) : 0.0;
}

// What --resume takes over from an interrupted run's result file.
struct Resumed {
  std::string path;
  ip::MnistResults file;  // its finished and failed functions, kept as they are
  double unix_time = 0;   // from its name: the resumed run rewrites that same file
};

Resumed load_resume(const std::string& spec) {
  Resumed r;
  r.path = ip::find_resume_file(spec, "mnist_power result (<prefix>_<time>.json)", [](const json& j) {
    return j.contains("times") && j.contains("accuracies");
  });
  try {
    r.file = ip::read_mnist_file(r.path);
    if (!r.file.partial) throw std::invalid_argument("the run is complete (partial=false): nothing to resume");
    r.unix_time = ip::unix_time_from_name(r.path);
    // Only a name this program wrote leads back to the same file when it is rewritten.
    if (r.unix_time <= 0 || fs::path(ip::mnist_result_path(".", r.file.outprefix, r.unix_time)).filename() !=
                                fs::path(r.path).filename())
      throw std::invalid_argument("not named <prefix>_<unix time>.json with its prefix '" +
                                  r.file.outprefix + "'");
  } catch (const std::exception& e) {
    throw std::invalid_argument("--resume: " + r.path + ": " + e.what());
  }
  return r;
}

// Every setting that changes a result must be the same as in the interrupted run.
void check_resume_settings(const Resumed& r, const ip::MnistResults& now) {
  const std::string command_line = r.file.parameters.value("command_line", std::string("?"));
  auto same = [&](const std::string& flag, const json& was, const json& is) {
    ip::check_same_setting(flag, was, is, command_line);
  };
  same("--dataset", r.file.dataset, now.dataset);
  same("--device", r.file.device, now.device);
  same("the hardware", r.file.hardware_name, now.hardware_name);
  same("--threshold", r.file.target_accuracy, now.target_accuracy);
  same("--max-epochs", r.file.max_epochs, now.max_epochs);
  ip::check_same_parameters(r.file.parameters, now.parameters, {
      {"functions", "--functions"},   {"batch", "--batch"},         {"lr", "--lr"},
      {"momentum", "--momentum"},     {"seed", "--seed"},           {"limit_train", "--limit-train"},
      {"train_images", "the training images"}, {"test_images", "the test images"},
      {"data_dir", "--data-dir"},     {"eval_mode", "--eval-in-train-mode"},
      {"threads", "--threads"},       {"simd_target", "--target"},  {"energy_mode", "--energy"}}, command_line);
}

// One training run over shuffled batches. Holds its batch tensors so that no step allocates
// except when the batch size changes (the last, shorter batch of an epoch).
class Trainer {
 public:
  Trainer(ip::Sequential& model, const Options& o, ip::Device device)
      : model_(model), device_(device), timer_(ip::synchroniser(device)) {
    ip::SgdConfig sgd;
    sgd.lr = static_cast<float>(o.lr);
    sgd.momentum = static_cast<float>(o.momentum);
    optimizer_ = std::make_unique<ip::Sgd>(model.parameters(), sgd);
  }

  // Trains one epoch in the given order; returns the seconds spent in training steps, or -1 when
  // interrupted or when the loss became NaN/Inf (failure() then says at which step and where).
  double epoch(const ip::Dataset& train, const std::vector<size_t>& order, size_t batch) {
    double seconds = 0;
    std::vector<float> host;
    std::vector<int32_t> labels;
    for (size_t begin = 0; begin < order.size(); begin += batch) {
      if (ip::interrupted()) return -1;
      const size_t rows = std::min(batch, order.size() - begin);
      host.resize(rows * ip::kMnistPixels);
      labels.resize(rows);
      for (size_t r = 0; r < rows; ++r) {
        const size_t i = order[begin + r];
        std::copy_n(train.images.begin() + i * ip::kMnistPixels, ip::kMnistPixels,
                    host.begin() + r * ip::kMnistPixels);
        labels[r] = train.labels[i];
      }
      ip::Tensor& x = rows == batch ? full_ : last_;
      ip::ensure_shape(x, {rows, size_t(ip::kMnistPixels)}, device_);
      x.from_host(host.data());

      timer_.start();  // the copy above is data loading, not a training step
      optimizer_->zero_grad();
      const double l = loss_.forward_backward(model_.forward(x), labels);
      ++steps_;
      if (!std::isfinite(l)) {  // the loss is on the host already: this check costs nothing
        const std::string where = ip::locate_non_finite(model_, x);
        failure_ = "non-finite loss (" + ip::format_number(l) + ") at training step " +
                   std::to_string(steps_) + (where.empty() ? "" : "; first non-finite value: " + where);
        return -1;
      }
      model_.backward(loss_.grad());
      optimizer_->step();
      seconds += timer_.seconds();
    }
    return seconds;
  }
  const std::string& failure() const { return failure_; }

 private:
  ip::Sequential& model_;
  ip::Device device_;
  ip::Timer timer_;
  ip::NllLoss loss_;
  std::unique_ptr<ip::Sgd> optimizer_;
  ip::Tensor full_, last_;
  long long steps_ = 0;
  std::string failure_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "mnist_power: training time (and energy) to reach a test accuracy on MNIST per activation "
      "function — the paper's MNIST experiment (DESIGN.md §1). Only training steps are timed."};
  app.add_option("--functions", o.functions,
                 "comma-separated CLI names, 'all' or 'paper' (the 26 the paper timed); valid: " +
                     ip::valid_function_names())
      ->capture_default_str();
  app.add_option("--threshold", o.threshold, "test accuracy to reach, in (0, 1]")->capture_default_str();
  app.add_option("--max-epochs", o.max_epochs, "epoch limit, >= 1")->capture_default_str();
  app.add_option("--batch", o.batch, "training batch size, >= 1; lower it when memory runs out")->capture_default_str();
  app.add_option("--lr", o.lr, "SGD learning rate, > 0")->capture_default_str();
  app.add_option("--momentum", o.momentum, "SGD momentum, in [0, 1)")->capture_default_str();
  app.add_option("--device", o.device,
                 "cpu, cuda, or auto (CUDA when a GPU is usable, else the CPU with a notice)")
      ->capture_default_str();
  app.add_option("--on-nan", o.on_nan,
                 "when training produces NaN/Inf (reported with the step and the first layer): "
                 "stop (exit with an error) or continue (record the function under \"failed\" "
                 "and train the others)")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "OpenMP threads; 0 = OpenMP's default")->capture_default_str();
  app.add_option("--target", o.target, "CPU SIMD target or auto = best available")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the initial weights, the shuffles and random layers")
      ->capture_default_str();
  app.add_option("--data-dir", o.data_dir,
                 "directory with the IDX files (.gz or not); default: $MNIST_DIR, then data/mnist/ "
                 "(for fashion: $FASHION_MNIST_DIR, data/fashion-mnist/, "
                 "/usr/share/datasets/fashion-mnist/)");
  app.add_option("--dataset", o.dataset, "mnist or fashion (Fashion-MNIST, same format)")
      ->capture_default_str();
  app.add_flag("--eval-in-train-mode", o.eval_in_train_mode,
               "evaluate without switching to eval mode, as the original did (dropouts stay "
               "active while testing)");
  app.add_option("--limit-train", o.limit_train, "use only the first N training images (0 = all)")
      ->capture_default_str();
  app.add_option("--out", o.out, "results directory")->capture_default_str();
  app.add_option("--prefix", o.prefix, "file name prefix; default <dataset>_<host>_<device>");
  app.add_option("--energy", o.energy, "auto, off, or estimate[:watts] (labelled estimated)")
      ->capture_default_str();
  app.add_option("--resume", o.resume,
                 "continue an interrupted run: its result file <prefix>_<time>.json "
                 "(partial=true), or a directory holding one (the newest is taken). Give the same "
                 "settings as the interrupted run; its functions are kept, the others trained, and "
                 "its file rewritten complete in place (in its directory unless --out is given)");
  app.add_flag("--quiet", o.quiet, "no progress; stdout lists only the result files");
  if (int rc = ip::parse_command_line(app, argc, argv, "mnist_power"); rc >= 0) return rc;

  ip::Progress progress(o.quiet);
  ip::MnistResults results;
  Resumed resumed;
  std::string result_path;
  double file_time = 0;
  bool started = false;

  try {
    // ---- validate everything before any work ----
    const std::vector<const ip::FunctionInfo*> functions = ip::parse_function_list(o.functions);
    if (!(o.threshold > 0 && o.threshold <= 1)) throw std::invalid_argument("--threshold: must be in (0, 1]");
    if (o.max_epochs < 1) throw std::invalid_argument("--max-epochs: must be 1 or more");
    if (o.batch < 1) throw std::invalid_argument("--batch: must be 1 or more");
    if (!(o.lr > 0)) throw std::invalid_argument("--lr: must be > 0");
    if (!(o.momentum >= 0 && o.momentum < 1)) throw std::invalid_argument("--momentum: must be in [0, 1)");
    if (o.limit_train < 0) throw std::invalid_argument("--limit-train: must be 0 (all) or more");
    if (o.on_nan != "stop" && o.on_nan != "continue")
      throw std::invalid_argument("--on-nan: '" + o.on_nan + "' is not one of stop, continue");
    ip::MnistKind kind;
    try {
      kind = ip::parse_mnist_kind(o.dataset);
    } catch (const std::exception&) {
      throw std::invalid_argument("--dataset: '" + o.dataset + "' is not one of mnist, fashion");
    }
    double estimate_watts = 0;
    ip::EnergyMode energy_mode;
    try {
      energy_mode = ip::parse_energy_mode(o.energy, &estimate_watts);
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string("--energy: ") + e.what());
    }
    const ip::Device device = ip::resolve_device(o.device, "mnist_power");
    ip::configure_cpu(o.threads, o.target);
    if (!o.resume.empty()) {
      resumed = load_resume(o.resume);
      if (app.count("--out") == 0) o.out = fs::path(resumed.path).parent_path().string();
      if (o.out.empty()) o.out = ".";
      if (o.prefix.empty()) o.prefix = resumed.file.outprefix;
      if (o.prefix != resumed.file.outprefix)
        throw std::invalid_argument("--resume: --prefix differs: the interrupted run had '" +
                                    resumed.file.outprefix + "', this one '" + o.prefix + "'");
    }
    if (o.prefix.empty()) o.prefix = std::string(ip::to_string(kind)) + "_" + ip::host_name() + "_" + o.device;
    if (o.prefix.find('/') != std::string::npos) throw std::invalid_argument("--prefix: must not contain '/'");
    ip::check_writable(o.out);

    // ---- data (any problem with the files stops here, before results exist) ----
    const std::string train_dir = ip::resolve_mnist_dir(o.data_dir, kind, ip::MnistSplit::Train);
    const std::string test_dir = ip::resolve_mnist_dir(o.data_dir, kind, ip::MnistSplit::Test);
    const ip::Dataset train = ip::load_mnist(train_dir, ip::MnistSplit::Train, kind,
                                             static_cast<size_t>(o.limit_train));
    const ip::Dataset test = ip::load_mnist(test_dir, ip::MnistSplit::Test, kind);
    progress.line("data: " + std::to_string(train.count) + " training images from " +
                  train.images_path + ", " + std::to_string(test.count) + " test images");

    ip::EnergyOptions energy_options;
    energy_options.estimate_watts = estimate_watts;
    std::unique_ptr<ip::EnergyMeter> meter = ip::make_energy_meter(energy_mode, o.device, energy_options);
    const ip::HardwareInfo hw = ip::describe_hardware();
    const double start_unix = ip::unix_time_now();
    ip::install_interrupt_handlers();
    progress.line("mnist_power: " + std::to_string(functions.size()) + " functions on " + o.device +
                  " (" + hw.summary() + ")");
    progress.line("energy: " + (meter->available() ? meter->source()
                                                   : "unavailable: " + meter->unavailable_reason()));

    results.dataset = ip::to_string(kind);
    results.device = o.device;
    results.hardware_name = device == ip::Device::Cuda && !hw.gpu_name.empty() ? hw.gpu_name : hw.cpu_model;
    results.started_at = ip::local_time_string(start_unix);
    results.outprefix = o.prefix;
    results.target_accuracy = o.threshold;
    results.max_epochs = o.max_epochs;
    json& p = results.parameters;
    p["functions"] = json::array();
    for (const ip::FunctionInfo* f : functions) p["functions"].push_back(f->cli_name);
    p["batch"] = o.batch;
    p["lr"] = o.lr;
    p["momentum"] = o.momentum;
    p["seed"] = o.seed;
    p["train_images"] = train.count;
    p["test_images"] = test.count;
    p["limit_train"] = o.limit_train;
    p["data_dir"] = train_dir;
    p["eval_mode"] = o.eval_in_train_mode ? "train (the original's quirk)" : "eval";
    p["threads"] = omp_get_max_threads();
    p["simd_target"] = ip::cpu::current_target();
    p["energy_mode"] = o.energy;
    p["energy_meter"] = {{"source", meter->source()},
                         {"available", meter->available()},
                         {"reason", meter->unavailable_reason()}};
    p["energy_window"] = "each epoch's training loop (batch preparation included, evaluation excluded)";
    p["timing"] = "steady_clock around each training step (forward, backward, update), synchronised";
    p["hardware"] = hw.to_json();
    p["command_line"] = ip::command_line(argc, argv);
    p["energy_readings"] = json::object();
    file_time = start_unix;

    // Functions the interrupted run finished or recorded as failed are not trained again.
    std::vector<const ip::FunctionInfo*> todo = functions;
    if (!o.resume.empty()) {
      check_resume_settings(resumed, results);
      const ip::MnistResults& before = resumed.file;
      results.functions = before.functions;
      results.failed = before.failed;
      results.started_at = before.started_at;
      file_time = resumed.unix_time;  // the interrupted run's file is rewritten, not duplicated
      if (before.parameters.contains("energy_readings"))
        p["energy_readings"] = before.parameters["energy_readings"];
      todo.clear();
      for (const ip::FunctionInfo* f : functions) {
        const std::string key = ip::function_key(*f);
        const bool done = before.failed.count(key) ||
                          std::any_of(before.functions.begin(), before.functions.end(),
                                      [&](const ip::MnistFunctionResult& r) { return r.key == key; });
        if (!done) todo.push_back(f);
      }
      p["resumed"] = {{"from", resumed.path},
                      {"functions_resumed", functions.size() - todo.size()},
                      {"interrupted_command_line", before.parameters.value("command_line", "")},
                      {"interrupted_started_at", before.started_at}};
      progress.line("resuming " + resumed.path + ": " + std::to_string(functions.size() - todo.size()) +
                    " function(s) kept, " + std::to_string(todo.size()) + " to train");
    }

    // ---- calibration: two training steps give a rough time per epoch ----
    const size_t batch = static_cast<size_t>(o.batch);
    const double steps_per_epoch = std::ceil(static_cast<double>(train.count) / o.batch);
    double epoch_estimate = 0;
    if (!o.quiet && train.count > 0 && !todo.empty()) {
      ip::Sequential probe = ip::Sequential::parse(describe_model(*todo[0]), o.seed);
      probe.to(device);
      Trainer t(probe, o, device);
      std::vector<size_t> first(std::min(train.count, 3 * batch));
      for (size_t i = 0; i < first.size(); ++i) first[i] = i;
      t.epoch(train, std::vector<size_t>(first.begin(), first.begin() + std::min(first.size(), batch)), batch);
      const double s = t.epoch(train, first, batch);
      epoch_estimate = s / std::ceil(static_cast<double>(first.size()) / o.batch) * steps_per_epoch * 1.3;
      progress.line("estimated: about " + ip::format_duration(epoch_estimate) +
                    " per epoch (evaluation included); at most " +
                    ip::format_duration(epoch_estimate * o.max_epochs * todo.size()) + " for " +
                    std::to_string(todo.size()) + " function(s) x " +
                    std::to_string(o.max_epochs) + " epoch(s)");
    }

    // ---- training ----
    started = true;
    results.partial = true;  // until every function is done: a killed run's file says so
    ip::Timer elapsed;
    size_t epochs_done = 0;
    for (size_t fi = 0; fi < todo.size() && !ip::interrupted(); ++fi) {
      const ip::FunctionInfo& f = *todo[fi];
      ip::Sequential model = ip::Sequential::parse(describe_model(f), o.seed);
      model.set_seed(o.seed);
      model.to(device);
      Trainer trainer(model, o, device);
      ip::MnistFunctionResult r;
      r.key = ip::function_key(f);
      ip::EnergyReading energy;
      bool complete = false;
      for (int epoch = 0; epoch < o.max_epochs; ++epoch) {
        model.train();
        const std::vector<size_t> order = ip::seeded_permutation(
            train.count, ip::mix_seed(o.seed ^ 0x6d6e697374ull, static_cast<uint64_t>(epoch)));
        meter->start();
        const double s = trainer.epoch(train, order, batch);
        const ip::EnergyReading reading = meter->stop();
        if (!trainer.failure().empty()) {
          const std::string what = std::string("training ") + f.cli_name + ": " + trainer.failure();
          if (o.on_nan == "stop")
            throw std::runtime_error(what + " (--on-nan continue records it as failed and goes on)");
          std::fprintf(stderr, "mnist_power: warning: %s; recorded as failed\n", what.c_str());
          results.failed[ip::function_key(f)] = trainer.failure();
          break;
        }
        if (s < 0) break;  // interrupted mid-epoch: the function's result is incomplete
        r.train_seconds += s;
        r.epoch_seconds.push_back(s);
        energy = ip::add_readings(energy, reading);
        if (!o.eval_in_train_mode) model.eval();
        const double acc = accuracy(model, test, device);
        r.accuracy = acc;
        r.accuracy_curve.push_back(acc);
        r.epochs = epoch + 1;
        r.reached_target = acc >= o.threshold;
        ++epochs_done;
        const double e = elapsed.seconds();
        const double per_epoch = e / epochs_done;
        const double worst_left =
            per_epoch * ((o.max_epochs - epoch - 1) + (todo.size() - fi - 1) * double(o.max_epochs));
        char line[512];
        std::snprintf(line, sizeof line,
                      "%-13s (%zu/%zu) epoch %3d/%d: test accuracy %.4f, training %s | elapsed %s, "
                      "at most %s left",
                      f.cli_name, fi + 1, todo.size(), epoch + 1, o.max_epochs, acc,
                      ip::format_duration(r.train_seconds).c_str(), ip::format_duration(e).c_str(),
                      ip::format_duration(worst_left).c_str());
        progress.line(line);
        if (r.reached_target || epoch + 1 == o.max_epochs) complete = true;
        if (r.reached_target) break;
      }
      if (results.failed.count(r.key)) {
        results.partial = fi + 1 < todo.size();
        result_path = ip::write_mnist_results(o.out, results, file_time);
        continue;
      }
      if (!complete) break;
      r.energy = ip::to_result_energy(energy);
      p["energy_readings"][r.key] = energy;
      results.functions.push_back(r);
      results.partial = fi + 1 < todo.size();
      result_path = ip::write_mnist_results(o.out, results, file_time);
      progress.line(std::string(f.cli_name) + ": " + (r.reached_target ? "reached " : "did not reach ") +
                    ip::format_number(o.threshold) + " after " + std::to_string(r.epochs) +
                    " epoch(s), " + ip::format_duration(r.train_seconds) + " in training steps");
    }
    // Resuming a run whose every function was done (cut short after its last one): mark it complete.
    if (todo.empty() && !ip::interrupted()) {
      results.partial = false;
      result_path = ip::write_mnist_results(o.out, results, file_time);
    }
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (dynamic_cast<const std::bad_alloc*>(&e)) {
      // Each row of a batch holds its pixels and every layer's output and gradient: the size
      // that --batch scales (a plain std::bad_alloc names none).
      const double row_bytes = (ip::kMnistPixels + 2.0 * (5 * kHidden + 2 * ip::kMnistClasses)) * sizeof(float);
      message = "out of memory: " + message + " (training batches of " + std::to_string(o.batch) +
                " images take about " + ip::format_bytes(row_bytes * o.batch) +
                " of activations and gradients); lower --batch";
    }
    std::fprintf(stderr, "mnist_power: error: %s\n", message.c_str());
    if (started && !results.functions.empty()) {
      try {
        results.partial = true;
        result_path = ip::write_mnist_results(o.out, results, file_time);
        std::fprintf(stderr, "mnist_power: partial results kept in %s\n", result_path.c_str());
      } catch (const std::exception& e2) {
        std::fprintf(stderr, "mnist_power: error: could not write partial results: %s\n", e2.what());
      }
    }
    return 1;
  }

  if (!result_path.empty()) {
    std::printf("%s\n", result_path.c_str());
    std::printf("%s\n", (result_path.substr(0, result_path.size() - 5) + ".csv").c_str());
  }
  std::fflush(stdout);
  if (ip::interrupted()) {
    std::fprintf(stderr,
                 "mnist_power: interrupted by signal %d: %zu finished function(s) %s\n",
                 ip::interrupt_signal(), results.functions.size(),
                 result_path.empty() ? "(nothing written)"
                                     : ("written (partial=true) to " + result_path).c_str());
    return ip::interrupted_exit_code();
  }
  progress.line("mnist_power: results in " + result_path);
  return 0;
}
