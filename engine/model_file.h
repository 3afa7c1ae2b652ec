// Model files: a model's description and parameters in one versioned, checksummed binary.
//
// Layout (all integers and floats little-endian):
//   magic        8 bytes  "IPMODEL" followed by 0x1A
//   version      u32      kModelFileVersion
//   desc_len     u32      then desc_len bytes: Sequential::describe() (no terminator)
//   n_params     u32      then per parameter: rank u32 (1..4), rank × u64 dims
//   data         float32 values of every parameter, in registry order
//   crc32        u32      zlib CRC-32 of every byte before it
// Files are written to a temporary file in the same directory, fsync'ed and renamed, so a
// reader sees the old file or the new one, never half of one. Every loading error is a
// std::runtime_error naming the file and the reason; sizes are checked against the file's
// length before anything is allocated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/sequential.h"

namespace ip {

constexpr uint32_t kModelFileVersion = 1;

struct ModelFileContents {
  std::string description;
  std::vector<Shape> shapes;
  std::vector<std::vector<float>> values;
};

void save_model(Sequential& model, const std::string& path);
// Parses and verifies a file (magic, version, structure, checksum) without building a model.
ModelFileContents read_model_file(const std::string& path);
// Loads parameters into `model`, which must have the file's description and shapes.
void load_parameters(Sequential& model, const std::string& path);
// Builds the model the file describes and loads its parameters.
Sequential load_model(const std::string& path);

}  // namespace ip
