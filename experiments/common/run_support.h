// Pieces shared by the measuring binaries (rand_power, mnist_power): parsing the function and
// scale lists, interruption by SIGINT/SIGTERM, device set-up and synchronisation, random inputs,
// progress lines and the bits of context every result file records.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/device.h"
#include "experiments/common/cli.h"
#include "kernels/common/activation_list.h"
#include "measure/energy.h"
#include "results/results.h"

namespace ip {

// "all" (every table row), "paper" (the 26 in_paper rows) or a comma-separated list of CLI
// names, in table order for the keywords and in the given order otherwise. Throws
// std::invalid_argument naming the bad entry and listing the valid names.
std::vector<const FunctionInfo*> parse_function_list(const std::string& spec);
// "all, paper, celu, elu, ..." for help texts and errors.
std::string valid_function_names();

// A range "0-8", a list "0,5" or one value "3"; every value in [0, max_scale], no repeats.
// Returns the values sorted. Throws std::invalid_argument explaining the accepted forms.
std::vector<int> parse_scales(const std::string& spec, int max_scale);

// ---- interruption ----
// SIGINT and SIGTERM set a flag (checked between measurements and between chunks) instead of
// killing the process, so what was measured can still be written. A second signal of the same
// kind gets the default action: a user who presses Ctrl-C twice is not kept waiting.
void install_interrupt_handlers();
bool interrupted();
int interrupt_signal();  // the signal received, 0 if none
// The exit status of an interrupted run: 128 + signal, as a shell reports it.
int interrupted_exit_code();

// ---- --resume (continuing an interrupted run from its result file) ----
// The file to resume: `spec` itself when it is a file, or in a directory the newest .json whose
// content is a JSON object with "partial": true for which is_candidate holds (e.g. a
// consolidated rand file, not a per-scale one). `what` names such a file in the error when the
// directory holds none. Throws std::invalid_argument starting with "--resume: ".
std::string find_resume_file(const std::string& spec, const std::string& what,
                             const std::function<bool(const nlohmann::json&)>& is_candidate);
// Refuses to mix settings: throws std::invalid_argument "--resume: <flag> differs: the
// interrupted run had <was>, this one <is> (its command line: ...)" unless was == is.
void check_same_setting(const std::string& flag, const nlohmann::json& was, const nlohmann::json& is,
                        const std::string& interrupted_command_line);
// check_same_setting for each {field, flag} of two runs' "parameters" objects (a missing field is
// null on its side).
struct ParameterFlag {
  const char* field;
  const char* flag;
};
void check_same_parameters(const nlohmann::json& was, const nlohmann::json& is,
                           std::initializer_list<ParameterFlag> fields,
                           const std::string& interrupted_command_line);

// ---- device and CPU set-up ----
// CPUs this process may run on (its affinity mask); 0 when unknown.
int usable_cpus();
// More threads than this per usable CPU are refused: the timing would be of threads waiting.
constexpr int kMaxThreadsPerCpu = 4;
// Where a thread count came from, for messages: "--threads" when the flag gave it, else
// "OMP_NUM_THREADS=<value>" or "OpenMP's default".
std::string thread_source(bool from_flag);
// Checks `threads` against the usable CPUs: "" when they fit, a warning when threads will share
// cores; throws std::invalid_argument naming `source` beyond kMaxThreadsPerCpu per CPU.
std::string check_thread_count(int threads, const std::string& source);
// Threads (0 = leave OpenMP's default, which OMP_NUM_THREADS sets) and SIMD target ("" or
// "auto" = best). Returns a warning when the threads outnumber the CPUs ("" otherwise). Throws
// std::invalid_argument naming the flag (or OMP_NUM_THREADS) for a bad value.
std::string configure_cpu(int threads, const std::string& target);
// "own", "blas" or "cublas"; checks the choice fits the device. Throws std::invalid_argument.
void configure_gemm(const std::string& gemm, Device device);
// The --device flag: "cpu", "cuda" (an error with the reason when no GPU is usable) or "auto"
// (CUDA when usable, else the CPU with a one-line notice on stderr naming `program`). Rewrites
// `flag` to the device chosen, so result files record what ran. Throws std::invalid_argument or
// std::runtime_error naming --device.
Device resolve_device(std::string& flag, const char* program);
// Physical memory of this machine in bytes (0 when unknown).
uint64_t physical_memory_bytes();
// Waits for queued device work (CUDA); a no-op on the CPU.
void synchronize(Device device);
// A hook for ip::Timer that synchronises `device`; null on the CPU, where there is nothing to wait for.
std::function<void()> synchroniser(Device device);

// ---- data ----
// Standard normal draws by Box-Muller over Philox uniforms: the same values on every machine and
// for any thread count, because element i depends only on (seed, stream, i).
std::vector<float> normal_values(size_t n, uint64_t seed, uint32_t stream);
// Fisher-Yates with draws from mix_seed(seed, i): a permutation of 0..n-1 that depends only on
// the seed (std::shuffle's result differs between standard libraries).
std::vector<size_t> seeded_permutation(size_t n, uint64_t seed);

// ---- context for result files ----
std::string host_name();  // the host name with anything but [A-Za-z0-9.-] turned into '-'
std::string command_line(int argc, char** argv);  // shell-quoted where needed
std::string format_duration(double seconds);      // "850 ms", "12.3 s", "4 min 05 s", "1 h 02 min"
// A duration for a flag: "90" or "90s" (seconds), "15ms", "4m" / "4min", "1.5h". Throws
// std::invalid_argument naming `flag` for anything else, and for values that are not finite
// and positive.
double parse_duration(const std::string& text, const std::string& flag);
// A reading in the result files' form (joules NaN unless measured or estimated).
Energy to_result_energy(const EnergyReading& reading);
// Adds b to a: joules and seconds add up; the quality is the weaker of the two and an
// unavailable part makes the sum unavailable (a partial sum would understate the energy).
EnergyReading add_readings(const EnergyReading& a, const EnergyReading& b);

// Writes progress lines to stderr unless quiet.
class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet) {}
  bool quiet() const { return quiet_; }
  void line(const std::string& text) const;

 private:
  bool quiet_;
};

}  // namespace ip
