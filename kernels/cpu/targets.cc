// SIMD target selection for every CPU kernel family: Highway's dynamic dispatch picks the best
// target this CPU supports; force_target() narrows the choice to one (benchmarks and tests).
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/targets.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace ip::cpu::HWY_NAMESPACE {
// The target this copy of the code was compiled for: what dispatch actually reaches.
const char* CompiledTargetName() { return hwy::TargetName(HWY_TARGET); }
size_t VectorFloats() { return hwy::HWY_NAMESPACE::Lanes(hwy::HWY_NAMESPACE::ScalableTag<float>()); }
}  // namespace ip::cpu::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/cpu/kernels.h"

namespace ip::cpu {
HWY_EXPORT(CompiledTargetName);
HWY_EXPORT(VectorFloats);

namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// Compiled and supported targets, best first, read once before any forcing.
const std::vector<int64_t>& supported_targets() {
  static const std::vector<int64_t> targets = [] {
    hwy::SetSupportedTargetsForTest(0);
    return hwy::SupportedAndGeneratedTargets();
  }();
  return targets;
}

}  // namespace

std::vector<std::string> available_targets() {
  std::vector<std::string> names;
  for (int64_t t : supported_targets()) names.emplace_back(hwy::TargetName(t));
  return names;
}

std::string current_target() { return HWY_DYNAMIC_DISPATCH(CompiledTargetName)(); }

std::size_t vector_floats() { return HWY_DYNAMIC_DISPATCH(VectorFloats)(); }

void force_target(const std::string& name) {
  const std::vector<int64_t>& targets = supported_targets();
  const std::string wanted = upper(name);
  if (wanted.empty() || wanted == "AUTO") {
    hwy::SetSupportedTargetsForTest(0);
    return;
  }
  for (int64_t t : targets) {
    if (wanted == hwy::TargetName(t)) {
      hwy::SetSupportedTargetsForTest(t);
      return;
    }
  }
  std::string list;
  for (const std::string& n : available_targets()) list += (list.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown SIMD target '" + name + "'; available: " + list + ", auto");
}

}  // namespace ip::cpu
#endif  // HWY_ONCE
