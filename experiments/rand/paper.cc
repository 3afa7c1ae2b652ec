// The paper's protocol (designs.h) and the one-instance overhead check of --breakdown.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "engine/ops.h"
#include "experiments/rand/designs.h"
#include "measure/timer.h"

namespace ip::rand {

void measure_paper(Bench& b, std::vector<Candidate>& candidates, int scale,
                   const PaperSettings& settings, ScaleResult& s,
                   std::vector<PaperMeasurement>& measurements) {
  const Chunking ch = chunking(scale, b.chunk_cap);
  SampleOptions opts;
  opts.warmup = settings.warmup;
  opts.dropout_train = b.dropout_train;
  opts.async = b.async;
  Timer since_checkpoint;
  for (int run = 0; run < settings.runs && !interrupted(); ++run) {
    const std::vector<size_t> order =
        seeded_permutation(candidates.size(), mix_seed(b.seed, 1000003ull * scale + run));
    RunTimes times;
    RunEnergy energy;
    if (static_cast<size_t>(run) < s.pred_times.size()) {  // an interrupted run's cells
      times = s.pred_times[run];
      if (static_cast<size_t>(run) < s.pred_energy.size()) energy = s.pred_energy[run];
    }
    for (size_t oi = 0; oi < order.size() && !interrupted(); ++oi) {
      Candidate& c = candidates[order[oi]];
      if (settings.done.count({c.key, scale, run})) continue;
      PaperMeasurement pm;
      pm.sample = b.network.time(c, b.input, ch, opts, b.session.meter());
      if (pm.sample.seconds < 0) break;  // an incomplete loop is not a measurement
      pm.sample.round = run;
      pm.sample.position = static_cast<int>(oi);
      pm.scale = scale;
      pm.run = run;
      if (settings.breakdown) {
        // One more loop, each layer timed on its own (synchronised).
        SampleOptions split = opts;
        split.warmup = 0;
        split.layer_times = true;
        const Sample layers = b.network.time(c, b.input, ch, split, b.session.meter());
        pm.has_breakdown = layers.seconds >= 0;
        pm.gemm = layers.linear_seconds;
        (c.info->group == FunctionGroup::Dropout ? pm.dropout : pm.activation) = layers.function_seconds;
      }
      times[c.key] = pm.sample.seconds;
      energy[c.key] = pm.sample.energy;
      measurements.push_back(pm);
      const Sample& m = pm.sample;
      char line[512];
      std::snprintf(line, sizeof line,
                    "scale %d run %d/%d [%zu/%zu] %-13s %10.4g s  %9.3g s/instance  %s | page faults "
                    "%ld, preempted %ld, others' CPU %.2f s, steal %.2f s",
                    scale, run + 1, settings.runs, oi + 1, order.size(), c.info->cli_name, m.seconds,
                    m.seconds / static_cast<double>(ch.items),
                    std::isfinite(m.energy.joules)
                        ? (format_number(std::round(m.energy.joules * 1e4) / 1e4) + " J " + m.energy.quality).c_str()
                        : "energy n/a",
                    m.page_faults, m.preemptions, std::max(0.0, m.other_cpu_seconds),
                    std::max(0.0, m.steal_seconds));
      b.session.say(line);
      if (b.checkpoint && since_checkpoint.seconds() > 5) {
        if (static_cast<size_t>(run) < s.pred_times.size()) s.pred_times[run] = times;
        b.checkpoint();
        since_checkpoint.start();
      }
    }
    if (times.empty()) continue;
    if (static_cast<size_t>(run) < s.pred_times.size()) {
      s.pred_times[run] = std::move(times);
      s.pred_energy.resize(s.pred_times.size());
      s.pred_energy[run] = std::move(energy);
    } else {
      s.pred_times.push_back(std::move(times));
      s.pred_energy.resize(s.pred_times.size() - 1);
      s.pred_energy.push_back(std::move(energy));
    }
  }
  s.partial = interrupted();
}

// Rounds alternate one prediction with one pass over the kernels (the layers' own weights and
// buffers, in layer order), and each side keeps its fastest round: the minimum is what the code
// costs (other processes only ever slow a call down), and taking it per round rather than per
// kernel does not flatter the sum of the kernels (a sum of per-kernel minima is below any real
// pass). A layer whose forward returns its input (Identity, eval-mode dropout) runs no kernel.
Overhead measure_overhead(Sequential& model, const Tensor& row, Device device) {
  constexpr int kWarmupRounds = 10, kRounds = 300;
  Overhead o;
  std::vector<std::function<void()>> kernels;
  const Tensor* cur = &row;
  for (size_t i = 0; i < model.size(); ++i) {
    Layer& layer = model.layer(i);
    const Tensor& x = *cur;
    const Tensor& y = layer.forward(x);
    cur = &y;
    if (&y == &x) continue;  // passed through: no kernel
    ++o.layers_timed;
    const size_t rows = x.dim(0), n = x.numel();
    const float* in = x.data();
    float* out = y.data();
    if (auto* lin = dynamic_cast<Linear*>(&layer)) {
      const size_t k = lin->weight.dim(1), m = lin->weight.dim(0);
      const float *w = lin->weight.data(), *bias = lin->bias.data();
      kernels.push_back([=] {
        ops::gemm(device, false, true, rows, m, k, 1.0f, in, k, w, k, 0.0f, out, m);
        ops::add_bias_rows(device, out, bias, rows, m);
      });
    } else if (auto* f = dynamic_cast<FunctionLayer*>(&layer)) {
      const FunctionId id = f->id();
      Params<float> p = f->params();
      if (id == FunctionId::PReLU) f->weight.to_host(&p.p0);
      switch (function_info(id).kind) {
        case KernelKind::Elementwise:
          kernels.push_back([=] { ops::activation_forward(device, id, in, out, n, p); });
          break;
        case KernelKind::Rowwise:
          kernels.push_back([=] { ops::rowwise_forward(device, id, in, out, rows, n / rows); });
          break;
        case KernelKind::Dropout: {  // train mode (--dropout-mode train)
          const uint64_t seed = f->step_seed();
          uint32_t* mask = f->dropout_mask();  // the layer's own, stored by the forward above
          kernels.push_back([=] { ops::dropout_forward(device, id, in, out, mask, rows, n / rows, p.p0, seed); });
          break;
        }
      }
    }
  }
  Timer timer(synchroniser(device));
  auto seconds = [&](const std::function<void()>& call) {
    timer.start();
    call();
    return timer.seconds();
  };
  o.predict = o.kernels = 1e30;
  for (int r = 0; r < kWarmupRounds + kRounds; ++r) {  // warm-up: caches, branch predictors, threads
    const double p = seconds([&] { model.forward(row); });
    double sum = 0;
    for (const auto& k : kernels) sum += seconds(k);
    if (r < kWarmupRounds) continue;
    o.predict = std::min(o.predict, p);
    o.kernels = std::min(o.kernels, sum);
  }
  return o;
}

}  // namespace ip::rand
