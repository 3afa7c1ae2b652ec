// IP_INLINE_LAMBDA, on a lambda's parameter list: its call operator is always inlined. The
// kernels hand their per-vector work to loop helpers as lambdas (StepsOfFourVectors, PhiloxWords);
// GCC keeps the larger ones as calls otherwise, and a call per vector or per Philox call costs
// the scheduling across it and, in a call that captures by reference, every captured value's
// reload. GCC and Clang attribute syntax: the compilers the build supports.
#pragma once

#define IP_INLINE_LAMBDA __attribute__((always_inline))
