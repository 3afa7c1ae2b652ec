#include "experiments/kernel_bench/cases.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <omp.h>

#include "engine/ops.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/dropout_mask.h"
#include "kernels/common/philox.h"
#ifdef INFERENCEPOWER_HAVE_CUDA
#include "kernels/cuda/kernels.h"
#endif

namespace ip::bench {

void FreeDeleter::operator()(float* p) const { std::free(p); }

HostArray host_alloc(std::size_t n) {
  std::size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!p) throw std::runtime_error("cannot allocate " + std::to_string(bytes) + " bytes");
  return HostArray(p);
}

void fill_normal(float* a, std::size_t n, float scale, uint64_t seed) {
  const long long count = static_cast<long long>(n);
#pragma omp parallel for schedule(static)
  for (long long i = 0; i < count; ++i)
    a[i] = static_cast<float>(scale * philox::normal(seed, philox::kBenchInputStream, static_cast<uint64_t>(i)));
}

#ifdef INFERENCEPOWER_HAVE_CUDA
DeviceArray::DeviceArray(std::size_t n) : p(static_cast<float*>(ip::cuda::device_alloc(n * sizeof(float)))) {}
DeviceArray::~DeviceArray() { ip::cuda::device_free(p); }
#endif

void memcpy_copy(const float* x, float* y, std::size_t n) {
#pragma omp parallel
  {
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t nt = static_cast<std::size_t>(omp_get_num_threads());
    std::size_t begin = n * t / nt, end = n * (t + 1) / nt;
    std::memcpy(y + begin, x + begin, (end - begin) * sizeof(float));
  }
}

Buffers shape_of(std::size_t requested, std::size_t cols) {
  Buffers b;
  b.cols = std::min(cols, requested);
  b.rows = requested / b.cols;
  b.n = b.rows * b.cols;
  return b;
}

std::size_t mask_words(std::size_t n) { return (n + 31) / 32; }

std::vector<Case> make_cases(Device dev, const FunctionInfo& f, const Buffers& b, const std::vector<std::string>& dirs,
                             uint64_t seed, std::vector<std::function<void()>>& prepare) {
  namespace ops = ip::ops;
  std::vector<Case> out;
  const double fb = sizeof(float) * static_cast<double>(b.n);
  const FunctionId id = f.id;
  const Params<float> p = default_params<float>(id);
  const float drop_p = static_cast<float>(f.param_defaults[0]);
  auto want = [&](const char* d) { return std::find(dirs.begin(), dirs.end(), d) != dirs.end(); };
  const std::string name = f.cli_name;
  const std::string kind = kind_name(f.kind);
  // Backward reads x and dy and writes dx, except Identity's: its derivative is 1 whatever x, so
  // the compiled loop never loads x and moves two arrays, not three (counting three would put it
  // far above the copy bandwidth).
  const double backward_bytes = (id == FunctionId::Identity ? 2 : 3) * fb;
  switch (f.kind) {
    case KernelKind::Elementwise:
      if (want("forward"))
        out.push_back({&f, name, kind, "forward", 2 * fb, [=] { ops::activation_forward(dev, id, b.x, b.y, b.n, p); }});
      if (want("backward"))
        out.push_back({&f, name, kind, "backward", backward_bytes,
                       [=] { ops::activation_backward(dev, id, b.x, b.dy, b.dx, b.n, p); }});
      // RReLU in train mode is its own kernel (random slopes from Philox), timed beside eval's.
      // Forward reads x and writes the output and the noise (the factor applied, which backward
      // multiplies dy by): 3 arrays. The noise goes to y, the output to dx, so that backward's
      // noise (from an untimed forward) is the same array every forward call rewrites.
      if (id == FunctionId::RReLU) {
        auto train_forward = [=] { ops::rrelu_train_forward(dev, b.x, b.dx, b.y, b.n, p, seed); };
        if (want("forward")) out.push_back({&f, name + ":train", kind, "forward", 3 * fb, train_forward});
        if (want("backward")) {
          prepare.push_back(train_forward);
          out.push_back({&f, name + ":train", kind, "backward", 3 * fb,
                         [=] { ops::rrelu_train_backward(dev, b.y, b.dy, b.dx, b.n); }});
        }
      }
      break;
    case KernelKind::Rowwise:
      if (want("forward"))
        out.push_back({&f, name, kind, "forward", 2 * fb,
                       [=] { ops::rowwise_forward(dev, id, b.x, b.y, b.rows, b.cols); }});
      if (want("backward")) {
        prepare.push_back([=] { ops::rowwise_forward(dev, id, b.x, b.y, b.rows, b.cols); });
        out.push_back({&f, name, kind, "backward", 3 * fb,
                       [=] { ops::rowwise_backward(dev, id, b.y, b.dy, b.dx, b.rows, b.cols); }});
      }
      break;
    case KernelKind::Dropout: {
      // Forward reads x, writes y and the keep mask; backward reads dy and the mask and writes
      // dx. The mask is a bit per element, or per row for Dropout3d (dropout_mask.h).
      const double mask_bytes = 4.0 * static_cast<double>(dropout_mask_words(id, b.rows, b.cols));
      if (want("forward"))
        out.push_back({&f, name, kind, "forward", 2 * fb + mask_bytes,
                       [=] { ops::dropout_forward(dev, id, b.x, b.y, b.mask, b.rows, b.cols, drop_p, seed); }});
      if (want("backward")) {
        // Backward reads the mask of a forward: one untimed forward stores it.
        prepare.push_back([=] { ops::dropout_forward(dev, id, b.x, b.y, b.mask, b.rows, b.cols, drop_p, seed); });
        out.push_back({&f, name, kind, "backward", 2 * fb + mask_bytes,
                       [=] { ops::dropout_backward(dev, id, b.dy, b.dx, b.mask, b.rows, b.cols, drop_p); }});
      }
      break;
    }
  }
  return out;
}

}  // namespace ip::bench
