// CUDA SGEMM (row-major, semantics of kernels/cpu/linalg.h), bias add and bias gradient.
//
// Own kernel: classic shared-memory tiling. A block of 256 threads computes a 128 x 128 tile of C
// over K in steps of 8: each step stages an 8-deep slice of op(A) (as [k][m]) and op(B) (as
// [k][n]) in shared memory, double-buffered, with the next slice fetched into registers while the
// current one is multiplied. Each thread holds an 8 x 8 register tile made of rows
// {ty*4 + 0..3, 64 + ty*4 + 0..3} and columns {tx*4 + 0..3, 64 + tx*4 + 0..3}: the float4 reads
// of shared memory then hit consecutive addresses across a warp (no bank conflicts).
// Global loads are mapped per transpose case so that consecutive threads read consecutive
// addresses. Every C element is one fixed-order sum over k: results do not depend on the launch.
//
// cuBLAS (optional, INFERENCEPOWER_HAVE_CUBLAS) is the comparison backend, in its default FP32
// math mode (no TF32), like PyTorch's default for float matmul.
#include <atomic>
#include <climits>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/kernels.h"

#if defined(INFERENCEPOWER_HAVE_CUBLAS)
#include <cublas_v2.h>
#endif

namespace ip::cuda {
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 8;
constexpr int kThreads = 256;
constexpr int kPad = 4;  // As rows of 132 floats: the transposing stores of A avoid bank conflicts
// Elements of one operand slice per thread: 128 x 8 / 256.
constexpr int kLoads = kBM * kBK / kThreads;

std::atomic<GemmBackend> g_backend{GemmBackend::Own};

// Fetches this thread's kLoads elements of the op(A) slice (rows bm.., depth k0..) and of the
// op(B) slice (depth k0.., columns bn..) into registers; zero outside the matrix.
template <bool kTA, bool kTB>
__device__ __forceinline__ void fetch(const float* __restrict__ A, size_t lda,
                                      const float* __restrict__ B, size_t ldb, int M, int N, int K,
                                      int bm, int bn, int k0, float (&ra)[kLoads],
                                      float (&rb)[kLoads]) {
#pragma unroll
  for (int l = 0; l < kLoads; ++l) {
    const int idx = threadIdx.x + l * kThreads;
    // op(A)[m][k]: not transposed, A[m * lda + k] is contiguous in k; transposed, in m.
    const int am = kTA ? idx % kBM : idx / kBK;
    const int ak = kTA ? idx / kBM : idx % kBK;
    const int gm = bm + am, gk = k0 + ak;
    ra[l] = (gm < M && gk < K)
                ? (kTA ? A[static_cast<size_t>(gk) * lda + gm] : A[static_cast<size_t>(gm) * lda + gk])
                : 0.0f;
    // op(B)[k][n]: not transposed, B[k * ldb + n] is contiguous in n; transposed, in k.
    const int bk = kTB ? idx % kBK : idx / kBN;
    const int bnn = kTB ? idx / kBK : idx % kBN;
    const int gk2 = k0 + bk, gn = bn + bnn;
    rb[l] = (gk2 < K && gn < N)
                ? (kTB ? B[static_cast<size_t>(gn) * ldb + gk2] : B[static_cast<size_t>(gk2) * ldb + gn])
                : 0.0f;
  }
}

template <bool kTA, bool kTB>
__device__ __forceinline__ void stage(float (*As)[kBM + kPad], float (*Bs)[kBN],
                                      const float (&ra)[kLoads], const float (&rb)[kLoads]) {
#pragma unroll
  for (int l = 0; l < kLoads; ++l) {
    const int idx = threadIdx.x + l * kThreads;
    const int am = kTA ? idx % kBM : idx / kBK;
    const int ak = kTA ? idx / kBM : idx % kBK;
    As[ak][am] = ra[l];
    const int bk = kTB ? idx % kBK : idx / kBN;
    const int bnn = kTB ? idx / kBK : idx % kBN;
    Bs[bk][bnn] = rb[l];
  }
}

// Row-blocks on grid x (up to 2^31 - 1 blocks), column blocks on grid y.
template <bool kTA, bool kTB>
__global__ void __launch_bounds__(kThreads)
    sgemm_tiled(int M, int N, int K, float alpha, const float* __restrict__ A, size_t lda,
                const float* __restrict__ B, size_t ldb, float beta, float* __restrict__ C,
                size_t ldc) {
  __shared__ __align__(16) float As[2][kBK][kBM + kPad];
  __shared__ __align__(16) float Bs[2][kBK][kBN];
  const int bm = blockIdx.x * kBM, bn = blockIdx.y * kBN;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

  float ra[kLoads], rb[kLoads];
  fetch<kTA, kTB>(A, lda, B, ldb, M, N, K, bm, bn, 0, ra, rb);
  stage<kTA, kTB>(As[0], Bs[0], ra, rb);
  __syncthreads();

  int cur = 0;
  for (int k0 = 0; k0 < K; k0 += kBK) {
    const bool more = k0 + kBK < K;
    if (more) fetch<kTA, kTB>(A, lda, B, ldb, M, N, K, bm, bn, k0 + kBK, ra, rb);
#pragma unroll
    for (int k = 0; k < kBK; ++k) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[cur][k][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[cur][k][64 + ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[cur][k][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[cur][k][64 + tx * 4]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (more) stage<kTA, kTB>(As[cur ^ 1], Bs[cur ^ 1], ra, rb);
    // One barrier per slice: the buffer written above was last read before the previous barrier.
    __syncthreads();
    cur ^= 1;
  }

  const bool read_c = beta != 0.0f;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int row = bm + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
    if (row >= M) continue;
    float* crow = C + static_cast<size_t>(row) * ldc;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int col = bn + (j < 4 ? tx * 4 + j : 64 + tx * 4 + (j - 4));
      if (col >= N) continue;
      // The CPU kernels' formula: alpha * acc, plus beta * C only when beta != 0.
      crow[col] = read_c ? fmaf(alpha, acc[i][j], beta * crow[col]) : alpha * acc[i][j];
    }
  }
}

// C = beta * C (beta == 0 writes zeros without reading): the K == 0 or alpha == 0 case.
__global__ void scale_kernel(float* C, size_t ldc, size_t M, size_t N, float beta) {
  const size_t total = M * N;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float* c = C + (i / N) * ldc + i % N;
    *c = beta == 0.0f ? 0.0f : beta * *c;
  }
}

template <bool kTA, bool kTB>
void launch_tiled(size_t M, size_t N, size_t K, float alpha, const float* A, size_t lda,
                  const float* B, size_t ldb, float beta, float* C, size_t ldc, cudaStream_t s) {
  const size_t row_blocks = (M + kBM - 1) / kBM, col_blocks = (N + kBN - 1) / kBN;
  if (col_blocks > 65535) throw std::invalid_argument("cuda gemm: N too large for the grid");
  const dim3 grid(static_cast<unsigned>(row_blocks), static_cast<unsigned>(col_blocks));
  sgemm_tiled<kTA, kTB><<<grid, kThreads, 0, s>>>(static_cast<int>(M), static_cast<int>(N),
                                                  static_cast<int>(K), alpha, A, lda, B, ldb,
                                                  beta, C, ldc);
  IP_CUDA_CHECK_LAUNCH("sgemm_tiled");
}

#if defined(INFERENCEPOWER_HAVE_CUBLAS)
const char* cublas_status_text(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}

#define IP_CUBLAS_CHECK(call)                                                                \
  do {                                                                                       \
    const cublasStatus_t ip_cublas_st_ = (call);                                             \
    if (ip_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                              \
      throw ::ip::cuda::Error(std::string(#call) + " failed at " + __FILE__ + ":" +          \
                              std::to_string(__LINE__) + ": " +                              \
                              cublas_status_text(ip_cublas_st_));                            \
  } while (0)

// One handle per host thread and device (handles are bound to the device current at creation).
cublasHandle_t cublas_handle() {
  constexpr int kMaxDevices = 64;
  thread_local cublasHandle_t handles[kMaxDevices] = {};
  int device = 0;
  IP_CUDA_CHECK(cudaGetDevice(&device));
  if (device < 0 || device >= kMaxDevices) throw Error("cuBLAS: device ordinal out of range");
  if (!handles[device]) {
    IP_CUBLAS_CHECK(cublasCreate(&handles[device]));
    IP_CUBLAS_CHECK(cublasSetMathMode(handles[device], CUBLAS_DEFAULT_MATH));
  }
  return handles[device];
}

void gemm_cublas(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float* A,
                 size_t lda, const float* B, size_t ldb, float beta, float* C, size_t ldc,
                 cudaStream_t s) {
  cublasHandle_t h = cublas_handle();
  IP_CUBLAS_CHECK(cublasSetStream(h, s));
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: swap the operands.
  IP_CUBLAS_CHECK(cublasSgemm(h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                              static_cast<int>(N), static_cast<int>(M), static_cast<int>(K),
                              &alpha, B, static_cast<int>(ldb < 1 ? 1 : ldb), A,
                              static_cast<int>(lda < 1 ? 1 : lda), &beta, C,
                              static_cast<int>(ldc)));
}
#endif

void check_ld(const char* name, size_t ld, size_t rows, size_t cols) {
  if (rows > 0 && cols > 0 && ld < cols) {
    throw std::invalid_argument(std::string("cuda gemm: leading dimension ") + name + " = " +
                                std::to_string(ld) + " is smaller than the row length " +
                                std::to_string(cols));
  }
}

// Bias add: grid-stride over all M * N elements.
__global__ void add_bias_kernel(float* y, const float* bias, size_t M, size_t N) {
  const size_t total = M * N;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    y[i] += bias[i % N];
  }
}

// Bias gradient: a block owns 32 columns; thread (x, y) sums rows y, y + 8, y + 16, ... of column
// x in ascending order, then the 8 partial sums are added in the fixed order 0..7. The order is
// fixed by the code, not by the launch, so results are reproducible.
constexpr int kSumCols = 32, kSumRows = 8;
__global__ void sum_rows_kernel(const float* dy, size_t M, size_t N, float* out, bool accumulate) {
  __shared__ float partial[kSumRows][kSumCols];
  const size_t col = static_cast<size_t>(blockIdx.x) * kSumCols + threadIdx.x;
  float s = 0.0f;
  if (col < N) {
    for (size_t r = threadIdx.y; r < M; r += kSumRows) s += dy[r * N + col];
  }
  partial[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && col < N) {
    float total = 0.0f;
#pragma unroll
    for (int y = 0; y < kSumRows; ++y) total += partial[y][threadIdx.x];
    out[col] = accumulate ? out[col] + total : total;
  }
}

}  // namespace

void set_gemm_backend(GemmBackend backend) {
#if !defined(INFERENCEPOWER_HAVE_CUBLAS)
  if (backend == GemmBackend::Cublas) {
    throw std::invalid_argument(
        "CUDA GEMM backend 'cublas' is not available: this build was not linked with cuBLAS");
  }
#endif
  g_backend.store(backend);
}

GemmBackend gemm_backend() { return g_backend.load(); }

void gemm(bool trans_a, bool trans_b, size_t M, size_t N, size_t K, float alpha, const float* A,
          size_t lda, const float* B, size_t ldb, float beta, float* C, size_t ldc, void* stream) {
  if (M == 0 || N == 0) return;
  check_ld("lda", lda, trans_a ? K : M, trans_a ? M : K);
  check_ld("ldb", ldb, trans_b ? N : K, trans_b ? K : N);
  check_ld("ldc", ldc, M, N);
  constexpr size_t kMax = static_cast<size_t>(INT_MAX);
  if (M > kMax || N > kMax || K > kMax) {
    throw std::invalid_argument("cuda gemm: dimensions must fit in int");
  }
  const cudaStream_t s = detail::as_stream(stream);
  if (K == 0 || alpha == 0.0f) {  // BLAS semantics: C = beta * C, A and B unread
    constexpr unsigned kT = 256;
    scale_kernel<<<detail::grid_for(M * N, kT), kT, 0, s>>>(C, ldc, M, N, beta);
    IP_CUDA_CHECK_LAUNCH("scale_kernel");
    return;
  }
#if defined(INFERENCEPOWER_HAVE_CUBLAS)
  if (g_backend.load() == GemmBackend::Cublas) {
    if (lda > kMax || ldb > kMax || ldc > kMax) {
      throw std::invalid_argument("cuda gemm: leading dimensions must fit in int for cuBLAS");
    }
    gemm_cublas(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, s);
    return;
  }
#endif
  if (!trans_a && !trans_b) launch_tiled<false, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, s);
  else if (!trans_a && trans_b) launch_tiled<false, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, s);
  else if (trans_a && !trans_b) launch_tiled<true, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, s);
  else launch_tiled<true, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, s);
}

void add_bias_rows(float* y, const float* bias, size_t M, size_t N, void* stream) {
  if (M == 0 || N == 0) return;
  constexpr unsigned kT = 256;
  add_bias_kernel<<<detail::grid_for(M * N, kT), kT, 0, detail::as_stream(stream)>>>(y, bias, M, N);
  IP_CUDA_CHECK_LAUNCH("add_bias_kernel");
}

void sum_rows(const float* dy, size_t M, size_t N, float* out, bool accumulate, void* stream) {
  if (N == 0) return;
  const size_t blocks = (N + kSumCols - 1) / kSumCols;
  if (blocks > static_cast<size_t>(INT_MAX)) throw std::invalid_argument("cuda sum_rows: N too large");
  sum_rows_kernel<<<static_cast<unsigned>(blocks), dim3(kSumCols, kSumRows), 0,
                    detail::as_stream(stream)>>>(dy, M, N, out, accumulate);
  IP_CUDA_CHECK_LAUNCH("sum_rows_kernel");
}

}  // namespace ip::cuda
