// Golden reference values computed by PyTorch (tests/golden/README.md), loaded into plain structs.
// The loader validates structure and lengths up front so that the checker and the tests can index
// the vectors without further checks; every error names the file and the offending field.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace ip::check {

// One element-wise function of the file's `functions` section.
struct GoldenFunction {
  std::string name;         // key in the file: PyTorch class name, GELU_tanh for the tanh GELU
  std::string torch_class;  // class PyTorch built ("" when absent)
  // Numeric constructor arguments (`params`); text and boolean ones go to text_params.
  std::map<std::string, double> params;
  std::map<std::string, std::string> text_params;
  std::vector<double> x, y, grad;  // float64; non-finite values decoded

  // PReLU: the learnable weight the file was computed with and d(sum y)/d(weight).
  bool has_weight = false;
  double weight = 0;
  double grad_weight = 0;
  bool has_grad_weight_random = false;
  double grad_weight_sum_over_random_x = 0;  // sum over the random inputs x[n_edge_cases:]
};

// One row-wise function (`rowwise`): a rows x cols matrix, row-major.
struct GoldenRowwise {
  std::string name;
  size_t rows = 0, cols = 0;
  std::vector<double> x, upstream_grad, y, grad;
};

// The `dropout` section's constants (semantics only, no vectors).
struct GoldenDropout {
  bool has_dropout = false;
  double dropout_p = 0;
  double scale_kept = 0;  // Dropout: multiplier of kept elements, 1/(1-p)

  bool has_alpha = false;
  double alpha_p = 0;
  double alpha_prime = 0;  // AlphaDropout's alpha' = -SELU scale * alpha
  double a = 0, b = 0;     // kept: a * x + b
  double dropped_value = 0;      // a * alpha' + b in float64
  float dropped_value_f32 = 0;   // what PyTorch's float32 kernel produces for dropped elements
};

struct GoldenSet {
  std::string path;  // where it was read from (for messages)
  std::string generator;
  size_t n_edge_cases = 0;  // the first n_edge_cases inputs are fixed edge cases, the rest random
  std::vector<GoldenFunction> functions;  // file order
  std::vector<GoldenRowwise> rowwise;
  GoldenDropout dropout;

  const GoldenFunction* function(const std::string& name) const;
  const GoldenRowwise* rowwise_function(const std::string& name) const;
};

// Reads and validates a golden file. Throws std::runtime_error naming `path` and the problem
// (missing file, invalid JSON, missing field, wrong type, length mismatch).
GoldenSet load_golden(const std::string& path);
// Same, from text already in memory; `origin` names it in error messages.
GoldenSet parse_golden(const std::string& text, const std::string& origin);

}  // namespace ip::check
