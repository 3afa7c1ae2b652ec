// kernel_bench's numbered CUDA kernel variants (experiments/cuda_variants): the registry's shape
// (no GPU needed) and every variant of every family against the scalar reference, through the
// same validate() that kernel_bench runs before timing a variant (skipped without a GPU).
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "experiments/cuda_variants/variants.h"
#include "kernels/common/activation_list.h"
#include "kernels/cuda/kernels.h"

namespace ip::cuda::variants {
namespace {

TEST(CudaVariants, RegistryNumbersEachFamilyOneToNWithOneProduction) {
  for (Family family : kFamilies) {
    SCOPED_TRACE(family_name(family));
    const std::vector<Variant>& list = variants(family);
    ASSERT_GE(list.size(), 2u) << "a family needs at least a naive variant and the production one";
    int production = 0;
    std::set<std::string> names;
    for (size_t i = 0; i < list.size(); ++i) {
      EXPECT_EQ(list[i].number, static_cast<int>(i + 1)) << "numbers must run 1..N without gaps, in order";
      EXPECT_NE(list[i].launch, nullptr);
      EXPECT_TRUE(names.insert(list[i].name).second) << "duplicate name " << list[i].name;
      EXPECT_GT(std::string(list[i].description).size(), 10u);
      production += list[i].production ? 1 : 0;
      EXPECT_EQ(find_variant(family, list[i].number), &list[i]);
    }
    EXPECT_EQ(production, 1);
    EXPECT_TRUE(production_variant(family).production);
    EXPECT_EQ(find_variant(family, 0), nullptr);
    EXPECT_EQ(find_variant(family, static_cast<int>(list.size()) + 1), nullptr);
  }
  EXPECT_EQ(family_of(KernelKind::Rowwise), Family::Rowwise);
  EXPECT_STREQ(family_name(Family::Dropout), "dropout");
}

TEST(CudaVariants, EveryVariantMatchesTheReference) {
  std::string why;
  if (!available(&why)) GTEST_SKIP() << "no usable GPU: " << why;
  for (const FunctionInfo& f : kFunctionInfo) {
    const Family family = family_of(f.kind);
    const float drop_p = f.kind == KernelKind::Dropout ? static_cast<float>(f.param_defaults[0]) : 0.5f;
    for (const Variant& v : variants(family)) {
      for (bool backward : {false, true}) {
        SCOPED_TRACE(std::string(f.name) + (backward ? " backward" : " forward") + ", variant " +
                     std::to_string(v.number) + " " + v.name);
        const Validation r = validate(family, v, f.id, backward, 1024, drop_p, 7);
        EXPECT_TRUE(r.ok) << r.detail;
      }
    }
  }
}

TEST(CudaVariants, DropoutVariantsAgreeAtOtherProbabilitiesAndWidths) {
  std::string why;
  if (!available(&why)) GTEST_SKIP() << "no usable GPU: " << why;
  for (FunctionId id : {FunctionId::Dropout, FunctionId::Dropout3d, FunctionId::AlphaDropout})
    for (float p : {0.f, 0.1f, 0.9f, 1.f})
      for (const Variant& v : variants(Family::Dropout)) {
        SCOPED_TRACE(std::string(function_info(id).name) + ", p = " + std::to_string(p) + ", variant " + v.name);
        const Validation r = validate(Family::Dropout, v, id, false, 77, p, 123456789012345ull);
        EXPECT_TRUE(r.ok) << r.detail;
      }
}

TEST(CudaVariants, ValidateRefusesAFunctionOfAnotherFamily) {
  EXPECT_THROW(validate(Family::Rowwise, variants(Family::Rowwise)[0], FunctionId::Identity, false, 16),
               std::invalid_argument);
}

}  // namespace
}  // namespace ip::cuda::variants
