# Cross build for 64-bit Arm Linux with Debian's cross compiler (g++-aarch64-linux-gnu) against the
# arm64 libraries of multiarch (libhwy-dev:arm64 and the others, tests/install-deps-arm.sh). Test
# programs run under qemu-user; `-cpu max` emulates SVE and SVE2, so every Highway target the
# compiler builds (NEON, SVE, SVE2, ...) runs. No CUDA: there is no aarch64 nvcc here.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# The arm64 libraries and their CMake packages live in /usr/lib/aarch64-linux-gnu (multiarch),
# which the library architecture above puts first in every search; headers are shared in
# /usr/include.
# x86-64's baseline has no FMA, so its scalar code (the reference kernels the SIMD kernels are
# compared with bit for bit) never fuses a * b + c; aarch64 always has FMA and GCC fuses by
# default. Off here, so the scalar forms round as they do on x86 (explicit MulAdd still fuses).
set(CMAKE_CXX_FLAGS_INIT "-ffp-contract=off")

# The programs run on Debian's arm64 runtime from multiarch (/lib/ld-linux-aarch64.so.1 and
# /lib/aarch64-linux-gnu: ld.so, libc, libstdc++ and libgomp of one release), as on an arm64
# Debian machine, not on the cross compiler's sysroot: under `-L /usr/aarch64-linux-gnu` the
# sysroot's ld.so (glibc 2.36-8cross1) loaded the multiarch libc (2.36-9+deb12uN) that libhwy and
# the others sit beside, and pthread_create of that pair looped for ever in its stack cache, so
# every program that started a second thread (OpenMP on two threads, std::thread) hung.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -cpu max -L /)
# The programs that the end-to-end tests start (rand_power, mnist_power, kernel_bench, ...) run
# without SVE, on NEON: those tests check what the programs do (files, resume, errors), which no
# SIMD target changes, and qemu emulates SVE about 15 times slower than NEON (a sigmoid over
# 256 KiB: 57 ms against 3.8 ms), which took the MNIST tests past their limits. The kernel tests,
# which run inside ip_tests on every target, and check_kernels keep SVE.
set(IP_PROGRAM_EMULATOR qemu-aarch64 -cpu max,sve=off -L /)
set(INFERENCEPOWER_CUDA OFF CACHE BOOL "No CUDA in the aarch64 cross build" FORCE)
