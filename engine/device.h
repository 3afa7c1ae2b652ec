// Where a tensor's memory lives. CUDA is optional: asking for it without the backend compiled in,
// or without a usable GPU, is an error that says which of the two is missing.
#pragma once

#include <string>

namespace ip {

enum class Device { Cpu, Cuda };

const char* device_name(Device device);  // "cpu" or "cuda"
Device parse_device(const std::string& name);  // throws std::invalid_argument for other names

// True when this build contains the CUDA backend (INFERENCEPOWER_HAVE_CUDA).
bool cuda_compiled();
// True when the CUDA backend is compiled in and a GPU is usable; otherwise *why says what is not.
bool cuda_usable(std::string* why = nullptr);
// Throws std::runtime_error with the reason when `device` cannot be used here.
void require_device(Device device);

}  // namespace ip
