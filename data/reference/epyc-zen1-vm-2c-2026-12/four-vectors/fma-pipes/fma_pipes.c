// Which 256-bit instructions share Zen 1's FMA pipes: a loop of 8 independent FMA chains (one
// 256-bit FMA per cycle on Zen 1: two 128-bit halves on its two FMA pipes) with 4 independent
// instructions of another kind added to each iteration (their results feed nothing, so only
// throughput counts). If the other kind runs beside the FMAs, an iteration still takes 8 cycles;
// if it takes the FMA pipes, 12. The clock comes from a chain of dependent scalar adds.
//   gcc -O2 -mavx2 -mfma fma_pipes.c -o fma_pipes && ./fma_pipes
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

#define ITER 20000000L
static float cst[8] __attribute__((aligned(32))) = {1, 1, 1, 1, 1, 1, 1, 1};

#define FMA8                                                                                     \
  "vfmadd231ps %%ymm15, %%ymm14, %%ymm0\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm1\n\t"          \
  "vfmadd231ps %%ymm15, %%ymm14, %%ymm2\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm3\n\t"          \
  "vfmadd231ps %%ymm15, %%ymm14, %%ymm4\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm5\n\t"          \
  "vfmadd231ps %%ymm15, %%ymm14, %%ymm6\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm7\n\t"
#define FOUR(op) op " %%ymm15, %%ymm14, %%ymm8\n\t" op " %%ymm15, %%ymm14, %%ymm9\n\t" \
                 op " %%ymm15, %%ymm14, %%ymm10\n\t" op " %%ymm15, %%ymm14, %%ymm11\n\t"
#define BLEND4 "vblendvps %%ymm13, %%ymm15, %%ymm14, %%ymm8\n\t" "vblendvps %%ymm13, %%ymm15, %%ymm14, %%ymm9\n\t" \
               "vblendvps %%ymm13, %%ymm15, %%ymm14, %%ymm10\n\t" "vblendvps %%ymm13, %%ymm15, %%ymm14, %%ymm11\n\t"
#define SHIFT4 "vpslld $23, %%ymm14, %%ymm8\n\t" "vpslld $23, %%ymm14, %%ymm9\n\t" \
               "vpslld $23, %%ymm14, %%ymm10\n\t" "vpslld $23, %%ymm14, %%ymm11\n\t"
#define BCAST4 "vbroadcastss %[c], %%ymm8\n\t" "vbroadcastss %[c], %%ymm9\n\t" \
               "vbroadcastss %[c], %%ymm10\n\t" "vbroadcastss %[c], %%ymm11\n\t"
#define REGS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11"

#define TIME(name, body)                                                            \
  do {                                                                              \
    double s = now();                                                               \
    for (long i = 0; i < ITER; ++i) __asm__ volatile(body ::[c] "m"(cst) : REGS);   \
    printf("%-28s %6.2f cycles per iteration\n", name, (now() - s) * ghz * 1e9 / ITER); \
  } while (0)

int main(void) {
  double t0 = now();
  for (long i = 0; i < ITER; ++i)
    __asm__ volatile("add $1, %%rax\n\tadd $1, %%rax\n\tadd $1, %%rax\n\tadd $1, %%rax\n\t"
                     "add $1, %%rax\n\tadd $1, %%rax\n\tadd $1, %%rax\n\tadd $1, %%rax\n\t" ::: "rax");
  const double ghz = 8.0 * ITER / (now() - t0) / 1e9;
  printf("clock (dependent adds): %.3f GHz\n", ghz);
  __asm__ volatile("vbroadcastss %0, %%ymm15\n\tvbroadcastss %0, %%ymm14\n\tvxorps %%ymm13, %%ymm13, %%ymm13\n\t"
                   "vmovaps %%ymm15, %%ymm0\n\tvmovaps %%ymm15, %%ymm1\n\tvmovaps %%ymm15, %%ymm2\n\t"
                   "vmovaps %%ymm15, %%ymm3\n\tvmovaps %%ymm15, %%ymm4\n\tvmovaps %%ymm15, %%ymm5\n\t"
                   "vmovaps %%ymm15, %%ymm6\n\tvmovaps %%ymm15, %%ymm7" ::"m"(cst[0]) : REGS, "xmm13", "xmm14", "xmm15");
  TIME("8 fma", FMA8);
  TIME("8 fma + 4 add", FMA8 FOUR("vaddps"));
  TIME("8 fma + 4 mul", FMA8 FOUR("vmulps"));
  TIME("8 fma + 4 min", FMA8 FOUR("vminps"));
  TIME("8 fma + 4 cmpltps", FMA8 FOUR("vcmpltps"));
  TIME("8 fma + 4 blendv", FMA8 BLEND4);
  TIME("8 fma + 4 andn", FMA8 FOUR("vandnps"));
  TIME("8 fma + 4 and", FMA8 FOUR("vandps"));
  TIME("8 fma + 4 pslld", FMA8 SHIFT4);
  TIME("8 fma + 4 broadcast (load)", FMA8 BCAST4);
  TIME("8 fma + 1 div", FMA8 "vdivps %%ymm15, %%ymm14, %%ymm8\n\t");
  TIME("8 fma + 2 div", FMA8 "vdivps %%ymm15, %%ymm14, %%ymm8\n\t" "vdivps %%ymm15, %%ymm14, %%ymm9\n\t");
  TIME("4 div", FOUR("vdivps"));
  return 0;
}
