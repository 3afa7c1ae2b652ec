// IDX files (the MNIST container format), raw or gzip-compressed.
//
// Layout: a big-endian magic 0x0000TTNN (TT = element type, NN = number of dimensions), NN
// big-endian uint32 dimensions, then the elements row-major. Only unsigned bytes (TT = 0x08) are
// read: that is what MNIST and Fashion-MNIST use.
//
// The loader is strict because a silently short or padded data set would skew every accuracy we
// report: the declared size is checked against a cap before anything is allocated, the file must
// hold exactly the declared number of bytes (no truncation, no trailing bytes, gzip trailer and CRC
// verified), and every error is a std::runtime_error that starts with the file's path. A gzip
// file's buffer grows as inflated data arrives, so memory follows what the file holds, not what
// its header claims.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ip {

constexpr uint32_t kIdxMagicLabels = 0x00000801;  // u8, one dimension (count)
constexpr uint32_t kIdxMagicImages = 0x00000803;  // u8, three dimensions (count, rows, cols)

// Declared payloads above this are refused before allocating (MNIST's largest file is 47 MB).
constexpr std::size_t kIdxMaxBytes = 1000000000;

struct IdxArray {
  uint32_t magic = 0;
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;  // product(dims) bytes, row-major
};

// Reads an IDX file whose magic must equal expected_magic. Gzip is detected by its magic bytes,
// not by the file name.
IdxArray read_idx(const std::string& path, uint32_t expected_magic,
                  std::size_t max_bytes = kIdxMaxBytes);

// A label file; when num_classes > 0 every label must be < num_classes.
std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes = 10);

struct IdxImages {
  uint32_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // count × rows × cols
};
IdxImages read_idx_images(const std::string& path);

}  // namespace ip
