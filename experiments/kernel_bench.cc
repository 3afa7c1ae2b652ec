// kernel_bench: how fast each kernel runs against what the machine allows.
//
// Element-wise, row-wise and dropout kernels are memory-bound, so each is reported as effective
// bandwidth (bytes the kernel must read + write, counted once) beside a copy measured in the same
// run at the same size, thread count and SIMD target: "fraction of copy" is the number that says
// whether a kernel is as fast as the memory allows. The copy is the faster of two, both printed:
// memcpy (one call per thread) and our own copy (ip::cpu::vector_copy: the kernels' loads, stores,
// chunking and streaming-store rule without the arithmetic); on CUDA, cudaMemcpy device to device.
// GEMM is compute-bound: GFLOP/s beside the reference library's (OpenBLAS on CPU, cuBLAS on
// CUDA) in the same run and, on CPU, as a fraction of the FMA peak measured in the same run.
//
// Timing: a calibration call sizes the inner loop so one sample lasts at least --min-sample-ms,
// then --warmup samples are discarded and --repeats samples are kept; median, min and max of the
// per-call time are reported. Inputs are random normal x 4 (never zeros: some kernels branch on
// sign and magnitude); outputs are allocated and written before timing so no page fault is timed.
//
// Exit status: 0 success, 1 run-time failure, 2 usage error.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "engine/energy.h"
#include "engine/ops.h"
#include "experiments/common/hardware.h"
#include "experiments/common/results.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/dropout_mask.h"
#include "kernels/cpu/calibration.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/linalg.h"
#ifdef INFERENCEPOWER_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "kernels/cuda/kernels.h"
#endif
#ifdef IP_HAVE_CUDA_VARIANTS
#include <set>

#include "experiments/cuda_variants/variants.h"
#endif

using json = nlohmann::json;

namespace {

// ---- command line ----

struct GemmShape {
  std::size_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = true;
  std::string label() const {
    return std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + ":" +
           (trans_a ? "t" : "n") + (trans_b ? "t" : "n");
  }
};

// The shapes the experiments run (M x N x K, op(A) op(B)); Linear computes y = x·Wᵀ, dx = dy·W
// and dW = dyᵀ·x. rand: batch 64 training, one instance at 10^0 (both layers) and chunks of up to
// 100000 rows in prediction; mnist: batch 128 through Linear(784→1024) and Linear(1024→10).
const char* const kExperimentShapes =
    "64x1024x1024:nt,64x1024x1024:nn,1024x1024x64:tn,64x16x1024:nt,1x1024x1024:nt,1x16x1024:nt,"
    "128x1024x784:nt,1024x784x128:tn,128x1024x10:nn";
const char* const kLargeShape = "100000x1024x1024:nt";

struct Options {
  std::string functions = "all";
  std::string directions = "forward,backward";
  std::string devices = "auto";
  std::string sizes = "1MiB,16MiB,256MiB";
  std::string threads;  // default: OpenMP's maximum
  std::string targets = "auto";
  std::string gemm_shapes = "experiments";
  bool large_gemm = false;
  std::size_t cols = 1024;
  int repeats = 10;
  int warmup = 2;
  double min_sample_ms = 2.0;
  std::string variant = "production";  // CUDA kernel variants: production, all or a number
  uint64_t seed = 1;
  std::string out;
  bool quick = false;
  std::string summary;  // "" or "issue6": pass/fail table against the targets of issue 6
  double energy_check = 0;  // seconds per window of the NVML counter-vs-sampling check; 0 = off
};

// Issue 6's targets: effective bandwidth as a fraction of the copy measured in the same run.
double issue6_target(const std::string& kind, const std::string& direction) {
  if (kind == "rowwise") return 0.80;
  return direction == "forward" ? 0.90 : 0.85;
}

// --variant: the production kernels only (number 0), every variant (all) or variant `number` of
// each family. Parsed before anything runs; the range is checked against the registry.
struct VariantChoice {
  bool all = false;
  int number = 0;  // 0: production
};

VariantChoice parse_variant(const std::string& spec) {
  VariantChoice c;
  if (spec == "production" || spec == "0") return c;
  if (spec == "all") {
    c.all = true;
    return c;
  }
  char* end = nullptr;
  const long n = std::strtol(spec.c_str(), &end, 10);
  int max_number = 0;
#ifdef IP_HAVE_CUDA_VARIANTS
  for (ip::cuda::variants::Family f : ip::cuda::variants::kFamilies)
    max_number = std::max(max_number, static_cast<int>(ip::cuda::variants::variants(f).size()));
#endif
  if (spec.empty() || *end != '\0' || n < 1 || n > max_number)
    throw std::invalid_argument("--variant: bad variant '" + spec + "'; allowed: production (or 0), all" +
                                (max_number > 0 ? ", or a number 1.." + std::to_string(max_number)
                                                : std::string(" (built without the CUDA variants)")));
  c.number = static_cast<int>(n);
  return c;
}

// Elements per array of the compute-bound calibration: 4 arrays of 8 KiB stay in a 48 KiB L1d,
// so the kernel runs at the speed of its instructions, not of memory. Two rows of 1024 for the
// row-wise kernels.
constexpr std::size_t kCalibrationElements = 2048;

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string all_cli_names() {
  std::vector<std::string> names;
  for (const ip::FunctionInfo& f : ip::kFunctionInfo) names.push_back(f.cli_name);
  return join(names);
}

// "all", "paper" or names from the table; throws naming the unknown name and the valid ones.
std::vector<const ip::FunctionInfo*> parse_functions(const std::string& spec) {
  std::vector<const ip::FunctionInfo*> out;
  if (spec == "none") return out;
  for (const std::string& name : split(spec)) {
    bool matched = false;
    for (const ip::FunctionInfo& f : ip::kFunctionInfo) {
      if (name == "all" || (name == "paper" && f.in_paper) || name == f.cli_name) {
        if (std::find(out.begin(), out.end(), &f) == out.end()) out.push_back(&f);
        matched = true;
      }
    }
    if (!matched)
      throw std::invalid_argument("--functions: unknown function '" + name + "'; allowed: all, paper, none, " +
                                  all_cli_names());
  }
  return out;
}

// "256MiB" / "64KiB" / "1GiB" = bytes of one float32 array; a plain number ("1000000", "1e6") is
// a count of elements.
std::size_t parse_size(const std::string& s) {
  struct Unit {
    const char* suffix;
    double bytes;
  };
  const Unit units[] = {{"KiB", 1024.0}, {"MiB", 1024.0 * 1024}, {"GiB", 1024.0 * 1024 * 1024}};
  std::string number = s;
  double factor = 0;  // 0: elements
  for (const Unit& u : units) {
    std::size_t len = std::strlen(u.suffix);
    if (s.size() > len && s.compare(s.size() - len, len, u.suffix) == 0) {
      number = s.substr(0, s.size() - len);
      factor = u.bytes;
    }
  }
  char* end = nullptr;
  double v = std::strtod(number.c_str(), &end);
  if (number.empty() || *end != '\0' || !(v > 0) || v > 1e12)
    throw std::invalid_argument("--sizes: bad size '" + s + "'; use e.g. 1MiB, 256KiB, 1GiB or an element count");
  double elements = factor > 0 ? v * factor / sizeof(float) : v;
  if (elements < 1) throw std::invalid_argument("--sizes: size '" + s + "' is less than one float");
  return static_cast<std::size_t>(elements);
}

std::vector<GemmShape> parse_shapes(const Options& opt) {
  std::vector<GemmShape> out;
  std::string spec = opt.gemm_shapes == "experiments" ? kExperimentShapes : opt.gemm_shapes;
  if (opt.large_gemm) spec += std::string(",") + kLargeShape;
  for (const std::string& item : split(spec)) {
    if (item == "none") continue;
    GemmShape g;
    std::string dims = item, ops = "nt";
    if (std::size_t colon = item.find(':'); colon != std::string::npos) {
      dims = item.substr(0, colon);
      ops = item.substr(colon + 1);
    }
    unsigned long long m = 0, n = 0, k = 0;
    char tail = 0;
    bool ok = std::sscanf(dims.c_str(), "%llux%llux%llu%c", &m, &n, &k, &tail) == 3 && m && n && k &&
              ops.size() == 2 && (ops[0] == 'n' || ops[0] == 't') && (ops[1] == 'n' || ops[1] == 't');
    if (!ok)
      throw std::invalid_argument("--gemm-shapes: bad shape '" + item +
                                  "'; use MxNxK[:ab] with a, b = n or t (op of A and B), e.g. 64x1024x1024:nt, "
                                  "or 'experiments' or 'none'");
    g.M = m, g.N = n, g.K = k;
    g.trans_a = ops[0] == 't';
    g.trans_b = ops[1] == 't';
    out.push_back(g);
  }
  return out;
}

std::vector<int> parse_threads(const std::string& spec) {
  std::vector<int> out;
  for (const std::string& t : split(spec)) {
    char* end = nullptr;
    long v = std::strtol(t.c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > 4096)
      throw std::invalid_argument("--threads: bad thread count '" + t + "'; use positive integers, e.g. 1,2");
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) throw std::invalid_argument("--threads: empty list");
  return out;
}

std::vector<std::string> parse_targets(const std::string& spec) {
  std::vector<std::string> available = ip::cpu::available_targets();
  std::vector<std::string> out;
  for (const std::string& t : split(spec)) {
    if (t == "all") {
      out.insert(out.end(), available.begin(), available.end());
      continue;
    }
    std::string upper = t;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "AUTO") {
      out.push_back(available.front());
    } else if (std::find(available.begin(), available.end(), upper) != available.end()) {
      out.push_back(upper);
    } else {
      throw std::invalid_argument("--target: unknown or unsupported target '" + t + "'; allowed: auto, all, " +
                                  join(available));
    }
  }
  if (out.empty()) throw std::invalid_argument("--target: empty list");
  return out;
}

// ---- buffers and timing ----

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using HostArray = std::unique_ptr<float[], FreeDeleter>;

HostArray host_alloc(std::size_t n) {
  std::size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!p) throw std::runtime_error("cannot allocate " + std::to_string(bytes) + " bytes");
  return HostArray(p);
}

// Random normal x scale, in parallel (each block has its own seed, so the result does not depend on
// the thread count); writing every page here is also what pre-touches the arrays.
void fill_normal(float* a, std::size_t n, float scale, uint64_t seed) {
  const std::size_t block = 1 << 16;
  const long long blocks = static_cast<long long>((n + block - 1) / block);
#pragma omp parallel for schedule(static)
  for (long long b = 0; b < blocks; ++b) {
    std::mt19937_64 rng(seed * 1000003u + static_cast<uint64_t>(b));
    std::normal_distribution<float> normal(0.0f, scale);
    std::size_t end = std::min(n, static_cast<std::size_t>(b + 1) * block);
    for (std::size_t i = static_cast<std::size_t>(b) * block; i < end; ++i) a[i] = normal(rng);
  }
}

// One of the two CPU copy references (the other is ip::cpu::vector_copy, written like our kernels):
// each thread copies its contiguous share with one memcpy, the C library's best plain copy.
void memcpy_copy(const float* x, float* y, std::size_t n) {
#pragma omp parallel
  {
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t nt = static_cast<std::size_t>(omp_get_num_threads());
    std::size_t begin = n * t / nt, end = n * (t + 1) / nt;
    std::memcpy(y + begin, x + begin, (end - begin) * sizeof(float));
  }
}

struct Timing {
  double median = 0, min = 0, max = 0;  // seconds per call
  int calls_per_sample = 1;
  int samples = 0;
};

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Calls per timed sample: enough that one sample lasts opt.min_sample_ms (one untimed call
// measures the call's length).
int calls_per_sample(const std::function<void()>& call, const std::function<void()>& sync, const Options& opt) {
  const double t0 = now_s();
  call();
  sync();
  const double first = std::max(now_s() - t0, 1e-9);
  return static_cast<int>(std::clamp(std::ceil(opt.min_sample_ms * 1e-3 / first), 1.0, 1e6));
}

// Seconds per call of one sample of `calls` calls.
double sample_per_call(const std::function<void()>& call, const std::function<void()>& sync, int calls) {
  const double start = now_s();
  for (int c = 0; c < calls; ++c) call();
  sync();
  return (now_s() - start) / calls;
}

Timing summarise_samples(std::vector<double> per_call, int calls) {
  std::sort(per_call.begin(), per_call.end());
  Timing t;
  t.calls_per_sample = calls;
  const std::size_t h = per_call.size() / 2;
  t.median = per_call.size() % 2 ? per_call[h] : (per_call[h - 1] + per_call[h]) / 2;
  t.min = per_call.front();
  t.max = per_call.back();
  t.samples = static_cast<int>(per_call.size());
  return t;
}

// `sync` makes asynchronous devices finish before the clock is read.
Timing time_calls(const std::function<void()>& call, const std::function<void()>& sync, const Options& opt) {
  const int calls = calls_per_sample(call, sync, opt);
  std::vector<double> per_call;
  for (int s = 0; s < opt.warmup + opt.repeats; ++s) {
    const double t = sample_per_call(call, sync, calls);
    if (s >= opt.warmup) per_call.push_back(t);
  }
  return summarise_samples(std::move(per_call), calls);
}

// `call` and `reference` timed alternately, sample by sample, so that both see the same machine.
// On the 2-core VM the memory bandwidth available moved from 46 to 70 GB/s between two runs a
// few minutes apart: a copy timed once at the start says little about the machine a minute later,
// when the last kernels run, and their fractions of copy swung by 10-15% between runs.
struct PairedTiming {
  Timing call, reference;
};
PairedTiming time_calls_paired(const std::function<void()>& call, const std::function<void()>& reference,
                               const std::function<void()>& sync, const Options& opt) {
  const int calls = calls_per_sample(call, sync, opt), ref_calls = calls_per_sample(reference, sync, opt);
  std::vector<double> per_call, per_ref;
  for (int s = 0; s < opt.warmup + opt.repeats; ++s) {
    const double r = sample_per_call(reference, sync, ref_calls);
    const double c = sample_per_call(call, sync, calls);
    if (s >= opt.warmup) per_ref.push_back(r), per_call.push_back(c);
  }
  return {summarise_samples(std::move(per_call), calls), summarise_samples(std::move(per_ref), ref_calls)};
}

// ---- results ----

struct KernelRow {
  std::string device, target, function, key, kind, direction;
  int threads = 0;
  std::size_t elements = 0, rows = 0, cols = 0;
  double bytes = 0;  // read + written per call
  Timing timing;
  double gbps = 0, copy_gbps = 0, fraction_of_copy = 0, elements_per_s = 0;
  // The copy timed alternately with this kernel (kernel rows; copy rows have samples == 0).
  Timing copy_timing;
  // Elements per second of one thread on L1-resident arrays (the fastest of the samples: other
  // processes only ever slow a sample down); NaN when not calibrated (--summary not given).
  double compute_elements_per_s = std::nan("");
  // CUDA kernel variant (experiments/cuda_variants): number 1..N within the kind and its name;
  // 0 and "production" for CPU rows and kernels without numbered variants (RReLU train, copy).
  int variant = 0;
  std::string variant_name = "production";
  bool production = true;
};

struct GemmRow {
  std::string device, target, backend, shape;
  int threads = 0;
  GemmShape g;
  Timing timing;
  double gflops = 0;
  double fraction_of_reference = std::nan("");  // own / reference backend, on the own row
  double fraction_of_peak = std::nan("");       // GFLOP/s / measured FMA peak (CPU rows)
};

void print_kernel_header() {
  std::printf("%-6s %-7s %3s %-14s %-8s %10s %9s %9s %9s %8s %6s %8s  %s\n", "device", "target", "thr", "function",
              "dir", "elements", "med_ms", "min_ms", "max_ms", "GB/s", "copy%", "Gelem/s", "variant (* = production)");
}

void print_kernel_row(const KernelRow& r) {
  // Numbered variants show as "2  grid-stride" and the production one as "3* grid-stride-f4".
  const std::string variant = r.variant > 0 ? std::to_string(r.variant) + (r.production ? "* " : "  ") + r.variant_name
                                            : (r.device == "cpu" || r.kind == "copy" ? "-" : "production");
  std::printf("%-6s %-7s %3d %-14s %-8s %10zu %9.4f %9.4f %9.4f %8.2f %6.1f %8.3f  %s\n", r.device.c_str(),
              r.target.c_str(), r.threads, r.function.c_str(), r.direction.c_str(), r.elements, r.timing.median * 1e3,
              r.timing.min * 1e3, r.timing.max * 1e3, r.gbps, 100 * r.fraction_of_copy, r.elements_per_s * 1e-9,
              variant.c_str());
  std::fflush(stdout);
}

void print_gemm_header() {
  std::printf("%-6s %-7s %3s %-22s %-8s %9s %9s %9s %9s %8s %6s\n", "device", "target", "thr", "gemm MxNxK:op",
              "backend", "med_ms", "min_ms", "max_ms", "GFLOP/s", "own/ref", "%peak");
}

void print_gemm_row(const GemmRow& r) {
  char frac[16] = "", peak[16] = "-";
  if (std::isfinite(r.fraction_of_reference)) std::snprintf(frac, sizeof frac, "%.3f", r.fraction_of_reference);
  if (std::isfinite(r.fraction_of_peak)) std::snprintf(peak, sizeof peak, "%.1f", 100 * r.fraction_of_peak);
  std::printf("%-6s %-7s %3d %-22s %-8s %9.3f %9.3f %9.3f %9.1f %8s %6s\n", r.device.c_str(), r.target.c_str(),
              r.threads, r.shape.c_str(), r.backend.c_str(), r.timing.median * 1e3, r.timing.min * 1e3,
              r.timing.max * 1e3, r.gflops, frac, peak);
  std::fflush(stdout);
}

json timing_json(const Timing& t) {
  return {{"median_s", t.median}, {"min_s", t.min}, {"max_s", t.max}, {"samples", t.samples},
          {"calls_per_sample", t.calls_per_sample}};
}

// ---- the benchmark cases ----

// One kernel call over preallocated buffers; `bytes` is what it must read + write.
struct Case {
  const ip::FunctionInfo* info = nullptr;
  std::string function, kind, direction;
  double bytes = 0;
  std::function<void()> call;
};

struct Buffers {
  const float* x;
  const float* dy;
  float* y;
  float* dx;
  std::uint32_t* mask;  // dropout's keep mask: mask_words(n) words, enough for any dropout
  std::size_t n, rows, cols;
};

// Words of a dropout mask buffer for n elements (one bit per element is the most any dropout
// stores, kernels/common/dropout_mask.h).
std::size_t mask_words(std::size_t n) { return (n + 31) / 32; }

// The cases for one function on one device, through the engine's device switch (engine/ops.h).
// Backward of row-wise kernels reads the forward output, so `prepare` (run once, untimed)
// computes it first.
std::vector<Case> make_cases(ip::Device dev, const ip::FunctionInfo& f, const Buffers& b,
                             const std::vector<std::string>& dirs, uint64_t seed,
                             std::vector<std::function<void()>>& prepare) {
  namespace ops = ip::ops;
  std::vector<Case> out;
  const double fb = sizeof(float) * static_cast<double>(b.n);
  const ip::FunctionId id = f.id;
  const ip::Params<float> p = ip::default_params<float>(id);
  const float drop_p = static_cast<float>(f.param_defaults[0]);
  auto want = [&](const char* d) { return std::find(dirs.begin(), dirs.end(), d) != dirs.end(); };
  const std::string name = f.cli_name;
  // Backward reads x and dy and writes dx, except Identity's: its derivative is 1 whatever x, so
  // the compiled loop never loads x and moves two arrays, not three (counting three showed it at
  // 270% of copy).
  const double backward_bytes = (id == ip::FunctionId::Identity ? 2 : 3) * fb;
  switch (f.kind) {
    case ip::KernelKind::Elementwise:
      if (want("forward"))
        out.push_back({&f, name, "elementwise", "forward", 2 * fb,
                       [=] { ops::activation_forward(dev, id, b.x, b.y, b.n, p); }});
      if (want("backward"))
        out.push_back({&f, name, "elementwise", "backward", backward_bytes,
                       [=] { ops::activation_backward(dev, id, b.x, b.dy, b.dx, b.n, p); }});
      // RReLU in train mode is its own kernel (random slopes from Philox), timed beside eval's.
      // Forward reads x and writes the output and the noise (the factor applied, which backward
      // multiplies dy by): 3 arrays. The noise goes to y, the output to dx, so that backward's
      // noise (from an untimed forward) is the same array every forward call rewrites.
      if (id == ip::FunctionId::RReLU) {
        auto train_forward = [=] { ops::rrelu_train_forward(dev, b.x, b.dx, b.y, b.n, p, seed); };
        if (want("forward"))
          out.push_back({&f, name + ":train", "elementwise", "forward", 3 * fb, train_forward});
        if (want("backward")) {
          prepare.push_back(train_forward);
          out.push_back({&f, name + ":train", "elementwise", "backward", 3 * fb,
                         [=] { ops::rrelu_train_backward(dev, b.y, b.dy, b.dx, b.n); }});
        }
      }
      break;
    case ip::KernelKind::Rowwise:
      if (want("forward"))
        out.push_back({&f, name, "rowwise", "forward", 2 * fb,
                       [=] { ops::rowwise_forward(dev, id, b.x, b.y, b.rows, b.cols); }});
      if (want("backward")) {
        prepare.push_back([=] { ops::rowwise_forward(dev, id, b.x, b.y, b.rows, b.cols); });
        out.push_back({&f, name, "rowwise", "backward", 3 * fb,
                       [=] { ops::rowwise_backward(dev, id, b.y, b.dy, b.dx, b.rows, b.cols); }});
      }
      break;
    case ip::KernelKind::Dropout: {
      // Forward reads x, writes y and the keep mask; backward reads dy and the mask and writes
      // dx. The mask is a bit per element, or per row for Dropout3d (dropout_mask.h).
      const double mask_bytes = 4.0 * static_cast<double>(ip::dropout_mask_words(id, b.rows, b.cols));
      if (want("forward"))
        out.push_back({&f, name, "dropout", "forward", 2 * fb + mask_bytes,
                       [=] { ops::dropout_forward(dev, id, b.x, b.y, b.mask, b.rows, b.cols, drop_p, seed); }});
      if (want("backward")) {
        // Backward reads the mask of a forward: one untimed forward stores it.
        prepare.push_back([=] { ops::dropout_forward(dev, id, b.x, b.y, b.mask, b.rows, b.cols, drop_p, seed); });
        out.push_back({&f, name, "dropout", "backward", 2 * fb + mask_bytes,
                       [=] { ops::dropout_backward(dev, id, b.dy, b.dx, b.mask, b.rows, b.cols, drop_p); }});
      }
      break;
    }
  }
  return out;
}

#ifdef INFERENCEPOWER_HAVE_CUDA
struct DeviceArray {
  float* p = nullptr;
  explicit DeviceArray(std::size_t n) : p(static_cast<float*>(ip::cuda::device_alloc(n * sizeof(float)))) {}
  ~DeviceArray() { ip::cuda::device_free(p); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
};

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
#endif

// The 1-minute load average (NaN when unknown): on a shared machine other processes take cores
// from the threads under test, and a multi-threaded kernel then waits for its slowest thread.
double load_average() {
  double load = std::nan("");
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = std::nan("");
    std::fclose(f);
  }
  return load;
}

// ---- the run ----

class Bench {
 public:
  explicit Bench(const Options& opt) : opt_(opt) {}

  void run_kernels_cpu(const std::vector<const ip::FunctionInfo*>& functions, const std::vector<std::size_t>& sizes,
                       const std::vector<std::string>& targets, const std::vector<int>& threads,
                       const std::vector<std::string>& dirs) {
    for (std::size_t requested : sizes) {
      Buffers b = shape(requested);
      HostArray x = host_alloc(b.n), dy = host_alloc(b.n), y = host_alloc(b.n), dx = host_alloc(b.n);
      HostArray copy_out = host_alloc(b.n);
      HostArray mask = host_alloc(mask_words(b.n));  // 4-byte units, used as uint32_t only
      b.mask = reinterpret_cast<std::uint32_t*>(mask.get());
      fill_normal(x.get(), b.n, 4.0f, opt_.seed);
      fill_normal(dy.get(), b.n, 4.0f, opt_.seed + 1);
      fill_normal(y.get(), b.n, 1.0f, opt_.seed + 2);
      fill_normal(dx.get(), b.n, 1.0f, opt_.seed + 3);
      b.x = x.get(), b.dy = dy.get(), b.y = y.get(), b.dx = dx.get();
      // Small arrays for the compute-bound calibration (--summary): the same kernels, in L1.
      Buffers small = shape(std::min(requested, kCalibrationElements));
      HostArray sx = host_alloc(small.n), sdy = host_alloc(small.n), sy = host_alloc(small.n),
                sdx = host_alloc(small.n), smask = host_alloc(mask_words(small.n));
      small.mask = reinterpret_cast<std::uint32_t*>(smask.get());
      std::copy(b.x, b.x + small.n, sx.get());
      std::copy(b.dy, b.dy + small.n, sdy.get());
      std::copy(b.y, b.y + small.n, sy.get());
      std::copy(b.dx, b.dx + small.n, sdx.get());
      small.x = sx.get(), small.dy = sdy.get(), small.y = sy.get(), small.dx = sdx.get();
      for (const std::string& target : targets) {
        ip::cpu::force_target(target);
        for (int t : threads) {
          omp_set_num_threads(t);
          // The copies write an array of their own: they run between the samples of every kernel,
          // whose inputs (a forward output, a mask, RReLU's noise) must stay as prepared.
          const std::function<void()> copy = measure_copies(
              base_row("cpu", target, t, b),
              {{"copy:memcpy", [&] { memcpy_copy(b.x, copy_out.get(), b.n); }},
               {"copy:vector", [&] { ip::cpu::vector_copy(b.x, copy_out.get(), b.n); }}},
              [] {});
          for (const ip::FunctionInfo* f : functions) {
            std::vector<std::function<void()>> prepare, small_prepare;
            std::vector<Case> cases = make_cases(ip::Device::Cpu, *f, b, dirs, opt_.seed, prepare);
            std::vector<Case> small_cases;
            if (!opt_.summary.empty())
              small_cases = make_cases(ip::Device::Cpu, *f, small, dirs, opt_.seed, small_prepare);
            for (std::size_t k = 0; k < cases.size(); ++k) {
              Case& c = cases[k];
              for (auto& p : prepare) p();
              KernelRow r = base_row("cpu", target, t, b);
              r.function = c.function, r.key = ip::function_key(*c.info), r.kind = c.kind, r.direction = c.direction;
              if (k < small_cases.size()) r.compute_elements_per_s = calibrate(small, small_prepare, small_cases[k]);
              measure(r, c.bytes, c.call, [] {}, copy);
            }
          }
        }
      }
    }
    ip::cpu::force_target("auto");
  }

  void run_gemm_cpu(const std::vector<GemmShape>& shapes, const std::vector<std::string>& targets,
                    const std::vector<int>& threads) {
    if (shapes.empty()) return;
    for (const GemmShape& g : shapes) {
      // A is M x K (or K x M when transposed), B is K x N (or N x K); row-major, tight.
      HostArray a = host_alloc(g.M * g.K), bm = host_alloc(g.K * g.N), c = host_alloc(g.M * g.N);
      fill_normal(a.get(), g.M * g.K, 1.0f, opt_.seed + 10);
      fill_normal(bm.get(), g.K * g.N, 1.0f, opt_.seed + 11);
      fill_normal(c.get(), g.M * g.N, 1.0f, opt_.seed + 12);
      const std::size_t lda = g.trans_a ? g.M : g.K, ldb = g.trans_b ? g.K : g.N;
      auto call = [&] {
        ip::ops::gemm(ip::Device::Cpu, g.trans_a, g.trans_b, g.M, g.N, g.K, 1.0f, a.get(), lda, bm.get(), ldb, 0.0f,
                      c.get(), g.N);
      };
      for (const std::string& target : targets) {
        ip::cpu::force_target(target);
        for (int t : threads) {
          omp_set_num_threads(t);
          ip::cpu::blas_set_threads(t);  // OpenBLAS keeps its own pool: same cores as ours
          ip::cpu::set_gemm_backend(ip::cpu::GemmBackend::Own);
          std::vector<GemmRow> rows{gemm_row("cpu", target, t, g, "own", call, [] {})};
          if (ip::cpu::blas_available()) {
            ip::cpu::set_gemm_backend(ip::cpu::GemmBackend::Blas);
            rows.push_back(gemm_row("cpu", target, t, g, "openblas", call, [] {}));
            ip::cpu::set_gemm_backend(ip::cpu::GemmBackend::Own);
            rows[0].fraction_of_reference = rows[0].gflops / rows[1].gflops;
          }
          for (GemmRow& r : rows) {
            r.fraction_of_peak = r.gflops * 1e9 / fma_peak(target, t);
            print_gemm_row(r);
            gemm_.push_back(r);
          }
        }
      }
    }
    ip::cpu::force_target("auto");
  }

#ifdef INFERENCEPOWER_HAVE_CUDA
  void run_kernels_cuda(const std::vector<const ip::FunctionInfo*>& functions, const std::vector<std::size_t>& sizes,
                        const std::vector<std::string>& dirs, const VariantChoice& choice) {
    auto sync = [] { ip::cuda::synchronize(); };
    for (std::size_t requested : sizes) {
      Buffers b = shape(requested);
      HostArray hx = host_alloc(b.n), hdy = host_alloc(b.n);
      fill_normal(hx.get(), b.n, 4.0f, opt_.seed);
      fill_normal(hdy.get(), b.n, 4.0f, opt_.seed + 1);
      DeviceArray x(b.n), dy(b.n), y(b.n), dx(b.n), copy_out(b.n), mask(mask_words(b.n));
      ip::cuda::copy_to_device(x.p, hx.get(), b.n * sizeof(float));
      ip::cuda::copy_to_device(dy.p, hdy.get(), b.n * sizeof(float));
      ip::cuda::copy_to_device(y.p, hx.get(), b.n * sizeof(float));  // outputs written once before timing
      ip::cuda::copy_to_device(dx.p, hdy.get(), b.n * sizeof(float));
      b.x = x.p, b.dy = dy.p, b.y = y.p, b.dx = dx.p;
      b.mask = reinterpret_cast<std::uint32_t*>(mask.p);
      // Into an array of its own, as on the CPU: it runs between every kernel's samples.
      const std::function<void()> copy = measure_copies(
          base_row("cuda", "-", 0, b),
          {{"copy:cudaMemcpy",
            [&] {
              cuda_check(cudaMemcpyAsync(copy_out.p, b.x, b.n * sizeof(float), cudaMemcpyDeviceToDevice, nullptr),
                         "cudaMemcpyAsync");
            }}},
          sync);
      for (const ip::FunctionInfo* f : functions) {
        std::vector<std::function<void()>> prepare;
        for (Case& c : make_cases(ip::Device::Cuda, *f, b, dirs, opt_.seed, prepare)) {
          KernelRow r = base_row("cuda", "-", 0, b);
          r.function = c.function, r.key = ip::function_key(*c.info), r.kind = c.kind, r.direction = c.direction;
#ifdef IP_HAVE_CUDA_VARIANTS
          // RReLU's train mode ("rrelu:train") has no numbered variants: its production kernel only.
          if (c.function.find(":train") == std::string::npos) {
            run_variants(r, c, b, prepare, choice, sync, copy);
            continue;
          }
#else
          (void)choice;
#endif
          for (auto& p : prepare) p();
          measure(r, c.bytes, c.call, sync, copy);
        }
      }
    }
  }

#ifdef IP_HAVE_CUDA_VARIANTS
  // The chosen variants of one case side by side: each is validated against the scalar reference
  // on small inputs first (once per function, direction, width and variant) and timed only if it
  // agrees; a disagreement is reported on stdout and stderr, recorded, and fails the run.
  void run_variants(const KernelRow& base, const Case& c, const Buffers& b,
                    const std::vector<std::function<void()>>& prepare, const VariantChoice& choice,
                    const std::function<void()>& sync, const std::function<void()>& copy) {
    namespace cv = ip::cuda::variants;
    const cv::Family family = cv::family_of(c.info->kind);
    std::vector<const cv::Variant*> chosen;
    for (const cv::Variant& v : cv::variants(family))
      if (choice.all ? true : choice.number == 0 ? v.production : v.number == choice.number) chosen.push_back(&v);
    if (chosen.empty() && warned_families_.insert(cv::family_name(family)).second)
      std::fprintf(stderr, "kernel_bench: %s kernels have variants 1..%zu only; --variant %d skips their rows\n",
                   cv::family_name(family), cv::variants(family).size(), choice.number);
    const bool backward = c.direction == "backward";
    cv::Args a;
    a.id = c.info->id, a.backward = backward, a.n = b.n, a.rows = b.rows, a.cols = b.cols;
    a.p = ip::default_params<float>(c.info->id);
    a.drop_p = static_cast<float>(c.info->param_defaults[0]);
    a.seed = opt_.seed;
    switch (family) {  // the same buffers as make_cases gives the production call
      case cv::Family::Elementwise: a.in = b.x, a.in2 = backward ? b.dy : nullptr, a.out = backward ? b.dx : b.y; break;
      case cv::Family::Rowwise: a.in = backward ? b.y : b.x, a.in2 = backward ? b.dy : nullptr, a.out = backward ? b.dx : b.y; break;
      case cv::Family::Dropout:
        a.in = backward ? b.dy : b.x, a.out = backward ? b.dx : b.y, a.mask = b.mask;
        break;
    }
    for (const cv::Variant* v : chosen) {
      const std::string key = c.function + "/" + c.direction + "/" + std::to_string(b.cols) + "/" + std::to_string(v->number);
      auto cached = validations_.find(key);
      if (cached == validations_.end())
        cached = validations_.emplace(key, cv::validate(family, *v, c.info->id, backward, b.cols, a.drop_p, opt_.seed)).first;
      if (!cached->second.ok) {
        const std::string what = c.function + " " + c.direction + " variant " + std::to_string(v->number) + " (" +
                                 v->name + "): FAILED validation against the scalar reference, not timed: " +
                                 cached->second.detail;
        std::printf("cuda   %s\n", what.c_str());
        std::fflush(stdout);
        std::fprintf(stderr, "kernel_bench: %s\n", what.c_str());
        failures_.push_back({{"function", c.function}, {"kind", c.kind}, {"direction", c.direction},
                             {"cols", b.cols}, {"variant", v->number}, {"variant_name", v->name},
                             {"detail", cached->second.detail}});
        continue;
      }
      for (auto& p : prepare) p();  // row-wise backward reads the forward output: recompute it
      KernelRow r = base;
      r.variant = v->number, r.variant_name = v->name, r.production = v->production;
      const cv::Launch launch = v->launch;
      // Dropout variants other than production draw again and never touch the mask: they move
      // the two float arrays only.
      const double bytes = family == cv::Family::Dropout && !v->production ? 2.0 * sizeof(float) * b.n : c.bytes;
      measure(r, bytes, [launch, a] { launch(a, nullptr); }, sync, copy);
    }
  }
#endif

  void run_gemm_cuda(const std::vector<GemmShape>& shapes) {
    auto sync = [] { ip::cuda::synchronize(); };
    for (const GemmShape& g : shapes) {
      HostArray ha = host_alloc(g.M * g.K), hb = host_alloc(g.K * g.N);
      fill_normal(ha.get(), g.M * g.K, 1.0f, opt_.seed + 10);
      fill_normal(hb.get(), g.K * g.N, 1.0f, opt_.seed + 11);
      DeviceArray a(g.M * g.K), bm(g.K * g.N), c(g.M * g.N);
      ip::cuda::copy_to_device(a.p, ha.get(), g.M * g.K * sizeof(float));
      ip::cuda::copy_to_device(bm.p, hb.get(), g.K * g.N * sizeof(float));
      const std::size_t lda = g.trans_a ? g.M : g.K, ldb = g.trans_b ? g.K : g.N;
      auto call = [&] {
        ip::ops::gemm(ip::Device::Cuda, g.trans_a, g.trans_b, g.M, g.N, g.K, 1.0f, a.p, lda, bm.p, ldb, 0.0f, c.p,
                      g.N);
      };
      ip::cuda::set_gemm_backend(ip::cuda::GemmBackend::Own);
      GemmRow own = gemm_row("cuda", "-", 0, g, "own", call, sync);
      ip::cuda::set_gemm_backend(ip::cuda::GemmBackend::Cublas);
      GemmRow ref = gemm_row("cuda", "-", 0, g, "cublas", call, sync);
      ip::cuda::set_gemm_backend(ip::cuda::GemmBackend::Own);
      own.fraction_of_reference = own.gflops / ref.gflops;
      print_gemm_row(own);
      print_gemm_row(ref);
      gemm_.push_back(own);
      gemm_.push_back(ref);
    }
  }
#endif

  // The FMA peak of `threads` threads on `target`, measured once (fma_chains, the fastest of at
  // least 15 samples: other processes only ever slow a sample down), in FLOP/s.
  double fma_peak(const std::string& target, int threads) {
    double& peak = fma_peaks_[target + "/" + std::to_string(threads)];
    if (peak > 0) return peak;
    ip::cpu::force_target(target);
    omp_set_num_threads(threads);
    // ~3 ms per call (12 FMAs per iteration at ~1 per cycle): long enough that waking the other
    // threads does not count. With 0.1 ms calls and OMP_WAIT_POLICY=passive (make bench), the
    // wake-up of the second thread on a Zen 4 VM took as long as the work: 2 threads measured one
    // core's peak (113 GFLOP/s against 234 with spinning threads).
    constexpr uint64_t kIterations = 1 << 20;
    const double flops = ip::cpu::fma_chains(kIterations);
    Options o = opt_;
    o.repeats = std::max(opt_.repeats, 15);
    peak = flops / time_calls([] { ip::cpu::fma_chains(kIterations); }, [] {}, o).min;
    std::printf("cpu    %-7s %3d FMA peak (measured: 12 independent FMA chains per thread, all threads, fastest "
                "sample): %.1f GFLOP/s\n", target.c_str(), threads, peak * 1e-9);
    return peak;
  }

  const std::vector<KernelRow>& kernels() const { return kernels_; }
  const std::vector<GemmRow>& gemm() const { return gemm_; }
  // Variants that disagreed with the reference (--variant); empty when all agreed.
  const json& validation_failures() const { return failures_; }

 private:
  // Row-wise and dropout kernels see the array as rows x cols (cols = the models' width), so the
  // element count is rounded down to whole rows; every kernel of one size gets the same count.
  Buffers shape(std::size_t requested) const {
    Buffers b{};
    b.cols = std::min(opt_.cols, requested);
    b.rows = requested / b.cols;
    b.n = b.rows * b.cols;
    return b;
  }

  KernelRow base_row(const std::string& device, const std::string& target, int threads, const Buffers& b) const {
    KernelRow r;
    r.device = device, r.target = target, r.threads = threads;
    r.elements = b.n, r.rows = b.rows, r.cols = b.cols;
    return r;
  }

  // Times one kernel row alternately with the copy reference `copy` (see time_calls_paired):
  // r.copy_gbps is that paired copy's bandwidth. Prints and records the row.
  void measure(KernelRow& r, double bytes, const std::function<void()>& call, const std::function<void()>& sync,
               const std::function<void()>& copy) {
    const PairedTiming t = time_calls_paired(call, copy, sync, opt_);
    set_timing(r, bytes, t.call);
    r.copy_timing = t.reference;
    r.copy_gbps = copy_bytes(r) / t.reference.median * 1e-9;
    record(r);
  }

  static double copy_bytes(const KernelRow& r) { return 2.0 * sizeof(float) * static_cast<double>(r.elements); }

  static void set_timing(KernelRow& r, double bytes, const Timing& timing) {
    r.bytes = bytes;
    r.timing = timing;
    r.gbps = bytes / r.timing.median * 1e-9;
    r.elements_per_s = static_cast<double>(r.elements) / r.timing.median;
  }

  void record(KernelRow& r) {
    r.fraction_of_copy = r.gbps / r.copy_gbps;
    print_kernel_row(r);
    kernels_.push_back(r);
  }

  // The copy references ("function" names them), one row each; returns the faster one, which
  // every kernel row of this size, thread count and target is then timed alternately with.
  using NamedCall = std::pair<std::string, std::function<void()>>;
  std::function<void()> measure_copies(const KernelRow& base, const std::vector<NamedCall>& copies,
                                       const std::function<void()>& sync) {
    std::vector<KernelRow> rows;
    double best = 0;
    std::function<void()> fastest;
    for (const auto& [name, call] : copies) {
      KernelRow r = base;
      r.function = name, r.kind = "copy", r.direction = "-";
      set_timing(r, copy_bytes(r), time_calls(call, sync, opt_));
      if (r.gbps > best) best = r.gbps, fastest = call;
      rows.push_back(r);
    }
    for (KernelRow& r : rows) {
      r.copy_gbps = best;
      record(r);
    }
    return fastest;
  }

  GemmRow gemm_row(const std::string& device, const std::string& target, int threads, const GemmShape& g,
                   const std::string& backend, const std::function<void()>& call, const std::function<void()>& sync) {
    GemmRow r;
    r.device = device, r.target = target, r.threads = threads, r.backend = backend, r.g = g, r.shape = g.label();
    r.timing = time_calls(call, sync, opt_);
    r.gflops = 2.0 * static_cast<double>(g.M) * g.N * g.K / r.timing.median * 1e-9;
    return r;
  }

  // One thread on the L1-resident arrays: elements per second at the speed of the instructions.
  double calibrate(const Buffers& small, const std::vector<std::function<void()>>& prepare, const Case& c) const {
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    for (auto& p : prepare) p();
    Options o = opt_;
    o.repeats = std::max(opt_.repeats, 15);
    o.min_sample_ms = 1.0;
    const Timing t = time_calls(c.call, [] {}, o);
    omp_set_num_threads(threads);
    return static_cast<double>(small.n) / t.min;
  }

  const Options& opt_;
  std::map<std::string, double> fma_peaks_;  // "target/threads" → FLOP/s
  std::vector<KernelRow> kernels_;
  std::vector<GemmRow> gemm_;
  json failures_ = json::array();
#ifdef IP_HAVE_CUDA_VARIANTS
  std::map<std::string, ip::cuda::variants::Validation> validations_;
  std::set<std::string> warned_families_;
#endif
};

// The pass/fail table of issue 6 over the CPU rows (every size and thread count measured). A miss
// is explained by the calibration: at the target, a kernel must process
//   need = target * copy GB/s / (bytes per element) / threads   elements per second per thread,
// and one thread on L1-resident data manages `core` elements per second. core < need means the
// instructions per element exceed the bandwidth budget ("compute-bound"); otherwise the kernel
// could keep up and the miss is in how it streams (or other load on the machine).
// Returns the number of misses.
int print_issue6_summary(const std::vector<KernelRow>& rows, double load_before, double load_after) {
  std::printf("\nissue 6 targets: effective GB/s >= 90%% (forward) / 85%% (backward) of copy for element-wise "
              "and dropout kernels, >= 80%% for row-wise; copy = the faster of copy:memcpy and copy:vector at the "
              "same size and thread count, timed alternately with each kernel\n");
  std::printf("core = Gelem/s of one thread on L1-resident arrays (compute bound); need = Gelem/s per thread "
              "to reach the target at this run's copy bandwidth. load average %.1f before, %.1f after\n\n",
              load_before, load_after);
  std::printf("%-7s %3s %10s %-14s %-8s %6s %6s %-4s %8s %8s %6s  %s\n", "target", "thr", "elements", "function", "dir",
              "copy%", "goal%", "ok", "core", "need", "ratio", "limit");
  int misses = 0, total = 0;
  for (const KernelRow& r : rows) {
    if (r.device != "cpu" || r.kind == "copy") continue;
    const double goal = issue6_target(r.kind, r.direction);
    const bool pass = r.fraction_of_copy >= goal;
    const double bytes_per_element = r.bytes / static_cast<double>(r.elements);
    const double need = goal * r.copy_gbps * 1e9 / bytes_per_element / r.threads;
    const double core = r.compute_elements_per_s;
    const double ratio = core / need;
    std::string limit = "-";
    if (!pass) limit = std::isfinite(ratio) && ratio < 1.0 ? "compute-bound (core < need)"
                                                          : "not compute-bound alone (streaming, or CPU share under load)";
    else if (std::isfinite(ratio) && ratio < 1.3) limit = "near compute bound";
    std::printf("%-7s %3d %10zu %-14s %-8s %6.1f %6.0f %-4s %8.3f %8.3f %6.2f  %s\n", r.target.c_str(), r.threads,
                r.elements, r.function.c_str(), r.direction.c_str(), 100 * r.fraction_of_copy, 100 * goal,
                pass ? "PASS" : "MISS", core * 1e-9, need * 1e-9, ratio, limit.c_str());
    misses += pass ? 0 : 1;
    ++total;
  }
  std::printf("\nissue 6: %d of %d kernel rows meet their target, %d miss\n", total - misses, total, misses);
  std::fflush(stdout);
  return misses;
}

std::string csv_text(const std::string& s) {
  return s.find_first_of(",\"\n") == std::string::npos ? s : "\"" + s + "\"";
}

void write_outputs(const Options& opt, const Bench& bench, const json& header) {
  const double when = ip::unix_time_now();
  const std::string stem = opt.out + "/kernel_bench_" + std::to_string(static_cast<long long>(when));
  json j = header;
  j["kernels"] = json::array();
  std::string csv =
      "device,target,threads,function,key,kind,direction,elements,rows,cols,bytes_per_call,median_s,min_s,max_s,"
      "samples,calls_per_sample,gb_per_s,copy_gb_per_s,fraction_of_copy,elements_per_s,variant,variant_name,production\n";
  for (const KernelRow& r : bench.kernels()) {
    j["kernels"].push_back({{"device", r.device}, {"target", r.target}, {"threads", r.threads},
                            {"function", r.function}, {"key", r.key}, {"kind", r.kind}, {"direction", r.direction},
                            {"elements", r.elements}, {"rows", r.rows}, {"cols", r.cols}, {"bytes_per_call", r.bytes},
                            {"timing", timing_json(r.timing)}, {"gb_per_s", r.gbps}, {"copy_gb_per_s", r.copy_gbps},
                            {"fraction_of_copy", r.fraction_of_copy}, {"elements_per_s", r.elements_per_s},
                            {"variant", r.variant}, {"variant_name", r.variant_name}, {"production", r.production}});
    if (std::isfinite(r.compute_elements_per_s))
      j["kernels"].back()["compute_elements_per_s_one_thread_l1"] = r.compute_elements_per_s;
    if (r.copy_timing.samples > 0) j["kernels"].back()["copy_timing"] = timing_json(r.copy_timing);
    csv += r.device + "," + r.target + "," + std::to_string(r.threads) + "," + r.function + "," + csv_text(r.key) +
           "," + r.kind + "," + r.direction + "," + std::to_string(r.elements) + "," + std::to_string(r.rows) + "," +
           std::to_string(r.cols) + "," + ip::format_number(r.bytes) + "," + ip::format_number(r.timing.median) + "," +
           ip::format_number(r.timing.min) + "," + ip::format_number(r.timing.max) + "," +
           std::to_string(r.timing.samples) + "," + std::to_string(r.timing.calls_per_sample) + "," +
           ip::format_number(r.gbps) + "," + ip::format_number(r.copy_gbps) + "," +
           ip::format_number(r.fraction_of_copy) + "," + ip::format_number(r.elements_per_s) + "," +
           std::to_string(r.variant) + "," + csv_text(r.variant_name) + "," + (r.production ? "1" : "0") + "\n";
  }
  j["validation_failures"] = bench.validation_failures();
  j["gemm"] = json::array();
  std::string gcsv = "device,target,threads,shape,M,N,K,trans_a,trans_b,backend,median_s,min_s,max_s,samples,"
                     "gflop_per_s,fraction_of_reference,fraction_of_fma_peak\n";
  for (const GemmRow& r : bench.gemm()) {
    json row = {{"device", r.device}, {"target", r.target}, {"threads", r.threads}, {"shape", r.shape},
                {"M", r.g.M}, {"N", r.g.N}, {"K", r.g.K}, {"trans_a", r.g.trans_a}, {"trans_b", r.g.trans_b},
                {"backend", r.backend}, {"timing", timing_json(r.timing)}, {"gflop_per_s", r.gflops}};
    row["fraction_of_reference"] = std::isfinite(r.fraction_of_reference) ? json(r.fraction_of_reference) : json();
    row["fraction_of_fma_peak"] = std::isfinite(r.fraction_of_peak) ? json(r.fraction_of_peak) : json();
    j["gemm"].push_back(row);
    gcsv += r.device + "," + r.target + "," + std::to_string(r.threads) + "," + r.shape + "," + std::to_string(r.g.M) +
            "," + std::to_string(r.g.N) + "," + std::to_string(r.g.K) + "," + (r.g.trans_a ? "1" : "0") + "," +
            (r.g.trans_b ? "1" : "0") + "," + r.backend + "," + ip::format_number(r.timing.median) + "," +
            ip::format_number(r.timing.min) + "," + ip::format_number(r.timing.max) + "," +
            std::to_string(r.timing.samples) + "," + ip::format_number(r.gflops) + "," +
            (std::isfinite(r.fraction_of_reference) ? ip::format_number(r.fraction_of_reference) : "") + "," +
            (std::isfinite(r.fraction_of_peak) ? ip::format_number(r.fraction_of_peak) : "") + "\n";
  }
  ip::write_file_atomic(stem + ".json", j.dump(1) + "\n");
  ip::write_file_atomic(stem + ".csv", csv);
  ip::write_file_atomic(stem + "_gemm.csv", gcsv);
  std::fprintf(stderr, "kernel_bench: results in %s.json, %s.csv and %s_gemm.csv\n", stem.c_str(), stem.c_str(),
               stem.c_str());
}

// --energy-check: NVML's two sources of GPU energy, the total-energy counter and board power
// sampled every 10 ms and integrated, read over the same window, once with the GPU idle and once
// under load, to say how far the joules that rand_power and mnist_power record (the counter where
// the GPU has one) can be trusted. They are known to disagree: the counter is refreshed every few
// tens of ms, the power reading is the driver's average over up to a second, so it lags a change of
// load. Nothing is timed; a machine without a GPU or NVML gets the reason, and exit status 0.
int run_energy_check(const Options& opt, const std::string& command_line) {
  const double seconds = opt.energy_check;
  std::printf("kernel_bench: energy check: NVML total-energy counter against power sampling, %.1f s idle, "
              "then %.1f s under load (SGEMM 16384x1024x1024 in a loop)\n", seconds, seconds);
  json result = {{"generator", "inferencepower kernel_bench --energy-check"},
                 {"command_line", command_line},
                 {"started_at", ip::local_time_string(ip::unix_time_now())},
                 {"seconds_per_window", seconds},
                 {"hardware", ip::describe_hardware().to_json()},
                 {"relative_difference", "second (power sampling) / first (total-energy counter) - 1"}};
  std::string why;
#ifdef INFERENCEPOWER_HAVE_CUDA
  bool ok = ip::cuda::available(&why);
#else
  bool ok = false;
  why = "built without CUDA (no nvcc when configured)";
#endif
  std::shared_ptr<const ip::NvmlApi> api;
  if (ok) ok = (api = ip::load_nvml(&why)) != nullptr;
  std::unique_ptr<ip::NvmlEnergyMeter> counter;
  std::unique_ptr<ip::NvmlPowerMeter> sampling;
  if (ok) {
    counter = std::make_unique<ip::NvmlEnergyMeter>(api);
    sampling = std::make_unique<ip::NvmlPowerMeter>(api);
    if (!counter->available()) ok = false, why = counter->unavailable_reason();
    else if (!sampling->available()) ok = false, why = sampling->unavailable_reason();
  }
  auto report = [&](const char* label, const ip::MeterComparison& c) {
    auto side = [](const ip::EnergyReading& r) {
      char text[160];
      if (r.usable())
        std::snprintf(text, sizeof text, "%.3f J over %.3f s (%.1f W)", r.joules, r.seconds, r.watts());
      else
        std::snprintf(text, sizeof text, "unavailable (%s)", r.reason.c_str());
      return std::string(text);
    };
    std::printf("energy check %-4s: counter %s; sampling %s", label, side(c.first).c_str(), side(c.second).c_str());
    if (std::isfinite(c.relative_difference)) std::printf("; sampling/counter - 1 = %+.1f%%", 100 * c.relative_difference);
    std::printf("\n");
    for (const ip::EnergyReading* r : {&c.first, &c.second})
      for (const std::string& w : r->warnings) std::printf("  %s: %s\n", r->source.c_str(), w.c_str());
    result[label] = c;
  };
  if (!ok) {
    std::printf("energy check: not possible here: %s\n", why.c_str());
    result["unavailable"] = why;
  } else {
#ifdef INFERENCEPOWER_HAVE_CUDA
    const std::size_t M = 16384, N = 1024, K = 1024;  // about 1-3 ms per call on an H100-class GPU
    HostArray ha = host_alloc(M * K), hb = host_alloc(N * K);
    fill_normal(ha.get(), M * K, 1.0f, opt.seed + 20);  // random data: zeros draw less power
    fill_normal(hb.get(), N * K, 1.0f, opt.seed + 21);
    DeviceArray a(M * K), b(N * K), c(M * N);
    ip::cuda::copy_to_device(a.p, ha.get(), M * K * sizeof(float));
    ip::cuda::copy_to_device(b.p, hb.get(), N * K * sizeof(float));
    auto gemm = [&] { ip::ops::gemm(ip::Device::Cuda, false, true, M, N, K, 1.0f, a.p, K, b.p, K, 0.0f, c.p, N); };
    gemm();  // the kernel loaded and the memory touched before either window
    ip::cuda::synchronize();
    std::this_thread::sleep_for(std::chrono::duration<double>(1.0));  // let the power average settle
    report("idle", ip::compare_meters(*counter, *sampling, [&] {
             std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
           }));
    long long calls = 0;
    report("load", ip::compare_meters(*counter, *sampling, [&] {
             const double end = now_s() + seconds;
             while (now_s() < end) {
               gemm();
               ip::cuda::synchronize();
               ++calls;
             }
           }));
    result["load_gemm_calls"] = calls;
    result["load"]["work"] = "own SGEMM 16384x1024x1024 (nt), random normal inputs, synchronised after each call";
#else
    (void)report;
#endif
  }
  if (!opt.out.empty()) {
    const std::string path = opt.out + "/energy_check_" +
                             std::to_string(static_cast<long long>(ip::unix_time_now())) + ".json";
    ip::write_file_atomic(path, result.dump(1) + "\n");
    std::fprintf(stderr, "kernel_bench: energy check in %s\n", path.c_str());
  }
  return 0;
}

int run(Options opt, const std::string& command_line) {
  // Parse everything before measuring anything: a typo must not cost a long run.
  std::vector<const ip::FunctionInfo*> functions = parse_functions(opt.functions);
  std::vector<std::string> dirs = split(opt.directions);
  std::vector<std::size_t> sizes;
  for (const std::string& s : split(opt.sizes)) sizes.push_back(parse_size(s));
  std::vector<GemmShape> shapes = parse_shapes(opt);
  std::vector<int> threads = parse_threads(opt.threads.empty() ? std::to_string(omp_get_max_threads()) : opt.threads);
  std::vector<std::string> targets = parse_targets(opt.targets);
  const VariantChoice variant = parse_variant(opt.variant);
  if (!(opt.energy_check >= 0) || opt.energy_check > 600)
    throw std::invalid_argument("--energy-check: seconds per window in [0, 600], got " + ip::format_number(opt.energy_check));
  if (opt.energy_check > 0) {
    if (!opt.out.empty()) ip::check_writable(opt.out);
    return run_energy_check(opt, command_line);
  }

  bool want_cpu = opt.devices == "auto" || opt.devices.find("cpu") != std::string::npos;
  bool want_cuda = opt.devices.find("cuda") != std::string::npos;
  std::string cuda_note;
#ifdef INFERENCEPOWER_HAVE_CUDA
  bool cuda_ok = ip::cuda::available(&cuda_note);
#else
  bool cuda_ok = false;
  cuda_note = "built without CUDA (no nvcc when configured)";
#endif
  if (want_cuda && !cuda_ok) throw std::invalid_argument("--devices cuda: " + cuda_note);
  if (opt.devices == "auto") want_cuda = cuda_ok;
  if (!opt.out.empty()) ip::check_writable(opt.out);

  const std::string started_at = ip::local_time_string(ip::unix_time_now());
  ip::HardwareInfo hw = ip::describe_hardware();
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("kernel_bench: %s\n", hw.summary().c_str());
  std::printf("kernel_bench: repeats %d (median), warm-up %d, samples >= %.2f ms, inputs N(0,1) x 4, cols %zu",
              opt.repeats, opt.warmup, opt.min_sample_ms, opt.cols);
  if (ip::cpu::blas_available())
    std::printf(", OpenBLAS core %s (OPENBLAS_CORETYPE=%s)", ip::cpu::blas_core_name().c_str(), coretype ? coretype : "unset");
  if (!want_cuda) std::printf(", cuda: %s", cuda_note.empty() ? "not requested" : cuda_note.c_str());
  std::printf("\n");
  const double load = load_average();
  const int max_threads = *std::max_element(threads.begin(), threads.end());
  if (load + max_threads > hw.logical_cores + 0.5)
    std::fprintf(stderr,
                 "kernel_bench: warning: load average %.1f on %d logical cores: with %d threads, other processes "
                 "share the cores and multi-threaded timings are unreliable (see min/max)\n",
                 load, hw.logical_cores, max_threads);
  std::printf("GB/s = (bytes read + written) / median time; copy%% = GB/s / copy's GB/s, that copy timed "
              "alternately with the kernel, sample by sample (same size, threads, target; the machine's bandwidth "
              "moves between minutes), copy = the faster of the copy rows (copy:memcpy = memcpy per thread, copy:vector = "
              "Highway copy over the kernels' chunks, streaming stores for outputs >= 64 MiB as the kernels, "
              "copy:cudaMemcpy on CUDA)\n\n");

  Bench bench(opt);
  if (!functions.empty() && !sizes.empty()) {
    print_kernel_header();
    if (want_cpu) bench.run_kernels_cpu(functions, sizes, targets, threads, dirs);
#ifdef INFERENCEPOWER_HAVE_CUDA
    if (want_cuda) bench.run_kernels_cuda(functions, sizes, dirs, variant);
#endif
    std::printf("\n");
  }
  if (opt.summary == "issue6") print_issue6_summary(bench.kernels(), load, load_average());
  if (!shapes.empty()) {
    print_gemm_header();
    if (want_cpu) bench.run_gemm_cpu(shapes, targets, threads);
#ifdef INFERENCEPOWER_HAVE_CUDA
    if (want_cuda) bench.run_gemm_cuda(shapes);
#endif
  }

  if (!opt.out.empty()) {
    json header = {{"generator", "inferencepower kernel_bench"},
                   {"command_line", command_line},
                   {"started_at", started_at},
                   {"hardware", hw.to_json()},
                   {"load_average_1min", std::isfinite(load) ? json(load) : json()},
                   {"openblas_coretype", coretype ? coretype : ""},
                   {"openblas_core", ip::cpu::blas_core_name()},
                   {"settings",
                    {{"repeats", opt.repeats}, {"warmup", opt.warmup}, {"min_sample_ms", opt.min_sample_ms},
                     {"cols", opt.cols}, {"seed", opt.seed}, {"input", "normal(0,1) x 4"},
                     {"cuda_variant", opt.variant}}}};
    write_outputs(opt, bench, header);
  }
  if (!bench.validation_failures().empty()) {
    std::fprintf(stderr, "kernel_bench: %zu CUDA kernel variant(s) disagreed with the scalar reference and were not "
                 "timed (see above)\n", bench.validation_failures().size());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "kernel_bench: times every kernel (function x direction x device x size x threads x SIMD target, "
      "dropout in train mode, RReLU in eval and train mode) and GEMM. Element-wise kernels are reported as "
      "effective GB/s (bytes read + written: forward reads x and writes y; backward reads x and dy (y and dy "
      "for row-wise; Identity's backward reads dy only) and writes dx; dropout forward reads x and writes y and its keep mask, backward reads dy and the mask and writes dx, the mask counted at 1 bit per element, or per row for dropout3d; RReLU's train mode writes its noise "
      "(the factor applied) beside y and its backward reads the noise and dy; backward of both is timed from one untimed forward) "
      "and as the fraction of a copy timed alternately with each kernel, sample by sample (on CPU the faster of memcpy per OpenMP thread "
      "and a vector copy written like the kernels, both printed; cudaMemcpy device-to-device on CUDA); "
      "GEMM as GFLOP/s, the fraction of the FMA peak measured in the same run (CPU) and the fraction of "
      "OpenBLAS (CPU; set OPENBLAS_CORETYPE to override its CPU detection) or cuBLAS (CUDA). CUDA times the "
      "production kernels through their API, or with --variant "
      "numbered kernel variants (naive to vectorised, as in llm.c's dev/cuda) side by side, each validated "
      "against the scalar reference before it is timed."};
  Options opt;
  app.add_option("--functions", opt.functions,
                 "Comma-separated function names, 'all', 'paper' (the paper's 26) or 'none' (GEMM only); names: " +
                     all_cli_names())
      ->capture_default_str();
  app.add_option("--directions", opt.directions, "forward, backward or both (comma-separated)")
      ->check([](const std::string& v) {
        for (const std::string& d : split(v))
          if (d != "forward" && d != "backward") return "unknown direction '" + d + "'; allowed: forward, backward";
        return std::string();
      })
      ->capture_default_str();
  app.add_option("--devices", opt.devices,
                 "auto (cpu, and cuda when built and a GPU is present), cpu, cuda or cpu,cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "cpu,cuda", "cuda,cpu"}))
      ->capture_default_str();
  app.add_option("--sizes", opt.sizes,
                 "Array sizes, comma-separated: 1MiB / 256KiB / 1GiB (bytes of one float32 array) or element "
                 "counts (1000000, 1e6); rounded down to whole rows of --cols")
      ->capture_default_str();
  app.add_option("--threads", opt.threads, "OpenMP thread counts to sweep on CPU, e.g. 1,2 (default: OpenMP's maximum)");
  app.add_option("--target", opt.targets,
                 "SIMD targets to sweep on CPU: auto (the best), all, or names, e.g. AVX3,AVX2; available here: " +
                     join(ip::cpu::available_targets()))
      ->capture_default_str();
  app.add_option("--gemm-shapes", opt.gemm_shapes,
                 "GEMM shapes MxNxK[:ab] (op(A), op(B) = n or t; default nt = x·Wᵀ), comma-separated, or "
                 "'experiments' (the forward and backward shapes of rand and mnist) or 'none'")
      ->capture_default_str();
  app.add_flag("--large-gemm", opt.large_gemm,
               std::string("Add the prediction chunk shape ") + kLargeShape + " (slow: 0.2 TFLOP per call)");
  app.add_option("--cols", opt.cols, "Row width for row-wise and dropout kernels (the models' 1024)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--repeats", opt.repeats, "Timed samples per kernel (median, min and max reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--warmup", opt.warmup, "Untimed samples before the timed ones")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--min-sample-ms", opt.min_sample_ms,
                 "Shortest sample: small kernels are called repeatedly within one sample so the clock's "
                 "resolution and call overhead do not dominate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  std::string variant_help =
      "CUDA kernel variants: 'production' (or 0; the kernels the engine uses), 'all' (every numbered variant of "
      "each kind side by side, the production one marked *) or a number N (variant N of each kind that has "
      "one). Each variant is first checked against the scalar reference on small inputs (element-wise within "
      "4 ulp or 1e-6 relative, row-wise within a rounding-error bound, dropout bit for bit); one that disagrees "
      "is reported, not timed, and makes the run fail. CPU rows are always the production kernels, whatever "
      "this says. RReLU's train mode has no numbered variants.";
#ifdef IP_HAVE_CUDA_VARIANTS
  for (ip::cuda::variants::Family f : ip::cuda::variants::kFamilies) {
    variant_help += std::string("\n  ") + ip::cuda::variants::family_name(f) + ":";
    for (const ip::cuda::variants::Variant& v : ip::cuda::variants::variants(f))
      variant_help += "\n    " + std::to_string(v.number) + (v.production ? "* " : "  ") + v.name + ": " + v.description;
  }
#else
  variant_help += " (This build has no CUDA variants: configured without nvcc.)";
#endif
  app.add_option("--variant", opt.variant, variant_help)->capture_default_str();
  app.add_option("--seed", opt.seed, "Seed of the random inputs and of dropout/RReLU masks")->capture_default_str();
  app.add_option("--out", opt.out,
                 "Directory for kernel_bench_<unix time>.json, .csv and _gemm.csv (atomic writes), with the "
                 "hardware description; nothing is written without it");
  app.add_option("--summary", opt.summary,
                 "Print a pass/fail table against a set of targets after the kernel rows: 'issue6' (fractions "
                 "of copy: 90% forward, 85% backward, 80% row-wise), with a compute-bound calibration of every "
                 "kernel (one thread, L1-resident arrays) that shows whether a miss is the instructions' fault")
      ->check(CLI::IsMember({"issue6"}));
  app.add_option("--energy-check", opt.energy_check,
                 "Seconds per window: instead of timing kernels, read NVML's total-energy counter and its "
                 "power sampling over the same window, once with the GPU idle and once under load (SGEMM in a "
                 "loop), and print both and their difference (energy_check_<unix time>.json in --out); "
                 "0 = off. Where there is no GPU or no NVML it says why and exits 0")
      ->capture_default_str();
  app.add_flag("--quick", opt.quick,
               "Fast smoke run: relu and dropout, 1 MiB, 3 repeats, 1 warm-up, one GEMM shape (flags given "
               "explicitly still win)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "kernel_bench: %s\n", e.what());
    return 2;
  }
  if (opt.quick) {
    auto unset = [&](const char* flag) { return app.get_option(flag)->count() == 0; };
    if (unset("--functions")) opt.functions = "relu,dropout";
    if (unset("--sizes")) opt.sizes = "1MiB";
    if (unset("--repeats")) opt.repeats = 3;
    if (unset("--warmup")) opt.warmup = 1;
    if (unset("--min-sample-ms")) opt.min_sample_ms = 0.5;
    if (unset("--gemm-shapes")) opt.gemm_shapes = "64x1024x1024:nt";
  }
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  try {
    return run(opt, command_line);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "kernel_bench: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kernel_bench: error: %s\n", e.what());
    return 1;
  }
}
