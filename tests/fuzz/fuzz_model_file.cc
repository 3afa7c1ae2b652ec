// libFuzzer harness of the model-file loader (engine/model_file.h). Every input is tried twice:
// as it is, and with its trailing CRC-32 recomputed, because random mutations almost never keep
// the checksum right and would otherwise never reach the structure checks behind it or the model
// description parser. Refusals must be std::runtime_error naming the file.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "engine/model_file.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

void load(const uint8_t* data, size_t size) {
  const std::string& path = ip::fuzz::scratch().write(data, size);
  try {
    ip::read_model_file(path);
  } catch (const std::runtime_error&) {
  }
  // load_model also parses the description and builds the model it names.
  try {
    ip::Sequential model = ip::load_model(path);
    if (model.size() == 0) __builtin_trap();  // a loaded model has at least one layer
  } catch (const std::runtime_error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  load(data, size);
  if (size < 4) return 0;
  std::vector<uint8_t> fixed(data, data + size);
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, fixed.data(), static_cast<uInt>(size - 4)));
  for (int i = 0; i < 4; ++i) fixed[size - 4 + i] = static_cast<uint8_t>(crc >> (8 * i));
  load(fixed.data(), fixed.size());
  return 0;
}
