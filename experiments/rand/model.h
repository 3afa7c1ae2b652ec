// The random-data experiment's network and its training (DESIGN.md §1, "rand"):
// Linear(1024→1024), the function 4 times, Linear(1024→16), trained on one fixed random batch
// (x ~ N(0,1) 64×1024, y ~ N(0,1) 64×16; MSE with reduction sum; Adam), cached on disk keyed by
// everything the weights depend on.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/sequential.h"
#include "engine/tensor.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/philox_streams.h"

namespace ip::rand {

constexpr size_t kTrainRows = 64, kInFeatures = 1024, kHidden = 1024, kOutFeatures = 16;
constexpr int kFunctionLayers = 4;

// "linear(1024,1024) relu relu relu relu linear(1024,16)"
std::string describe_model(const FunctionInfo& f);

// One function's trained network.
struct Candidate {
  const FunctionInfo* info = nullptr;
  std::string key, description, cache_path;
  Sequential model;
  bool needs_training = true;
  double train_seconds = -1;  // -1: loaded from the cache or not trained
  std::string failure;        // why training failed (non-finite values), "" when it did not
};

struct TrainingSettings {
  int steps = 2000;
  double lr = 1e-4;
  uint64_t seed = 1234;
  std::string cache_dir;  // "" = no cache
};

// The cache file for a candidate's model under these settings.
std::string cache_path(const TrainingSettings& t, const std::string& cli_name,
                       const std::string& description);

// Builds the candidates, loading each model from the cache when a valid file exists (a damaged
// one is reported on stderr and retrained). `skip_training(key)` says a function needs no
// training (e.g. every measurement of it was resumed).
std::vector<Candidate> make_candidates(const std::vector<const FunctionInfo*>& functions,
                                       const TrainingSettings& t, Device device,
                                       const std::function<bool(const std::string&)>& skip_training);

// The fixed training batch.
struct TrainingBatch {
  Tensor x, y;
};
TrainingBatch training_batch(uint64_t seed, Device device);

// `steps` Adam steps on the batch; returns seconds, or -1 when interrupted or when the loss or
// the parameters became non-finite (then `failure` says at which step and where).
double train(Sequential& model, int steps, double lr, const TrainingBatch& batch, Device device,
             std::string* failure);

// Eval mode, with the dropouts in train mode when `dropout_train` (--dropout-mode train).
void set_inference_mode(Sequential& model, bool dropout_train);

}  // namespace ip::rand
