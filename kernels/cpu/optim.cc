// SGD and Adam updates (PyTorch's rules, see linalg.h), vectorised with Highway, OpenMP over
// fixed chunks. Every element goes through the same vector arithmetic (the tail through a padded
// copy), so results do not depend on the thread count or on where chunks start.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/optim.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "kernels/common/optim_math.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
// Buffers hold kMaxLanes; loops step by Lanes(d), which is fewer on scalable vectors (SVE).
constexpr size_t kMaxLanes = hn::MaxLanes(DF());

// One vector of SGD. buf may be null when momentum is off.
HWY_INLINE void SgdVec(float* p, const float* g, float* buf, const SgdScalars& s) {
  const DF d;
  auto pv = hn::LoadU(d, p);
  auto gv = hn::LoadU(d, g);
  if (s.weight_decay != 0.0f) gv = hn::MulAdd(hn::Set(d, s.weight_decay), pv, gv);
  if (s.use_momentum) {
    auto bv = gv;  // first step: the buffer starts as a copy of the gradient
    if (!s.first_step) {
      bv = hn::MulAdd(hn::Set(d, s.momentum), hn::LoadU(d, buf),
                      hn::Mul(hn::Set(d, s.one_minus_dampening), gv));
    }
    hn::StoreU(bv, d, buf);
    gv = s.nesterov ? hn::MulAdd(hn::Set(d, s.momentum), bv, gv) : bv;
  }
  hn::StoreU(hn::NegMulAdd(hn::Set(d, s.lr), gv, pv), d, p);
}

void SgdChunk(float* p, const float* g, float* buf, size_t n, const SgdScalars& s) {
  const size_t L = hn::Lanes(DF());
  size_t i = 0;
  for (; i + L <= n; i += L) SgdVec(p + i, g + i, buf ? buf + i : nullptr, s);
  if (i == n) return;
  alignas(64) float pb[kMaxLanes] = {}, gb[kMaxLanes] = {}, bb[kMaxLanes] = {};
  const size_t r = n - i;
  std::copy(p + i, p + n, pb);
  std::copy(g + i, g + n, gb);
  if (buf) std::copy(buf + i, buf + n, bb);
  SgdVec(pb, gb, bb, s);
  std::copy(pb, pb + r, p + i);
  if (buf) std::copy(bb, bb + r, buf + i);
}

HWY_INLINE void AdamVec(float* p, const float* g, float* m, float* v, const AdamScalars& s) {
  const DF d;
  auto pv = hn::LoadU(d, p);
  auto gv = hn::LoadU(d, g);
  if (s.weight_decay != 0.0f) gv = hn::MulAdd(hn::Set(d, s.weight_decay), pv, gv);
  const auto mv = hn::MulAdd(hn::Set(d, s.beta1), hn::LoadU(d, m),
                             hn::Mul(hn::Set(d, s.one_minus_beta1), gv));
  const auto vv = hn::MulAdd(hn::Set(d, s.beta2), hn::LoadU(d, v),
                             hn::Mul(hn::Set(d, s.one_minus_beta2), hn::Mul(gv, gv)));
  hn::StoreU(mv, d, m);
  hn::StoreU(vv, d, v);
  const auto denom =
      hn::Add(hn::Div(hn::Sqrt(vv), hn::Set(d, s.bias_correction2_sqrt)), hn::Set(d, s.eps));
  hn::StoreU(hn::NegMulAdd(hn::Set(d, s.step_size), hn::Div(mv, denom), pv), d, p);
}

void AdamChunk(float* p, const float* g, float* m, float* v, size_t n, const AdamScalars& s) {
  const size_t L = hn::Lanes(DF());
  size_t i = 0;
  for (; i + L <= n; i += L) AdamVec(p + i, g + i, m + i, v + i, s);
  if (i == n) return;
  alignas(64) float pb[kMaxLanes] = {}, gb[kMaxLanes] = {}, mb[kMaxLanes] = {}, vb[kMaxLanes] = {};
  const size_t r = n - i;
  std::copy(p + i, p + n, pb);
  std::copy(g + i, g + n, gb);
  std::copy(m + i, m + n, mb);
  std::copy(v + i, v + n, vb);
  AdamVec(pb, gb, mb, vb, s);
  std::copy(pb, pb + r, p + i);
  std::copy(mb, mb + r, m + i);
  std::copy(vb, vb + r, v + i);
}

}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu/chunks.h"
#include "kernels/cpu/linalg.h"

namespace ip::cpu {
HWY_EXPORT(SgdChunk);
HWY_EXPORT(AdamChunk);

void sgd_step(float* param, const float* grad, float* momentum_buf, size_t n,
              const SgdConfig& config, bool first_step) {
  const SgdScalars s = sgd_scalars(config, first_step, momentum_buf != nullptr);
  if (n == 0) return;
  float* buf = s.use_momentum ? momentum_buf : nullptr;
  for_each_chunk(n, [&](size_t begin, size_t end) {
    HWY_DYNAMIC_DISPATCH(SgdChunk)(param + begin, grad + begin, buf ? buf + begin : nullptr,
                                   end - begin, s);
  });
}

void adam_step(float* param, const float* grad, float* m, float* v, size_t n,
               const AdamConfig& config, int64_t step) {
  const AdamScalars s = adam_scalars(config, step);
  if (n == 0) return;
  for_each_chunk(n, [&](size_t begin, size_t end) {
    HWY_DYNAMIC_DISPATCH(AdamChunk)(param + begin, grad + begin, m + begin, v + begin,
                                    end - begin, s);
  });
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
