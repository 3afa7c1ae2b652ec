// The inner loops of the element-wise kernels, one non-inlined function per table row, direction
// and SIMD target, for counting instructions (opcount.py compiles this file to assembly with the
// kernel library's flags; it is not part of any build). Each loop is activations.cc's streamed
// loop: load, the row's vector form, non-temporal store (backward: times dy).
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/opcount/loops.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/cpu/activations-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The form for the row's default parameters (constants here, so WithForm keeps one variant).
#define IP_OPCOUNT_Elementwise(Id)                                                                   \
  HWY_NOINLINE void OpCount_##Id##_forward(const float* x, float* y, size_t n, float p0, float p1) { \
    constexpr Params<float> kDefault = default_params<float>(FunctionId::Id);                        \
    WithForm<Id>(kDefault.p0, kDefault.p1, [&](auto form) {                                          \
      using F = decltype(form);                                                                      \
      const hn::ScalableTag<float> d;                                                                \
      const auto vp0 = hn::Set(d, p0), vp1 = hn::Set(d, p1);                                         \
      for (size_t i = 0; i < n; i += hn::Lanes(d)) {                                                 \
        hn::Stream(F::forward(d, hn::LoadU(d, x + i), vp0, vp1), d, y + i);                          \
      }                                                                                              \
    });                                                                                              \
  }                                                                                                  \
  HWY_NOINLINE void OpCount_##Id##_backward(const float* x, const float* dy, float* dx, size_t n,    \
                                            float p0, float p1) {                                    \
    constexpr Params<float> kDefault = default_params<float>(FunctionId::Id);                        \
    WithForm<Id>(kDefault.p0, kDefault.p1, [&](auto form) {                                          \
      using F = decltype(form);                                                                      \
      const hn::ScalableTag<float> d;                                                                \
      const auto vp0 = hn::Set(d, p0), vp1 = hn::Set(d, p1);                                         \
      for (size_t i = 0; i < n; i += hn::Lanes(d)) {                                                 \
        const auto g = F::derivative(d, hn::LoadU(d, x + i), vp0, vp1);                              \
        hn::Stream(hn::Mul(hn::LoadU(d, dy + i), g), d, dx + i);                                     \
      }                                                                                              \
    });                                                                                              \
  }
#define IP_OPCOUNT_Rowwise(Id)
#define IP_OPCOUNT_Dropout(Id)
#define IP_OPCOUNT_ROW(Id, cli, path, args, group, kind, ...) IP_OPCOUNT_##kind(Id)
INFERENCEPOWER_FUNCTIONS(IP_OPCOUNT_ROW)
#undef IP_OPCOUNT_ROW
#undef IP_OPCOUNT_Elementwise
#undef IP_OPCOUNT_Rowwise
#undef IP_OPCOUNT_Dropout

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
