// The rounds design (designs.h): calibration of the sample length, the order of each round, the
// stopping rule and the time budget of one scale.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "experiments/rand/designs.h"
#include "measure/disturbance.h"
#include "measure/timer.h"
#include "results/costs.h"

namespace ip::rand {

namespace {

// pred_times of the paper's schema from the samples: one map per round, each function's time
// for 10^n instances (the seconds per instance of costs.h times 10^n: the reference's median).
void rounds_to_pred_times(ScaleResult& s) {
  std::map<int, RunTimes> rounds;
  const double items = static_cast<double>(s.pred_items);
  for (const auto& [key, per_round] : seconds_per_instance_by_round(s)) {
    // seconds_per_instance_by_round lists rounds in order, skipping none a key was timed in.
    std::set<int> with_key;
    for (const Sample& m : s.samples)
      if (m.key == key && !m.disturbed) with_key.insert(m.round);
    size_t i = 0;
    for (int round : with_key) rounds[round][key] = per_round.at(i++) * items;
  }
  s.pred_times.clear();
  for (auto& [round, times] : rounds) s.pred_times.push_back(std::move(times));
}

// The order of one round: the functions and as many reference samples, all in one random order.
// Each function is then compared with the reference samples nearest to it on either side, and
// what ran just before a sample is drawn alike for functions and the reference. (With the
// reference strictly between every two functions, the reference always followed a function and
// a function always followed the reference; the no-op controls then came out up to 2% faster
// than the reference at 10^4 instances, whatever warm-up preceded each sample.)
std::vector<size_t> round_order(const std::vector<size_t>& active, size_t reference, uint64_t seed) {
  std::vector<size_t> pool = active;
  pool.insert(pool.end(), std::max<size_t>(1, active.size()), reference);
  std::vector<size_t> order;
  for (size_t i : seeded_permutation(pool.size(), seed)) order.push_back(pool[i]);
  return order;
}

constexpr int kMaxRetakes = 3;

// Other processes' CPU time and steal during the sample, against the CPU time the machine had.
bool disturbed(const Sample& m, double limit) {
  return share_taken_beyond(m.other_cpu_seconds, m.steal_seconds, m.seconds * static_cast<double>(m.reps), limit);
}

std::string percent(double fraction) {
  char buf[32];
  if (!std::isfinite(fraction)) return "n/a";
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * fraction);
  return buf;
}

}  // namespace

void measure_rounds(Bench& b, std::vector<Candidate>& candidates, size_t reference,
                    const std::vector<std::string>& controls, int scale, double budget_seconds,
                    const RoundsSettings& settings, ScaleResult& s) {
  const Chunking ch = chunking(scale, b.chunk_cap);
  const Device device = b.network.device();
  RoundsDesign& d = s.rounds;
  const bool resumed = s.has_rounds && !s.samples.empty();
  s.has_rounds = true;
  d.reference = candidates[reference].key;
  d.controls = controls;
  d.precision = settings.precision;
  d.min_sample_seconds = settings.min_sample_seconds;
  d.function_elements_per_instance = static_cast<double>(kHidden) * kFunctionLayers;
  d.budget_seconds = budget_seconds;
  SampleOptions opts;
  opts.dropout_train = b.dropout_train;
  opts.async = b.async;
  opts.layer_times = device == Device::Cpu;  // on a GPU, timing layers apart would serialise them
  opts.warmup = settings.warmup;

  if (!resumed) {
    // Sample length from the reference's prediction time: the median of calls timed one by one
    // until they add up to a sample (at least three), so one preempted call cannot set it. A
    // prediction that alone outlasts a sample needs no more calls: it is one sample.
    opts.reps = 1;
    std::vector<double> calls;
    double total = 0;
    while (calls.size() < 3 || total < settings.min_sample_seconds) {
      if (calls.size() == 1 && total >= settings.min_sample_seconds) break;
      const double t = b.network.time(candidates[reference], b.input, ch, opts, b.session.meter()).seconds;
      if (t < 0) return;  // interrupted
      calls.push_back(t);
      total += t;
    }
    const double one = median(calls);
    d.reps = static_cast<uint64_t>(std::max(1.0, std::ceil(settings.min_sample_seconds / std::max(one, 1e-9))));
  }
  opts.reps = d.reps;

  std::vector<size_t> active;
  for (size_t i = 0; i < candidates.size(); ++i)
    if (i != reference) active.push_back(i);
  std::set<int> rounds_seen;
  for (const Sample& m : s.samples) rounds_seen.insert(m.round);
  int round = rounds_seen.empty() ? 0 : *rounds_seen.rbegin() + 1;
  int rounds_done = static_cast<int>(rounds_seen.size());
  std::map<size_t, double> wall;  // seconds a sample of each candidate took last (with set-up)
  Timer elapsed;
  const double spent_before = d.measuring_seconds;
  auto spent = [&] { return spent_before + elapsed.seconds(); };
  Timer since_checkpoint;
  int retaken = 0;
  d.stop = "interrupted";

  while (!interrupted()) {
    std::string worst_text;
    if (rounds_done >= settings.min_rounds) {
      const auto relative = relative_costs_by_round(s);
      double worst = 0;
      std::vector<size_t> still;
      for (size_t i : active) {
        const auto it = relative.find(candidates[i].key);
        const double hw = it == relative.end() ? INFINITY : median_estimate(it->second).relative_half_width();
        worst = std::max(worst, hw);
        if (!(hw <= settings.precision)) still.push_back(i);
      }
      active = still;
      worst_text = percent(worst);
      if (active.empty()) {
        d.stop = "precision";
        break;
      }
      double next = 0;
      for (size_t i : round_order(active, reference, 0)) next += wall.count(i) ? wall[i] : 0;
      if (spent() + next > budget_seconds) {
        d.stop = "budget";
        break;
      }
    }
    if (rounds_done >= settings.max_rounds) {
      d.stop = "max-rounds";
      break;
    }
    const std::vector<size_t> order =
        round_order(active, reference, mix_seed(b.seed, 1000003ull * scale + round));
    std::vector<Sample> taken;
    for (size_t pos = 0; pos < order.size(); ++pos) {
      Candidate& c = candidates[order[pos]];
      Timer sample_wall;
      Sample m = b.network.time(c, b.input, ch, opts, b.session.meter());
      // A sample that shared the CPUs with other processes (or lost them to the hypervisor) is
      // kept for the record, marked, and taken again, at most kMaxRetakes times.
      for (int retake = 0; m.seconds >= 0 && retake < kMaxRetakes && disturbed(m, d.disturbance_limit); ++retake) {
        m.disturbed = true;
        m.round = round;
        m.position = static_cast<int>(pos);
        taken.push_back(m);
        ++retaken;
        m = b.network.time(c, b.input, ch, opts, b.session.meter());
      }
      if (m.seconds < 0) break;  // interrupted: this round is dropped
      wall[order[pos]] = sample_wall.seconds();
      m.round = round;
      m.position = static_cast<int>(pos);
      m.disturbed = false;  // the last take stands, whatever it saw (its numbers say so)
      taken.push_back(m);
      if (wall[order[pos]] >= 0.5) {
        char line[256];
        std::snprintf(line, sizeof line, "scale 10^%d round %d [%zu/%zu] %-13s %10.4g s (%llu x %llu instances)",
                      scale, round + 1, pos + 1, order.size(), c.info->cli_name, m.seconds,
                      static_cast<unsigned long long>(opts.reps), static_cast<unsigned long long>(ch.items));
        b.session.say(line);
      }
    }
    if (taken.size() < order.size()) break;
    s.samples.insert(s.samples.end(), taken.begin(), taken.end());
    ++round;
    ++rounds_done;
    d.measuring_seconds = spent();
    rounds_to_pred_times(s);
    char line[320];
    std::snprintf(line, sizeof line,
                  "scale 10^%d round %d: %zu function(s) timed, %llu x 10^%d instances per sample, "
                  "worst 95%% CI half-width %s (target %s); %.0f of %.0f s; %d disturbed sample(s) retaken",
                  scale, rounds_done, active.size(), static_cast<unsigned long long>(opts.reps), scale,
                  worst_text.empty() ? ("known from round " + std::to_string(settings.min_rounds)).c_str()
                                     : worst_text.c_str(),
                  percent(settings.precision).c_str(), spent(), budget_seconds, retaken);
    b.session.say(line);
    if (b.checkpoint && since_checkpoint.seconds() > 5) {
      b.checkpoint();
      since_checkpoint.start();
    }
  }
  d.measuring_seconds = spent();
  rounds_to_pred_times(s);
  s.partial = interrupted();
}

}  // namespace ip::rand
