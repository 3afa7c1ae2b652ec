#include "experiments/rand/timing.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/timer.h"
#include "experiments/common/run_support.h"

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

// The process's page faults, involuntary context switches and CPU time so far (all threads),
// and the machine's busy and steal time from /proc/stat (seconds; -1 when unreadable).
struct Disturbances {
  long page_faults = 0, preemptions = 0;
  double own_cpu = 0, machine_busy = -1, steal = -1;
};

Disturbances disturbances_now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  Disturbances d;
  d.page_faults = u.ru_minflt + u.ru_majflt;
  d.preemptions = u.ru_nivcsw;
  d.own_cpu = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
              1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  // "cpu  user nice system idle iowait irq softirq steal ..." in clock ticks, all CPUs together.
  std::ifstream stat("/proc/stat");
  std::string label;
  unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
  if (stat >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal &&
      label == "cpu") {
    const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
    d.machine_busy = static_cast<double>(user + nice + system + irq + softirq) * tick;
    d.steal = static_cast<double>(steal) * tick;
  }
  return d;
}

void record_disturbances(Sample& m, const Disturbances& before, const Disturbances& after) {
  m.page_faults = after.page_faults - before.page_faults;
  m.preemptions = after.preemptions - before.preemptions;
  if (before.machine_busy >= 0 && after.machine_busy >= 0) {
    m.steal_seconds = std::max(0.0, after.steal - before.steal);
    // Clock ticks are coarse (10 ms): a small negative difference is rounding, not time.
    m.other_cpu_seconds = std::max(0.0, (after.machine_busy - before.machine_busy) -
                                            (after.own_cpu - before.own_cpu));
  }
}

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
  const Disturbances before = disturbances_now();
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
  const Disturbances after = disturbances_now();
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
  record_disturbances(m, before, after);
  m.energy = to_result_energy(reading);
  if (std::isfinite(m.energy.joules)) m.energy.joules /= reps;
  return m;
}

}  // namespace ip::rand
