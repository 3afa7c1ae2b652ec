// The comparison GEMM backend: OpenBLAS's sgemm, opened at run time when the build found cblas.h,
// and the switch between it and our own GEMM (linalg.h).
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/cpu/gemm_detail.h"
#include "kernels/cpu/linalg.h"

#if defined(INFERENCEPOWER_HAVE_BLAS)
#include <cblas.h>
#include <dlfcn.h>
#endif

namespace ip::cpu {
namespace {

std::atomic<GemmBackend> g_backend{GemmBackend::Own};

#if defined(INFERENCEPOWER_HAVE_BLAS)
// OpenBLAS is opened on first use (dlopen), not linked. A linked OpenBLAS starts its thread pool
// when the program loads, in every binary whether it compares against BLAS or not: those threads
// compete with ours for the cores, and at exit OpenBLAS joins them — under an address-space limit
// one of them looped in a failing malloc, so an out-of-memory error never returned.
struct Blas {
  decltype(&cblas_sgemm) sgemm = nullptr;
  void (*set_num_threads)(int) = nullptr;
  char* (*get_corename)() = nullptr;
  int (*thread_shutdown)() = nullptr;  // OpenBLAS's internal blas_thread_shutdown_, when exported
  std::string error;  // why sgemm is null
};

const Blas& blas() {
  static const Blas loaded = [] {
    Blas b;
    void* lib = nullptr;
    for (const char* name : {"libopenblas.so.0", "libopenblas.so"})
      if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    if (!lib) {
      b.error = std::string("cannot load OpenBLAS: ") + dlerror();
      return b;
    }
    b.sgemm = reinterpret_cast<decltype(b.sgemm)>(dlsym(lib, "cblas_sgemm"));
    b.set_num_threads = reinterpret_cast<decltype(b.set_num_threads)>(dlsym(lib, "openblas_set_num_threads"));
    b.get_corename = reinterpret_cast<decltype(b.get_corename)>(dlsym(lib, "openblas_get_corename"));
    b.thread_shutdown = reinterpret_cast<decltype(b.thread_shutdown)>(dlsym(lib, "blas_thread_shutdown_"));
    if (!b.sgemm) b.error = "the loaded OpenBLAS has no cblas_sgemm";
    return b;
  }();
  return loaded;
}
#endif

}  // namespace

#if defined(INFERENCEPOWER_HAVE_BLAS)
namespace gemm_detail {

void gemm_blas(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha,
               const float* A, size_t lda, const float* B, size_t ldb, float beta, float* C,
               size_t ldc) {
  constexpr size_t kMax = static_cast<size_t>(std::numeric_limits<int>::max());
  if (M > kMax || N > kMax || K > kMax || lda > kMax || ldb > kMax || ldc > kMax) {
    throw std::invalid_argument("gemm: size exceeds the BLAS integer range");
  }
  // OpenBLAS needs ld >= 1 even for empty operands.
  blas().sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
               static_cast<int>(K), alpha, A, static_cast<int>(std::max<size_t>(lda, 1)), B,
               static_cast<int>(std::max<size_t>(ldb, 1)), beta, C, static_cast<int>(ldc));
}

}  // namespace gemm_detail
#endif

bool blas_available() {
#if defined(INFERENCEPOWER_HAVE_BLAS)
  return blas().sgemm != nullptr;
#else
  return false;
#endif
}

void blas_set_threads(int threads) {
#if defined(INFERENCEPOWER_HAVE_BLAS)
  if (blas().set_num_threads) blas().set_num_threads(threads);
#else
  (void)threads;
#endif
}

bool blas_stop_threads() {
#if defined(INFERENCEPOWER_HAVE_BLAS)
  if (blas().sgemm && blas().thread_shutdown) return blas().thread_shutdown() == 0;
#endif
  return false;
}

std::string blas_core_name() {
#if defined(INFERENCEPOWER_HAVE_BLAS)
  if (blas().get_corename) return blas().get_corename();
#endif
  return "";
}

void set_gemm_backend(GemmBackend backend) {
  if (backend == GemmBackend::Blas && !blas_available()) {
#if defined(INFERENCEPOWER_HAVE_BLAS)
    const std::string why = blas().error;
#else
    const std::string why = "this build found no OpenBLAS header cblas.h (Debian: libopenblas-dev; then reconfigure)";
#endif
    throw std::invalid_argument("GEMM backend 'blas' is not available: " + why +
                                "; use the built-in backend");
  }
  g_backend.store(backend);
}

GemmBackend gemm_backend() { return g_backend.load(); }

}  // namespace ip::cpu
