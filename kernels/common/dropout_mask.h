// The keep mask that train-mode dropout forward stores and backward reads (CPU and CUDA alike).
//
// Layout: bit b of 32-bit word b / 32 (bit b % 32, least significant first) is 1 when mask unit
// b is kept. A unit is element i of the rows x cols input, except for the row masks of Dropout3d
// on 2-D input (DropoutConstants::by_row), where one bit per row (unit = row index) is stored:
// the row's single draw decides all of its elements, so a bit per element would store the same
// bit cols times. Bits past the last unit of the last word are 0.
//
// Why stored instead of regenerated: re-running Philox from the seed in backward would cost as
// much as forward (the rounds are most of its work); reading 1 bit per element (1/32 of the float
// traffic) makes backward a plain scaled copy.
#pragma once

#include <cstddef>
#include <cstdint>

#include "activation_list.h"
#include "activation_math.h"

namespace ip {

// Mask units (bits) of a rows x cols dropout input (none when there is no element: the kernels
// then do nothing); throws std::invalid_argument for a function that is not a dropout (as
// dropout_constants does).
inline size_t dropout_mask_bits(FunctionId id, size_t rows, size_t cols) {
  const bool by_row = dropout_constants(id, 0.0).by_row;
  if (rows == 0 || cols == 0) return 0;
  return by_row ? rows : rows * cols;
}

// 32-bit words of the mask: what a caller allocates for dropout_forward's `mask`.
inline size_t dropout_mask_words(FunctionId id, size_t rows, size_t cols) {
  return (dropout_mask_bits(id, rows, cols) + 31) / 32;
}

inline bool dropout_mask_bit(const uint32_t* mask, size_t unit) {
  return (mask[unit / 32] >> (unit % 32)) & 1u;
}

}  // namespace ip
