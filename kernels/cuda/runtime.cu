// Device discovery, memory and synchronisation for the CUDA backend.
#include <array>
#include <cstdio>
#include <string>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/kernels.h"

namespace ip::cuda {
namespace {

// A kernel that does nothing: asking for its attributes tells whether this binary holds code the
// device can run (an sm_80/sm_90 cubin or PTX it can JIT), before any real kernel fails.
__global__ void probe_kernel() {}

std::string version_text(int v) {  // CUDA encodes 12.4 as 12040
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

void set_why(std::string* why, const std::string& text) {
  if (why) *why = text;
}

}  // namespace

bool available(std::string* why) {
  int runtime_version = 0, driver_version = 0;
  (void)cudaRuntimeGetVersion(&runtime_version);
  // cudaDriverGetVersion reports 0 (with success) when libcuda cannot be loaded at all.
  if (cudaDriverGetVersion(&driver_version) != cudaSuccess || driver_version == 0) {
    (void)cudaGetLastError();
    set_why(why, "no CUDA driver found (libcuda.so could not be loaded); the CUDA runtime is " +
                     version_text(runtime_version));
    return false;
  }
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    (void)cudaGetLastError();
    if (err == cudaSuccess || err == cudaErrorNoDevice) {
      set_why(why, "no CUDA device found (driver " + version_text(driver_version) + ")");
    } else {
      // Most often cudaErrorInsufficientDriver: a driver older than the runtime's major version.
      set_why(why, std::string("no usable CUDA device: ") + cudaGetErrorName(err) + " (" +
                       cudaGetErrorString(err) + "); driver " + version_text(driver_version) +
                       ", runtime " + version_text(runtime_version));
    }
    return false;
  }
  int device = 0;
  cudaDeviceProp prop{};
  cudaError_t e = cudaGetDevice(&device);
  if (e == cudaSuccess) e = cudaGetDeviceProperties(&prop, device);
  cudaFuncAttributes attributes{};
  if (e == cudaSuccess) e = cudaFuncGetAttributes(&attributes, probe_kernel);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    std::string text = std::string("CUDA device ") + std::to_string(device);
    if (prop.name[0] != '\0')
      text += " (" + std::string(prop.name) + ", compute capability " + std::to_string(prop.major) +
              "." + std::to_string(prop.minor) + ")";
    text += " cannot run this build's kernels (built for sm_80, sm_90 and PTX 9.0): " +
            std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")";
    set_why(why, text);
    return false;
  }
  set_why(why, "");
  return true;
}

std::string device_name() {
  int device = 0;
  IP_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  IP_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  return prop.name;
}

void* device_alloc(size_t bytes) {
  void* ptr = nullptr;
  const cudaError_t err = cudaMalloc(&ptr, bytes);
  if (err != cudaSuccess) {
    // A failed cudaMalloc leaves its error for cudaGetLastError; clear it so the next launch
    // check does not blame the next kernel.
    (void)cudaGetLastError();
    char gib[64];
    std::snprintf(gib, sizeof gib, "%.3g GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
    throw Error("cudaMalloc of " + std::to_string(bytes) + " bytes (" + gib + ") failed: " +
                cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
  }
  return ptr;
}

void device_free(void* ptr) {
  if (ptr) IP_CUDA_CHECK(cudaFree(ptr));
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes) IP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) IP_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void synchronize() { IP_CUDA_CHECK(cudaDeviceSynchronize()); }

namespace detail {

unsigned grid_for(size_t work, unsigned threads) {
  // SM counts per device ordinal, looked up once per thread and device (0 = not yet known).
  thread_local std::array<int, 64> sm_count{};
  int device = 0;
  IP_CUDA_CHECK(cudaGetDevice(&device));
  int sms = 0;
  if (device >= 0 && device < static_cast<int>(sm_count.size()) && sm_count[device] > 0) {
    sms = sm_count[device];
  } else {
    IP_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    if (device >= 0 && device < static_cast<int>(sm_count.size())) sm_count[device] = sms;
  }
  // 32 blocks per SM is more than the SM can hold resident at once, so every SM stays busy, and
  // few enough that each thread of a grid-stride loop has several items on large inputs.
  const size_t needed = (work + threads - 1) / threads;
  const size_t cap = static_cast<size_t>(sms > 0 ? sms : 1) * 32;
  return static_cast<unsigned>(needed < cap ? needed : cap);
}

}  // namespace detail
}  // namespace ip::cuda
