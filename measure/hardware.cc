// The machine and build description (see hardware.h).
#include "measure/hardware.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace ip {

namespace {

std::string trim(const std::string& text) {
  const char* space = " \t\r\n";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return {};
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

bool read_file(const std::string& path, std::string* text) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream out;
  out << in.rdbuf();
  *text = out.str();
  return true;
}

std::string compiler_text() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return __VERSION__;
#endif
}

}  // namespace

CpuInfo parse_cpuinfo(const std::string& text) {
  CpuInfo info;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = trim(line.substr(0, colon));
    std::string value = trim(line.substr(colon + 1));
    if (key == "processor") {
      ++info.processors;
    } else if (key == "model name" && info.model.empty()) {
      info.model = value;
    } else if (key == "flags" && !info.hypervisor) {
      // Whole words only: a flag merely containing the text must not count.
      std::istringstream flags(value);
      std::string flag;
      while (flags >> flag)
        if (flag == "hypervisor") info.hypervisor = true;
    }
  }
  return info;
}

HardwareInfo describe_machine(const std::string& cpuinfo_path, const std::string& os_release_path) {
  HardwareInfo hw;
  std::string text;
  CpuInfo cpu;
  if (read_file(cpuinfo_path, &text)) cpu = parse_cpuinfo(text);
  hw.cpu_model = cpu.model.empty() ? "unknown" : cpu.model;
  hw.virtual_machine = cpu.hypervisor;
  long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  hw.logical_cores = online > 0 ? static_cast<int>(online) : cpu.processors;

  utsname names{};
  if (::uname(&names) == 0) {
    hw.kernel = std::string(names.sysname) + " " + names.release + " " + names.machine;
    hw.os = names.sysname;
  }
  if (read_file(os_release_path, &text)) {
    std::istringstream in(text);
    std::string line;
    const std::string key = "PRETTY_NAME=";
    while (std::getline(in, line)) {
      if (line.compare(0, key.size(), key) != 0) continue;
      std::string value = trim(line.substr(key.size()));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      if (!value.empty()) hw.os = value;
    }
  }

  hw.compiler = compiler_text();
  return hw;
}

nlohmann::json HardwareInfo::to_json() const {
  nlohmann::json j = {
      {"cpu_model", cpu_model},
      {"virtual_machine", virtual_machine},
      {"logical_cores", logical_cores},
      {"omp_max_threads", omp_max_threads},
      {"simd_target", simd_target},
      {"simd_available", simd_available},
      {"os", os},
      {"kernel", kernel},
      {"compiler", compiler},
      {"highway_version", highway_version},
  };
  // null, not "", where there is nothing: a reader should not mistake it for a name.
  j["gpu_name"] = gpu_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(gpu_name);
  if (!gpu_note.empty()) j["gpu_note"] = gpu_note;
  j["cuda_runtime"] = cuda_runtime.empty() ? nlohmann::json(nullptr) : nlohmann::json(cuda_runtime);
  j["cuda_driver"] = cuda_driver.empty() ? nlohmann::json(nullptr) : nlohmann::json(cuda_driver);
  return j;
}

std::string HardwareInfo::summary() const {
  std::string s = cpu_model + ", " + std::to_string(logical_cores) + " logical cores, " +
                  std::to_string(omp_max_threads) + " OpenMP threads";
  if (virtual_machine) s += ", virtual machine";
  s += ", SIMD " + simd_target;
  s += ", GPU " + (gpu_name.empty() ? std::string("none") : gpu_name);
  if (!cuda_runtime.empty()) s += " (CUDA runtime " + cuda_runtime + ")";
  s += ", " + os + " (" + kernel + "), " + compiler + ", Highway " + highway_version;
  return s;
}

}  // namespace ip
