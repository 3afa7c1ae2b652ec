#include "engine/tensor.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>

#if defined(INFERENCEPOWER_HAVE_CUDA)
#include "kernels/cuda/kernels.h"
#endif

namespace ip {

namespace {
constexpr size_t kAlignment = 64;  // a cache line, and the widest SIMD load (AVX-512)

// Large host blocks are kept for reuse when freed instead of going back to the system. The C
// library maps every block above 32 MiB afresh and unmaps it on free, so a layer whose buffers
// are freed and allocated again (a new batch size, a benchmark that builds a network per
// sample) would page-fault through fresh pages each time: 1.6 GB of activations at 10^5
// instances cost about a second of kernel time per network, and the pages then differ from one
// network to the next. A block of the same size is handed out again (newest first), zeroed like
// any new block; what is kept is capped at a quarter of the machine's memory.
class HostBlockCache {
 public:
  static constexpr size_t kMinBytes = size_t(1) << 20;

  float* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = blocks_.find(bytes);
    if (it == blocks_.end()) return nullptr;
    float* p = it->second;
    blocks_.erase(it);
    kept_ -= bytes;
    return p;
  }
  // False when keeping it would pass the cap: the caller frees it.
  bool keep(float* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (kept_ + bytes > limit()) return false;
    blocks_.emplace(bytes, p);
    kept_ += bytes;
    return true;
  }
  ~HostBlockCache() {
    for (auto& [bytes, p] : blocks_) std::free(p);
  }

 private:
  static size_t limit() {
    static const size_t bytes = [] {
      const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
      return pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) / 4
                                   : size_t(1) << 30;
    }();
    return bytes;
  }

  std::mutex mutex_;
  std::multimap<size_t, float*> blocks_;
  size_t kept_ = 0;
};

HostBlockCache& host_blocks() {
  static HostBlockCache cache;
  return cache;
}

size_t host_block_bytes(size_t count) {
  // aligned_alloc needs a size that is a multiple of the alignment.
  const size_t bytes = (count * sizeof(float) + kAlignment - 1) / kAlignment * kAlignment;
  return bytes ? bytes : kAlignment;
}

#if !defined(INFERENCEPOWER_HAVE_CUDA)
[[noreturn]] void no_cuda() {
  require_device(Device::Cuda);  // throws with the reason
  throw std::logic_error("unreachable: CUDA reported usable but not compiled in");
}
#endif

// Copies between any two memories. Device-to-device goes through the host: the kernel API
// has no such copy and this is never on the hot path (model moves, checkpoint loads).
void copy_bytes(float* dst, Device dst_dev, const float* src, Device src_dev, size_t count) {
  const size_t bytes = count * sizeof(float);
  if (bytes == 0) return;
  if (dst_dev == Device::Cpu && src_dev == Device::Cpu) {
    std::memmove(dst, src, bytes);
    return;
  }
#if defined(INFERENCEPOWER_HAVE_CUDA)
  if (dst_dev == Device::Cuda && src_dev == Device::Cpu) {
    cuda::copy_to_device(dst, src, bytes);
  } else if (dst_dev == Device::Cpu && src_dev == Device::Cuda) {
    cuda::copy_to_host(dst, src, bytes);
  } else {
    std::vector<float> staging(count);
    cuda::copy_to_host(staging.data(), src, bytes);
    cuda::copy_to_device(dst, staging.data(), bytes);
  }
#else
  no_cuda();
#endif
}
}  // namespace

Shape::Shape(std::initializer_list<size_t> d) : Shape(std::vector<size_t>(d)) {}

Shape::Shape(const std::vector<size_t>& d) {
  if (d.size() > static_cast<size_t>(kMaxRank))
    throw std::invalid_argument("tensor rank " + std::to_string(d.size()) + " exceeds 4");
  rank = static_cast<int>(d.size());
  for (size_t i = 0; i < d.size(); ++i) dims[i] = d[i];
}

size_t Shape::numel() const {
  size_t n = 1;
  for (int i = 0; i < rank; ++i) n *= dims[i];
  return rank == 0 ? 0 : n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank != o.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (dims[i] != o.dims[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::ostringstream s;
  s << '[';
  for (int i = 0; i < rank; ++i) s << (i ? ", " : "") << dims[i];
  s << ']';
  return s.str();
}

AllocationError::AllocationError(size_t bytes, Device device, const std::string& detail)
    : bytes_(bytes), device_(device) {
  std::ostringstream m;
  m << "cannot allocate " << bytes << " bytes (" << static_cast<double>(bytes) / (1 << 20)
    << " MiB) of " << device_name(device) << " memory";
  if (!detail.empty()) m << ": " << detail;
  message_ = m.str();
}

Tensor::Storage::Storage(size_t n, Device d) : count(n), device(d) {
  const size_t bytes = n * sizeof(float);
  if (d == Device::Cpu) {
    const size_t block = host_block_bytes(n);
    if (block >= HostBlockCache::kMinBytes) ptr = host_blocks().take(block);
    if (!ptr) ptr = static_cast<float*>(std::aligned_alloc(kAlignment, block));
    if (!ptr) throw AllocationError(bytes, d);
    std::memset(ptr, 0, bytes);
    return;
  }
#if defined(INFERENCEPOWER_HAVE_CUDA)
  require_device(Device::Cuda);
  try {
    ptr = static_cast<float*>(cuda::device_alloc(bytes ? bytes : sizeof(float)));
  } catch (const std::exception& e) {
    throw AllocationError(bytes, d, e.what());
  }
  try {
    const std::vector<float> zeros(n);
    cuda::copy_to_device(ptr, zeros.data(), bytes);
  } catch (...) {
    cuda::device_free(ptr);
    throw;
  }
#else
  no_cuda();
#endif
}

Tensor::Storage::~Storage() {
  if (device == Device::Cpu) {
    const size_t block = host_block_bytes(count);
    if (block < HostBlockCache::kMinBytes || !host_blocks().keep(ptr, block)) std::free(ptr);
    return;
  }
#if defined(INFERENCEPOWER_HAVE_CUDA)
  try {
    cuda::device_free(ptr);
  } catch (...) {
    // A destructor must not throw; a failed free at shutdown is not worth a crash.
  }
#endif
}

Tensor::Tensor(const Shape& shape, Device device)
    : storage_(std::make_shared<Storage>(shape.numel(), device)), shape_(shape), device_(device) {}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values, Device device) {
  if (values.size() != shape.numel())
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) +
                                " values for shape " + shape.str());
  Tensor t(shape, device);
  copy_bytes(t.data(), device, values.data(), Device::Cpu, values.size());
  return t;
}

void Tensor::to_host(float* dst) const { copy_bytes(dst, Device::Cpu, data(), device_, numel()); }

void Tensor::from_host(const float* src) { copy_bytes(data(), device_, src, Device::Cpu, numel()); }

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(numel());
  copy_bytes(out.data(), Device::Cpu, data(), device_, out.size());
  return out;
}

Tensor Tensor::view(const Shape& shape) const {
  if (shape.numel() != numel())
    throw std::invalid_argument("view: shape " + shape.str() + " does not match " + shape_.str());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::rows(size_t begin, size_t end) const {
  if (rank() < 1 || begin > end || end > dim(0))
    throw std::out_of_range("rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                            ") outside shape " + shape_.str());
  Tensor t = *this;
  const size_t row = numel() / dim(0);
  t.offset_ += begin * row;
  t.shape_.dims[0] = end - begin;
  return t;
}

Tensor Tensor::to(Device device) const {
  require_device(device);
  Tensor t(shape_, device);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.numel() != numel())
    throw std::invalid_argument("copy_from: shape " + src.shape_.str() + " into " + shape_.str());
  copy_bytes(data(), device_, src.data(), src.device_, numel());
}

void Tensor::zero() {
  if (device_ == Device::Cpu) {
    if (numel()) std::memset(data(), 0, numel() * sizeof(float));
    return;
  }
#if defined(INFERENCEPOWER_HAVE_CUDA)
  // The kernel API has no memset; copy from a fixed block of host zeros, allocated once.
  static const std::vector<float> zeros(1 << 16);
  for (size_t done = 0; done < numel(); done += zeros.size()) {
    const size_t n = std::min(zeros.size(), numel() - done);
    cuda::copy_to_device(data() + done, zeros.data(), n * sizeof(float));
  }
#else
  no_cuda();
#endif
}

void ensure_shape(Tensor& t, const Shape& shape, Device device) {
  if (!t.empty() && t.shape() == shape && t.device() == device) return;
  t = Tensor(shape, device);
}

}  // namespace ip
