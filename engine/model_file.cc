#include "engine/model_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace ip {

namespace {

constexpr char kMagic[8] = {'I', 'P', 'M', 'O', 'D', 'E', 'L', 0x1A};
// Generous limits that no real model reaches; larger declared sizes mean a damaged file.
constexpr uint32_t kMaxDescription = 1u << 20;
constexpr uint32_t kMaxParameters = 1u << 16;

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
  throw std::runtime_error("model file '" + path + "': " + reason);
}

uint32_t crc32_of(const unsigned char* data, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; feed large buffers in pieces.
  while (n > 0) {
    const uInt piece = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, data, piece);
    data += piece;
    n -= piece;
  }
  return static_cast<uint32_t>(crc);
}

// Explicit little-endian encoding, independent of the host's byte order.
void put_u32(std::vector<unsigned char>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}
void put_u64(std::vector<unsigned char>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

// Bounds-checked reader over the file's bytes: reading past the end means a truncated file.
class Reader {
 public:
  Reader(const std::vector<unsigned char>& bytes, size_t end, const std::string& path)
      : b_(bytes), end_(end), path_(path) {}
  size_t pos() const { return pos_; }
  size_t left() const { return end_ - pos_; }
  void need(size_t n, const char* what) const {
    if (n > left())
      fail(path_, std::string("truncated: ") + what + " needs " + std::to_string(n) +
                      " bytes at offset " + std::to_string(pos_) + ", " +
                      std::to_string(left()) + " left");
  }
  uint64_t uint(int bytes, const char* what) {
    need(bytes, what);
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(b_[pos_ + i]) << (8 * i);
    pos_ += bytes;
    return v;
  }
  const unsigned char* take(size_t n, const char* what) {
    need(n, what);
    const unsigned char* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }

 private:
  const std::vector<unsigned char>& b_;
  size_t end_;
  const std::string& path_;
  size_t pos_ = 0;
};

std::vector<unsigned char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, "read error");
  return bytes;
}

void write_all(int fd, const std::vector<unsigned char>& bytes, const std::string& tmp) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail(tmp, std::string("write failed: ") + std::strerror(errno));
    done += static_cast<size_t>(w);
  }
}

}  // namespace

void save_model(Sequential& model, const std::string& path) {
  const std::string description = model.describe();
  const std::vector<Parameter> params = model.parameters();
  std::vector<unsigned char> out(kMagic, kMagic + sizeof kMagic);
  put_u32(out, kModelFileVersion);
  put_u32(out, static_cast<uint32_t>(description.size()));
  out.insert(out.end(), description.begin(), description.end());
  put_u32(out, static_cast<uint32_t>(params.size()));
  for (const Parameter& p : params) {
    const Shape& s = p.value->shape();
    put_u32(out, static_cast<uint32_t>(s.rank));
    for (int i = 0; i < s.rank; ++i) put_u64(out, s.dims[i]);
  }
  for (const Parameter& p : params) {
    for (float f : p.value->to_vector()) {
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      put_u32(out, bits);
    }
  }
  put_u32(out, crc32_of(out.data(), out.size()));

  // Temporary file in the target's directory, so that rename() is atomic (same file system).
  // The writer's pid in its name, and the lock it holds until the rename (as results'
  // lock_temporary does), let a later run tell a killed writer's leftover from a file that
  // another process is still writing.
  std::string tmp = path + ".tmp." + std::to_string(::getpid()) + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) fail(path, std::string("cannot create temporary file: ") + std::strerror(errno));
  (void)::flock(fd, LOCK_EX | LOCK_NB);  // unlocked where the file system has no locks
  try {
    // mkstemp creates the file 0600; a model file is ordinary data, readable like any other.
    if (::fchmod(fd, 0644) != 0) fail(tmp, std::string("chmod failed: ") + std::strerror(errno));
    write_all(fd, out, tmp);
    if (::fsync(fd) != 0) fail(tmp, std::string("fsync failed: ") + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // With the data synced, close has nothing left to report: the file stays open, and locked,
  // until it has its name.
  const int renamed = ::rename(tmp.c_str(), path.c_str());
  const int err = errno;
  ::close(fd);
  if (renamed != 0) {
    ::unlink(tmp.c_str());
    fail(path, std::string("rename failed: ") + std::strerror(err));
  }
  // Make the rename itself durable; failure here leaves a correct file, so it is not an error.
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

ModelFileContents read_model_file(const std::string& path) {
  const std::vector<unsigned char> bytes = read_all(path);
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    fail(path, "wrong magic: not an inferencepower model file");
  if (bytes.size() < sizeof kMagic + 4 + 4) fail(path, "truncated: header incomplete");
  // Everything but the trailing checksum is content.
  Reader r(bytes, bytes.size() - 4, path);
  r.take(sizeof kMagic, "magic");
  const uint32_t version = static_cast<uint32_t>(r.uint(4, "version"));
  if (version != kModelFileVersion)
    fail(path, "unknown format version " + std::to_string(version) + " (this build reads " +
                   std::to_string(kModelFileVersion) + ")");

  ModelFileContents c;
  const uint32_t desc_len = static_cast<uint32_t>(r.uint(4, "description length"));
  if (desc_len > kMaxDescription)
    fail(path, "absurd description length " + std::to_string(desc_len));
  const unsigned char* desc = r.take(desc_len, "description");
  c.description.assign(reinterpret_cast<const char*>(desc), desc_len);

  const uint32_t n_params = static_cast<uint32_t>(r.uint(4, "parameter count"));
  if (n_params > kMaxParameters)
    fail(path, "absurd parameter count " + std::to_string(n_params));
  // Each parameter needs at least 4 bytes of header: check before reserving anything.
  r.need(static_cast<size_t>(n_params) * 4, "parameter shapes");
  c.shapes.reserve(n_params);
  uint64_t total = 0;  // elements declared so far; bounded by the bytes left in the file
  for (uint32_t i = 0; i < n_params; ++i) {
    const uint32_t rank = static_cast<uint32_t>(r.uint(4, "parameter rank"));
    if (rank < 1 || rank > static_cast<uint32_t>(Shape::kMaxRank))
      fail(path, "parameter " + std::to_string(i) + " has absurd rank " + std::to_string(rank));
    std::vector<size_t> dims(rank);
    uint64_t count = 1;
    for (uint32_t d = 0; d < rank; ++d) {
      const uint64_t dim = r.uint(8, "parameter dimension");
      // The whole file bounds every product: no dimension can exceed its byte count / 4.
      if (dim == 0) fail(path, "parameter " + std::to_string(i) + " has a dimension of 0");
      if (dim > bytes.size() / 4 || count > (bytes.size() / 4) / dim)
        fail(path, "truncated or damaged: parameter " + std::to_string(i) + " declares dimension " +
                       std::to_string(dim) + ", more data than the file's " + std::to_string(bytes.size()) +
                       " bytes hold");
      count *= dim;
      dims[d] = static_cast<size_t>(dim);
    }
    total += count;
    if (total > bytes.size() / 4)
      fail(path, "truncated: parameters declare more data than the file's " +
                     std::to_string(bytes.size()) + " bytes");
    c.shapes.emplace_back(dims);
  }
  r.need(total * 4, "parameter data");
  if (r.left() != total * 4)
    fail(path, std::to_string(r.left() - total * 4) + " unexpected bytes after the data");
  const unsigned char* tail = bytes.data() + bytes.size() - 4;
  const uint32_t stored_crc = static_cast<uint32_t>(tail[0]) | static_cast<uint32_t>(tail[1]) << 8 |
                              static_cast<uint32_t>(tail[2]) << 16 |
                              static_cast<uint32_t>(tail[3]) << 24;
  const uint32_t actual_crc = crc32_of(bytes.data(), bytes.size() - 4);
  if (stored_crc != actual_crc)
    fail(path, "checksum mismatch (file is corrupted)");

  c.values.resize(n_params);
  for (uint32_t i = 0; i < n_params; ++i) {
    std::vector<float>& v = c.values[i];
    v.resize(c.shapes[i].numel());
    for (float& f : v) {
      const uint32_t bits = static_cast<uint32_t>(r.uint(4, "parameter data"));
      std::memcpy(&f, &bits, sizeof f);
    }
  }
  return c;
}

namespace {
void apply(Sequential& model, const ModelFileContents& c, const std::string& path) {
  const std::string expected = model.describe();
  if (c.description != expected)
    fail(path, "holds model '" + c.description + "', expected '" + expected + "'");
  const std::vector<Parameter> params = model.parameters();
  if (params.size() != c.shapes.size())
    fail(path, "has " + std::to_string(c.shapes.size()) + " parameters, the model " +
                   std::to_string(params.size()));
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].value->shape() != c.shapes[i])
      fail(path, "parameter " + params[i].name + " has shape " + c.shapes[i].str() +
                     ", the model " + params[i].value->shape().str());
  for (size_t i = 0; i < params.size(); ++i) params[i].value->from_host(c.values[i].data());
}
}  // namespace

void load_parameters(Sequential& model, const std::string& path) {
  apply(model, read_model_file(path), path);
}

Sequential load_model(const std::string& path) {
  const ModelFileContents c = read_model_file(path);
  // The data bounds what the description may declare: apply() compares shapes exactly later,
  // but only after parse() has built (allocated) every layer the description names.
  size_t stored = 0;
  for (const Shape& s : c.shapes) stored += s.numel();
  Sequential model;
  try {
    model = Sequential::parse(c.description, 0, stored);
  } catch (const std::invalid_argument& e) {
    fail(path, std::string("bad model description: ") + e.what());
  }
  apply(model, c, path);
  return model;
}

}  // namespace ip
