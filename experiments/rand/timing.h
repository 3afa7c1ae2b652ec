// Timing one sample of the random-data experiment: a network of one function predicting 10^n
// instances, `reps` times in a row, with what disturbed it.
#pragma once

#include <cstdint>

#include "engine/layers.h"
#include "engine/tensor.h"
#include "experiments/rand/model.h"
#include "measure/energy.h"
#include "results/results.h"

namespace ip::rand {

// Rows of each predict call at scale n, and how many calls make up 10^n.
struct Chunking {
  uint64_t items = 1, chunk = 1, full_chunks = 1, last_rows = 0;
};
Chunking chunking(int scale, uint64_t cap);

struct SampleOptions {
  uint64_t reps = 1;          // predictions of 10^n instances in the sample
  int warmup = 0;             // untimed predict calls of one chunk first
  bool layer_times = false;   // time the Linear and the function layers apart, inside the loop
  bool dropout_train = false; // dropouts in train mode (--dropout-mode train)
  bool async = false;         // CUDA: stop the clock without waiting for the GPU (the artifact)
};

// The network every sample times. Its two Linear layers are shared by all functions, each
// sample copying its function's trained weights into them, and its function layers are built
// afresh for each sample: so every function's network reads its weights from the same memory
// and gets its buffers from the same allocator state. (With one model per function, where each
// model's 4 MiB weight matrix happened to land changed a one-instance prediction by up to 10%,
// in both directions, an artefact the function was blamed for.) Buffers are allocated (and
// their pages touched) before the clock starts.
class TimingNetwork {
 public:
  TimingNetwork(Device device, uint64_t seed);

  // Times opts.reps predictions of ch.items instances (chunks of `input`'s rows) by the network
  // of `c`. The sample's seconds (and layer parts) are per prediction of ch.items instances.
  // Returns a sample with seconds < 0 when interrupted before it finished.
  Sample time(Candidate& c, const Tensor& input, const Chunking& ch, const SampleOptions& opts,
              EnergyMeter& meter);
  Device device() const { return device_; }

 private:
  Device device_;
  uint64_t seed_;
  Linear first_, last_;
};

}  // namespace ip::rand
