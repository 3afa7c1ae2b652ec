// SGD and Adam against a scalar double re-implementation of PyTorch's update rules (linalg.h),
// over several steps, on every SIMD target, and bit-identical for 1 and 2 threads.
//
// Tolerance: each step rounds a handful of float operations per element (a few u = 2^-24
// relative to the magnitudes involved); over S steps the float state drifts from the double one
// by a few S * u. We allow 64 u relative to the largest magnitude in the chain (|p| plus the
// accumulated update), far below the size of any update (lr * |g| ~ 1e-3 * |p|).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "kernels/cpu/linalg.h"

namespace {

const double kU = std::ldexp(1.0, -24);
const size_t kSizes[] = {1, 3, 15, 16, 17, 33, 100, 16384, 16385, 40000};

std::vector<float> random_vector(size_t n, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> U(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = U(rng);
  return v;
}

// PyTorch's SGD on one element, in double.
struct SgdRef {
  double p, buf = 0;
  void step(double g, const ip::cpu::SgdConfig& c, bool first) {
    if (c.weight_decay != 0) g += double(c.weight_decay) * p;
    if (c.momentum != 0) {
      buf = first ? g : double(c.momentum) * buf + (1.0 - double(c.dampening)) * g;
      g = c.nesterov ? g + double(c.momentum) * buf : buf;
    }
    p -= double(c.lr) * g;
  }
};

// PyTorch's Adam on one element, in double.
struct AdamRef {
  double p, m = 0, v = 0;
  double m_scale = 0;  // the same average over |g|: m's error scale when its terms cancel
  void step(double g, const ip::cpu::AdamConfig& c, int64_t t) {
    const double b1 = c.beta1, b2 = c.beta2;
    if (c.weight_decay != 0) g += double(c.weight_decay) * p;
    m = b1 * m + (1 - b1) * g;
    m_scale = b1 * m_scale + (1 - b1) * std::fabs(g);
    v = b2 * v + (1 - b2) * g * g;
    const double step_size = double(c.lr) / (1 - std::pow(b1, double(t)));
    const double denom = std::sqrt(v) / std::sqrt(1 - std::pow(b2, double(t))) + double(c.eps);
    p -= step_size * m / denom;
  }
};

void check_sgd(const ip::cpu::SgdConfig& c, const std::string& name) {
  std::mt19937 rng(11);
  constexpr int kSteps = 5;
  for (const std::string& target : ip::cpu::available_targets()) {
    ip::cpu::force_target(target);
    for (size_t n : kSizes) {
      std::vector<float> p = random_vector(n, rng, 1.0f);
      std::vector<std::vector<float>> grads;
      for (int s = 0; s < kSteps; ++s) grads.push_back(random_vector(n, rng, 1.0f));
      std::vector<SgdRef> ref(n);
      for (size_t i = 0; i < n; ++i) ref[i].p = p[i];
      std::vector<float> buf(n, -7.0f);  // garbage: the first step must overwrite it
      std::vector<double> scale(n);
      for (size_t i = 0; i < n; ++i) scale[i] = std::fabs(p[i]);
      for (int s = 0; s < kSteps; ++s) {
        ip::cpu::sgd_step(p.data(), grads[s].data(), c.momentum != 0 ? buf.data() : nullptr, n, c,
                          s == 0);
        for (size_t i = 0; i < n; ++i) {
          ref[i].step(grads[s][i], c, s == 0);
          scale[i] += std::fabs(ref[i].p) + std::fabs(ref[i].buf) * (1 + c.momentum);
        }
      }
      for (size_t i = 0; i < n; ++i) {
        ASSERT_NEAR(p[i], ref[i].p, 64 * kU * scale[i])
            << name << " target " << target << " n=" << n << " i=" << i;
        if (c.momentum != 0) {
          ASSERT_NEAR(buf[i], ref[i].buf, 64 * kU * scale[i])
              << name << " buffer, target " << target << " n=" << n << " i=" << i;
        }
      }
    }
  }
  ip::cpu::force_target("auto");
}

TEST(CpuOptim, SgdPlain) {
  ip::cpu::SgdConfig c;
  c.lr = 0.01f;
  check_sgd(c, "plain");
}

TEST(CpuOptim, SgdMomentum) {  // the MNIST experiment's setting, with a visible lr
  ip::cpu::SgdConfig c;
  c.lr = 0.01f;
  c.momentum = 0.9f;
  check_sgd(c, "momentum");
}

TEST(CpuOptim, SgdMomentumDampeningWeightDecay) {
  ip::cpu::SgdConfig c;
  c.lr = 0.05f;
  c.momentum = 0.8f;
  c.dampening = 0.3f;
  c.weight_decay = 0.01f;
  check_sgd(c, "dampening+wd");
}

TEST(CpuOptim, SgdNesterov) {
  ip::cpu::SgdConfig c;
  c.lr = 0.02f;
  c.momentum = 0.9f;
  c.nesterov = true;
  c.weight_decay = 0.001f;
  check_sgd(c, "nesterov");
}

TEST(CpuOptim, SgdRejectsInvalidNesterovAndMissingBuffer) {
  float p = 1, g = 1, b = 0;
  ip::cpu::SgdConfig c;
  c.nesterov = true;  // momentum 0
  EXPECT_THROW(ip::cpu::sgd_step(&p, &g, &b, 1, c, true), std::invalid_argument);
  c.nesterov = false;
  c.momentum = 0.9f;
  EXPECT_THROW(ip::cpu::sgd_step(&p, &g, nullptr, 1, c, true), std::invalid_argument);
}

void check_adam(const ip::cpu::AdamConfig& c, const std::string& name) {
  std::mt19937 rng(12);
  constexpr int kSteps = 6;
  for (const std::string& target : ip::cpu::available_targets()) {
    ip::cpu::force_target(target);
    for (size_t n : kSizes) {
      std::vector<float> p = random_vector(n, rng, 1.0f);
      std::vector<float> m(n, 0.0f), v(n, 0.0f);
      std::vector<AdamRef> ref(n);
      for (size_t i = 0; i < n; ++i) ref[i].p = p[i];
      for (int s = 1; s <= kSteps; ++s) {
        // Gradients of mixed magnitudes, including tiny ones where eps matters.
        std::vector<float> g = random_vector(n, rng, s % 2 ? 1.0f : 1e-7f);
        ip::cpu::adam_step(p.data(), g.data(), m.data(), v.data(), n, c, s);
        for (size_t i = 0; i < n; ++i) ref[i].step(g[i], c, s);
      }
      for (size_t i = 0; i < n; ++i) {
        // The parameter moves by at most about lr per step; errors are relative to |p| + steps.
        const double scale = std::fabs(ref[i].p) + kSteps * double(c.lr);
        ASSERT_NEAR(p[i], ref[i].p, 64 * kU * scale)
            << name << " target " << target << " n=" << n << " i=" << i;
        ASSERT_NEAR(m[i], ref[i].m, 64 * kU * ref[i].m_scale)
            << name << " m, target " << target << " n=" << n << " i=" << i;
        ASSERT_NEAR(v[i], ref[i].v, 64 * kU * ref[i].v)
            << name << " v, target " << target << " n=" << n << " i=" << i;
      }
    }
  }
  ip::cpu::force_target("auto");
}

TEST(CpuOptim, AdamDefaults) {
  ip::cpu::AdamConfig c;  // lr 1e-3, betas (0.9, 0.999), eps 1e-8
  check_adam(c, "defaults");
}

TEST(CpuOptim, AdamRandExperimentAndWeightDecay) {
  ip::cpu::AdamConfig c;
  c.lr = 1e-4f;  // the rand experiment's setting
  check_adam(c, "rand");
  c.lr = 0.01f;
  c.weight_decay = 0.1f;
  c.beta1 = 0.8f;
  c.beta2 = 0.99f;
  check_adam(c, "wd");
}

TEST(CpuOptim, AdamRejectsStepZero) {
  float p = 1, g = 1, m = 0, v = 0;
  EXPECT_THROW(ip::cpu::adam_step(&p, &g, &m, &v, 1, {}, 0), std::invalid_argument);
}

TEST(CpuOptim, BitIdenticalForOneAndTwoThreads) {
  const int saved = omp_get_max_threads();
  std::mt19937 rng(13);
  const size_t n = 3 * 16384 + 77;  // several chunks and a tail
  const std::vector<float> p0 = random_vector(n, rng, 1.0f);
  const std::vector<float> g = random_vector(n, rng, 1.0f);
  const std::vector<float> b0 = random_vector(n, rng, 1.0f);
  ip::cpu::SgdConfig sc;
  sc.lr = 0.01f;
  sc.momentum = 0.9f;
  sc.nesterov = true;
  sc.weight_decay = 0.01f;
  ip::cpu::AdamConfig ac;
  ac.weight_decay = 0.01f;
  std::vector<float> results[2][4];
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    std::vector<float> p = p0, buf = b0;
    ip::cpu::sgd_step(p.data(), g.data(), buf.data(), n, sc, false);
    std::vector<float> q = p0, m = b0, v(n, 0.5f);
    ip::cpu::adam_step(q.data(), g.data(), m.data(), v.data(), n, ac, 3);
    auto& r = results[threads - 1];
    r[0] = p, r[1] = buf, r[2] = q, r[3] = m;
  }
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(0, std::memcmp(results[0][k].data(), results[1][k].data(), n * sizeof(float)))
        << "output " << k;
  }
  omp_set_num_threads(saved);
}

}  // namespace
