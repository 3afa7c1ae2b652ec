// Runs every kernel backend on a golden set and measures its error against PyTorch's float64
// values. Shared by the check_kernels binary and the tests.
//
// Backends: "scalar" (reference_kernels.h in float), "cpu/<TARGET>" for each SIMD target this CPU
// supports (via ip::cpu::force_target), and "cuda" when the CUDA kernels are built and a GPU is
// present. Inputs are the file's float32-exact x; forward is y = f(x), gradient is the backward
// kernel with upstream gradient 1 (element-wise) or the file's upstream_grad (row-wise).
//
// Error of one (function, backend, quantity): the maximum, over elements whose reference is
// finite in float32, of min(absolute error, relative error); an element passes when its absolute
// error or its relative error is within tolerance, and its non-finite class (nan, +inf, -inf,
// finite; a float64 reference beyond float range counts as the infinity it rounds to) equals the
// reference's exactly.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/check/golden.h"
#include "kernels/check/validation.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"

namespace ip::check {

// Tolerance, forward_tolerance (abs 1e-6 or rel 2e-6), grad_tolerance (abs 1e-4 or rel 1e-4) and
// the value classes are validation.h's.

// One compared quantity (forward, gradient or PReLU weight gradient) of one backend.
struct Comparison {
  bool ran = false;    // false: the backend does not implement it (see `skipped`) or threw
  std::string skipped; // why it did not run ("" when it ran)
  std::string error;   // exception text when the backend threw (a failure)
  Tolerance tol;
  size_t n = 0;               // elements compared
  size_t n_finite = 0;        // of which the reference is finite (enter the error metric)
  double max_err = 0;         // max of min(abs, rel) over finite references
  double max_abs = 0, max_rel = 0;
  size_t n_out_of_tol = 0;    // finite references outside tolerance
  size_t n_class_mismatch = 0;
  // The worst element: out-of-tolerance or class mismatch first, else the largest max_err.
  bool has_worst = false;
  size_t worst_index = 0;
  double worst_x = 0;  // input at worst_index (row-wise: the x at that position)
  double worst_ref = 0;
  double worst_got = 0;

  bool failed() const { return !error.empty() || n_out_of_tol > 0 || n_class_mismatch > 0; }
};

// Compares got (float32 results) with ref (float64) elementwise; x gives the inputs for reports.
Comparison compare(const std::vector<double>& ref, const std::vector<float>& got,
                   const std::vector<double>& x, Tolerance tol);

// Golden `params` as the scalar forms' Params<float>, matched by the table's param names (no
// per-function code). A learnable weight recorded in the file (`weight`, PReLU) overrides the
// table param it is initialised from ("init"). Names the table has but the file lacks take the
// table default; file params the table does not know are listed in *ignored.
Params<float> params_from_golden(const FunctionInfo& info, const GoldenFunction& g,
                                 std::vector<std::string>* ignored = nullptr);

// Table row by golden name; nullptr when the table has no such row.
const FunctionInfo* find_function(const std::string& name);

struct CellResult {
  std::string function;
  std::string backend;
  bool rowwise = false;
  Comparison forward, grad;
  bool has_weight_grad = false;  // PReLU: sum of dy * dy/dweight over the random inputs
  Comparison weight_grad;

  bool failed() const { return forward.failed() || grad.failed() || weight_grad.failed(); }
};

struct CheckOptions {
  bool scalar = true;
  bool cpu = true;
  bool cuda = true;
  // SIMD targets to run ("AVX2", ...); empty = every available target. Unknown names throw
  // std::invalid_argument listing the available ones.
  std::vector<std::string> targets;
};

struct CheckReport {
  std::string golden_path;
  std::vector<std::string> backends;        // columns, in run order
  std::vector<std::string> functions;       // rows: golden functions found in the table, file order
  std::vector<std::string> unknown_names;   // golden names with no table row
  std::vector<std::string> notes;           // ignored params and similar information
  std::vector<CellResult> cells;            // one per (function, backend)

  const CellResult* find(const std::string& function, const std::string& backend) const;
  size_t failures() const;
  bool all_pass() const { return failures() == 0; }
};

// Backends that run_check would use with default options, e.g. {"scalar", "cpu/AVX2", "cuda"}.
std::vector<std::string> available_backends();
// SIMD targets this CPU supports (empty when the CPU kernels are not built).
std::vector<std::string> available_cpu_targets();
// Whether the CUDA backend is compiled in and a GPU is usable; *why explains when not.
bool cuda_backend_available(std::string* why = nullptr);

CheckReport run_check(const GoldenSet& golden, const CheckOptions& options = {});

}  // namespace ip::check
