// Cycles per vector (8 floats) of one element-wise or row-wise kernel on L1-resident data (4096
// floats; row-wise as 4 rows of 1024), one thread, AVX2 (or $TARGET): the best of 50 batches, so
// that the host's stolen time drops out (this VM has no cycle counters). Cycles at ~2.24 GHz.
// Built against each side's static kernel library:
//   g++ -O2 -std=c++20 -I<repo> l1_elem.cc <build>/libip_kernels_cpu.a -lhwy -fopenmp -lopenblas
//   OMP_NUM_THREADS=1 ./a.out gelu forward 1000
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <chrono>
#include <algorithm>
#include "kernels/cpu/kernels.h"
using namespace ip;
int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "gelu";
  const char* dir = argc > 2 ? argv[2] : "forward";
  const long iters = argc > 3 ? atol(argv[3]) : 2000;
  const size_t n = 4096;
  std::vector<float> x(n), y(n), dy(n, 1.0f);
  for (size_t i = 0; i < n; ++i) x[i] = (float(i % 97) - 48.f) / 12.f;
  FunctionId id{};
  bool found = false;
  for (const auto& info : kFunctionInfo) if (!strcmp(info.cli_name, what)) { id = info.id; found = true; }
  if (!found) { fprintf(stderr, "unknown %s\n", what); return 1; }
  cpu::force_target(getenv("TARGET") ? getenv("TARGET") : "AVX2");
  Params<float> p{};
  p.p0 = 1.0f; p.p1 = 1.0f;
  double best = 1e30;
  for (int batch = 0; batch < 50; ++batch) {
    const auto t0 = std::chrono::steady_clock::now();
    for (long it = 0; it < iters; ++it) {
      if (function_info(id).kind == KernelKind::Rowwise) {
        if (!strcmp(dir, "forward")) cpu::rowwise_forward(id, x.data(), y.data(), 4, n / 4);
        else cpu::rowwise_backward(id, x.data(), dy.data(), y.data(), 4, n / 4);
      } else if (!strcmp(dir, "forward")) cpu::activation_forward(id, x.data(), y.data(), n, p);
      else cpu::activation_backward(id, x.data(), dy.data(), y.data(), n, p);
    }
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, ns / (double(iters) * n));
  }
  printf("%s %s best ns/element %.4f (x 2.24 GHz = %.2f cycles/elem, %.1f per 8)\n", what, dir, best, best * 2.24, best*2.24*8);
}
