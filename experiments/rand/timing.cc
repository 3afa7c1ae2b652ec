#include "experiments/rand/timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "experiments/common/run_support.h"
#include "measure/disturbance.h"
#include "measure/timer.h"

namespace ip::rand {

Chunking chunking(int scale, uint64_t cap) {
  Chunking c;
  c.items = 1;
  for (int i = 0; i < scale; ++i) c.items *= 10;
  c.chunk = std::min<uint64_t>(c.items, cap);
  c.full_chunks = c.items / c.chunk;
  c.last_rows = c.items % c.chunk;  // a cap that does not divide 10^n leaves a short last call
  return c;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

TimingNetwork::TimingNetwork(Device device, uint64_t seed)
    : device_(device), seed_(seed), first_(kInFeatures, kHidden, seed), last_(kHidden, kOutFeatures, seed) {
  first_.to(device);
  last_.to(device);
  first_.set_training(false);
  last_.set_training(false);
}

Sample TimingNetwork::time(Candidate& c, const Tensor& input, const Chunking& ch,
                           const SampleOptions& opts, EnergyMeter& meter) {
  Sequential& model = c.model;
  auto& lin_first = dynamic_cast<Linear&>(model.layer(0));
  auto& lin_last = dynamic_cast<Linear&>(model.layer(model.size() - 1));
  first_.weight.copy_from(lin_first.weight);
  first_.bias.copy_from(lin_first.bias);
  last_.weight.copy_from(lin_last.weight);
  last_.bias.copy_from(lin_last.bias);

  std::vector<std::unique_ptr<FunctionLayer>> functions;
  for (size_t i = 1; i + 1 < model.size(); ++i) {
    const auto& src = dynamic_cast<const FunctionLayer&>(model.layer(i));
    auto f = std::make_unique<FunctionLayer>(src.id(), src.params());
    f->to(device_);
    if (src.id() == FunctionId::PReLU) f->weight.copy_from(src.weight);
    f->set_seed(mix_seed(seed_, i));
    f->set_training(opts.dropout_train && function_info(src.id()).kind == KernelKind::Dropout);
    functions.push_back(std::move(f));
  }

  const Tensor chunk = input.rows(0, ch.chunk);
  const Tensor last = ch.last_rows ? input.rows(0, ch.last_rows) : Tensor();
  Shape shape = first_.reserve_forward(chunk.shape());
  for (auto& f : functions) shape = f->reserve_forward(shape);
  last_.reserve_forward(shape);

  const std::function<void()> sync = synchroniser(device_);
  double linear = 0, function = 0;
  auto predict = [&](const Tensor& x) {
    if (!opts.layer_times) {
      const Tensor* cur = &first_.forward(x);
      for (auto& f : functions) cur = &f->forward(*cur);
      last_.forward(*cur);
      return;
    }
    const Clock::time_point t0 = Clock::now();
    const Tensor* cur = &first_.forward(x);
    if (sync) sync();
    const Clock::time_point t1 = Clock::now();
    for (auto& f : functions) cur = &f->forward(*cur);
    if (sync) sync();
    const Clock::time_point t2 = Clock::now();
    last_.forward(*cur);
    if (sync) sync();
    const Clock::time_point t3 = Clock::now();
    linear += seconds_between(t0, t1) + seconds_between(t2, t3);
    function += seconds_between(t1, t2);
  };
  for (int w = 0; w < opts.warmup && !interrupted(); ++w) predict(chunk);
  synchronize(device_);  // nothing queued before the window opens
  linear = function = 0;

  Sample m;
  m.key = c.key;
  m.reps = opts.reps;
  meter.start();
  const CpuCounters before = read_cpu_counters();
  Timer timer(opts.async ? nullptr : sync);
  bool complete = true;
  for (uint64_t r = 0; r < opts.reps && complete; ++r) {
    for (uint64_t k = 0; k < ch.full_chunks && complete; ++k) {
      predict(chunk);
      complete = !interrupted();
    }
    if (ch.last_rows && complete) predict(last);
  }
  const double seconds = timer.seconds();
  const CpuCounters after = read_cpu_counters();
  synchronize(device_);  // async: the energy window still covers the work
  const EnergyReading reading = meter.stop();
  if (!complete || interrupted()) {
    m.seconds = -1;  // an incomplete loop is not a measurement
    return m;
  }
  const double reps = static_cast<double>(opts.reps);
  m.seconds = seconds / reps;
  if (opts.layer_times) {
    m.linear_seconds = linear / reps;
    m.function_seconds = function / reps;
  }
  const CpuTaken taken = cpu_taken(before, after);
  m.page_faults = taken.page_faults;
  m.preemptions = taken.preemptions;
  m.steal_seconds = taken.steal_seconds;
  m.other_cpu_seconds = taken.other_cpu_seconds;
  m.energy = to_result_energy(reading);
  if (std::isfinite(m.energy.joules)) m.energy.joules /= reps;
  return m;
}

}  // namespace ip::rand
