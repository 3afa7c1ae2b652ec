// Numbered CUDA kernel variants for kernel_bench: numbered 1..N from naive to vectorised,
// selectable by --variant, each validated against the scalar reference before it is timed (as
// llm.c's dev/cuda does). Benchmark-only: the engine uses the production kernels of kernels/cuda,
// which appear here as one variant per family, called through their API and marked `production`.
//
// Plain C++ (no CUDA types), so kernel_bench and the tests include it without nvcc. Every
// variant computes exactly the function of its family's reference (reference_kernels.h); only the
// launch shape and memory access differ, which is what the variants are there to compare.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"

namespace ip::cuda::variants {

enum class Family { Elementwise, Rowwise, Dropout };
inline constexpr Family kFamilies[] = {Family::Elementwise, Family::Rowwise, Family::Dropout};

// "elementwise", "rowwise", "dropout": the kind names kernel_bench already writes.
const char* family_name(Family family);
// The family of a table row's kind.
Family family_of(KernelKind kind);

// One call of a kernel on device pointers. The inputs by family and direction:
//   element-wise  forward: in = x          backward: in = x, in2 = dy   (out = dx = dy * f'(x))
//   row-wise      forward: in = x          backward: in = y, in2 = dy   (y = the forward output)
//   dropout       forward: in = x          backward: in = dy            (in2 unused)
// n = rows * cols; element-wise kernels use n only. Dropout's production kernel stores the keep
// mask in forward and reads it in backward (`mask`: dropout_mask_words(id, rows, cols) device
// words, kernels/common/dropout_mask.h); the other dropout variants draw the mask again from
// `seed` in both directions and leave `mask` alone (the pre-mask kernels, kept to compare).
struct Args {
  FunctionId id = FunctionId::Identity;
  bool backward = false;
  const float* in = nullptr;
  const float* in2 = nullptr;
  float* out = nullptr;
  size_t n = 0, rows = 0, cols = 0;
  Params<float> p{};    // element-wise parameters
  float drop_p = 0.5f;  // dropout probability
  uint64_t seed = 0;    // dropout mask seed
  uint32_t* mask = nullptr;  // dropout keep mask (production kernel only)
};

// Launches asynchronously on `stream` (a cudaStream_t; nullptr = the default stream); throws
// ip::cuda::Error on a launch failure and std::invalid_argument for a function of another family.
using Launch = void (*)(const Args& args, void* stream);

struct Variant {
  int number;               // 1..N within the family, naive first
  const char* name;         // short, for the table
  const char* description;  // launch shape and memory access, for --help and the JSON
  bool production;          // the kernel the engine uses (called through kernels/cuda/kernels.h)
  Launch launch;
};

// The variants of a family, ordered by number.
const std::vector<Variant>& variants(Family family);
// Nullptr when the family has no variant with that number.
const Variant* find_variant(Family family, int number);
const Variant& production_variant(Family family);

// The result of checking one variant against the scalar reference on small inputs.
struct Validation {
  bool ok = false;
  std::string detail;  // the first disagreements (input, got, want), or what was checked
};

// Runs `variant` of `family` for function `id` in one direction on small inputs (edge cases,
// random values, odd sizes with tails, a misaligned offset) and compares with reference_kernels.h:
// element-wise within 4 ulp or 1e-6 * max(1, |ref|) (gradients: max(1, |ref|, 1 + |x|)) as
// tests/cuda_test_kernels.cc; row-wise against a float64 reference within a rounding-error bound
// that holds for any summation order; dropout bit for bit. `cols` is the row width the benchmark
// will use (checked besides a few fixed widths). Needs a GPU; throws ip::cuda::Error otherwise.
Validation validate(Family family, const Variant& variant, FunctionId id, bool backward, size_t cols,
                    float drop_p = 0.5f, uint64_t seed = 1);

// Defined in the family sources.
namespace detail {
std::vector<Variant> elementwise_list();
std::vector<Variant> rowwise_list();
std::vector<Variant> dropout_list();
}  // namespace detail

}  // namespace ip::cuda::variants
