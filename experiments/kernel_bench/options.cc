#include "experiments/kernel_bench/options.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "experiments/common/run_support.h"
#include "experiments/kernel_bench/targets.h"
#include "kernels/cpu/kernels.h"
#ifdef IP_HAVE_CUDA_VARIANTS
#include "experiments/cuda_variants/variants.h"
#endif

namespace ip::bench {

namespace {

// The shapes the experiments run (M x N x K, op(A) op(B)); Linear computes y = x·Wᵀ, dx = dy·W
// and dW = dyᵀ·x. rand: batch 64 training through Linear(1024→1024) and Linear(1024→16) (dx of a
// 1024→1024 layer too), one instance at 10^0 (both layers) and chunks of up to 100000 rows in
// prediction; mnist: batch 128 through Linear(784→1024) and Linear(1024→10).
const char* const kExperimentShapes =
    "64x1024x1024:nt,64x1024x1024:nn,1024x1024x64:tn,64x16x1024:nt,64x1024x16:nn,16x1024x64:tn,"
    "1x1024x1024:nt,1x16x1024:nt,128x1024x784:nt,1024x784x128:tn,128x10x1024:nt,128x1024x10:nn,"
    "10x1024x128:tn";
const char* const kLargeShape = "100000x1024x1024:nt";

std::string variant_help() {
  std::string help =
      "CUDA kernel variants: 'production' (or 0; the kernels the engine uses), 'all' (every numbered variant of "
      "each kind side by side, the production one marked *) or a number N (variant N of each kind that has "
      "one). Each variant is first checked against the scalar reference on small inputs (element-wise within "
      "4 ulp or 1e-6 relative, row-wise within a rounding-error bound, dropout bit for bit); one that disagrees "
      "is reported, not timed, and makes the run fail. CPU rows are always the production kernels, whatever "
      "this says. RReLU's train mode has no numbered variants.";
#ifdef IP_HAVE_CUDA_VARIANTS
  for (ip::cuda::variants::Family f : ip::cuda::variants::kFamilies) {
    help += std::string("\n  ") + ip::cuda::variants::family_name(f) + ":";
    for (const ip::cuda::variants::Variant& v : ip::cuda::variants::variants(f))
      help += "\n    " + std::to_string(v.number) + (v.production ? "* " : "  ") + v.name + ": " + v.description;
  }
#else
  help += " (This build has no CUDA variants: configured without nvcc.)";
#endif
  return help;
}

}  // namespace

std::string description() {
  return
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
      "against the scalar reference before it is timed.";
}

void add_options(CLI::App& app, Options& opt) {
  app.add_option("--functions", opt.functions,
                 "Comma-separated function names, 'all', 'paper' (the paper's 26) or 'none' (GEMM only); valid: " +
                     valid_function_names())
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
  app.add_flag("--list-targets", opt.list_targets,
               "Print the SIMD targets available here, best first, comma-separated, and exit");
  app.add_option("--gemm-shapes", opt.gemm_shapes,
                 "GEMM shapes MxNxK[:ab] (op(A), op(B) = n or t; default nt = x·Wᵀ), comma-separated, or "
                 "'experiments' (the forward and backward shapes of rand and mnist) or 'none'")
      ->capture_default_str();
  app.add_flag("--large-gemm", opt.large_gemm,
               std::string("Add the prediction chunk shape ") + kLargeShape + " (slow: 0.2 TFLOP per call)");
  app.add_option("--gemm-rounds", opt.gemm_rounds,
                 "CPU GEMM: time ours and OpenBLAS in this many alternating blocks of samples (ours, OpenBLAS, "
                 "ours, ...), in [1, 100]. With more than one, own/ref is the median of the rounds' ratios, printed "
                 "with their range (a ratio whose range spans 1.0 does not say which is faster); from 6 rounds on also "
                 "with the median's distribution-free 95% interval and its verdict: faster, slower or indistinguishable (the "
                 "interval contains 1.0). Each row's times pool the rounds' samples. The machine's speed moves "
                 "between minutes; a ratio from one pair of blocks cannot show that")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--cols", opt.cols, "Row width for row-wise and dropout kernels (the models' 1024)")
      ->check(at_least(1))
      ->capture_default_str();
  app.add_option("--repeats", opt.sampling.repeats, "Timed samples per kernel (median, min and max reported)")
      ->check(at_least(1))
      ->capture_default_str();
  app.add_option("--warmup", opt.sampling.warmup, "Untimed samples before the timed ones")
      ->check(at_least(0))
      ->capture_default_str();
  app.add_option("--min-sample-ms", opt.sampling.min_sample_ms,
                 "Shortest sample: small kernels are called repeatedly within one sample so the clock's "
                 "resolution and call overhead do not dominate; in (0, 60000]")
      ->capture_default_str();
  app.add_option("--variant", opt.variant, variant_help())->capture_default_str();
  app.add_option("--seed", opt.seed, "Seed of the random inputs and of dropout/RReLU masks")->capture_default_str();
  app.add_option("--out", opt.out,
                 "Directory for kernel_bench_<unix time>.json, .csv and _gemm.csv (atomic writes), with the "
                 "hardware description; nothing is written without it");
  app.add_option("--summary", opt.summary,
                 "Print a pass/fail table after the kernel rows: 'targets' checks every CPU kernel row against "
                 "its bandwidth target (" + describe_targets() + "), per SIMD target, with a compute-bound "
                 "calibration of every kernel (one thread, L1-resident arrays) that shows whether a miss is the "
                 "instructions' fault, and the instructions per vector beside the number that would fit: ins, "
                 "counted in this build's compiled loop, or ins*, counted as one call executes them by "
                 "single-stepping a child process (row-wise, dropout and RReLU train; needs ptrace, '-' without "
                 "it)")
      ->check(CLI::IsMember({"targets"}));
  app.add_option("--energy-check", opt.energy_check,
                 "Seconds per window: instead of timing kernels, read NVML's total-energy counter and its "
                 "power sampling over the same window, once with the GPU idle and once under load (SGEMM in a "
                 "loop), and print both and their difference (energy_check_<unix time>.json in --out); "
                 "0 = off. Where there is no GPU or no NVML it says why and exits 0")
      ->capture_default_str();
  app.add_flag("--quick", opt.quick,
               "Fast smoke run: relu and dropout, 1 MiB, 3 repeats, 1 warm-up, one GEMM shape (flags given "
               "explicitly still win)");
}

void apply_quick(const CLI::App& app, Options& opt) {
  if (!opt.quick) return;
  auto unset = [&](const char* flag) { return app.get_option(flag)->count() == 0; };
  if (unset("--functions")) opt.functions = "relu,dropout";
  if (unset("--sizes")) opt.sizes = "1MiB";
  if (unset("--repeats")) opt.sampling.repeats = 3;
  if (unset("--warmup")) opt.sampling.warmup = 1;
  if (unset("--min-sample-ms")) opt.sampling.min_sample_ms = 0.5;
  if (unset("--gemm-shapes")) opt.gemm_shapes = "64x1024x1024:nt";
}

std::string GemmShape::label() const {
  return std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + ":" + (trans_a ? "t" : "n") +
         (trans_b ? "t" : "n");
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::vector<const FunctionInfo*> parse_functions(const std::string& spec) {
  if (spec == "none") return {};
  return parse_function_list(spec);
}

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

std::vector<std::size_t> parse_sizes(const std::string& spec, std::size_t cols) {
  std::vector<std::size_t> sizes;
  for (const std::string& s : split(spec)) {
    const std::size_t n = parse_size(s);
    if (n < cols)
      throw std::invalid_argument("--sizes: '" + s + "' is " + std::to_string(n) + " floats, less than one row of --cols " +
                                  std::to_string(cols) + " (" + format_bytes(4.0 * static_cast<double>(cols)) + ")");
    sizes.push_back(n);
  }
  if (sizes.empty())
    throw std::invalid_argument("--sizes: no size in '" + spec + "'; give e.g. 1MiB,256MiB (--functions none for GEMM only)");
  return sizes;
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

std::vector<int> parse_threads(const std::string& spec, bool from_flag) {
  std::vector<int> out;
  const std::string source = thread_source(from_flag);
  for (const std::string& t : split(spec)) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(t.c_str(), &end, 10);
    if (*end != '\0' || v < 1 || errno == ERANGE)
      throw std::invalid_argument((from_flag ? "--threads" : source) + ": bad thread count '" + t +
                                  "'; use positive whole numbers, e.g. 1,2");
    if (v > 1 << 20) v = 1 << 20;  // check_thread_count refuses it below
    const std::string warning = check_thread_count(static_cast<int>(v), source);
    if (!warning.empty()) std::fprintf(stderr, "kernel_bench: warning: %s\n", warning.c_str());
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) throw std::invalid_argument("--threads: empty list");
  return out;
}

std::vector<std::string> parse_targets(const std::string& spec) {
  const std::vector<std::string> available = ip::cpu::available_targets();
  std::vector<std::string> out;
  auto add = [&](const std::string& target) {
    if (std::find(out.begin(), out.end(), target) == out.end()) out.push_back(target);
  };
  for (const std::string& t : split(spec)) {
    if (t == "all") {
      for (const std::string& a : available) add(a);
      continue;
    }
    std::string upper = t;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "AUTO") {
      add(available.front());
    } else if (std::find(available.begin(), available.end(), upper) != available.end()) {
      add(upper);
    } else {
      throw std::invalid_argument("--target: unknown or unsupported target '" + t + "'; allowed: auto, all, " +
                                  join(available));
    }
  }
  if (out.empty()) throw std::invalid_argument("--target: empty list");
  return out;
}

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

}  // namespace ip::bench
