// Included first by a kernel file whose float arithmetic must round exactly as the scalar
// reference's (reference_kernels.h: a product, then a sum): from here to the end of the
// translation unit, a * b + c is not contracted into one FMA. GCC contracts by default in C++
// (-ffp-contract=fast) on the FMA targets (AVX2, AVX-512), which changes the last bit; clang only
// contracts within one source expression by default, and Highway's Mul and Add are separate
// calls, so the standard pragma suffices there.
//
// No include guard: foreach_target.h re-includes the kernel file once per target, and the pragma
// may be repeated.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
