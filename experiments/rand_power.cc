// rand_power: the paper's random-data inference experiment (DESIGN.md §1, "rand").
//
// Per function: Linear(1024→1024), the function 4 times, Linear(1024→16), trained on one fixed
// random batch (x ~ N(0,1) 64×1024, y ~ N(0,1) 64×16; MSE sum; Adam lr 1e-4; 2000 steps) or
// loaded from the model cache. Then in eval mode, for each scale n, for each run (function order
// shuffled, seeded), predict 10^n random instances in chunks of min(10^n, 100000) rows — the
// same chunk every time — timing the whole loop with a monotonic clock, synchronised on the GPU
// unless --gpu-timing async asks for the original's unsynchronised timing.
//
// Output: one paper-schema JSON per scale, one consolidated JSON and a CSV per invocation.
//
// --resume continues a run cut short by SIGINT/SIGTERM from its consolidated file (partial=true):
// the cells (function, scale, run) it holds are kept as they are, the others measured, and the
// interrupted run's files rewritten in place (same names, atomically) holding every cell once.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include "engine/energy.h"
#include "engine/loss.h"
#include "engine/model_file.h"
#include "engine/numerics.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "engine/sequential.h"
#include "engine/timer.h"
#include "experiments/common/hardware.h"
#include "experiments/common/results.h"
#include "experiments/common/run_support.h"
#include "kernels/cpu/kernels.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kMaxScale = 9;
constexpr size_t kTrainRows = 64, kInFeatures = 1024, kHidden = 1024, kOutFeatures = 16;
// Philox streams of the data under --seed, apart from the layers' streams 0..3.
constexpr uint32_t kTrainXStream = 10, kTrainYStream = 11, kPredictStream = 12;

struct Options {
  std::string functions = "all", scales = "0-5", device = "cpu", gemm = "own", target = "auto";
  std::string dropout_mode = "eval", gpu_timing = "sync", energy = "auto";
  std::string out = "data/results", prefix, model_cache = "data/models";
  std::string resume, on_nan = "stop";
  int runs = 3, threads = 0, train_epochs = 2000, warmup = 1;
  long long chunk_cap = 100000;
  double lr = 1e-4;
  uint64_t seed = 1234;
  bool no_cache = false, breakdown = false, quiet = false;
};

// Seconds spent per layer kind over one prediction loop, each layer timed on its own.
struct Breakdown {
  double gemm = 0, activation = 0, dropout = 0;
};

struct Measurement {
  const ip::FunctionInfo* function = nullptr;
  int scale = 0, run = 0;
  double seconds = 0;
  ip::EnergyReading energy;
  bool has_breakdown = false;
  Breakdown breakdown;
  // What disturbed the timed loop (the whole process): page faults (a loop that faults touches
  // fresh memory the warm-up should have touched) and involuntary context switches (a thread
  // lost its core to another process, and a fork-join waits for it).
  long page_faults = 0, preemptions = 0;
  // What the machine did beside us meanwhile (-1 where /proc/stat is unreadable): CPU time the
  // hypervisor gave to other guests (steal) and CPU time of other processes on this machine.
  double steal_seconds = -1, other_cpu_seconds = -1;
  nlohmann::json resumed;  // non-null: kept verbatim from the interrupted run (--resume)
};

// What --resume takes over from an interrupted run's consolidated file.
struct Resumed {
  std::string path, stem;
  ip::RandResults file;                                       // its scales, times and energy
  std::map<std::tuple<std::string, int, int>, json> cells;    // (key, scale, run) → measurement
  std::map<int, double> scale_unix_time;                      // names of its per-scale files
};

struct Candidate {
  const ip::FunctionInfo* info;
  std::string key, description, cache_path;
  ip::Sequential model;
  bool needs_training = true;
  // Calibration (not with --quiet): seconds per predict call and per row.
  double per_call = 0, per_row = 0;
};

std::string describe_model(const ip::FunctionInfo& f) {
  const std::string fn = f.cli_name;
  return "linear(" + std::to_string(kInFeatures) + "," + std::to_string(kHidden) + ") " + fn +
         " " + fn + " " + fn + " " + fn + " linear(" + std::to_string(kHidden) + "," +
         std::to_string(kOutFeatures) + ")";
}

// FNV-1a: a stable name for a cache key (not a security hash).
std::string fnv1a_hex(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Everything the trained weights depend on, so a cache file is reused only for the same training.
std::string cache_path(const Options& o, const Candidate& c) {
  const std::string key = c.description + "|seed=" + std::to_string(o.seed) +
                          "|epochs=" + std::to_string(o.train_epochs) +
                          "|lr=" + ip::format_number(o.lr) + "|rand-v1:mse-sum,adam,64x1024";
  return (fs::path(o.model_cache) / ("rand_" + std::string(c.info->cli_name) + "_" +
                                     fnv1a_hex(key) + ".ipmodel")).string();
}

void set_inference_mode(ip::Sequential& model, bool dropout_train) {
  model.eval();
  if (!dropout_train) return;
  for (size_t i = 0; i < model.size(); ++i)
    if (auto* f = dynamic_cast<ip::FunctionLayer*>(&model.layer(i)))
      if (ip::function_info(f->id()).kind == ip::KernelKind::Dropout) f->set_training(true);
}

struct Trained {
  double seconds = -1;  // -1: interrupted or failed
  std::string failure;  // why training failed (non-finite values), "" when it did not
};

// Adam steps on the fixed batch. The loss (already on the host) is checked every step; only when
// it is not finite are the layers scanned to name where the NaN/Inf first appears.
Trained train(ip::Sequential& model, int steps, double lr, const ip::Tensor& x,
              const ip::Tensor& y, ip::Device device) {
  model.train();
  ip::MseLoss loss(ip::Reduction::Sum);
  ip::AdamConfig adam;
  adam.lr = static_cast<float>(lr);
  ip::Adam optimizer(model.parameters(), adam);
  ip::Timer timer(ip::synchroniser(device));
  Trained t;
  for (int step = 0; step < steps; ++step) {
    if (ip::interrupted()) return t;
    optimizer.zero_grad();
    const double l = loss.forward_backward(model.forward(x), y);
    if (!std::isfinite(l)) {
      const std::string where = ip::locate_non_finite(model, x);
      t.failure = "non-finite loss (" + ip::format_number(l) + ") at training step " +
                  std::to_string(step + 1) + " of " + std::to_string(steps) +
                  (where.empty() ? "" : "; first non-finite value: " + where);
      return t;
    }
    model.backward(loss.grad());
    optimizer.step();
  }
  t.seconds = timer.seconds();
  // The last update is not followed by a loss: check the parameters it produced once.
  if (steps > 0)
    if (const std::string where = ip::locate_non_finite(model, x); !where.empty()) {
      t.failure = "non-finite values after training step " + std::to_string(steps) + ": " + where;
      t.seconds = -1;
    }
  return t;
}

// Rows of each predict call at scale n, and how many calls make up 10^n.
struct Chunking {
  uint64_t items, chunk, full_chunks, last_rows;
};
Chunking chunking(int scale, uint64_t cap) {
  Chunking c;
  c.items = 1;
  for (int i = 0; i < scale; ++i) c.items *= 10;
  c.chunk = std::min<uint64_t>(c.items, cap);
  c.full_chunks = c.items / c.chunk;
  c.last_rows = c.items % c.chunk;  // a cap that does not divide 10^n leaves a short last call
  return c;
}

// Expected seconds of one measurement from the calibration (0 without one).
double estimate(const Candidate& c, const Chunking& ch, int warmup) {
  const double calls = static_cast<double>(ch.full_chunks + (ch.last_rows ? 1 : 0) + warmup);
  const double rows = static_cast<double>(ch.items + warmup * ch.chunk);
  return calls * c.per_call + rows * c.per_row;
}

// Remaining seconds: the plan's remaining cost scaled by how fast the run has gone so far. One
// second of planned work is blended in so the first, overhead-heavy measurements do not swing it.
double eta(double elapsed, double done, double total) {
  const double blend = std::min(1.0, total);
  return (total - done) * (elapsed + blend) / (done + blend);
}

// One prediction loop per layer with a synchronised timer around each layer.
Breakdown measure_breakdown(ip::Sequential& model, const ip::Tensor& input, const Chunking& ch,
                            ip::Device device) {
  Breakdown b;
  ip::Timer timer(ip::synchroniser(device));
  auto one_call = [&](const ip::Tensor& x) {
    const ip::Tensor* cur = &x;
    for (size_t i = 0; i < model.size(); ++i) {
      ip::Layer& layer = model.layer(i);
      timer.start();
      cur = &layer.forward(*cur);
      const double s = timer.seconds();
      if (dynamic_cast<ip::Linear*>(&layer))
        b.gemm += s;
      else if (auto* f = dynamic_cast<ip::FunctionLayer*>(&layer);
               f && ip::function_info(f->id()).group == ip::FunctionGroup::Dropout)
        b.dropout += s;
      else
        b.activation += s;
    }
  };
  for (uint64_t c = 0; c < ch.full_chunks && !ip::interrupted(); ++c) one_call(input.rows(0, ch.chunk));
  if (ch.last_rows && !ip::interrupted()) one_call(input.rows(0, ch.last_rows));
  return b;
}

// Issue 6's "no overhead" target: predicting one instance costs at most what its kernels cost
// (the two GEMMs with their bias adds and the function kernels, each timed alone on the same
// buffers) plus kOverheadLimit; what the engine adds around the kernels (layer dispatch, shape
// checks, buffer reuse) must stay below it.
constexpr double kOverheadLimit = 5e-6;

struct Overhead {
  double predict = 0, kernels = 0;  // seconds: fastest prediction, fastest round of its kernels
  int layers_timed = 0;             // layers that run kernels (Linear: GEMM + bias add)
  double overhead() const { return predict - kernels; }
};

// Predicting `row` (one instance) against its kernels called alone, in layer order, with the
// layers' own weights and buffers. A function layer whose forward returns its input (Identity,
// dropout in eval mode) runs no kernel. Rounds alternate one prediction with one pass over the
// kernels, and each side keeps its fastest round: the minimum is what the code costs (other
// processes only ever slow a call down), and taking it per round rather than per kernel does not
// flatter the sum of the kernels (a sum of per-kernel minima is below any real pass).
Overhead measure_overhead(ip::Sequential& model, const ip::Tensor& row, ip::Device device) {
  namespace ops = ip::ops;
  constexpr int kWarmupRounds = 10, kRounds = 300;
  Overhead o;
  std::vector<std::function<void()>> kernels;
  const ip::Tensor* cur = &row;
  for (size_t i = 0; i < model.size(); ++i) {
    ip::Layer& layer = model.layer(i);
    const ip::Tensor& x = *cur;
    const ip::Tensor& y = layer.forward(x);
    cur = &y;
    if (&y == &x) continue;  // passed through: no kernel
    ++o.layers_timed;
    const size_t rows = x.dim(0), n = x.numel();
    const float* in = x.data();
    float* out = y.data();
    if (auto* lin = dynamic_cast<ip::Linear*>(&layer)) {
      const size_t k = lin->weight.dim(1), m = lin->weight.dim(0);
      const float *w = lin->weight.data(), *bias = lin->bias.data();
      kernels.push_back([=] {
        ops::gemm(device, false, true, rows, m, k, 1.0f, in, k, w, k, 0.0f, out, m);
        ops::add_bias_rows(device, out, bias, rows, m);
      });
    } else if (auto* f = dynamic_cast<ip::FunctionLayer*>(&layer)) {
      const ip::FunctionId id = f->id();
      ip::Params<float> p = f->params();
      if (id == ip::FunctionId::PReLU) f->weight.to_host(&p.p0);
      switch (ip::function_info(id).kind) {
        case ip::KernelKind::Elementwise:
          kernels.push_back([=] { ops::activation_forward(device, id, in, out, n, p); });
          break;
        case ip::KernelKind::Rowwise:
          kernels.push_back([=] { ops::rowwise_forward(device, id, in, out, rows, n / rows); });
          break;
        case ip::KernelKind::Dropout: {  // train mode (--dropout-mode train)
          const uint64_t seed = f->step_seed();
          uint32_t* mask = f->dropout_mask();  // the layer's own, stored by the forward above
          kernels.push_back([=] { ops::dropout_forward(device, id, in, out, mask, rows, n / rows, p.p0, seed); });
          break;
        }
      }
    }
  }
  ip::Timer timer(ip::synchroniser(device));
  auto seconds = [&](const std::function<void()>& call) {
    timer.start();
    call();
    return timer.seconds();
  };
  const auto predict = [&] { model.forward(row); };
  o.predict = o.kernels = 1e30;
  for (int r = 0; r < kWarmupRounds + kRounds; ++r) {  // warm-up: caches, branch predictors, threads
    const double p = seconds(predict);
    double sum = 0;
    for (const auto& k : kernels) sum += seconds(k);
    if (r < kWarmupRounds) continue;
    o.predict = std::min(o.predict, p);
    o.kernels = std::min(o.kernels, sum);
  }
  return o;
}

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

// Fills m's disturbance fields from readings before and after its timed loop.
void record_disturbances(Measurement& m, const Disturbances& before, const Disturbances& after) {
  m.page_faults = after.page_faults - before.page_faults;
  m.preemptions = after.preemptions - before.preemptions;
  if (before.machine_busy >= 0 && after.machine_busy >= 0) {
    m.steal_seconds = after.steal - before.steal;
    // Clock ticks are coarse (10 ms): a small negative difference is rounding, not time.
    m.other_cpu_seconds = std::max(0.0, (after.machine_busy - before.machine_busy) -
                                            (after.own_cpu - before.own_cpu));
  }
}

json measurement_json(const Measurement& m) {
  if (!m.resumed.is_null()) return m.resumed;
  json j;
  j["function"] = m.function->cli_name;
  j["key"] = ip::function_key(*m.function);
  j["scale"] = m.scale;
  j["run"] = m.run;
  j["seconds"] = m.seconds;
  j["seconds_per_instance"] = m.seconds / std::pow(10.0, m.scale);
  j["energy"] = m.energy;
  j["page_faults"] = m.page_faults;
  j["preemptions"] = m.preemptions;
  if (m.steal_seconds >= 0) {
    j["steal_seconds"] = m.steal_seconds;
    j["other_cpu_seconds"] = m.other_cpu_seconds;
  }
  if (m.has_breakdown)
    j["breakdown"] = {{"gemm_seconds", m.breakdown.gemm},
                      {"activation_seconds", m.breakdown.activation},
                      {"dropout_seconds", m.breakdown.dropout}};
  return j;
}

std::string breakdown_csv(const std::vector<Measurement>& ms) {
  std::string out = "function,torch_key,scale,run,seconds,gemm_seconds,activation_seconds,"
                    "dropout_seconds\n";
  for (const Measurement& m : ms) {
    if (!m.has_breakdown) continue;
    out += std::string(m.function->cli_name) + ",\"" + ip::function_key(*m.function) + "\"," +
           std::to_string(m.scale) + "," + std::to_string(m.run) + "," +
           ip::format_number(m.seconds) + "," + ip::format_number(m.breakdown.gemm) + "," +
           ip::format_number(m.breakdown.activation) + "," + ip::format_number(m.breakdown.dropout) +
           "\n";
  }
  return out;
}

// The consolidated JSON (data-results' schema plus every measurement with its full energy
// reading and breakdown) and its CSV; rewritten after every scale so a cut-short run keeps them.
std::vector<std::string> write_consolidated(const Options& o, const std::string& stem,
                                            const ip::RandResults& r,
                                            const std::vector<Measurement>& ms, bool cut_short,
                                            const json& overhead) {
  const fs::path dir(o.out);
  std::vector<std::string> paths;
  const std::string csv = (dir / (stem + ".csv")).string();
  ip::write_file_atomic(csv, ip::rand_to_csv(r));
  paths.push_back(csv);
  if (o.breakdown) {
    const std::string bcsv = (dir / (stem + ".breakdown.csv")).string();
    ip::write_file_atomic(bcsv, breakdown_csv(ms));
    paths.push_back(bcsv);
  }
  json j = ip::rand_to_json(r);
  if (cut_short) j["partial"] = true;  // also when the cut fell between scales
  // The per-scale files' times, so that --resume rewrites those same files.
  for (size_t i = 0; i < r.scales.size(); ++i) j["scales"][i]["unix_time"] = r.scales[i].unix_time;
  j["measurements"] = json::array();
  for (const Measurement& m : ms) j["measurements"].push_back(measurement_json(m));
  if (!overhead.empty()) j["overhead_one_instance"] = overhead;
  const std::string path = (dir / (stem + ".json")).string();
  ip::write_file_atomic(path, j.dump(1) + "\n");
  paths.insert(paths.begin(), path);
  return paths;
}

// ---- --resume ----

Resumed load_resume(const std::string& spec) {
  Resumed r;
  // Only the consolidated file lists the measurements; the per-scale files are partial too.
  r.path = ip::find_resume_file(spec, "consolidated result (<prefix>.all.<time>.json)",
                                [](const json& j) { return j.contains("measurements"); });
  try {
    const json j = json::parse(ip::read_text_file(r.path));
    if (!j.is_object() || !j.contains("scales") || !j.contains("measurements"))
      throw std::invalid_argument("not a consolidated rand_power file (<prefix>.all.<time>.json)");
    if (j.value("partial", false) != true)
      throw std::invalid_argument("the run is complete (partial=false): nothing to resume");
    r.file = ip::read_rand_file(r.path);
    for (const json& s : j.at("scales"))
      if (s.contains("unix_time")) r.scale_unix_time[s.at("scale").get<int>()] = s.at("unix_time").get<double>();
    for (const json& m : j.at("measurements")) {
      const auto cell = std::make_tuple(m.at("key").get<std::string>(), m.at("scale").get<int>(),
                                        m.at("run").get<int>());
      if (!ip::find_function_by_key(std::get<0>(cell)))
        throw std::invalid_argument("unknown function " + std::get<0>(cell));
      if (!r.cells.emplace(cell, m).second)
        throw std::invalid_argument("measurement of " + std::get<0>(cell) + " listed twice");
    }
  } catch (const std::exception& e) {
    throw std::invalid_argument("--resume: " + r.path + ": " + e.what());
  }
  r.stem = fs::path(r.path).stem().string();
  return r;
}

// Refuses to mix settings: every setting that changes a measurement must be the same as in the
// interrupted run.
void check_resume_settings(const Resumed& r, const ip::RandResults& now) {
  const std::string command_line = r.file.parameters.value("command_line", std::string("?"));
  auto same = [&](const std::string& flag, const json& was, const json& is) {
    ip::check_same_setting(flag, was, is, command_line);
  };
  same("--device", r.file.device, now.device);
  same("the hardware", r.file.hardware_name, now.hardware_name);
  same("--runs", r.file.runs, now.runs);
  same("--train-epochs", r.file.train_epochs, now.train_epochs);
  same("--chunk-cap", r.file.test_size_cap, now.test_size_cap);
  ip::check_same_parameters(r.file.parameters, now.parameters, {
      {"functions", "--functions"}, {"scales", "--scales"},       {"seed", "--seed"},
      {"lr", "--lr"},               {"threads", "--threads"},     {"simd_target", "--target"},
      {"gemm", "--gemm"},           {"dropout_mode", "--dropout-mode"},
      {"gpu_timing", "--gpu-timing"}, {"warmup_calls", "--warmup"}, {"breakdown", "--breakdown"},
      {"energy_mode", "--energy"}}, command_line);
}

// A cell of the interrupted run as a measurement of this one (kept verbatim, marked resumed).
Measurement resumed_measurement(const json& cell) {
  Measurement m;
  m.function = ip::find_function_by_key(cell.at("key").get<std::string>());
  m.scale = cell.at("scale").get<int>();
  m.run = cell.at("run").get<int>();
  m.seconds = cell.at("seconds").get<double>();
  if (cell.contains("breakdown")) {
    const json& b = cell["breakdown"];
    m.has_breakdown = true;
    m.breakdown = {b.value("gemm_seconds", 0.0), b.value("activation_seconds", 0.0),
                   b.value("dropout_seconds", 0.0)};
  }
  m.resumed = cell;
  m.resumed["resumed"] = true;
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "rand_power: time (and energy) of predicting random data with a dense network per "
      "activation function — the paper's main experiment (DESIGN.md §1). Defaults follow the "
      "paper's protocol; results go to --out as one paper-schema JSON per scale plus one "
      "consolidated JSON and CSV."};
  app.add_option("--functions", o.functions,
                 "comma-separated CLI names, 'all' (every table row) or 'paper' (the 26 the paper "
                 "timed); valid names: " + ip::valid_function_names())
      ->capture_default_str();
  app.add_option("--scales", o.scales,
                 "scales n (10^n instances): a range 0-8 or a list 0,5; each 0..9")
      ->capture_default_str();
  app.add_option("--runs", o.runs, "runs per scale (function order shuffled per run), >= 1")
      ->capture_default_str();
  app.add_option("--device", o.device,
                 "cpu, cuda, or auto (CUDA when a GPU is usable, else the CPU with a notice)")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "OpenMP threads; 0 = OpenMP's default")
      ->capture_default_str();
  app.add_option("--train-epochs", o.train_epochs, "Adam steps on the fixed batch, >= 0")
      ->capture_default_str();
  app.add_option("--lr", o.lr, "Adam learning rate, > 0")->capture_default_str();
  app.add_option("--chunk-cap", o.chunk_cap,
                 "most rows per predict call, >= 1; lower it when memory runs out")
      ->capture_default_str();
  app.add_option("--dropout-mode", o.dropout_mode,
                 "eval (dropouts pass through, as the paper) or train (dropouts draw masks)")
      ->capture_default_str();
  app.add_option("--gemm", o.gemm, "GEMM backend: own, blas (CPU, OpenBLAS) or cublas (CUDA)")
      ->capture_default_str();
  app.add_option("--target", o.target,
                 "CPU SIMD target (e.g. AVX3, AVX2, SSE4, EMU128) or auto = best available")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the data, the initial weights and the shuffles")
      ->capture_default_str();
  app.add_option("--model-cache", o.model_cache,
                 "directory of trained models, keyed by model, seed, epochs and lr")
      ->capture_default_str();
  app.add_flag("--no-model-cache", o.no_cache, "always train, never read or write the cache");
  app.add_option("--warmup", o.warmup,
                 "untimed predict calls before each timed loop (sizes buffers, warms caches); 0 "
                 "times from cold")
      ->capture_default_str();
  app.add_option("--out", o.out, "results directory")->capture_default_str();
  app.add_option("--prefix", o.prefix, "file name prefix; default <host>_<device>");
  app.add_option("--energy", o.energy,
                 "auto (hardware counters when present), off, or estimate[:watts] (labelled "
                 "estimated)")
      ->capture_default_str();
  app.add_option("--gpu-timing", o.gpu_timing,
                 "CUDA only: sync (wait for the GPU before stopping the clock) or async (the "
                 "original's unsynchronised timing, which records launch time at small scales)")
      ->capture_default_str();
  app.add_flag("--breakdown", o.breakdown,
               "after each timed loop, one more loop timing each layer (synchronised): seconds "
               "in GEMM vs activation vs dropout; and before the measurements, per function, one "
               "instance's prediction against its kernels called alone (fastest of 300 rounds each): "
               "the overhead in us, PASS within 5 us (issue 6), also in the consolidated JSON");
  app.add_option("--resume", o.resume,
                 "continue an interrupted run: its consolidated <prefix>.all.<time>.json "
                 "(partial=true), or a directory holding one (the newest is taken). Give the same "
                 "settings as the interrupted run; its cells are kept, the rest measured, and its "
                 "files rewritten complete in place (to its directory unless --out is given)");
  app.add_option("--on-nan", o.on_nan,
                 "when training produces NaN/Inf (reported with the step and the first layer): "
                 "stop (exit with an error) or continue (record the function under \"failed\" "
                 "and measure the others)")
      ->capture_default_str();
  app.add_flag("--quiet", o.quiet, "no progress; stdout lists only the result files");
  if (int rc = ip::parse_command_line(app, argc, argv, "rand_power"); rc >= 0) return rc;

  ip::Progress progress(o.quiet);
  Resumed resumed;
  uint64_t max_chunk = 1;
  ip::RandResults results;
  std::vector<Measurement> measurements;
  json overhead = json::object();  // --breakdown: one instance against its kernels, per function
  std::vector<std::string> written;
  std::string stem;
  bool started = false;

  try {
    // ---- validate everything before any work ----
    const std::vector<const ip::FunctionInfo*> functions = ip::parse_function_list(o.functions);
    const std::vector<int> scales = ip::parse_scales(o.scales, kMaxScale);
    if (o.runs < 1) throw std::invalid_argument("--runs: must be 1 or more, got " + std::to_string(o.runs));
    if (o.train_epochs < 0) throw std::invalid_argument("--train-epochs: must be 0 or more");
    if (o.chunk_cap < 1) throw std::invalid_argument("--chunk-cap: must be 1 or more");
    if (o.warmup < 0) throw std::invalid_argument("--warmup: must be 0 or more");
    if (!(o.lr > 0)) throw std::invalid_argument("--lr: must be > 0");
    if (o.on_nan != "stop" && o.on_nan != "continue")
      throw std::invalid_argument("--on-nan: '" + o.on_nan + "' is not one of stop, continue");
    if (o.dropout_mode != "eval" && o.dropout_mode != "train")
      throw std::invalid_argument("--dropout-mode: '" + o.dropout_mode + "' is not one of eval, train");
    if (o.gpu_timing != "sync" && o.gpu_timing != "async")
      throw std::invalid_argument("--gpu-timing: '" + o.gpu_timing + "' is not one of sync, async");
    double estimate_watts = 0;
    ip::EnergyMode energy_mode;
    try {
      energy_mode = ip::parse_energy_mode(o.energy, &estimate_watts);
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string("--energy: ") + e.what());
    }
    const ip::Device device = ip::resolve_device(o.device, "rand_power");
    ip::configure_gemm(o.gemm, device);
    ip::configure_cpu(o.threads, o.target);
    if (!o.resume.empty()) {
      resumed = load_resume(o.resume);
      if (app.count("--out") == 0) o.out = fs::path(resumed.path).parent_path().string();
      if (o.out.empty()) o.out = ".";
      if (o.prefix.empty()) o.prefix = resumed.file.outprefix;
      if (o.prefix != resumed.file.outprefix)
        throw std::invalid_argument("--resume: --prefix differs: the interrupted run had '" +
                                    resumed.file.outprefix + "', this one '" + o.prefix + "'");
    }
    if (o.prefix.empty()) o.prefix = ip::host_name() + "_" + o.device;
    if (o.prefix.find('/') != std::string::npos)
      throw std::invalid_argument("--prefix: must not contain '/'");
    ip::check_writable(o.out);
    const bool use_cache = !o.no_cache && o.train_epochs > 0;
    if (use_cache) {
      std::error_code ec;
      fs::create_directories(o.model_cache, ec);
      if (!fs::is_directory(o.model_cache))
        throw std::runtime_error("--model-cache: cannot create directory " + o.model_cache +
                                 (ec ? ": " + ec.message() : ""));
    }
    ip::EnergyOptions energy_options;
    energy_options.estimate_watts = estimate_watts;
    std::unique_ptr<ip::EnergyMeter> meter = ip::make_energy_meter(energy_mode, o.device, energy_options);
    const ip::HardwareInfo hw = ip::describe_hardware();
    const double start_unix = ip::unix_time_now();
    ip::install_interrupt_handlers();

    progress.line("rand_power: " + std::to_string(functions.size()) + " functions, scales " +
                  o.scales + ", " + std::to_string(o.runs) + " run(s) on " + o.device + " (" +
                  hw.summary() + ")");
    progress.line("energy: " + (meter->available() ? meter->source()
                                                   : "unavailable: " + meter->unavailable_reason()));

    // ---- the result header: everything needed to interpret the numbers ----
    results.device = o.device;
    results.hardware_name = device == ip::Device::Cuda && !hw.gpu_name.empty() ? hw.gpu_name : hw.cpu_model;
    results.outprefix = o.prefix;
    results.runs = o.runs;
    results.train_epochs = o.train_epochs;
    results.test_size_cap = static_cast<uint64_t>(o.chunk_cap);
    json& p = results.parameters;
    p["functions"] = json::array();
    for (const ip::FunctionInfo* f : functions) p["functions"].push_back(f->cli_name);
    p["scales"] = scales;
    p["seed"] = o.seed;
    p["lr"] = o.lr;
    p["threads"] = omp_get_max_threads();
    p["simd_target"] = ip::cpu::current_target();
    p["gemm"] = o.gemm;
    p["dropout_mode"] = o.dropout_mode;
    p["gpu_timing"] = o.gpu_timing;
    p["warmup_calls"] = o.warmup;
    p["breakdown"] = o.breakdown;
    p["model_cache"] = use_cache ? o.model_cache : "";
    p["energy_mode"] = o.energy;
    p["energy_meter"] = {{"source", meter->source()},
                         {"available", meter->available()},
                         {"reason", meter->unavailable_reason()}};
    p["hardware"] = hw.to_json();
    p["command_line"] = ip::command_line(argc, argv);
    p["started_at"] = ip::local_time_string(start_unix);
    p["started_unix"] = start_unix;
    p["timing"] = "steady_clock around the whole prediction loop; " +
                  std::string(device == ip::Device::Cuda && o.gpu_timing == "async"
                                  ? "not synchronised (the original's artifact)"
                                  : "synchronised before the clock stops");
    stem = ip::consolidated_stem(o.prefix, start_unix);
    // Cells (function key, scale, run) already measured by the interrupted run.
    auto done = [&](const std::string& key, int n, int run) {
      return resumed.cells.count(std::make_tuple(key, n, run)) > 0;
    };
    if (!o.resume.empty()) {
      check_resume_settings(resumed, results);
      stem = resumed.stem;  // the interrupted run's files are rewritten, not duplicated
      results.failed = resumed.file.failed;
      p["resumed"] = {{"from", resumed.path},
                      {"cells_resumed", resumed.cells.size()},
                      {"note", "measurements with \"resumed\": true come from the interrupted run"},
                      {"interrupted_command_line", resumed.file.parameters.value("command_line", "")},
                      {"interrupted_started_at", resumed.file.parameters.value("started_at", "")}};
      progress.line("resuming " + resumed.path + ": " + std::to_string(resumed.cells.size()) +
                    " measurement(s) kept");
    }

    // ---- data: the training batch and one prediction chunk, generated before any timing ----
    for (int n : scales) max_chunk = std::max(max_chunk, chunking(n, o.chunk_cap).chunk);
    // The input chunk and each layer's output of one chunk: refuse what cannot fit at all, before
    // a huge allocation that the system might grant and then kill the process for.
    const double chunk_bytes = static_cast<double>(max_chunk) * kInFeatures * sizeof(float) * 6;
    if (device == ip::Device::Cpu && ip::physical_memory_bytes() > 0 &&
        chunk_bytes > static_cast<double>(ip::physical_memory_bytes()))
      throw std::invalid_argument(
          "--chunk-cap: a prediction chunk of " + std::to_string(max_chunk) + " rows needs about " +
          ip::format_bytes(chunk_bytes) + ", more than this machine's " +
          ip::format_bytes(static_cast<double>(ip::physical_memory_bytes())) +
          " of memory; lower --chunk-cap");
    progress.line("preparing data: " + std::to_string(max_chunk) + " x " +
                  std::to_string(kInFeatures) + " random inputs");
    const ip::Tensor train_x = ip::Tensor::from_vector(
        {kTrainRows, kInFeatures}, ip::normal_values(kTrainRows * kInFeatures, o.seed, kTrainXStream)).to(device);
    const ip::Tensor train_y = ip::Tensor::from_vector(
        {kTrainRows, kOutFeatures}, ip::normal_values(kTrainRows * kOutFeatures, o.seed, kTrainYStream)).to(device);
    const ip::Tensor input = ip::Tensor::from_vector(
        {max_chunk, kInFeatures}, ip::normal_values(max_chunk * kInFeatures, o.seed, kPredictStream)).to(device);

    // ---- models: from the cache when valid ----
    std::vector<Candidate> models;
    for (const ip::FunctionInfo* f : functions) {
      Candidate c;
      c.info = f;
      c.key = ip::function_key(*f);
      c.description = describe_model(*f);
      c.model = ip::Sequential::parse(c.description, o.seed);
      c.model.set_seed(o.seed);
      c.needs_training = o.train_epochs > 0;
      // A function whose every cell was resumed is not measured: no need to train it.
      bool all_done = !o.resume.empty();
      for (int n : scales)
        for (int run = 0; run < o.runs; ++run) all_done = all_done && done(c.key, n, run);
      if (all_done) c.needs_training = false;
      if (use_cache) {
        c.cache_path = cache_path(o, c);
        if (fs::exists(c.cache_path)) {
          try {
            ip::load_parameters(c.model, c.cache_path);
            c.needs_training = false;
          } catch (const std::exception& e) {
            std::fprintf(stderr, "rand_power: warning: model cache unusable, retraining: %s\n", e.what());
          }
        }
      }
      c.model.to(device);
      models.push_back(std::move(c));
    }
    const size_t to_train = std::count_if(models.begin(), models.end(),
                                          [](const Candidate& c) { return c.needs_training; });

    // ---- calibration: one small predict call per function and two training steps ----
    double train_estimate = 0, predict_estimate = 0;
    if (!o.quiet) {
      // Cost of a predict call = per call + per row; one call of 1 row and one of `rows` rows
      // (each after an untimed call of the same size) give both terms.
      const uint64_t rows = std::min<uint64_t>(max_chunk, 1000);
      for (Candidate& c : models) {
        ip::Sequential probe = ip::Sequential::parse(c.description, o.seed);
        probe.to(device);
        set_inference_mode(probe, o.dropout_mode == "train");
        auto time_call = [&](uint64_t n) {
          probe.forward(input.rows(0, n));
          ip::Timer t(ip::synchroniser(device));
          probe.forward(input.rows(0, n));
          return t.seconds();
        };
        const double one = time_call(1), many = rows > 1 ? time_call(rows) : one;
        c.per_row = rows > 1 ? std::max(0.0, (many - one) / static_cast<double>(rows - 1)) : 0.0;
        c.per_call = std::max(0.0, one - c.per_row);
      }
      if (to_train > 0) {
        ip::Sequential probe = ip::Sequential::parse(models[0].description, o.seed);
        probe.to(device);
        train(probe, 1, o.lr, train_x, train_y, device);
        const double two = train(probe, 2, o.lr, train_x, train_y, device).seconds;
        train_estimate = two / 2 * o.train_epochs * static_cast<double>(to_train);
      }
      for (int n : scales) {
        const Chunking ch = chunking(n, o.chunk_cap);
        for (const Candidate& c : models)
          predict_estimate += estimate(c, ch, o.warmup) * o.runs * (o.breakdown ? 2 : 1);
      }
      progress.line("estimated total time: " + ip::format_duration(train_estimate + predict_estimate) +
                    " (training " + std::to_string(to_train) + " model(s): " +
                    ip::format_duration(train_estimate) + ", prediction: " +
                    ip::format_duration(predict_estimate) + ")");
    }

    // ---- training ----
    ip::RunTimes train_times;
    {
      ip::Timer elapsed;
      size_t done = 0;
      for (Candidate& c : models) {
        if (!c.needs_training) continue;
        const Trained t = train(c.model, o.train_epochs, o.lr, train_x, train_y, device);
        if (!t.failure.empty()) {
          const std::string what = std::string("training ") + c.info->cli_name + ": " + t.failure;
          if (o.on_nan == "stop")
            throw std::runtime_error(what + " (--on-nan continue records it as failed and goes on)");
          std::fprintf(stderr, "rand_power: warning: %s; recorded as failed, not measured\n", what.c_str());
          results.failed[c.key] = t.failure;
          continue;
        }
        if (t.seconds < 0) break;  // interrupted
        const double s = t.seconds;
        train_times[c.key] = s;
        c.model.to(device);  // drops the training buffers (a copy of the weights on the same device)
        if (use_cache) ip::save_model(c.model, c.cache_path);
        ++done;
        const double e = elapsed.seconds();
        progress.line("trained " + std::string(c.info->cli_name) + " (" + std::to_string(done) + "/" +
                      std::to_string(to_train) + ") in " + ip::format_duration(s) + "; elapsed " +
                      ip::format_duration(e) + ", ETA " +
                      ip::format_duration(e / done * static_cast<double>(to_train - done)));
      }
    }
    if (ip::interrupted()) {
      std::fprintf(stderr, "rand_power: interrupted during training; no measurements to write\n");
      return ip::interrupted_exit_code();
    }

    // Failed functions are not measured (their reason is in results.failed).
    models.erase(std::remove_if(models.begin(), models.end(),
                                [&](const Candidate& c) { return results.failed.count(c.key) > 0; }),
                 models.end());

    // ---- --breakdown: what one instance costs beyond its kernels ----
    if (o.breakdown) {
      const ip::Tensor row = input.rows(0, 1);
      int misses = 0;
      for (Candidate& c : models) {
        set_inference_mode(c.model, o.dropout_mode == "train");
        const Overhead m = measure_overhead(c.model, row, device);
        const bool pass = m.overhead() <= kOverheadLimit;
        misses += pass ? 0 : 1;
        overhead[c.key] = {{"function", c.info->cli_name}, {"predict_seconds", m.predict},
                           {"kernels_seconds", m.kernels}, {"layers_with_kernels", m.layers_timed},
                           {"overhead_seconds", m.overhead()},
                           {"limit_seconds", kOverheadLimit}, {"pass", pass}};
        char line[256];
        std::snprintf(line, sizeof line,
                      "one instance, %-13s predict %8.2f us, its kernels alone %8.2f us, overhead %6.2f us "
                      "(limit %.0f us) %s",
                      c.info->cli_name, m.predict * 1e6, m.kernels * 1e6, m.overhead() * 1e6,
                      kOverheadLimit * 1e6, pass ? "PASS" : "MISS");
        progress.line(line);
        c.model.to(device);  // frees the 1-row buffers before the measurements
      }
      progress.line("one-instance overhead: " + std::to_string(models.size() - misses) + " of " +
                    std::to_string(models.size()) + " functions within " +
                    ip::format_number(kOverheadLimit * 1e6) + " us of their kernels (fastest of 300 rounds each)");
    }

    // ---- measuring ----
    started = true;
    for (const auto& [cell, j] : resumed.cells) measurements.push_back(resumed_measurement(j));
    const bool dropout_train = o.dropout_mode == "train";
    const bool async = device == ip::Device::Cuda && o.gpu_timing == "async";
    double units_total = 0, units_done = 0;  // calibrated seconds (or instances) of the plan
    auto units = [&](const Candidate& c, const Chunking& ch) {
      const double e = estimate(c, ch, o.warmup);
      return e > 0 ? e : static_cast<double>(ch.items);  // no calibration: instances
    };
    for (int n : scales)
      for (const Candidate& c : models) units_total += units(c, chunking(n, o.chunk_cap)) * o.runs;
    const size_t total_measurements = scales.size() * o.runs * models.size();
    ip::Timer elapsed;

    for (size_t si = 0; si < scales.size() && !ip::interrupted(); ++si) {
      const int n = scales[si];
      const Chunking ch = chunking(n, o.chunk_cap);
      results.scales.emplace_back();
      ip::ScaleResult& s = results.scales.back();
      s.scale = n;
      s.pred_items = ch.items;
      s.test_chunk_size = ch.chunk;
      s.train_times = train_times;
      s.started_at = ip::local_time_string(ip::unix_time_now());
      // A scale the interrupted run started keeps its start, its training times and its runs.
      const ip::ScaleResult* before = nullptr;
      for (const ip::ScaleResult& r : resumed.file.scales)
        if (r.scale == n) before = &r;
      if (before) {
        s.started_at = before->started_at;
        s.train_times.insert(before->train_times.begin(), before->train_times.end());
      }
      const ip::Tensor chunk = input.rows(0, ch.chunk);
      const ip::Tensor last = ch.last_rows ? input.rows(0, ch.last_rows) : ip::Tensor();

      for (int run = 0; run < o.runs && !ip::interrupted(); ++run) {
        const std::vector<size_t> order =
            ip::seeded_permutation(models.size(), ip::mix_seed(o.seed, 1000003ull * n + run));
        ip::RunTimes times;
        ip::RunEnergy energy;
        if (before && static_cast<size_t>(run) < before->pred_times.size()) {
          times = before->pred_times[run];
          if (run < static_cast<int>(before->pred_energy.size())) energy = before->pred_energy[run];
        }
        for (size_t oi = 0; oi < order.size() && !ip::interrupted(); ++oi) {
          Candidate& c = models[order[oi]];
          if (done(c.key, n, run)) continue;
          set_inference_mode(c.model, dropout_train);
          for (int w = 0; w < o.warmup; ++w) c.model.forward(chunk);
          ip::synchronize(device);  // nothing queued before the window opens

          meter->start();
          const Disturbances before = disturbances_now();
          ip::Timer timer(async ? nullptr : ip::synchroniser(device));
          for (uint64_t k = 0; k < ch.full_chunks && !ip::interrupted(); ++k) c.model.forward(chunk);
          if (ch.last_rows && !ip::interrupted()) c.model.forward(last);
          const double seconds = timer.seconds();
          const Disturbances after = disturbances_now();
          ip::synchronize(device);  // async: the energy window still covers the work
          const ip::EnergyReading reading = meter->stop();
          if (ip::interrupted()) break;  // an incomplete loop is not a measurement

          Measurement m;
          m.function = c.info;
          m.scale = n;
          m.run = run;
          m.seconds = seconds;
          m.energy = reading;
          record_disturbances(m, before, after);
          if (o.breakdown) {
            m.breakdown = measure_breakdown(c.model, input, ch, device);
            m.has_breakdown = !ip::interrupted();
          }
          c.model.to(device);  // frees this model's chunk-sized buffers before the next one
          times[c.key] = seconds;
          energy[c.key] = ip::to_result_energy(reading);
          measurements.push_back(m);

          units_done += units(c, ch);
          const double e = elapsed.seconds();
          char line[512];
          std::snprintf(line, sizeof line,
                        "scale %d run %d/%d [%zu/%zu] %-13s %10.4g s  %9.3g s/instance  %s | "
                        "page faults %ld, preempted %ld, others' CPU %.2f s, steal %.2f s | "
                        "elapsed %s, ETA %s",
                        n, run + 1, o.runs, measurements.size(), total_measurements,
                        c.info->cli_name, seconds, seconds / static_cast<double>(ch.items),
                        reading.usable() ? (ip::format_number(std::round(reading.joules * 1e4) / 1e4) +
                                            " J " + ip::quality_name(reading.quality)).c_str()
                                         : "energy n/a",
                        m.page_faults, m.preemptions, std::max(0.0, m.other_cpu_seconds),
                        std::max(0.0, m.steal_seconds), ip::format_duration(e).c_str(),
                        ip::format_duration(eta(e, units_done, units_total)).c_str());
          progress.line(line);
        }
        if (!times.empty()) {
          s.pred_times.push_back(std::move(times));
          s.pred_energy.push_back(std::move(energy));
        }
      }
      s.partial = ip::interrupted();
      if (s.pred_times.empty()) {
        results.scales.pop_back();  // interrupted before its first measurement
      } else {
        const auto t = resumed.scale_unix_time.find(n);
        s.unix_time = t != resumed.scale_unix_time.end() ? t->second : ip::unix_time_now();
        written.push_back(ip::write_scale_file(o.out, results, results.scales.size() - 1));
      }
      if (!results.scales.empty())
        write_consolidated(o, stem, results, measurements, ip::interrupted(), overhead);
    }
    // A signal between two scales ends the loop without a partial scale: say it was cut short.
    if (ip::interrupted() && !results.scales.empty())
      write_consolidated(o, stem, results, measurements, true, overhead);
    // Every function failed: the file still says which and why.
    if (results.scales.empty() && !results.failed.empty())
      write_consolidated(o, stem, results, measurements, ip::interrupted(), overhead);
  } catch (const std::exception& e) {
    std::string message = e.what();
    if (dynamic_cast<const std::bad_alloc*>(&e))
      message = "out of memory: " + message + " (prediction chunks of " +
                std::to_string(max_chunk) + " rows of " + std::to_string(kInFeatures) +
                " floats); lower --chunk-cap";
    std::fprintf(stderr, "rand_power: error: %s\n", message.c_str());
    // What was measured before the failure is still worth keeping, labelled partial.
    if (started && !results.scales.empty()) {
      try {
        results.scales.back().partial = true;
        for (const std::string& path : write_consolidated(o, stem, results, measurements, true, overhead))
          std::fprintf(stderr, "rand_power: partial results kept in %s\n", path.c_str());
      } catch (const std::exception& e2) {
        std::fprintf(stderr, "rand_power: error: could not write partial results: %s\n", e2.what());
      }
    }
    return 1;
  }

  std::vector<std::string> all = written;
  if (!results.scales.empty() || !results.failed.empty()) {
    const fs::path dir(o.out);
    all.push_back((dir / (stem + ".json")).string());
    all.push_back((dir / (stem + ".csv")).string());
    if (o.breakdown) all.push_back((dir / (stem + ".breakdown.csv")).string());
  }
  for (const std::string& path : all) std::printf("%s\n", path.c_str());
  std::fflush(stdout);
  if (ip::interrupted()) {
    std::fprintf(stderr,
                 "rand_power: interrupted by signal %d: %zu finished measurement(s) written "
                 "(partial=true) to %s\n",
                 ip::interrupt_signal(), measurements.size(), o.out.c_str());
    return ip::interrupted_exit_code();
  }
  progress.line("rand_power: " + std::to_string(measurements.size()) + " measurements; results in " +
                o.out + " (" + stem + ".json and .csv, one " + o.prefix + "_<time>.json per scale)");
  return 0;
}
