// Layers: Linear's initialisation and gradients, the table-driven function layer in train and
// eval mode, and the description strings of models.
#include <cmath>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "engine/layers.h"
#include "engine/sequential.h"
#include "engine_test_util.h"

namespace ip {
namespace {

TEST(EngineLinear, InitIsPyTorchBoundAndSeeded) {
  Linear a(100, 30, 7), b(100, 30, 7), c(100, 30, 8);
  const float bound = 0.1f;  // 1/sqrt(100)
  float lo = 1, hi = -1;
  for (float v : a.weight.to_vector()) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GE(lo, -bound);
  EXPECT_LT(hi, bound);
  EXPECT_LT(lo, -0.09f);  // 3000 uniform draws reach close to both ends
  EXPECT_GT(hi, 0.09f);
  for (float v : a.bias.to_vector()) EXPECT_LE(std::fabs(v), bound);
  EXPECT_EQ(a.weight.to_vector(), b.weight.to_vector());
  EXPECT_EQ(a.bias.to_vector(), b.bias.to_vector());
  EXPECT_NE(a.weight.to_vector(), c.weight.to_vector());
}

TEST(EngineLinear, ForwardMatchesDefinition) {
  Linear l(3, 2, 1);
  l.weight = Tensor::from_vector({2, 3}, {1, 2, 3, -1, 0.5f, 0});
  l.bias = Tensor::from_vector({2}, {0.25f, -2});
  const Tensor x = Tensor::from_vector({2, 3}, {1, 0, -1, 2, 2, 2});
  EXPECT_EQ(l.forward(x).to_vector(), (std::vector<float>{-1.75f, -3, 12.25f, -3}));
  EXPECT_THROW(l.forward(Tensor({2, 4})), std::invalid_argument);
}

// dL/dW, dL/db and dL/dx of L = Σ r ⊙ y against central differences. L is linear in each
// parameter, so the difference quotient is exact up to float32 rounding of L.
TEST(EngineLinear, GradientsMatchFiniteDifferences) {
  Sequential model;
  model.add(std::make_unique<Linear>(7, 5, 3));
  model.set_input_grad(true);
  const Tensor x = test::uniform_tensor({4, 7}, 11);
  const Tensor r = test::uniform_tensor({4, 5}, 12);
  const test::LossFn loss = [&](const Tensor& y, Tensor* grad) {
    double s = 0;
    for (size_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y.data()[i]) * r.data()[i];
    if (grad) *grad = r;
    return s;
  };
  test::expect_gradients_match(model, x, loss, 0.25f, 1e-5, 1000);

  // dx = r · W, checked the same way through the input.
  model.zero_grad();
  const std::vector<float> dx = model.backward(r).to_vector();
  Tensor xp = x.to(Device::Cpu);
  for (size_t i = 0; i < xp.numel(); ++i) {
    const float saved = xp.data()[i];
    xp.data()[i] = saved + 0.25f;
    const double up = loss(model.forward(xp), nullptr);
    xp.data()[i] = saved - 0.25f;
    const double down = loss(model.forward(xp), nullptr);
    xp.data()[i] = saved;
    EXPECT_NEAR(dx[i], (up - down) / 0.5, 1e-5) << "dx[" << i << "]";
  }
}

TEST(EngineLinear, GradientsAccumulateUntilZeroed) {
  Linear l(3, 2, 1);
  const Tensor x = test::uniform_tensor({4, 3}, 2);
  const Tensor dy = test::uniform_tensor({4, 2}, 3);
  l.forward(x);
  l.backward(dy);
  const std::vector<float> once = l.weight_grad.to_vector();
  l.forward(x);
  l.backward(dy);
  const std::vector<float> twice = l.weight_grad.to_vector();
  for (size_t i = 0; i < once.size(); ++i) EXPECT_FLOAT_EQ(twice[i], 2 * once[i]);
}

TEST(EngineFunctionLayer, IdentityAndEvalDropoutReturnTheirInput) {
  const Tensor x = test::uniform_tensor({4, 6}, 5);
  for (const FunctionInfo& f : kFunctionInfo) {
    if (f.kind != KernelKind::Dropout && f.id != FunctionId::Identity) continue;
    FunctionLayer layer(f.id);
    layer.set_training(false);
    const Tensor& y = layer.forward(x);
    EXPECT_EQ(&y, &x) << f.name;  // the same tensor: no copy, not even a new handle
    EXPECT_EQ(&layer.backward(y), &y) << f.name;
  }
}

// Train-mode random layers draw a new mask or slopes every step; the same seed replays them.
TEST(EngineFunctionLayer, TrainModeRandomnessIsPerStepAndSeeded) {
  const Tensor x = test::uniform_tensor({8, 32}, 6);
  for (const FunctionInfo& f : kFunctionInfo) {
    if (f.kind != KernelKind::Dropout && f.id != FunctionId::RReLU) continue;
    FunctionLayer a(f.id), b(f.id), c(f.id);
    a.set_seed(99);
    b.set_seed(99);
    c.set_seed(100);
    const std::vector<float> a1 = a.forward(x).to_vector();
    const std::vector<float> a2 = a.forward(x).to_vector();
    const std::vector<float> b1 = b.forward(x).to_vector();
    const std::vector<float> b2 = b.forward(x).to_vector();
    const std::vector<float> c1 = c.forward(x).to_vector();
    EXPECT_NE(a1, a2) << f.name << ": step 2 repeats step 1";
    EXPECT_EQ(a1, b1) << f.name;
    EXPECT_EQ(a2, b2) << f.name;
    EXPECT_NE(a1, c1) << f.name << ": the seed is ignored";
    // Backward uses the forward's draws. With a gradient of ones, dx is the local slope, so
    // y = dx·x (+ AlphaDropout's constant offset b on kept elements, a constant when dropped).
    const Tensor ones = Tensor::from_vector(x.shape(), std::vector<float>(x.numel(), 1.0f));
    const std::vector<float> dx = b.backward(ones).to_vector();
    const DropoutConstants k =
        f.id == FunctionId::AlphaDropout ? dropout_constants(f.id, 0.5) : DropoutConstants{};
    for (size_t i = 0; i < dx.size(); ++i) {
      const float expected = f.id != FunctionId::AlphaDropout ? dx[i] * x.data()[i]
                             : dx[i] != 0                   ? dx[i] * x.data()[i] + k.offset
                                                            : k.dropped_value;
      EXPECT_NEAR(b2[i], expected, 1e-5) << f.name << " element " << i;
    }
  }
}

TEST(EngineFunctionLayer, RReLUEvalUsesTheMeanSlope) {
  FunctionLayer r(FunctionId::RReLU);
  r.set_training(false);
  const Tensor x = Tensor::from_vector({1, 2}, {-2, 3});
  const std::vector<float> y = r.forward(x).to_vector();
  EXPECT_FLOAT_EQ(y[0], -2 * (0.125f + 1.0f / 3.0f) / 2);
  EXPECT_EQ(y[1], 3.0f);
}

TEST(EngineSequential, DescriptionRoundTrips) {
  const std::string d = "linear(1024,1024) gelu gelu gelu gelu linear(1024,16)";
  Sequential m = Sequential::parse(d, 1);
  EXPECT_EQ(m.describe(), d);
  EXPECT_EQ(m.size(), 6u);
  EXPECT_EQ(m.parameter_count(), 1024u * 1024 + 1024 + 16 * 1024 + 16);
  for (const FunctionInfo& f : kFunctionInfo) {
    const std::string one = std::string("linear(3,4) ") + f.cli_name + " linear(4,2)";
    EXPECT_EQ(Sequential::parse(one).describe(), one);
  }
  const std::string args = "linear(3,4) leaky_relu(0.200000003) hardtanh(-2,2) prelu(0.5)";
  EXPECT_EQ(Sequential::parse(args).describe(), args);
  const std::vector<Parameter> p = Sequential::parse("linear(3,4) prelu linear(4,2)").parameters();
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].name, "0.weight");
  EXPECT_EQ(p[2].name, "1.weight");
  EXPECT_EQ(p[4].name, "2.bias");
}

TEST(EngineSequential, BadDescriptionsAreRejected) {
  for (const char* bad : {"", "linear(3)", "linear(3,0)", "linear(a,3)", "gelu(1)", "nosuch",
                          "linear(3,4", "leaky_relu(0.1,2)", "linear(3,4,5)"})
    EXPECT_THROW(Sequential::parse(bad), std::invalid_argument) << bad;
}

TEST(EngineSequential, SameSeedSameModel) {
  Sequential a = Sequential::parse("linear(5,6) tanh linear(6,2)", 3);
  Sequential b = Sequential::parse("linear(5,6) tanh linear(6,2)", 3);
  Sequential c = Sequential::parse("linear(5,6) tanh linear(6,2)", 4);
  EXPECT_EQ(a.parameters()[0].value->to_vector(), b.parameters()[0].value->to_vector());
  EXPECT_NE(a.parameters()[0].value->to_vector(), c.parameters()[0].value->to_vector());
  // Two Linear layers of one model get different values.
  EXPECT_NE(a.parameters()[1].value->to_vector()[0], a.parameters()[3].value->to_vector()[0]);
}

// reserve_forward allocates what forward writes, so a forward after it reuses those buffers
// (allocation stays out of a timed region), and it follows the layer's mode.
TEST(EngineSequential, ReserveForwardAllocatesWhatForwardUses) {
  Sequential m = Sequential::parse("linear(5,6) relu dropout linear(6,2)", 3);
  m.eval();
  EXPECT_EQ(m.reserve_forward(Shape{7, 5}), (Shape{7, 2}));
  const Tensor x = Tensor::from_vector({7, 5}, std::vector<float>(35, 0.5f));
  // The buffers each layer returns are the ones reserve made: a second reserve of the same shape
  // keeps them, and forward then writes into them.
  std::vector<const float*> first;
  const Tensor* cur = &x;
  for (size_t i = 0; i < m.size(); ++i) {
    cur = &m.layer(i).forward(*cur);
    first.push_back(cur->data());
  }
  EXPECT_EQ(first[2], first[1]) << "eval-mode dropout passes its input through";
  m.reserve_forward(Shape{7, 5});
  cur = &x;
  for (size_t i = 0; i < m.size(); ++i) {
    cur = &m.layer(i).forward(*cur);
    EXPECT_EQ(cur->data(), first[i]) << "layer " << i;
  }
  // A fresh model reserved before its first forward gives the same outputs as one that was not.
  Sequential fresh = Sequential::parse("linear(5,6) relu dropout linear(6,2)", 3);
  fresh.eval();
  EXPECT_EQ(fresh.forward(x).to_vector(), m.forward(x).to_vector());
  // Train-mode dropout writes its own output (and mask): reserve covers it too.
  m.train();
  m.reserve_forward(Shape{7, 5});
  EXPECT_NE(m.layer(2).forward(m.layer(1).forward(m.layer(0).forward(x))).data(), first[1]);
  EXPECT_THROW(m.reserve_forward(Shape{7, 4}), std::invalid_argument);
}

}  // namespace
}  // namespace ip
