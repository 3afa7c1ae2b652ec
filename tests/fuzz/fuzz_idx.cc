// libFuzzer harness of the IDX loader (experiments/common/idx.h), raw and gzip-compressed: the
// loader detects gzip by its magic bytes, so the seed corpus holds both kinds and mutations
// reach both paths. Refusals must be std::runtime_error; a declared size must be refused before
// it is allocated (libFuzzer's -malloc_limit_mb turns an oversized allocation into a crash).
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "experiments/common/idx.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = ip::fuzz::scratch().write(data, size);
  // The three entry points the data loaders use; each checks the magic it expects.
  try {
    const std::vector<uint8_t> labels = ip::read_idx_labels(path, 10);
    for (uint8_t l : labels)
      if (l >= 10) __builtin_trap();  // read_idx_labels promised every label < 10
  } catch (const std::runtime_error&) {
  }
  try {
    const ip::IdxImages images = ip::read_idx_images(path);
    if (uint64_t{images.count} * images.rows * images.cols != images.pixels.size())
      __builtin_trap();  // the dimensions must describe exactly the bytes returned
  } catch (const std::runtime_error&) {
  }
  // A small cap, so a valid-looking file with a larger payload is refused by the cap check.
  try {
    ip::read_idx(path, ip::kIdxMagicImages, 64);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
