// A description of the machine and build for result files: numbers mean little without the CPU,
// SIMD target, GPU, compiler and library versions that produced them, and whether a hypervisor
// stood in between (which also tells the reader why energy may be unavailable).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ip {

// What /proc/cpuinfo says.
struct CpuInfo {
  std::string model;        // "model name" of the first processor; "" when absent
  bool hypervisor = false;  // the "hypervisor" CPU flag: running under a virtual machine
  int processors = 0;       // "processor" entries
};
CpuInfo parse_cpuinfo(const std::string& text);

struct HardwareInfo {
  std::string cpu_model;  // "unknown" when /proc/cpuinfo has none
  bool virtual_machine = false;
  int logical_cores = 0;
  int omp_max_threads = 0;
  std::string simd_target;                  // the target the CPU kernels dispatch to now
  std::vector<std::string> simd_available;  // compiled in and supported here, best first
  std::string gpu_name;                     // "" without a usable GPU; gpu_note says why
  std::string gpu_note;
  std::string os;      // PRETTY_NAME of /etc/os-release, else uname's system name
  std::string kernel;  // uname: system, release and machine
  std::string compiler;
  std::string highway_version;
  std::string cuda_runtime;  // "13.0" when built with CUDA, else ""
  std::string cuda_driver;   // the driver's CUDA version, "" when none

  nlohmann::json to_json() const;
  std::string summary() const;  // one line
};

// Reads what the machine says of itself now: CPU model, hypervisor, cores, OS, kernel and the
// compiler of this build. The fields only the kernels know (OpenMP threads, SIMD targets,
// Highway, CUDA and the GPU) are left to the program that links them. The paths are parameters so
// tests can give fake files.
HardwareInfo describe_machine(const std::string& cpuinfo_path = "/proc/cpuinfo",
                              const std::string& os_release_path = "/etc/os-release");

}  // namespace ip
