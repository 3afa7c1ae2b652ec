// When a CPU kernel writes its output with non-temporal (streaming) stores. One rule for every
// kernel that streams, so that the benchmarks' copy reference (copy.cc) streams exactly when the
// kernels it is compared with do.
//
// Why: a normal store first reads the line it writes (read for ownership), so a kernel over arrays
// far larger than the caches moves 3 bytes per 2 it needs; streaming stores skip that read. Only
// for large outputs: streamed data is not in the cache for whoever reads it next. 64 MiB is well
// beyond the 2-4 MiB L2 of a core and a good part of a shared L3, so the output would be evicted
// before anyone reads it anyway; smaller ones (a batch of 64 x 1024 floats is 256 KiB) stay in
// the cache for the next layer.
#pragma once

#include <cstddef>

namespace ip::cpu {

constexpr size_t kStreamBytes = size_t{64} << 20;

inline bool use_streaming_stores(size_t output_bytes) { return output_bytes >= kStreamBytes; }

}  // namespace ip::cpu
