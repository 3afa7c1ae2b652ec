// Machine description: /proc/cpuinfo parsing (model name, hypervisor flag) on fake files, and the
// fields a result file relies on.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "experiments/common/hardware.h"
#include "kernels/cpu/kernels.h"

namespace ip {
namespace {

const char* kVmCpuinfo =
    "processor\t: 0\n"
    "vendor_id\t: GenuineIntel\n"
    "model name\t: Intel(R) Xeon(R) Platinum 8480+\n"
    "flags\t\t: fpu vme avx2 hypervisor avx512f\n"
    "\n"
    "processor\t: 1\n"
    "model name\t: Intel(R) Xeon(R) Platinum 8480+\n"
    "flags\t\t: fpu vme avx2 hypervisor avx512f\n";

const char* kBareCpuinfo =
    "processor\t: 0\n"
    "model name\t:   AMD EPYC 7763 64-Core Processor  \n"
    "flags\t\t: fpu nothypervisor hypervisor_like avx2\n";

TEST(Hardware, ParsesModelNameAndHypervisorFlag) {
  CpuInfo vm = parse_cpuinfo(kVmCpuinfo);
  EXPECT_EQ(vm.model, "Intel(R) Xeon(R) Platinum 8480+");
  EXPECT_TRUE(vm.hypervisor);
  EXPECT_EQ(vm.processors, 2);

  CpuInfo bare = parse_cpuinfo(kBareCpuinfo);
  EXPECT_EQ(bare.model, "AMD EPYC 7763 64-Core Processor");
  EXPECT_FALSE(bare.hypervisor);  // only the whole word counts
  EXPECT_EQ(bare.processors, 1);

  CpuInfo arm = parse_cpuinfo("processor\t: 0\nFeatures\t: fp asimd\nCPU part\t: 0xd0c\n");
  EXPECT_EQ(arm.model, "");
  EXPECT_FALSE(arm.hypervisor);
}

// A temporary file that is removed however the test ends.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& content) {
    char pattern[] = "/tmp/ip_hardware_test_XXXXXX";
    int fd = ::mkstemp(pattern);
    EXPECT_GE(fd, 0);
    if (fd >= 0) ::close(fd);
    path = pattern;
    std::ofstream(path) << content;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

TEST(Hardware, DescribesFromGivenFilesAndFillsJson) {
  TempFile cpuinfo(kVmCpuinfo);
  TempFile os_release("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
  HardwareInfo hw = describe_hardware(cpuinfo.path, os_release.path);
  EXPECT_EQ(hw.cpu_model, "Intel(R) Xeon(R) Platinum 8480+");
  EXPECT_TRUE(hw.virtual_machine);
  EXPECT_EQ(hw.os, "Debian GNU/Linux 12 (bookworm)");
  EXPECT_GE(hw.logical_cores, 1);
  EXPECT_GE(hw.omp_max_threads, 1);
  EXPECT_EQ(hw.simd_target, cpu::current_target());
  EXPECT_EQ(hw.simd_available, cpu::available_targets());
  EXPECT_FALSE(hw.compiler.empty());
  EXPECT_NE(hw.highway_version.find('.'), std::string::npos) << hw.highway_version;
  EXPECT_FALSE(hw.kernel.empty());
  if (hw.gpu_name.empty()) {
    EXPECT_FALSE(hw.gpu_note.empty());  // no GPU must say why
  }

  nlohmann::json j = hw.to_json();
  for (const char* key : {"cpu_model", "virtual_machine", "logical_cores", "omp_max_threads",
                          "simd_target", "simd_available", "gpu_name", "os", "kernel",
                          "compiler", "highway_version", "cuda_runtime", "cuda_driver"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["cpu_model"], hw.cpu_model);
  EXPECT_EQ(j["virtual_machine"], true);
#if !defined(INFERENCEPOWER_HAVE_CUDA)
  EXPECT_TRUE(j["cuda_runtime"].is_null());
#endif
  std::string line = hw.summary();
  EXPECT_NE(line.find(hw.cpu_model), std::string::npos) << line;
  EXPECT_NE(line.find("virtual machine"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Hardware, MissingCpuinfoSaysUnknown) {
  HardwareInfo hw = describe_hardware("/nonexistent/cpuinfo", "/nonexistent/os-release");
  EXPECT_EQ(hw.cpu_model, "unknown");
  EXPECT_FALSE(hw.virtual_machine);
  EXPECT_FALSE(hw.os.empty());  // uname's system name remains
}

}  // namespace
}  // namespace ip
