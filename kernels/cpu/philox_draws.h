// The CPU's vector Philox (kernels/cpu/philox-inl.h) behind a plain C++ call: for tests that
// check it against the scalar generator of kernels/common/philox.h, and for code outside the
// Highway translation units that wants many draws at once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ip::cpu {

// out[k] = philox::draw32(seed, stream, first_index + k) for k < n, on the current SIMD target.
void philox_draws32(uint64_t seed, uint32_t stream, uint64_t first_index, size_t n, uint32_t* out);

}  // namespace ip::cpu
