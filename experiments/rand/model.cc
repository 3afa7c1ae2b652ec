#include "experiments/rand/model.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "engine/loss.h"
#include "engine/model_file.h"
#include "engine/numerics.h"
#include "engine/optim.h"
#include "experiments/common/run_support.h"
#include "measure/timer.h"
#include "results/results.h"

namespace fs = std::filesystem;

namespace ip::rand {

std::string describe_model(const FunctionInfo& f) {
  const std::string fn = f.cli_name;
  std::string d = "linear(" + std::to_string(kInFeatures) + "," + std::to_string(kHidden) + ")";
  for (int i = 0; i < kFunctionLayers; ++i) d += " " + fn;
  return d + " linear(" + std::to_string(kHidden) + "," + std::to_string(kOutFeatures) + ")";
}

namespace {

// FNV-1a: a stable name for a cache key (not a security hash).
std::string fnv1a_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string cache_path(const TrainingSettings& t, const std::string& cli_name,
                       const std::string& description) {
  const std::string key = description + "|seed=" + std::to_string(t.seed) +
                          "|epochs=" + std::to_string(t.steps) + "|lr=" + format_number(t.lr) +
                          "|rand-v1:mse-sum,adam,64x1024";
  return (fs::path(t.cache_dir) / ("rand_" + cli_name + "_" + fnv1a_hex(key) + ".ipmodel")).string();
}

std::vector<Candidate> make_candidates(const std::vector<const FunctionInfo*>& functions,
                                       const TrainingSettings& t, Device device,
                                       const std::function<bool(const std::string&)>& skip_training) {
  std::vector<Candidate> out;
  for (const FunctionInfo* f : functions) {
    Candidate c;
    c.info = f;
    c.key = function_key(*f);
    c.description = describe_model(*f);
    c.model = Sequential::parse(c.description, t.seed);
    c.model.set_seed(t.seed);
    c.needs_training = t.steps > 0 && !skip_training(c.key);
    if (!t.cache_dir.empty() && t.steps > 0) {
      c.cache_path = cache_path(t, f->cli_name, c.description);
      if (c.needs_training && fs::exists(c.cache_path)) {
        try {
          load_parameters(c.model, c.cache_path);
          c.needs_training = false;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "rand_power: warning: model cache unusable, retraining: %s\n", e.what());
        }
      }
    }
    c.model.to(device);
    out.push_back(std::move(c));
  }
  return out;
}

TrainingBatch training_batch(uint64_t seed, Device device) {
  TrainingBatch b;
  b.x = Tensor::from_vector({kTrainRows, kInFeatures},
                            normal_values(kTrainRows * kInFeatures, seed, philox::kRandTrainInputStream)).to(device);
  b.y = Tensor::from_vector({kTrainRows, kOutFeatures},
                            normal_values(kTrainRows * kOutFeatures, seed, philox::kRandTrainTargetStream)).to(device);
  return b;
}

// The loss (already on the host) is checked every step; only when it is not finite are the
// layers scanned to name where the NaN/Inf first appears.
double train(Sequential& model, int steps, double lr, const TrainingBatch& batch, Device device,
             std::string* failure) {
  model.train();
  MseLoss loss(Reduction::Sum);
  AdamConfig adam;
  adam.lr = static_cast<float>(lr);
  Adam optimizer(model.parameters(), adam);
  Timer timer(synchroniser(device));
  for (int step = 0; step < steps; ++step) {
    if (interrupted()) return -1;
    optimizer.zero_grad();
    const double l = loss.forward_backward(model.forward(batch.x), batch.y);
    if (!std::isfinite(l)) {
      const std::string where = locate_non_finite(model, batch.x);
      *failure = "non-finite loss (" + format_number(l) + ") at training step " +
                 std::to_string(step + 1) + " of " + std::to_string(steps) +
                 (where.empty() ? "" : "; first non-finite value: " + where);
      return -1;
    }
    model.backward(loss.grad());
    optimizer.step();
  }
  const double seconds = timer.seconds();
  // The last update is not followed by a loss: check the parameters it produced once.
  if (steps > 0)
    if (const std::string where = locate_non_finite(model, batch.x); !where.empty()) {
      *failure = "non-finite values after training step " + std::to_string(steps) + ": " + where;
      return -1;
    }
  return seconds;
}

void set_inference_mode(Sequential& model, bool dropout_train) {
  model.eval();
  if (!dropout_train) return;
  for (size_t i = 0; i < model.size(); ++i)
    if (auto* f = dynamic_cast<FunctionLayer*>(&model.layer(i)))
      if (function_info(f->id()).kind == KernelKind::Dropout) f->set_training(true);
}

}  // namespace ip::rand
