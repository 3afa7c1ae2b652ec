#include "engine/numerics.h"

#include <cmath>
#include <vector>

namespace ip {

bool all_finite(const Tensor& t) {
  if (t.empty()) return true;
  for (float v : t.to_vector())
    if (!std::isfinite(v)) return false;
  return true;
}

std::string locate_non_finite(Sequential& model, const Tensor& x) {
  const Tensor* cur = &x;
  for (size_t i = 0; i < model.size(); ++i) {
    Layer& layer = model.layer(i);
    const std::string where = "layer " + std::to_string(i) + " (" + layer.describe() + ")";
    for (const Parameter& p : layer.parameters())
      if (!all_finite(*p.value)) return where + " parameter " + p.name;
    cur = &layer.forward(*cur);
    if (!all_finite(*cur)) return where + " output";
  }
  return "";
}

}  // namespace ip
