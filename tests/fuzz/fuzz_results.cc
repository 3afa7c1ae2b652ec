// libFuzzer harness of the result-file reader that power_table uses
// (results/results.h): JSON from our runs and the paper's files. Refusals must be
// std::runtime_error naming the file; anything else (a JSON type error escaping, a crash) is a
// finding.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "results/results.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = ip::fuzz::scratch().write(data, size);
  try {
    const ip::ResultFile f = ip::read_result_file(path);
    // What power_table does next with a rand file: group it with others (same reader again).
    if (f.kind == ip::ResultFileKind::Rand) ip::read_rand_files({path, path});
  } catch (const std::runtime_error&) {
  }
  try {
    ip::read_mnist_file(path);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
