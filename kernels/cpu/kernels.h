// CPU kernels: Highway SIMD with runtime dispatch over the compiled targets, OpenMP over chunks.
// Plain C++ interface (no Highway types), used by the engine, experiments and tests.
//
// All element-wise entry points allow in-place use (y == x, dx == dy or dx == x) and any
// alignment and size. Thread count is OpenMP's (omp_set_num_threads / OMP_NUM_THREADS); results
// are bit-identical for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/dropout_mask.h"

namespace ip::cpu {

// ---- element-wise activations (table kind Elementwise) ----
// Throws std::invalid_argument for a function of another kind.
void activation_forward(FunctionId id, const float* x, float* y, size_t n, Params<float> p);
// dx = dy * f'(x)
void activation_backward(FunctionId id, const float* x, const float* dy, float* dx, size_t n,
                         Params<float> p);
// PReLU's weight gradient: sum over i of dy[i] * (x[i] > 0 ? 0 : x[i]), accumulated in double.
double prelu_weight_grad(const float* x, const float* dy, size_t n);
// RReLU in train mode, as PyTorch's rrelu_with_noise: element i's slope is drawn from Philox
// (philox.h, stream kRReLUStream) keyed by (seed, i); forward writes y and the factor it applied,
// noise[i] = x[i] > 0 ? 1 : slope_i (noise == nullptr: not stored, for a forward with no backward);
// backward is dx = dy * noise. p = {lower, upper}.
void rrelu_train_forward(const float* x, float* y, float* noise, size_t n, Params<float> p,
                         uint64_t seed);
void rrelu_train_backward(const float* noise, const float* dy, float* dx, size_t n);

// ---- row-wise: Softmax, Softmin, LogSoftmax over the last dimension (kind Rowwise) ----
void rowwise_forward(FunctionId id, const float* x, float* y, size_t rows, size_t cols);
// Backward from the forward output y and upstream dy.
void rowwise_backward(FunctionId id, const float* y, const float* dy, float* dx, size_t rows,
                      size_t cols);

// ---- dropout, train mode (kind Dropout). Eval mode is the identity and never calls these. ----
// Masks from Philox keyed by (seed, element index), or row index for Dropout3d on 2-D input.
// Forward writes the keep mask to `mask` (dropout_mask_words(id, rows, cols) words, layout in
// kernels/common/dropout_mask.h); backward reads it instead of drawing again, so it needs the
// mask of the matching forward and p only for the scale.
void dropout_forward(FunctionId id, const float* x, float* y, uint32_t* mask, size_t rows,
                     size_t cols, float p, uint64_t seed);
void dropout_backward(FunctionId id, const float* dy, float* dx, const uint32_t* mask,
                      size_t rows, size_t cols, float p);

// ---- SIMD targets ----
// Names of the targets compiled into this binary that this CPU supports, best first
// (e.g. "AVX3", "AVX2", "SSE4", "EMU128"/"SCALAR").
std::vector<std::string> available_targets();
// The target the kernels dispatch to now.
std::string current_target();
// Floats per vector of that target (8 on AVX2, 16 on AVX-512; SVE: this CPU's vector length).
std::size_t vector_floats();
// Restrict dispatch to one target by name (case-insensitive); "" or "auto" restores the best.
// Throws std::invalid_argument naming the available targets if the name is unknown.
void force_target(const std::string& name);

}  // namespace ip::cpu
