// Plain loops over the scalar forms: the "scalar" backend of check_kernels and the reference that
// the SIMD and CUDA kernels are tested against. Templated on T so float64 runs the same code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "activation_list.h"
#include "activation_math.h"
#include "philox.h"

namespace ip::reference {

// Element-wise kinds only (kind == Elementwise); returns false for others.
template <typename T>
bool activation_forward(FunctionId id, const T* x, T* y, size_t n, Params<T> p) {
  return visit_function(id, [&](auto fid) {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind == KernelKind::Elementwise) {
      for (size_t i = 0; i < n; ++i) y[i] = Math<decltype(fid)::value>::forward(x[i], p);
      return true;
    }
    return false;
  });
}

// dx = dy * f'(x)
template <typename T>
bool activation_backward(FunctionId id, const T* x, const T* dy, T* dx, size_t n, Params<T> p) {
  return visit_function(id, [&](auto fid) {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind == KernelKind::Elementwise) {
      for (size_t i = 0; i < n; ++i) dx[i] = dy[i] * Math<decltype(fid)::value>::derivative(x[i], p);
      return true;
    }
    return false;
  });
}

template <typename T>
T prelu_weight_grad(const T* x, const T* dy, size_t n) {
  T sum = 0;
  for (size_t i = 0; i < n; ++i) sum += dy[i] * PReLU::weight_derivative(x[i]);
  return sum;
}

// RReLU in train mode: element i's negative slope is lower + (upper - lower) * u_i.
template <typename T>
T rrelu_train_slope(uint64_t seed, size_t i, Params<T> p) {
  return RReLU::train_slope(static_cast<T>(philox::uniform(seed, philox::kRReLUStream, i)), p);
}

template <typename T>
void rrelu_train_forward(const T* x, T* y, size_t n, Params<T> p, uint64_t seed) {
  for (size_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : x[i] * rrelu_train_slope(seed, i, p);
}

template <typename T>
void rrelu_train_backward(const T* x, const T* dy, T* dx, size_t n, Params<T> p, uint64_t seed) {
  for (size_t i = 0; i < n; ++i) dx[i] = dy[i] * (x[i] > T(0) ? T(1) : rrelu_train_slope(seed, i, p));
}

// Row-wise kinds only (kind == Rowwise); returns false for others.
template <typename T>
bool rowwise_forward(FunctionId id, const T* x, T* y, size_t rows, size_t cols) {
  return visit_function(id, [&](auto fid) {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind == KernelKind::Rowwise) {
      for (size_t r = 0; r < rows; ++r) Math<decltype(fid)::value>::forward_row(x + r * cols, y + r * cols, cols);
      return true;
    }
    return false;
  });
}

template <typename T>
bool rowwise_backward(FunctionId id, const T* y, const T* dy, T* dx, size_t rows, size_t cols) {
  return visit_function(id, [&](auto fid) {
    if constexpr (FunctionTraits<decltype(fid)::value>::kind == KernelKind::Rowwise) {
      for (size_t r = 0; r < rows; ++r)
        Math<decltype(fid)::value>::backward_row(y + r * cols, dy + r * cols, dx + r * cols, cols);
      return true;
    }
    return false;
  });
}

// Whether element i of a (rows x cols) input is kept in train mode.
inline bool dropout_keep(const DropoutConstants& c, uint64_t seed, size_t i, size_t cols) {
  const uint64_t mask_index = c.by_row ? i / cols : i;
  return philox::draw24(seed, philox::kDropoutStream, mask_index) < c.keep_below;
}

// The keep mask that the kernels' forward stores (dropout_mask.h's layout: a bit per element, or
// per row when c.by_row; bits past the last unit 0), from the draws: `words` =
// ceil(units / 32) words.
inline void dropout_mask(const DropoutConstants& c, uint64_t seed, size_t rows, size_t cols,
                         uint32_t* mask) {
  const size_t units = rows == 0 || cols == 0 ? 0 : c.by_row ? rows : rows * cols;
  for (size_t w = 0; w < (units + 31) / 32; ++w) mask[w] = 0;
  for (size_t u = 0; u < units; ++u)
    if (philox::draw24(seed, philox::kDropoutStream, u) < c.keep_below) mask[u / 32] |= 1u << (u % 32);
}

// Forward and backward both draw from the seed: the independent check of the kernels, whose
// backward reads the mask their forward stored.
template <typename T>
void dropout_forward(const DropoutConstants& c, const T* x, T* y, size_t rows, size_t cols, uint64_t seed) {
  for (size_t i = 0; i < rows * cols; ++i) y[i] = dropout_apply(x[i], dropout_keep(c, seed, i, cols), c);
}

template <typename T>
void dropout_backward(const DropoutConstants& c, const T* dy, T* dx, size_t rows, size_t cols, uint64_t seed) {
  for (size_t i = 0; i < rows * cols; ++i) dx[i] = dropout_gradient(dy[i], dropout_keep(c, seed, i, cols), c);
}

}  // namespace ip::reference
