// CPU GEMM and optimizer kernels (Highway + OpenMP), plain C++ interface for the engine.
// Row-major throughout. Results are bit-identical for any OpenMP thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/common/optim_math.h"

namespace ip::cpu {

// ---- GEMM: C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C ----
// op(A) = A (M x K, leading dim lda) or Aᵀ (A stored K x M); likewise op(B).
// The Linear layer uses: forward  y  = x · Wᵀ      (trans_b)
//                        backward dx = dy · W      (no transposes)
//                        backward dW = dyᵀ · x     (trans_a)
// beta == 0 overwrites C without reading it (C may hold NaN garbage).
void gemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float* A,
          size_t lda, const float* B, size_t ldb, float beta, float* C, size_t ldc);

enum class GemmBackend { Own, Blas };
// Own (default): this project's Highway GEMM. Blas: OpenBLAS sgemm for comparison, when built
// with cblas.h (INFERENCEPOWER_HAVE_BLAS) and libopenblas loads at run time (it is opened on first
// use, never linked); set_gemm_backend throws std::invalid_argument naming why when absent.
void set_gemm_backend(GemmBackend backend);
GemmBackend gemm_backend();
bool blas_available();  // loads OpenBLAS (and so starts its threads) the first time
// OpenBLAS's own thread pool size and the CPU core type it chose ("" when not loaded/absent).
void blas_set_threads(int threads);
std::string blas_core_name();
// Ends OpenBLAS's worker threads; its next call starts them again. After each call they
// busy-wait for new work (2^28 cycles by default, OPENBLAS_THREAD_TIMEOUT), so timing our own
// kernels right after OpenBLAS shares the cores with them. False where OpenBLAS is absent or
// does not export blas_thread_shutdown_ (nothing is done then).
bool blas_stop_threads();

// y[m, :] += bias for each of the M rows of an M x N matrix.
void add_bias_rows(float* y, const float* bias, size_t M, size_t N);
// out[n] = (accumulate ? out[n] : 0) + sum over m of dy[m, n]  (the bias gradient)
void sum_rows(const float* dy, size_t M, size_t N, float* out, bool accumulate);

// ---- optimizers: PyTorch's update rules and defaults exactly (kernels/common/optim_math.h) ----
using SgdConfig = ::ip::SgdConfig;
using AdamConfig = ::ip::AdamConfig;
// With momentum == 0 the buffer is neither read nor written (may be nullptr).
void sgd_step(float* param, const float* grad, float* momentum_buf, size_t n,
              const SgdConfig& config, bool first_step);

void adam_step(float* param, const float* grad, float* m, float* v, size_t n,
               const AdamConfig& config, int64_t step);

}  // namespace ip::cpu
