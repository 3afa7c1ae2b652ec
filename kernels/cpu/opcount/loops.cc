// The inner loops of the element-wise kernels, one non-inlined function per table row, direction
// and SIMD target, for counting instructions (opcount.py compiles this file to assembly with the
// kernel library's flags; it is not part of any build). Each loop is activations.cc's streamed
// loop: four vectors per step (StepsOfFourVectors), each loaded, through the row's vector form and
// stored non-temporally (backward: times dy).
#include <cstddef>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/opcount/loops.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/cpu/activations-inl.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// loop(form, d, p0, p1 as vectors) with the row's form for its default parameters (constants
// here, so WithForm keeps one variant).
template <FunctionId kId, class Loop>
HWY_INLINE void WithDefaultForm(float p0, float p1, const Loop& loop) {
  constexpr Params<float> kDefault = default_params<float>(kId);
  WithForm<typename VecOf<kId>::type>(kDefault.p0, kDefault.p1, [&](auto form) {
    const hn::ScalableTag<float> d;
    loop(form, d, hn::Set(d, p0), hn::Set(d, p1));
  });
}

#define IP_OPCOUNT_Elementwise(Id)                                                                   \
  HWY_NOINLINE void OpCount_##Id##_forward(const float* x, float* y, size_t n, float p0, float p1) { \
    WithDefaultForm<FunctionId::Id>(p0, p1, [&](auto form, auto d, auto vp0, auto vp1) {             \
      using F = decltype(form);                                                                      \
      StepsOfFourVectors(                                                                            \
          d, 0, n,                                                                                   \
          [&](size_t at) IP_INLINE_LAMBDA { return F::forward(d, hn::LoadU(d, x + at), vp0, vp1); }, \
          [&](auto v, size_t at) IP_INLINE_LAMBDA { hn::Stream(v, d, y + at); });                    \
    });                                                                                              \
  }                                                                                                  \
  HWY_NOINLINE void OpCount_##Id##_backward(const float* x, const float* dy, float* dx, size_t n,    \
                                            float p0, float p1) {                                    \
    WithDefaultForm<FunctionId::Id>(p0, p1, [&](auto form, auto d, auto vp0, auto vp1) {             \
      using F = decltype(form);                                                                      \
      StepsOfFourVectors(                                                                            \
          d, 0, n,                                                                                   \
          [&](size_t at) IP_INLINE_LAMBDA {                                                          \
            const auto g = F::derivative(d, hn::LoadU(d, x + at), vp0, vp1);                         \
            return hn::Mul(hn::LoadU(d, dy + at), g);                                                \
          },                                                                                         \
          [&](auto v, size_t at) IP_INLINE_LAMBDA { hn::Stream(v, d, dx + at); });                   \
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
