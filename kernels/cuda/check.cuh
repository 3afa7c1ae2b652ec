// Error checking for the CUDA backend. Every runtime call goes through IP_CUDA_CHECK and every
// kernel launch is followed by IP_CUDA_CHECK_LAUNCH, so a failure surfaces as ip::cuda::Error at
// the call that caused it (with the call's text, file:line and CUDA's own message) instead of as
// a mysterious error from some later, innocent call.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <stdexcept>
#include <string>

#include "kernels/cuda/kernels.h"

namespace ip::cuda::detail {

[[noreturn]] inline void throw_error(cudaError_t err, const char* what, const char* file, int line) {
  // Clear a non-sticky error so that the next, unrelated check does not report it again.
  (void)cudaGetLastError();
  throw Error(std::string(what) + " failed at " + file + ":" + std::to_string(line) + ": " +
              cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

// visit_function falls back to Identity for an id outside the table; every entry point refuses
// such an id instead of silently running the wrong function.
inline void check_function_id(FunctionId id) {
  const int i = static_cast<int>(id);
  if (i < 0 || i >= kFunctionCount)
    throw std::invalid_argument("invalid function id " + std::to_string(i));
}

[[noreturn]] inline void throw_wrong_kind(FunctionId id, const char* entry, const char* expected) {
  throw std::invalid_argument(std::string(entry) + ": " + function_info(id).name + " is not " +
                              expected);
}

inline cudaStream_t as_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

// Blocks for a grid-stride loop over `work` items with `threads` per block: enough blocks to fill
// the device several times over, never more than the work needs. Defined in runtime.cu (it asks
// the current device for its SM count once per device).
unsigned grid_for(size_t work, unsigned threads);

}  // namespace ip::cuda::detail

#define IP_CUDA_CHECK(call)                                                        \
  do {                                                                             \
    const cudaError_t ip_cuda_err_ = (call);                                       \
    if (ip_cuda_err_ != cudaSuccess)                                               \
      ::ip::cuda::detail::throw_error(ip_cuda_err_, #call, __FILE__, __LINE__);    \
  } while (0)

// After `kernel<<<...>>>(...)`: launch-configuration errors are only reported by cudaGetLastError.
#define IP_CUDA_CHECK_LAUNCH(kernel_name)                                                    \
  do {                                                                                       \
    const cudaError_t ip_cuda_err_ = cudaGetLastError();                                     \
    if (ip_cuda_err_ != cudaSuccess)                                                         \
      ::ip::cuda::detail::throw_error(ip_cuda_err_, "launch of " kernel_name, __FILE__, __LINE__); \
  } while (0)
