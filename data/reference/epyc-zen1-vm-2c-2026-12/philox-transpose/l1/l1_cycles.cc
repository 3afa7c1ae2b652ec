// Nanoseconds per element of the CPU dropout (or AlphaDropout) forward and RReLU train forward on L1-resident
// arrays (4096 elements), one thread, AVX2 (or $TARGET): the best of 50 batches of `iters` calls, so that the
// host's stolen time (this VM has no cycle counters for perf) drops out. Cycles at the VM's
// ~2.24 GHz. Built against each side's static kernel library:
//   g++ -O2 -std=c++20 -I<repo> l1_cycles.cc <build>/libip_kernels_cpu.a -lhwy -fopenmp -lopenblas
//   OMP_NUM_THREADS=1 ./a.out dropout 200; ./a.out alpha_dropout 200; ./a.out rrelu 200
// l1_table.sh BASE NEW ROUNDS alternates two such binaries (the order swapped each round).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <chrono>
#include <algorithm>
#include "kernels/cpu/kernels.h"
using namespace ip;
int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "dropout";
  const long iters = argc > 2 ? atol(argv[2]) : 20000;
  const size_t rows = 4, cols = 1024, n = rows * cols;
  std::vector<float> x(n), y(n), noise(n);
  for (size_t i = 0; i < n; ++i) x[i] = float(i % 97) - 48.f;
  std::vector<uint32_t> mask(dropout_mask_words(FunctionId::Dropout, rows, cols) + 8);
  cpu::force_target(getenv("TARGET") ? getenv("TARGET") : "AVX2");
  Params<float> p{};
  double best = 1e30;
  for (int batch = 0; batch < 50; ++batch) {
    const auto t0 = std::chrono::steady_clock::now();
    for (long it = 0; it < iters; ++it) {
      if (!strcmp(what, "dropout") || !strcmp(what, "alpha_dropout")) cpu::dropout_forward(!strcmp(what, "dropout") ? FunctionId::Dropout : FunctionId::AlphaDropout, x.data(), y.data(), mask.data(), rows, cols, 0.5f, 1234 + it);
      else { p.p0 = 0.125f; p.p1 = 1.f/3; cpu::rrelu_train_forward(x.data(), y.data(), noise.data(), n, p, 1234 + it); }
    }
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, ns / (double(iters) * n));
  }
  printf("%s best ns/element %.3f (x 2.24 GHz = %.2f cycles)\n", what, best, best * 2.24);
  printf("%s %zu elements x %ld, y[5]=%g\n", what, n, iters, y[5]);
}
