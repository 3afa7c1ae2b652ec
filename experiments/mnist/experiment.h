// One invocation of mnist_power, step by step: validate, set up, load the data, estimate, train
// each function to the target accuracy or the epoch limit, write the results.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "experiments/common/mnist.h"
#include "experiments/common/session.h"
#include "experiments/mnist/resume.h"
#include "results/results.h"

namespace CLI {
class App;
}

namespace ip::mnist {

// mnist_power's own flags (the shared ones are in CommonFlags).
struct Options {
  std::string data_dir, dataset = "mnist", on_nan = "stop";
  double threshold = 0.9, lr = 1e-4, momentum = 0.9;
  int max_epochs = 100, batch = 128;
  long long limit_train = 0;
  bool eval_in_train_mode = false;
};
void add_options(CLI::App& app, Options& o);

class Experiment : public ip::Experiment {
 public:
  Experiment(const Options& o, CommonFlags& common, Session& session);
  int run(const CLI::App& app) override;
  // Writes the finished functions.
  void save_partial() override;
  // The size --batch scales.
  std::string memory_hint() const override;

 private:
  void validate();
  void load_data();
  void write_header();
  void take_over_resumed();
  void estimate() const;
  // Trains `f` (the index-th of todo_); false when interrupted mid-function.
  bool train_function(const FunctionInfo& f, std::size_t index);
  void write(bool partial);
  int finish();

  Options o_;
  CommonFlags& common_;
  Session& session_;
  MnistKind kind_ = MnistKind::Mnist;
  Resumed resumed_;
  Dataset train_, test_;
  std::string train_dir_;
  std::size_t batch_ = 128;       // --batch, at most the training images (one batch per epoch)
  long long limit_train_ = 0;     // --limit-train, 0 when it keeps every image
  MnistResults results_;
  std::vector<const FunctionInfo*> todo_;
  double file_time_ = 0;
  std::string result_path_;
  std::size_t epochs_done_ = 0;
  double training_started_ = 0;
  bool started_ = false;
};

}  // namespace ip::mnist
