#include "experiments/common/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace ip {
namespace {

// First growth step of a gzip file's buffer; later steps double what has arrived.
constexpr std::size_t kGzipStep = std::size_t{1} << 20;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw std::runtime_error(path + ": " + problem);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

// Where the bytes of an IDX file come from: the file itself or its inflated gzip stream.
class Source {
 public:
  virtual ~Source() = default;
  // Reads up to n bytes; fewer only when the data ends.
  virtual std::size_t read(uint8_t* dst, std::size_t n) = 0;
  // Fails unless nothing at all follows what has been read.
  virtual void expect_end() = 0;
  // For raw files the exact number of bytes left (so sizes are checked before allocating); for
  // gzip an upper bound only.
  virtual uint64_t remaining_bound() const = 0;
  virtual bool remaining_is_exact() const = 0;
};

class RawSource : public Source {
 public:
  RawSource(std::string path, std::FILE* f, uint64_t size)
      : path_(std::move(path)), f_(f), size_(size) {}

  std::size_t read(uint8_t* dst, std::size_t n) override {
    std::size_t got = std::fread(dst, 1, n, f_);
    if (got < n && std::ferror(f_)) fail(path_, std::string("read error: ") + std::strerror(errno));
    consumed_ += got;
    return got;
  }
  void expect_end() override {
    if (std::fgetc(f_) != EOF) fail(path_, "trailing bytes after the declared data");
  }
  uint64_t remaining_bound() const override { return size_ > consumed_ ? size_ - consumed_ : 0; }
  bool remaining_is_exact() const override { return true; }

 private:
  std::string path_;
  std::FILE* f_;
  uint64_t size_;
  uint64_t consumed_ = 0;
};

class GzipSource : public Source {
 public:
  GzipSource(std::string path, std::FILE* f, uint64_t compressed_size)
      : path_(std::move(path)), f_(f), compressed_size_(compressed_size) {
    std::memset(&zs_, 0, sizeof zs_);
    // 16 + MAX_WBITS: expect a gzip header and verify the gzip trailer (CRC-32 and length).
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) fail(path_, "cannot initialise zlib");
  }
  ~GzipSource() override { inflateEnd(&zs_); }

  std::size_t read(uint8_t* dst, std::size_t n) override {
    zs_.next_out = dst;
    zs_.avail_out = static_cast<uInt>(n);  // callers read at most kIdxMaxBytes < 4 GiB at once
    while (zs_.avail_out > 0 && !ended_) {
      if (zs_.avail_in == 0 && !refill()) break;  // compressed data ends early: a short read
      int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc != Z_OK) {
        fail(path_, std::string("corrupt gzip data (") + (zs_.msg ? zs_.msg : zError(rc)) + ")");
      }
    }
    std::size_t got = n - zs_.avail_out;
    produced_ += got;
    return got;
  }

  void expect_end() override {
    uint8_t extra;
    // Reading on processes the gzip trailer, which is where zlib checks the CRC.
    if (read(&extra, 1) != 0) fail(path_, "trailing bytes after the declared data");
    if (!ended_) fail(path_, "gzip stream is truncated (its end and checksum are missing)");
    // The IDX data is one gzip member; anything after it is not part of the data set.
    if (zs_.avail_in != 0 || std::fgetc(f_) != EOF) fail(path_, "trailing bytes after the gzip stream");
  }

  // Deflate expands at most about 1032:1, so a small file cannot hold a huge declared payload.
  uint64_t remaining_bound() const override {
    uint64_t bound = compressed_size_ * 1032 + 4096;
    return bound > produced_ ? bound - produced_ : 0;
  }
  bool remaining_is_exact() const override { return false; }

 private:
  bool refill() {
    std::size_t got = std::fread(in_, 1, sizeof in_, f_);
    if (got == 0 && std::ferror(f_)) fail(path_, std::string("read error: ") + std::strerror(errno));
    zs_.next_in = in_;
    zs_.avail_in = static_cast<uInt>(got);
    return got > 0;
  }

  std::string path_;
  std::FILE* f_;
  uint64_t compressed_size_;
  uint64_t produced_ = 0;
  z_stream zs_;
  bool ended_ = false;
  uint8_t in_[1 << 16];
};

uint32_t read_be32(Source& src, const std::string& path, const char* what) {
  uint8_t b[4];
  std::size_t got = src.read(b, 4);
  if (got != 4) fail(path, std::string("file ends inside the IDX header (reading the ") + what + ")");
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

}  // namespace

IdxArray read_idx(const std::string& path, uint32_t expected_magic, std::size_t max_bytes) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fileno(file.get()), &st) != 0) fail(path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  // Gzip by content, not by name: a renamed or decompressed-in-place file still loads.
  uint8_t head[2] = {0, 0};
  std::size_t head_len = std::fread(head, 1, 2, file.get());
  std::rewind(file.get());
  std::unique_ptr<Source> src;
  if (head_len == 2 && head[0] == 0x1f && head[1] == 0x8b)
    src = std::make_unique<GzipSource>(path, file.get(), file_size);
  else
    src = std::make_unique<RawSource>(path, file.get(), file_size);

  IdxArray out;
  out.magic = read_be32(*src, path, "magic number");
  if ((out.magic >> 8) != 0x000008)
    fail(path, "not an IDX file of unsigned bytes (magic " + hex32(out.magic) + ")");
  if (out.magic != expected_magic)
    fail(path, "IDX magic " + hex32(out.magic) + " (" + std::to_string(out.magic & 0xff) +
                   " dimensions), expected " + hex32(expected_magic) + " (" +
                   std::to_string(expected_magic & 0xff) + " dimensions)");

  const int ndims = static_cast<int>(out.magic & 0xff);
  uint64_t bytes = 1;
  for (int i = 0; i < ndims; ++i) {
    uint32_t d = read_be32(*src, path, "dimensions");
    out.dims.push_back(d);
    // Checked at every step so the product cannot overflow before it is compared.
    bytes *= d;
    if (bytes > max_bytes)
      fail(path, "declared size is absurd (dimension " + std::to_string(i) + " = " +
                     std::to_string(d) + " makes more than " + std::to_string(max_bytes) +
                     " bytes); refusing to allocate");
  }

  if (src->remaining_is_exact()) {
    uint64_t left = src->remaining_bound();
    if (left < bytes)
      fail(path, "truncated: the header declares " + std::to_string(bytes) + " data bytes but " +
                     std::to_string(left) + " follow");
    if (left > bytes)
      fail(path, "trailing bytes: the header declares " + std::to_string(bytes) +
                     " data bytes but " + std::to_string(left) + " follow");
  } else if (bytes > src->remaining_bound()) {
    fail(path, "declares " + std::to_string(bytes) + " data bytes, more than a " +
                   std::to_string(file_size) + "-byte gzip file can hold; refusing to allocate");
  }

  // A raw file's size was checked exactly above, so the declared size is allocated at once. A
  // gzip file's bound is 1032 times its size: the buffer grows only as inflated data arrives, so
  // a small file declaring a big payload costs memory in proportion to what it really holds.
  const std::size_t step = src->remaining_is_exact() ? static_cast<std::size_t>(bytes) : kGzipStep;
  std::size_t got = 0;
  while (got < bytes) {
    const std::size_t want = std::min<std::size_t>(bytes - got, std::max(step, got));
    out.data.resize(got + want);
    const std::size_t n = src->read(out.data.data() + got, want);
    got += n;
    if (n < want)
      fail(path, "truncated: the header declares " + std::to_string(bytes) +
                     " data bytes but only " + std::to_string(got) + " follow");
  }
  src->expect_end();
  return out;
}

std::vector<uint8_t> read_idx_labels(const std::string& path, int num_classes) {
  IdxArray a = read_idx(path, kIdxMagicLabels);
  if (num_classes > 0) {
    for (std::size_t i = 0; i < a.data.size(); ++i) {
      if (a.data[i] >= num_classes)
        fail(path, "label " + std::to_string(a.data[i]) + " at index " + std::to_string(i) +
                       " is not below " + std::to_string(num_classes));
    }
  }
  return std::move(a.data);
}

IdxImages read_idx_images(const std::string& path) {
  IdxArray a = read_idx(path, kIdxMagicImages);
  IdxImages out;
  out.count = a.dims[0];
  out.rows = a.dims[1];
  out.cols = a.dims[2];
  out.pixels = std::move(a.data);
  return out;
}

}  // namespace ip
