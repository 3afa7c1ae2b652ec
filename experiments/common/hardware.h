// The hardware description of result files: what the machine says of itself (measure/hardware.h)
// and what the kernels know of it, the SIMD target they dispatch to and the GPU they would use.
#pragma once

#include <string>

#include "measure/hardware.h"

namespace ip {

// Reads the machine now. The paths are parameters so tests can give fake files.
HardwareInfo describe_hardware(const std::string& cpuinfo_path = "/proc/cpuinfo",
                               const std::string& os_release_path = "/etc/os-release");

}  // namespace ip
