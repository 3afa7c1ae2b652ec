// Detection of NaN/Inf in training (engine/numerics.h): the per-step loss check of the
// experiments and the scan that names the first bad layer.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/loss.h"
#include "engine/numerics.h"
#include "engine/optim.h"
#include "engine/sequential.h"

namespace {

ip::Tensor filled(const ip::Shape& shape, float start) {
  std::vector<float> v(shape.numel());
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + 0.25f * static_cast<float>(i % 7);
  return ip::Tensor::from_vector(shape, v);
}

TEST(EngineNumerics, FiniteModelHasNothingToReport) {
  ip::Sequential model = ip::Sequential::parse("linear(4,8) relu linear(8,2)", 7);
  EXPECT_EQ(ip::locate_non_finite(model, filled({3, 4}, -0.5f)), "");
  EXPECT_TRUE(ip::all_finite(filled({3, 4}, 0.f)));
}

TEST(EngineNumerics, NamesTheFirstBadParameter) {
  ip::Sequential model = ip::Sequential::parse("linear(4,8) relu linear(8,2)", 7);
  ip::Parameter w = model.layer(2).parameters()[0];
  std::vector<float> v = w.value->to_vector();
  v[3] = std::numeric_limits<float>::quiet_NaN();
  w.value->from_host(v.data());
  EXPECT_EQ(ip::locate_non_finite(model, filled({3, 4}, -0.5f)), "layer 2 (linear(8,2)) parameter weight");
}

TEST(EngineNumerics, NamesTheFirstBadOutput) {
  ip::Sequential model = ip::Sequential::parse("linear(4,8) relu linear(8,2)", 7);
  // Finite weights whose products overflow float: the first layer's output is the first Inf.
  ip::Parameter w = model.layer(0).parameters()[0];
  std::vector<float> v(w.value->numel(), 3e38f);
  w.value->from_host(v.data());
  EXPECT_EQ(ip::locate_non_finite(model, filled({3, 4}, 1.f)), "layer 0 (linear(4,8)) output");
}

// A huge learning rate makes Adam's first update ~lr per weight; the next forward overflows.
// The experiments' check: a non-finite loss at some step, then the scan names the layer.
TEST(EngineNumerics, DivergingTrainingIsDetectedWithStepAndLayer) {
  ip::Sequential model = ip::Sequential::parse("linear(4,8) relu linear(8,2)", 7);
  model.train();
  const ip::Tensor x = filled({6, 4}, 0.5f), y = filled({6, 2}, -1.f);
  ip::MseLoss loss(ip::Reduction::Sum);
  ip::AdamConfig cfg;
  cfg.lr = 1e30f;
  ip::Adam adam(model.parameters(), cfg);
  int bad_step = -1;
  std::string where;
  for (int step = 1; step <= 10 && bad_step < 0; ++step) {
    adam.zero_grad();
    const double l = loss.forward_backward(model.forward(x), y);
    if (!std::isfinite(l)) {
      bad_step = step;
      where = ip::locate_non_finite(model, x);
      break;
    }
    model.backward(loss.grad());
    adam.step();
  }
  EXPECT_EQ(bad_step, 2) << "step 1 is finite; its update overflows step 2";
  EXPECT_EQ(where.rfind("layer ", 0), 0u) << where;
  EXPECT_NE(where.find("output"), std::string::npos) << where;
}

}  // namespace
