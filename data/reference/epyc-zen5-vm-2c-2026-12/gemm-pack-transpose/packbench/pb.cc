// Times PackB (trans) and PackA for the nt/tn experiment shapes, static AVX2 target.
#include <chrono>
#include <cstdio>
#include <vector>
#include <algorithm>
#include "hwy/highway.h"
#include "kernels/cpu/gemm_pack-inl.h"
namespace hn = hwy::HWY_NAMESPACE;
using namespace ip::cpu::HWY_NAMESPACE;
template <class F> double best(F f, int reps = 50) {
  double b = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now(); f();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    b = std::min(b, s);
  }
  return b;
}
int main() {
  printf("target %s kNR %zu kMR %zu\n", hwy::TargetName(HWY_TARGET), kNR, kMR);
  // nt: B is N x K = 1024 x 784 (ldb 784); one thread packs 512 columns x 196 k per slice.
  const size_t N = 1024, K = 784, KC = 196;
  std::vector<float> B(N * K), out(N * KC + 64), big(64 << 20);
  for (size_t i = 0; i < B.size(); ++i) B[i] = float(i % 97);
  for (size_t half : {512, 1024}) {
    for (int cold = 0; cold < 2; ++cold) {
      double t = best([&] {
        if (cold) for (size_t i = 0; i < big.size(); i += 16) big[i] += 1.0f;  // evict
        auto t0 = std::chrono::steady_clock::now();
        for (size_t p0 = 0; p0 < K; p0 += KC) PackB(true, B.data(), K, 0, half, p0, KC, 0, half / kNR, out.data());
      }, cold ? 5 : 50);
      // cold includes eviction time: time separately
      if (cold) {
        double ev = best([&] { for (size_t i = 0; i < big.size(); i += 16) big[i] += 1.0f; }, 5);
        t -= ev;
      }
      printf("PackB trans %zu cols x %zu k (4 slices): %s %.1f us, %.2f floats/ns\n", half, K, cold ? "cold" : "warm", t * 1e6, half * K / (t * 1e9));
    }
  }
  // plain copy of the same amount for scale
  std::vector<float> dst(N * K);
  double tc = best([&] { std::copy(B.begin(), B.begin() + 512 * K, dst.begin()); });
  printf("copy 512x784 floats warm: %.1f us, %.2f floats/ns\n", tc * 1e6, 512 * K / (tc * 1e9));
  // tn A: A is K x M = 128 x 1024, op(A) = A^T, pack one row block of 192 rows, kc 128
  const size_t M = 1024, KA = 128;
  std::vector<float> A(M * KA), pa(192 * KA + 64);
  for (size_t i = 0; i < A.size(); ++i) A[i] = float(i % 89);
  double ta = best([&] { for (size_t i0 = 0; i0 < M; i0 += 192) PackA(true, A.data(), M, i0, std::min<size_t>(192, M - i0), 0, KA, pa.data()); });
  printf("PackA trans 1024 x 128: %.1f us, %.2f floats/ns\n", ta * 1e6, M * KA / (ta * 1e9));
  // nt A: A is 128 x 784 (not trans), MR rows per sliver
  std::vector<float> A2(128 * K), pa2(132 * KC + 64);
  double ta2 = best([&] { for (size_t p0 = 0; p0 < K; p0 += KC) PackA(false, A2.data(), K, 0, 128, p0, KC, pa2.data()); });
  printf("PackA nontrans 128 x 784: %.1f us, %.2f floats/ns\n", ta2 * 1e6, 128 * K / (ta2 * 1e9));
}
