// Every Philox stream id of the project, in one place. A draw depends on (seed, stream, index)
// (philox.h), so two uses that share a seed stay independent only if their stream ids differ:
// assigning the ids here, and nowhere else, is what keeps them apart. Users name these constants;
// no other file writes a stream id as a number.
//
// The values are part of the results: a changed id changes the dropout masks, the initial
// weights, the random data of the experiments (and so the cached models and golden tests). Add a
// new use with a new value; never renumber.
#pragma once

#include <cstdint>

namespace ip::philox {

enum Stream : uint32_t {
  // kernels: which elements dropout keeps (kernels/common/reference_kernels.h and every backend)
  kDropoutStream = 0,
  // kernels: RReLU's random slopes in train mode
  kRReLUStream = 1,
  // engine: Linear's initial weights and biases (engine/layers.cc)
  kInitWeightStream = 2,
  kInitBiasStream = 3,
  // tests: random test data that must not repeat a stream the engine draws (tests/engine_test_util.h)
  kTestDataStream = 7,
  // experiments: the "rand" model's fixed training batch (inputs x, targets y) and the instances
  // it predicts (rand_power; train_example trains on the same batch)
  kRandTrainInputStream = 10,
  kRandTrainTargetStream = 11,
  kRandPredictInputStream = 12,
  // experiments: kernel_bench's random input arrays
  kBenchInputStream = 13,
};

// Every id above, for the test that checks they are distinct.
inline constexpr Stream kAllStreams[] = {
    kDropoutStream,       kRReLUStream,           kInitWeightStream,
    kInitBiasStream,      kTestDataStream,        kRandTrainInputStream,
    kRandTrainTargetStream, kRandPredictInputStream, kBenchInputStream,
};

constexpr bool streams_are_distinct() {
  constexpr int n = sizeof(kAllStreams) / sizeof(kAllStreams[0]);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (kAllStreams[i] == kAllStreams[j]) return false;
  return true;
}
static_assert(streams_are_distinct(), "two uses share a Philox stream id");

}  // namespace ip::philox
