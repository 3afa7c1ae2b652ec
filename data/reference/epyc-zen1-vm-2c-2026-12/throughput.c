// Throughput of single instructions on this CPU, in cycles: 8 independent register chains of
// each instruction in an unrolled asm loop; the clock from a chain of dependent scalar adds (one
// per cycle on every x86 core of the last decade). gcc -O2 -mavx2 -mfma -mbmi2 throughput.c
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

#define ITER 20000000L
#define EIGHT(op) op op op op op op op op

int main(void) {
  double t0 = now();
  for (long i = 0; i < ITER; ++i) __asm__ volatile(EIGHT("add $1, %%rax\n\t") ::: "rax");
  const double ghz = 8.0 * ITER / (now() - t0) / 1e9;
  printf("clock (dependent adds): %.3f GHz\n", ghz);

  __asm__ volatile("vbroadcastss %0, %%ymm15" ::"m"((float){1.0000001f}));
#define TIME(name, body, ...)                                                     \
  do {                                                                                \
    __asm__ volatile("vmovaps %%ymm15, %%ymm0\n\tvmovaps %%ymm15, %%ymm1\n\t"         \
                     "vmovaps %%ymm15, %%ymm2\n\tvmovaps %%ymm15, %%ymm3\n\t"         \
                     "vmovaps %%ymm15, %%ymm4\n\tvmovaps %%ymm15, %%ymm5\n\t"         \
                     "vmovaps %%ymm15, %%ymm6\n\tvmovaps %%ymm15, %%ymm7" ::          \
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7"); \
    double s = now();                                                                 \
    for (long i = 0; i < ITER; ++i) __asm__ volatile(body ::: __VA_ARGS__);               \
    printf("%-34s %.2f cycles each\n", name, (now() - s) * ghz * 1e9 / (8.0 * ITER)); \
  } while (0)
#define V8(op) op " %%ymm15, %%ymm0, %%ymm0\n\t" op " %%ymm15, %%ymm1, %%ymm1\n\t" \
               op " %%ymm15, %%ymm2, %%ymm2\n\t" op " %%ymm15, %%ymm3, %%ymm3\n\t" \
               op " %%ymm15, %%ymm4, %%ymm4\n\t" op " %%ymm15, %%ymm5, %%ymm5\n\t" \
               op " %%ymm15, %%ymm6, %%ymm6\n\t" op " %%ymm15, %%ymm7, %%ymm7\n\t"
#define VREGS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7"
  TIME("vdivps ymm", V8("vdivps"), VREGS);
  TIME("vfmadd231ps ymm", V8("vfmadd231ps"), VREGS);
  TIME("vmulps ymm", V8("vmulps"), VREGS);
  TIME("vaddps ymm", V8("vaddps"), VREGS);
  TIME("vpmuludq ymm", V8("vpmuludq"), VREGS);
  TIME("vpxor ymm", V8("vpxor"), VREGS);
  __asm__ volatile("mov $0x1111111111111111, %%r15\n\tmov $0xa5, %%r8\n\tmov $0x5a, %%r9\n\t"
                   "mov $0xff, %%r10\n\tmov $0x3c, %%r11" ::: "r15", "r8", "r9", "r10", "r11");
  TIME("pdep r64, 16-bit mask", EIGHT("pdep %%r15, %%r8, %%rax\n\t"), "rax");
  return 0;
}
