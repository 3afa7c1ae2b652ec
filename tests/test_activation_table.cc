// The activation table: complete, unique names, PyTorch defaults, the paper's 26 functions.
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/philox.h"

namespace ip {
namespace {

TEST(ActivationTable, NamesAreUniqueAndLowerCase) {
  std::set<std::string> cli, ids;
  for (const FunctionInfo& f : kFunctionInfo) {
    EXPECT_TRUE(cli.insert(f.cli_name).second) << f.cli_name;
    EXPECT_TRUE(ids.insert(f.name).second) << f.name;
    for (const char* c = f.cli_name; *c; ++c) EXPECT_FALSE(*c >= 'A' && *c <= 'Z') << f.cli_name;
    EXPECT_EQ(std::string(f.torch_path).rfind("torch.nn.modules.", 0), 0u) << f.torch_path;
  }
  EXPECT_EQ(kFunctionCount, 32);
}

TEST(ActivationTable, PaperHasTwentySixFunctionsInThreeGroups) {
  int paper = 0, activations = 0, dropouts = 0, identities = 0;
  for (const FunctionInfo& f : kFunctionInfo) {
    if (!f.in_paper) continue;
    ++paper;
    activations += f.group == FunctionGroup::Activation;
    dropouts += f.group == FunctionGroup::Dropout;
    identities += f.group == FunctionGroup::IdentityGroup;
  }
  EXPECT_EQ(paper, 26);
  EXPECT_EQ(activations, 21);
  EXPECT_EQ(dropouts, 4);
  EXPECT_EQ(identities, 1);
}

TEST(ActivationTable, IdsIndexTheTable) {
  for (int i = 0; i < kFunctionCount; ++i)
    EXPECT_EQ(static_cast<int>(kFunctionInfo[i].id), i) << kFunctionInfo[i].name;
}

TEST(ActivationTable, PyTorchDefaults) {
  EXPECT_EQ(default_params<double>(FunctionId::LeakyReLU).p0, 0.01);
  EXPECT_EQ(default_params<double>(FunctionId::PReLU).p0, 0.25);
  EXPECT_DOUBLE_EQ(RReLU::eval_slope(default_params<double>(FunctionId::RReLU)), 11.0 / 48.0);
  EXPECT_EQ(default_params<double>(FunctionId::Softplus).p1, 20.0);
  EXPECT_EQ(default_params<double>(FunctionId::Hardtanh).p0, -1.0);
  EXPECT_EQ(default_params<double>(FunctionId::Dropout).p0, 0.5);
}

// Random123's known-answer vectors for Philox 4x32-10.
TEST(Philox, KnownAnswers) {
  struct Case {
    philox::Block counter;
    uint32_t key0, key1;
    philox::Block expected;
  };
  const Case cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const Case& c : cases) {
    const philox::Block out = philox::philox4x32_10(c.counter, c.key0, c.key1);
    for (int w = 0; w < 4; ++w) EXPECT_EQ(out.v[w], c.expected.v[w]) << "word " << w;
  }
}

TEST(Dropout, ConstantsFollowPyTorch) {
  const DropoutConstants d = dropout_constants(FunctionId::Dropout, 0.5);
  EXPECT_EQ(d.scale, 2.0f);
  EXPECT_EQ(d.keep_below, 1u << 23);
  EXPECT_FALSE(d.by_row);
  EXPECT_TRUE(dropout_constants(FunctionId::Dropout3d, 0.5).by_row);
  const DropoutConstants a = dropout_constants(FunctionId::AlphaDropout, 0.5);
  EXPECT_NEAR(a.scale, 0.8864048946659319, 1e-7);
  EXPECT_NEAR(a.offset, 0.7791939305180315, 1e-7);
  EXPECT_EQ(a.dropped_value, -0.7791939377784729f);  // PyTorch's float32 dropped value
  EXPECT_EQ(dropout_constants(FunctionId::Dropout, 1.0).keep_below, 0u);
  EXPECT_THROW(dropout_constants(FunctionId::ReLU, 0.5), std::invalid_argument);
  EXPECT_THROW(dropout_constants(FunctionId::Dropout, 1.5), std::invalid_argument);
}

}  // namespace
}  // namespace ip
