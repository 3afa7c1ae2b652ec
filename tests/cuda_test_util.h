// Device memory for the CUDA tests.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cuda/kernels.h"

namespace ip::test {

// n elements of T on the device (room for one at least, so an empty case still has a valid
// pointer), freed when the test's scope ends; a failed free is reported as a test failure rather
// than thrown out of a destructor.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n)
      : n_(n), ptr_(static_cast<T*>(cuda::device_alloc(std::max<size_t>(n, 1) * sizeof(T)))) {}
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
  ~DeviceArray() {
    try {
      cuda::device_free(ptr_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() { return ptr_; }
  T* at(size_t offset) { return ptr_ + offset; }
  void upload(const std::vector<T>& v, size_t offset = 0) {
    cuda::copy_to_device(ptr_ + offset, v.data(), v.size() * sizeof(T));
  }
  std::vector<T> download(size_t count, size_t offset = 0) const {
    std::vector<T> v(count);
    cuda::copy_to_host(v.data(), ptr_ + offset, count * sizeof(T));
    return v;
  }
  std::vector<T> download() const { return download(n_); }

 private:
  size_t n_;
  T* ptr_;
};

}  // namespace ip::test
