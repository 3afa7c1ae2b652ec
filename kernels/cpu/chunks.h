// The fixed work split of every CPU kernel: a range is cut into chunks whose boundaries depend
// only on its length, never on the thread count, and OpenMP hands whole chunks to threads. Each
// element is therefore computed by the same code at the same position within its chunk for any
// number of threads, and a reduction that sums one partial per chunk in chunk order (PReLU's
// weight gradient) gives the same bits too.
//
// For the HWY_ONCE part of the kernel files only: OpenMP inside HWY_NAMESPACE crashes clang 14.
// The partial vector at the end of a chunk (or row) is tail-inl.h's business.
#pragma once

#include <algorithm>
#include <cstddef>

namespace ip::cpu {

// Elements per chunk: large enough to amortise the dispatch and the scheduling (64 KiB of floats
// per array stays in L2), small enough to balance two to a few dozen threads on modest sizes. A
// multiple of every vector length and of the Philox block (4 draws) and mask word (32 bits) that
// dropout and RReLU need chunks to start on (they check this with static_asserts).
inline constexpr size_t kChunkElements = 16384;

// Calls body(begin, end) for the chunks [k * chunk, min(count, (k + 1) * chunk)) of [0, count),
// over OpenMP threads when there are several; one chunk runs on the calling thread without
// starting a parallel region (a one-instance prediction calls many small kernels). `chunk` may
// count rows instead of elements (row-wise kernels, Dropout3d's row masks).
template <class Body>
void for_each_chunk(size_t count, size_t chunk, const Body& body) {
  if (count == 0) return;
  const size_t chunks = (count + chunk - 1) / chunk;
  if (chunks == 1) {
    body(size_t{0}, count);
    return;
  }
#pragma omp parallel for schedule(static)
  for (long long k = 0; k < static_cast<long long>(chunks); ++k) {
    const size_t begin = static_cast<size_t>(k) * chunk;
    body(begin, std::min(count, begin + chunk));
  }
}

// The element chunks: for_each_chunk(n, kChunkElements, body).
template <class Body>
void for_each_chunk(size_t n, const Body& body) {
  for_each_chunk(n, kChunkElements, body);
}

// How many element chunks cover n elements (one partial per chunk for a reduction).
constexpr size_t chunk_count(size_t n) { return (n + kChunkElements - 1) / kChunkElements; }

}  // namespace ip::cpu
