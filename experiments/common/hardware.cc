#include "experiments/common/hardware.h"

#include <omp.h>

// Highway's version macros (in hwy/highway.h in 1.0.x, hwy/base.h later). This file is not an
// engine header, so including Highway here keeps it out of the engine's public interface.
#include <hwy/highway.h>

#include "kernels/cpu/kernels.h"
#if defined(INFERENCEPOWER_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include "kernels/cuda/kernels.h"
#endif

namespace ip {

namespace {

// "12040" -> "12.4": CUDA encodes versions as 1000 * major + 10 * minor. Unused (and so a
// -Wunused-function warning) in a build without CUDA, such as make test-sanitize.
[[maybe_unused]] std::string cuda_version_text(int version) {
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

}  // namespace

HardwareInfo describe_hardware(const std::string& cpuinfo_path, const std::string& os_release_path) {
  HardwareInfo hw = describe_machine(cpuinfo_path, os_release_path);
  hw.omp_max_threads = omp_get_max_threads();
  hw.simd_target = cpu::current_target();
  hw.simd_available = cpu::available_targets();
  hw.highway_version = std::to_string(HWY_MAJOR) + "." + std::to_string(HWY_MINOR) + "." +
                       std::to_string(HWY_PATCH);

#if defined(INFERENCEPOWER_HAVE_CUDA)
  int version = 0;
  if (cudaRuntimeGetVersion(&version) == cudaSuccess) hw.cuda_runtime = cuda_version_text(version);
  if (cudaDriverGetVersion(&version) == cudaSuccess && version > 0)
    hw.cuda_driver = cuda_version_text(version);
  std::string why;
  if (cuda::available(&why)) {
    try {
      hw.gpu_name = cuda::device_name();
    } catch (const std::exception& e) {
      hw.gpu_note = e.what();
    }
  } else {
    hw.gpu_note = why;
  }
#else
  hw.gpu_note = "built without CUDA";
#endif
  return hw;
}

}  // namespace ip
