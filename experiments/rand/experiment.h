// One invocation of rand_power, step by step: validate, set up, train, measure, report.
#pragma once

#include <string>
#include <vector>

#include "experiments/common/session.h"
#include "experiments/rand/designs.h"
#include "experiments/rand/output.h"
#include "results/results.h"

namespace CLI {
class App;
}

namespace ip::rand {

// rand_power's own flags (the shared ones are in CommonFlags).
struct Options {
  std::string scales = "0-5", design = "rounds", budget = "10m", min_sample = "15ms";
  std::string gemm = "own", dropout_mode = "eval", gpu_timing = "sync", model_cache = "data/models";
  std::string on_nan = "stop";
  double precision = 0.01, lr = 1e-4;
  int runs = 3, train_epochs = 2000, warmup = 1;
  long long chunk_cap = 100000;
  bool no_cache = false, breakdown = false, no_pin = false;
};
void add_options(CLI::App& app, Options& o);

class Experiment : public ip::Experiment {
 public:
  Experiment(const Options& o, CommonFlags& common, Session& session);
  int run(const CLI::App& app) override;
  void save_partial() override;
  // The size --chunk-cap scales.
  std::string memory_hint() const override;

 private:
  void validate();
  void check_model_cache();
  void write_header();
  void prepare_data();
  void train_models();
  void check_overhead();
  void measure();
  int finish();
  void checkpoint(bool complete);
  void print_answer() const;

  Options o_;
  CommonFlags& common_;
  Session& session_;
  std::vector<int> scales_;
  double budget_seconds_ = 0, min_sample_seconds_ = 0;
  bool rounds_ = true, use_cache_ = false;
  Resumed resumed_;
  RandResults results_;
  Extras extras_;
  std::string stem_;
  std::vector<std::string> written_;  // per-scale files
  std::vector<Candidate> candidates_;
  Tensor input_;
  uint64_t max_chunk_ = 1;
  bool started_ = false;
};

}  // namespace ip::rand
