#include "experiments/common/run_support.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <omp.h>

#include "engine/layers.h"
#include "kernels/common/philox.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/linalg.h"
#ifdef INFERENCEPOWER_HAVE_CUDA
#include "kernels/cuda/kernels.h"
#endif

namespace ip {

// ---- function and scale lists ----

std::string valid_function_names() {
  std::string names = "all, paper";
  for (const FunctionInfo& f : kFunctionInfo) names += std::string(", ") + f.cli_name;
  return names;
}

std::vector<const FunctionInfo*> parse_function_list(const std::string& spec) {
  std::vector<const FunctionInfo*> out;
  if (spec == "all" || spec == "paper") {
    for (const FunctionInfo& f : kFunctionInfo)
      if (spec == "all" || f.in_paper) out.push_back(&f);
    return out;
  }
  size_t begin = 0;
  while (begin <= spec.size()) {
    size_t end = spec.find(',', begin);
    if (end == std::string::npos) end = spec.size();
    const std::string name = spec.substr(begin, end - begin);
    if (spec.empty()) throw std::invalid_argument("--functions: empty; give names, 'all' or 'paper'");
    if (name.empty()) throw std::invalid_argument("--functions: an empty name in '" + spec + "'");
    if (name == "all" || name == "paper")
      throw std::invalid_argument("--functions: '" + name + "' stands alone (--functions " + name +
                                  "), it cannot be listed with other names");
    const FunctionInfo* found = nullptr;
    for (const FunctionInfo& f : kFunctionInfo)
      if (name == f.cli_name) found = &f;
    if (!found)
      throw std::invalid_argument("--functions: unknown function '" + name +
                                  "'; valid: " + valid_function_names());
    if (std::find(out.begin(), out.end(), found) != out.end())
      throw std::invalid_argument("--functions: '" + name + "' is listed twice");
    out.push_back(found);
    begin = end + 1;
  }
  return out;
}

namespace {

// A whole non-negative decimal number, or -1.
int parse_small_int(const std::string& s) {
  if (s.empty() || s.size() > 3 || s.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoi(s);
}

}  // namespace

std::vector<int> parse_scales(const std::string& spec, int max_scale) {
  const std::string forms = "; expected a range like 0-5, a list like 0,5 or one value, each in 0.." +
                            std::to_string(max_scale);
  std::vector<int> out;
  const size_t dash = spec.find('-');
  if (dash != std::string::npos) {
    const int lo = parse_small_int(spec.substr(0, dash)), hi = parse_small_int(spec.substr(dash + 1));
    if (lo < 0 || hi < 0 || lo > hi || hi > max_scale)
      throw std::invalid_argument("--scales: bad range '" + spec + "'" + forms);
    for (int n = lo; n <= hi; ++n) out.push_back(n);
    return out;
  }
  size_t begin = 0;
  while (begin <= spec.size()) {
    size_t end = spec.find(',', begin);
    if (end == std::string::npos) end = spec.size();
    const int n = parse_small_int(spec.substr(begin, end - begin));
    if (n < 0 || n > max_scale)
      throw std::invalid_argument("--scales: bad value '" + spec.substr(begin, end - begin) +
                                  "' in '" + spec + "'" + forms);
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw std::invalid_argument("--scales: " + std::to_string(n) + " is listed twice");
    out.push_back(n);
    begin = end + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---- interruption ----

namespace {
volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
  g_signal = sig;
  // The next signal of this kind ends the process at once (signal() is async-signal-safe).
  std::signal(sig, SIG_DFL);
}
}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}
bool interrupted() { return g_signal != 0; }
int interrupt_signal() { return g_signal; }
int interrupted_exit_code() { return 128 + (g_signal ? g_signal : SIGINT); }

// ---- device and CPU ----

// ---- --resume ----

std::string find_resume_file(const std::string& spec, const std::string& what,
                             const std::function<bool(const nlohmann::json&)>& is_candidate) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(spec)) {
    if (!fs::is_regular_file(spec)) throw std::invalid_argument("--resume: " + spec + " does not exist");
    return spec;
  }
  std::string best, unreadable, unreadable_why;
  fs::file_time_type best_time, unreadable_time;
  for (const auto& e : fs::directory_iterator(spec)) {
    if (!e.is_regular_file() || e.path().extension() != ".json") continue;
    try {
      const nlohmann::json j = nlohmann::json::parse(read_text_file(e.path().string()));
      if (!j.is_object() || j.value("partial", false) != true || !is_candidate(j)) continue;
    } catch (const nlohmann::json::parse_error& err) {
      // A truncated or damaged file: say so rather than pass it over for an older one or report
      // that there is none.
      if (unreadable.empty() || e.last_write_time() > unreadable_time) {
        unreadable = e.path().string();
        unreadable_time = e.last_write_time();
        unreadable_why = err.what();
      }
      continue;
    } catch (const std::exception&) {
      continue;  // not ours: not a candidate
    }
    if (best.empty() || e.last_write_time() > best_time) {
      best = e.path().string();
      best_time = e.last_write_time();
    }
  }
  if (!unreadable.empty() && (best.empty() || unreadable_time > best_time))
    throw std::invalid_argument("--resume: " + unreadable + " is not valid JSON (" + unreadable_why + ")" +
                                (best.empty() ? std::string(" and no other partial ") + what + " is in " + spec
                                              : "; the newest readable partial file is " + best) +
                                "; give the file to resume instead of the directory");
  if (best.empty())
    throw std::invalid_argument("--resume: no partial " + what + " (partial=true) in " + spec);
  return best;
}

void check_same_setting(const std::string& flag, const nlohmann::json& was, const nlohmann::json& is,
                        const std::string& interrupted_command_line) {
  if (was != is)
    throw std::invalid_argument("--resume: " + flag + " differs: the interrupted run had " +
                                was.dump() + ", this one " + is.dump() + " (its command line: " +
                                interrupted_command_line + ")");
}

void check_same_parameters(const nlohmann::json& was, const nlohmann::json& is,
                           std::initializer_list<ParameterFlag> fields,
                           const std::string& interrupted_command_line) {
  for (const ParameterFlag& f : fields)
    check_same_setting(f.flag, was.value(f.field, nlohmann::json()), is.value(f.field, nlohmann::json()),
                       interrupted_command_line);
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return CPU_COUNT(&set);
}

std::string thread_source(bool from_flag) {
  if (from_flag) return "--threads";
  const char* env = std::getenv("OMP_NUM_THREADS");
  return env && *env ? std::string("OMP_NUM_THREADS=") + env : "OpenMP's default";
}

std::string check_thread_count(int threads, const std::string& source) {
  const int cpus = usable_cpus();
  if (cpus <= 0 || threads <= cpus) return "";
  const bool flag = source == "--threads";
  const std::string name = flag ? "--threads " + std::to_string(threads) : source;
  const std::string here = std::to_string(cpus) + " CPU" + (cpus == 1 ? "" : "s") + " usable here";
  // Beyond a few threads per CPU the measurement is of the threads waiting for each other.
  if (threads > kMaxThreadsPerCpu * cpus)
    throw std::invalid_argument(name + ": more than " + std::to_string(kMaxThreadsPerCpu) + " threads per CPU (" +
                                here + "); " + (flag ? "use" : "unset it or give") + " --threads " +
                                std::to_string(cpus) + " or fewer");
  return name + ": " + std::to_string(threads) + " threads on " + here +
         "; threads share cores, so timings include their waiting";
}

std::string configure_cpu(int threads, const std::string& target) {
  if (threads < 0) throw std::invalid_argument("--threads: must be 0 (OpenMP default) or more");
  const std::string warning = check_thread_count(threads > 0 ? threads : omp_get_max_threads(),
                                                 thread_source(threads > 0));
  if (threads > 0) omp_set_num_threads(threads);
  try {
    cpu::force_target(target == "auto" ? "" : target);
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("--target: ") + e.what());
  }
  return warning;
}

void configure_gemm(const std::string& gemm, Device device) {
  if (gemm == "own") {
    cpu::set_gemm_backend(cpu::GemmBackend::Own);
#ifdef INFERENCEPOWER_HAVE_CUDA
    cuda::set_gemm_backend(cuda::GemmBackend::Own);
#endif
  } else if (gemm == "blas") {
    if (device != Device::Cpu) throw std::invalid_argument("--gemm blas: only with --device cpu");
    if (!cpu::blas_available())
      throw std::invalid_argument("--gemm blas: this build has no OpenBLAS (use own)");
    cpu::set_gemm_backend(cpu::GemmBackend::Blas);
  } else if (gemm == "cublas") {
    if (device != Device::Cuda) throw std::invalid_argument("--gemm cublas: only with --device cuda");
#ifdef INFERENCEPOWER_HAVE_CUDA
    cuda::set_gemm_backend(cuda::GemmBackend::Cublas);
#endif
  } else {
    throw std::invalid_argument("--gemm: '" + gemm + "' is not one of own, blas, cublas");
  }
}

Device resolve_device(std::string& flag, const char* program) {
  if (flag == "auto") {
    std::string why;
    if (cuda_usable(&why)) {
      flag = "cuda";
    } else {
      std::fprintf(stderr, "%s: --device auto: no usable GPU (%s); running on the CPU\n", program,
                   why.c_str());
      flag = "cpu";
    }
  } else if (flag != "cpu" && flag != "cuda") {
    throw std::invalid_argument("--device: '" + flag + "' is not one of cpu, cuda, auto");
  }
  const Device device = parse_device(flag);
  try {
    require_device(device);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("--device ") + flag + ": " + e.what() +
                             " (--device auto falls back to the CPU)");
  }
  return device;
}

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

void synchronize(Device device) {
#ifdef INFERENCEPOWER_HAVE_CUDA
  if (device == Device::Cuda) cuda::synchronize();
#else
  (void)device;
#endif
}

std::function<void()> synchroniser(Device device) {
  if (device == Device::Cpu) return nullptr;
  return [device] { synchronize(device); };
}

// ---- data ----

std::vector<float> normal_values(size_t n, uint64_t seed, uint32_t stream) {
  std::vector<float> v(n);
  const long long count = static_cast<long long>(n);
#pragma omp parallel for schedule(static)
  for (long long k = 0; k < count; ++k)
    v[static_cast<size_t>(k)] = static_cast<float>(philox::normal(seed, stream, static_cast<uint64_t>(k)));
  return v;
}

std::vector<size_t> seeded_permutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  for (size_t i = n; i > 1; --i) {
    // The modulo bias is below 2^-40 for any n we shuffle: irrelevant here.
    const size_t j = mix_seed(seed, i) % i;
    std::swap(p[i - 1], p[j]);
  }
  return p;
}

// ---- context ----

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "host";
  std::string s = buf;
  for (char& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) c = '-';
  return s;
}

std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    const bool plain = !a.empty() && a.find_first_not_of(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%") ==
        std::string::npos;
    if (i) out += ' ';
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

double parse_duration(const std::string& text, const std::string& flag) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "ms") scale = 1e-3;
  else if (unit == "m" || unit == "min") scale = 60;
  else if (unit == "h") scale = 3600;
  if (used == 0 || scale == 0 || !std::isfinite(value) || !(value > 0) || !std::isfinite(value * scale))
    throw std::invalid_argument(flag + ": '" + text +
                                "' is not a positive duration such as 90s, 15ms, 4m or 1.5h");
  return value * scale;
}

std::string format_duration(double s) {
  char buf[64];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 1)
    std::snprintf(buf, sizeof buf, "%.0f ms", s * 1e3);
  else if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%d min %02d s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%d h %02d min", static_cast<int>(s) / 3600,
                  static_cast<int>(s) % 3600 / 60);
  return buf;
}

Energy to_result_energy(const EnergyReading& reading) {
  Energy e;
  e.quality = quality_name(reading.quality);
  e.source = reading.source;
  if (reading.usable()) e.joules = reading.joules;
  return e;
}

EnergyReading add_readings(const EnergyReading& a, const EnergyReading& b) {
  // A default reading (no window yet) is the neutral element.
  if (a.seconds == 0 && a.source.empty()) return b;
  EnergyReading sum = a;
  sum.seconds += b.seconds;
  sum.joules += b.joules;
  for (const std::string& w : b.warnings)
    if (std::find(sum.warnings.begin(), sum.warnings.end(), w) == sum.warnings.end())
      sum.warnings.push_back(w);
  if (!b.usable()) {
    sum.quality = EnergyQuality::Unavailable;
    if (sum.reason.empty()) sum.reason = b.reason;
  } else if (a.usable() && b.quality == EnergyQuality::Estimated) {
    sum.quality = EnergyQuality::Estimated;
  }
  if (!sum.usable()) sum.joules = 0;
  return sum;
}

void Progress::line(const std::string& text) const {
  if (quiet_) return;
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace ip
