#include "engine/device.h"

#include <stdexcept>

#if defined(INFERENCEPOWER_HAVE_CUDA)
#include "kernels/cuda/kernels.h"
#endif

namespace ip {

const char* device_name(Device device) { return device == Device::Cuda ? "cuda" : "cpu"; }

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::Cpu;
  if (name == "cuda") return Device::Cuda;
  throw std::invalid_argument("unknown device '" + name + "' (expected cpu or cuda)");
}

bool cuda_compiled() {
#if defined(INFERENCEPOWER_HAVE_CUDA)
  return true;
#else
  return false;
#endif
}

bool cuda_usable(std::string* why) {
#if defined(INFERENCEPOWER_HAVE_CUDA)
  // Asked once: the answer cannot change during a run and the query costs a driver call.
  static std::string reason;
  static const bool usable = ip::cuda::available(&reason);
  if (!usable && why) *why = reason;
  return usable;
#else
  if (why) *why = "this build has no CUDA backend (nvcc was not found when it was configured)";
  return false;
#endif
}

void require_device(Device device) {
  if (device == Device::Cpu) return;
  std::string why;
  if (!cuda_usable(&why)) throw std::runtime_error("device cuda requested but unavailable: " + why);
}

}  // namespace ip
