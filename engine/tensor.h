// A float32, row-major, contiguous tensor in CPU memory (64-byte aligned) or CUDA memory.
//
// A Tensor is a handle: copying it shares the storage (like a view), never the data. Data moves
// only through explicit calls (to, copy_from, from_vector, to_vector). The shape is held inline
// (rank <= 4), so copying a handle in the hot path does not allocate.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "engine/device.h"

namespace ip {

struct Shape {
  static constexpr int kMaxRank = 4;
  std::array<size_t, kMaxRank> dims{};
  int rank = 0;

  Shape() = default;
  Shape(std::initializer_list<size_t> d);
  explicit Shape(const std::vector<size_t>& d);
  size_t numel() const;
  size_t operator[](int i) const { return dims[i]; }
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "[64, 1024]"
};

// A failed tensor allocation, naming the size asked for and the device, so that a binary can
// tell its user which flag makes the allocation smaller. A std::bad_alloc for code that only
// cares that memory ran out.
class AllocationError : public std::bad_alloc {
 public:
  AllocationError(size_t bytes, Device device, const std::string& detail = "");
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  size_t bytes_;
  Device device_;
  std::string message_;
};

class Tensor {
 public:
  Tensor() = default;  // empty: no storage, rank 0, numel 0
  // Allocates zero-filled storage (allocation is for setup code, never the per-step hot path).
  explicit Tensor(const Shape& shape, Device device = Device::Cpu);

  static Tensor from_vector(const Shape& shape, const std::vector<float>& values,
                            Device device = Device::Cpu);
  std::vector<float> to_vector() const;  // copies to host
  // Copies numel() elements to/from host memory without allocating (e.g. a PReLU weight).
  void to_host(float* dst) const;
  void from_host(const float* src);

  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank; }
  size_t dim(int i) const { return shape_.dims[i]; }
  size_t numel() const { return shape_.numel(); }
  bool empty() const { return storage_ == nullptr; }

  // Pointer to the first element: host memory for Cpu, device memory for Cuda.
  float* data() const { return storage_ ? storage_->ptr + offset_ : nullptr; }

  // Same storage, new shape with the same element count.
  Tensor view(const Shape& shape) const;
  // Same storage, rows [begin, end) of dimension 0.
  Tensor rows(size_t begin, size_t end) const;
  bool shares_storage(const Tensor& other) const {
    return storage_ != nullptr && storage_ == other.storage_;
  }

  // A new tensor on `device` holding a copy of this one (a copy even when the device is the same).
  Tensor to(Device device) const;
  // Copies src's elements into this tensor's storage (same element count, any devices).
  void copy_from(const Tensor& src);
  void zero();

 private:
  struct Storage {
    float* ptr = nullptr;
    size_t count = 0;
    Device device = Device::Cpu;
    Storage(size_t n, Device d);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
  };

  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  Shape shape_;
  Device device_ = Device::Cpu;
};

// Reallocates `t` only when its shape or device differ: layer buffers are sized once per batch
// size and then reused, so steady-state forward/backward never allocates.
void ensure_shape(Tensor& t, const Shape& shape, Device device);

}  // namespace ip
