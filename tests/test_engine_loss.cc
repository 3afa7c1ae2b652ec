// Losses: values against their definitions and gradients against central differences (done in
// double on the host: the losses are computed from float inputs in double).
#include <cmath>
#include <stdexcept>

#include <gtest/gtest.h>

#include "engine/loss.h"
#include "engine_test_util.h"

namespace ip {
namespace {

template <typename F>
void expect_fd(Tensor& pred, const std::vector<float>& grad, F loss_of, double tol) {
  for (size_t i = 0; i < pred.numel(); ++i) {
    const float saved = pred.data()[i];
    const float h = 1.0f / 64;  // exact in float, so saved ± h differs from saved by exactly h
    pred.data()[i] = saved + h;
    const double up = loss_of();
    pred.data()[i] = saved - h;
    const double down = loss_of();
    pred.data()[i] = saved;
    EXPECT_NEAR(grad[i], (up - down) / (2.0 * h), tol) << "element " << i;
  }
}

TEST(EngineLoss, MseSumAndMean) {
  Tensor pred = Tensor::from_vector({2, 2}, {1, 2, 3, 4});
  const Tensor y = Tensor::from_vector({2, 2}, {0, 2, 5, 3.5f});
  MseLoss sum(Reduction::Sum), mean(Reduction::Mean);
  EXPECT_DOUBLE_EQ(sum.forward_backward(pred, y), 1 + 0 + 4 + 0.25);
  EXPECT_EQ(sum.grad().to_vector(), (std::vector<float>{2, 0, -4, 1}));
  EXPECT_DOUBLE_EQ(mean.forward_backward(pred, y), (1 + 0 + 4 + 0.25) / 4);
  EXPECT_EQ(mean.grad().to_vector(), (std::vector<float>{0.5f, 0, -1, 0.25f}));
  EXPECT_THROW(sum.forward(pred, Tensor({4})), std::invalid_argument);
}

// MSE is quadratic, so the central difference is exact: only the float rounding of the
// gradient (≈1e-7 relative) remains.
TEST(EngineLoss, MseGradientsMatchFiniteDifferences) {
  for (Reduction r : {Reduction::Sum, Reduction::Mean}) {
    Tensor pred = test::uniform_tensor({5, 3}, 1, -2, 2);
    const Tensor y = test::uniform_tensor({5, 3}, 2, -2, 2);
    MseLoss loss(r);
    loss.forward_backward(pred, y);
    const std::vector<float> g = loss.grad().to_vector();
    expect_fd(pred, g, [&] { return loss.forward(pred, y); }, 1e-5);
  }
}

TEST(EngineLoss, NllMeanValueAndGradient) {
  Tensor lp = test::uniform_tensor({4, 3}, 3, -3, 0);
  const std::vector<int32_t> labels = {2, 0, 1, 2};
  NllLoss nll;
  const double l = nll.forward_backward(lp, labels);
  const float* v = lp.data();
  EXPECT_DOUBLE_EQ(l, -(double(v[2]) + v[3] + v[7] + v[11]) / 4);
  const std::vector<float> g = nll.grad().to_vector();
  expect_fd(lp, g, [&] { return nll.forward(lp, labels); }, 1e-6);
  EXPECT_THROW(nll.forward(lp, {0, 1, 2}), std::invalid_argument);
  EXPECT_THROW(nll.forward(lp, {0, 1, 3, 0}), std::invalid_argument);
  EXPECT_THROW(nll.forward(lp, {0, 1, -1, 0}), std::invalid_argument);
}

}  // namespace
}  // namespace ip
