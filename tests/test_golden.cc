// Every backend against PyTorch's golden values (tests/golden/activations.json), through the
// checker library; plus tests of the checker itself and of the golden loader, so that a broken
// checker or a silently empty file cannot make these tests pass.
//
// The folder is $INFERENCEPOWER_GOLDEN, default tests/golden (tests run in the source dir).
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/check/golden.h"
#include "kernels/check/kernel_check.h"
#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"
#include "kernels/common/reference_kernels.h"

namespace ip::check {
namespace {

std::string golden_dir() {
  const char* env = std::getenv("INFERENCEPOWER_GOLDEN");
  return env && *env ? env : "tests/golden";
}

const GoldenSet& golden() {
  static const GoldenSet set = load_golden(golden_dir() + "/activations.json");
  return set;
}

// Options that run exactly one backend, by its report name.
CheckOptions only(const std::string& backend) {
  CheckOptions o;
  o.scalar = backend == "scalar";
  o.cuda = backend == "cuda";
  o.cpu = backend.rfind("cpu/", 0) == 0;
  if (o.cpu) o.targets = {backend.substr(4)};
  return o;
}

std::string describe(const Comparison& c) {
  std::ostringstream s;
  s.precision(9);
  if (!c.error.empty()) return "threw: " + c.error;
  s << c.n_out_of_tol << " out of tolerance, " << c.n_class_mismatch
    << " class mismatches, max err " << c.max_err;
  if (c.has_worst)
    s << "; worst at x=" << c.worst_x << " got " << c.worst_got << " want " << c.worst_ref;
  return s.str();
}

// ---- the golden file itself ----------------------------------------------------------------

TEST(GoldenFile, HasTheDocumentedShape) {
  const GoldenSet& g = golden();
  ASSERT_EQ(g.functions.size(), 25u);
  ASSERT_EQ(g.rowwise.size(), 3u);
  EXPECT_EQ(g.n_edge_cases, 41u);
  const std::vector<double>& x = g.functions.front().x;
  ASSERT_EQ(x.size(), 553u);
  // The decoder keeps -0.0 and turns the non-finite strings into numbers (README order).
  EXPECT_EQ(x[0], 0.0);
  EXPECT_FALSE(std::signbit(x[0]));
  EXPECT_TRUE(std::signbit(x[1]));
  EXPECT_EQ(x[38], std::numeric_limits<double>::infinity());
  EXPECT_EQ(x[39], -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(x[40]));
  for (double v : x) EXPECT_TRUE(std::isnan(v) || static_cast<double>(static_cast<float>(v)) == v);
  const GoldenRowwise* softmax = g.rowwise_function("Softmax");
  ASSERT_NE(softmax, nullptr);
  EXPECT_EQ(softmax->rows, 8u);
  EXPECT_EQ(softmax->cols, 33u);
  EXPECT_EQ(softmax->x.size(), 8u * 33u);
}

// The edge cases of validation.h (which regenerate.py reads through check_kernels) are the
// file's, value for value and in the file's order (-0.0 and NaN included).
TEST(GoldenFile, EdgeCasesAreValidationsList) {
  const GoldenSet& g = golden();
  ASSERT_EQ(g.n_edge_cases, std::size(kGoldenEdgeCases));
  for (const GoldenFunction& f : g.functions) {
    for (size_t i = 0; i < g.n_edge_cases; ++i) {
      const float want = kGoldenEdgeCases[i], got = static_cast<float>(f.x[i]);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << f.name << " edge case " << i;
      } else {
        EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0) << f.name << " edge case " << i << ": " << got;
      }
    }
  }
}

TEST(GoldenFile, NamesMapToTableRows) {
  const GoldenSet& g = golden();
  std::set<std::string> covered;
  for (const GoldenFunction& f : g.functions) {
    const FunctionInfo* info = find_function(f.name);
    ASSERT_NE(info, nullptr) << f.name << " is not in activation_list.h";
    EXPECT_EQ(info->kind, KernelKind::Elementwise) << f.name;
    covered.insert(f.name);
  }
  for (const GoldenRowwise& f : g.rowwise) {
    const FunctionInfo* info = find_function(f.name);
    ASSERT_NE(info, nullptr) << f.name << " is not in activation_list.h";
    EXPECT_EQ(info->kind, KernelKind::Rowwise) << f.name;
    covered.insert(f.name);
  }
  // Table rows without golden vectors: only dropouts may lack them (their semantics are checked
  // by DropoutConstantsMatchPyTorch); every element-wise and row-wise row must be covered.
  std::string uncovered;
  for (const FunctionInfo& f : kFunctionInfo) {
    if (covered.count(f.name)) continue;
    uncovered += std::string(" ") + f.name;
    EXPECT_EQ(f.kind, KernelKind::Dropout) << f.name << " has no golden vectors";
  }
  std::cout << "[ info     ] table rows without golden vectors:" << uncovered << "\n";
}

TEST(GoldenFile, ParamsMapThroughTableNames) {
  const GoldenSet& g = golden();
  const auto params = [&](const char* name) {
    const GoldenFunction* f = g.function(name);
    EXPECT_NE(f, nullptr) << name;
    return params_from_golden(*find_function(name), *f);
  };
  EXPECT_EQ(params("Threshold").p0, 0.1f);
  EXPECT_EQ(params("Threshold").p1, 20.0f);
  EXPECT_EQ(params("PReLU").p0, 0.25f);
  EXPECT_EQ(params("Hardtanh").p0, -1.0f);
  EXPECT_EQ(params("Hardtanh").p1, 1.0f);
  EXPECT_EQ(params("LeakyReLU").p0, 0.01f);
  EXPECT_FLOAT_EQ(RReLU::eval_slope(params("RReLU")), 11.0f / 48.0f);
  // A file value that differs from the table default must win (not the default).
  GoldenFunction shifted = *g.function("Hardshrink");
  shifted.params["lambd"] = 0.75;
  EXPECT_EQ(params_from_golden(*find_function("Hardshrink"), shifted).p0, 0.75f);
}

// ---- every backend -------------------------------------------------------------------------

class GoldenBackend : public ::testing::TestWithParam<std::string> {};

void expect_cells_pass(const std::string& backend, bool rowwise) {
  const CheckReport report = run_check(golden(), only(backend));
  ASSERT_EQ(report.backends, std::vector<std::string>{backend});
  EXPECT_TRUE(report.unknown_names.empty());
  size_t ran = 0, skipped = 0;
  std::string skip_reason;
  for (const CellResult& cell : report.cells) {
    if (cell.rowwise != rowwise) continue;
    SCOPED_TRACE(cell.function + " on " + backend);
    if (!cell.forward.ran && cell.forward.error.empty()) {
      ++skipped;
      skip_reason = cell.forward.skipped;
      continue;
    }
    ++ran;
    EXPECT_FALSE(cell.forward.failed()) << "forward: " << describe(cell.forward);
    EXPECT_FALSE(cell.grad.failed()) << "grad: " << describe(cell.grad);
    EXPECT_TRUE(cell.grad.ran) << cell.grad.skipped;
    // The metric must have covered most elements, or a pass would mean nothing.
    EXPECT_GE(cell.forward.n_finite * 10, cell.forward.n * 8);
    if (cell.has_weight_grad) {
      EXPECT_FALSE(cell.weight_grad.failed()) << "weight grad: " << describe(cell.weight_grad);
    }
  }
  if (skipped) GTEST_SKIP() << skipped << " functions not built for " << backend << ": " << skip_reason;
  EXPECT_GT(ran, 0u);
}

TEST_P(GoldenBackend, ElementwiseWithinTolerance) { expect_cells_pass(GetParam(), false); }
TEST_P(GoldenBackend, RowwiseWithinTolerance) { expect_cells_pass(GetParam(), true); }

std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s;
  for (char c : info.param) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, GoldenBackend, ::testing::ValuesIn(available_backends()),
                         backend_test_name);

// ---- the checker can fail ------------------------------------------------------------------

TEST(Checker, CompareAppliesToleranceAndClasses) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tolerance fwd{1e-6, 2e-6};
  const auto one = [&](double ref, float got) { return compare({ref}, {got}, {0.0}, fwd); };
  EXPECT_FALSE(one(1.0, 1.0f).failed());
  EXPECT_TRUE(one(1.0, 1.00001f).failed());          // 1e-5 abs and rel
  EXPECT_FALSE(one(1e6, 1e6f + 1.0f).failed());      // abs 1, rel 1e-6: passes on rel
  EXPECT_FALSE(one(1e-9, 0.0f).failed());            // rel 1, abs 1e-9: passes on abs
  EXPECT_TRUE(one(0.5, 0.5f + 3e-6f).failed());      // both above tolerance
  EXPECT_FALSE(one(1e39, std::numeric_limits<float>::infinity()).failed());  // overflow = +inf
  EXPECT_TRUE(one(1e39, std::numeric_limits<float>::max()).failed());
  EXPECT_TRUE(one(nan, 0.0f).failed());
  EXPECT_TRUE(one(0.0, std::numeric_limits<float>::quiet_NaN()).failed());
  EXPECT_TRUE(one(-inf, std::numeric_limits<float>::infinity()).failed());
  EXPECT_FALSE(one(nan, std::numeric_limits<float>::quiet_NaN()).failed());
  const Comparison c = compare({1.0, 2.0, 3.0}, {1.0f, 2.5f, 3.0f}, {10, 20, 30}, fwd);
  EXPECT_EQ(c.n_out_of_tol, 1u);
  EXPECT_EQ(c.worst_index, 1u);
  EXPECT_EQ(c.worst_x, 20.0);
  EXPECT_NEAR(c.max_err, 0.25, 1e-12);  // min(abs 0.5, rel 0.25)
}

// Corrupt the golden values and check that the checker flags exactly what was corrupted.
TEST(Checker, FlagsInjectedErrors) {
  GoldenSet g = golden();
  g.functions = {*golden().function("Sigmoid"), *golden().function("ReLU")};
  g.rowwise = {*golden().rowwise_function("LogSoftmax")};
  const size_t i = 100;
  g.functions[0].y[i] += 1e-3 * std::fabs(g.functions[0].y[i]) + 1e-5;  // above both tolerances
  g.functions[1].grad[i] = std::numeric_limits<double>::quiet_NaN();     // wrong class
  g.rowwise[0].grad[7] += 1e-2;
  const CheckReport r = run_check(g, only("scalar"));
  const CellResult* sigmoid = r.find("Sigmoid", "scalar");
  ASSERT_NE(sigmoid, nullptr);
  EXPECT_TRUE(sigmoid->forward.failed());
  EXPECT_EQ(sigmoid->forward.n_out_of_tol, 1u);
  EXPECT_EQ(sigmoid->forward.worst_index, i);
  EXPECT_FALSE(sigmoid->grad.failed());
  const CellResult* relu = r.find("ReLU", "scalar");
  ASSERT_NE(relu, nullptr);
  EXPECT_FALSE(relu->forward.failed());
  EXPECT_EQ(relu->grad.n_class_mismatch, 1u);
  const CellResult* logsoftmax = r.find("LogSoftmax", "scalar");
  ASSERT_NE(logsoftmax, nullptr);
  EXPECT_TRUE(logsoftmax->grad.failed());
  EXPECT_EQ(r.failures(), 3u);
  EXPECT_FALSE(r.all_pass());

  // A name the table lacks is reported, not fatal.
  g.functions[0].name = "NoSuchFunction";
  const CheckReport r2 = run_check(g, only("scalar"));
  EXPECT_EQ(r2.unknown_names, std::vector<std::string>{"NoSuchFunction"});
}

// Known values asserted directly on the scalar forms and the file, independent of the checker.
TEST(Checker, KnownValuesWithoutTheChecker) {
  const GoldenFunction& relu = *golden().function("ReLU");
  const GoldenFunction& sigmoid = *golden().function("Sigmoid");
  const GoldenFunction& hardswish = *golden().function("Hardswish");
  EXPECT_EQ(sigmoid.x[0], 0.0);
  EXPECT_EQ(sigmoid.y[0], 0.5);
  EXPECT_EQ(sigmoid.grad[0], 0.25);
  EXPECT_EQ(Sigmoid::forward(0.0f, Params<float>{}), 0.5f);
  // ReLU is exact: every finite value equals the file's bit for bit.
  for (size_t i = 0; i < relu.x.size(); ++i) {
    const float y = ReLU::forward(static_cast<float>(relu.x[i]), Params<float>{});
    if (std::isnan(relu.y[i])) {
      EXPECT_TRUE(std::isnan(y)) << relu.x[i];
    } else {
      EXPECT_EQ(static_cast<double>(y), relu.y[i]) << relu.x[i];
    }
  }
  // PyTorch's Hardswish gradient is 1 at x = 3 and -0.5 at x = -3 (edge cases 13 and 14).
  ASSERT_EQ(hardswish.x[13], 3.0);
  EXPECT_EQ(hardswish.grad[13], 1.0);
  EXPECT_EQ(Hardswish::derivative(3.0f, Params<float>{}), 1.0f);
  ASSERT_EQ(hardswish.x[14], -3.0);
  EXPECT_EQ(Hardswish::derivative(-3.0f, Params<float>{}), -0.5f);
}

// ---- dropout constants ---------------------------------------------------------------------

TEST(GoldenFile, DropoutConstantsMatchPyTorch) {
  const GoldenDropout& d = golden().dropout;
  ASSERT_TRUE(d.has_alpha);
  ASSERT_TRUE(d.has_dropout);
  EXPECT_EQ(kAlphaDropoutAlpha, -d.alpha_prime);
  const DropoutConstants a = dropout_constants(FunctionId::AlphaDropout, d.alpha_p);
  EXPECT_EQ(a.scale, static_cast<float>(d.a));
  EXPECT_EQ(a.offset, static_cast<float>(d.b));
  // Bit-exact: the value PyTorch's float32 kernel writes for dropped elements.
  uint32_t ours, theirs;
  std::memcpy(&ours, &a.dropped_value, 4);
  std::memcpy(&theirs, &d.dropped_value_f32, 4);
  EXPECT_EQ(ours, theirs) << a.dropped_value << " vs " << d.dropped_value_f32;
  EXPECT_NEAR(a.dropped_value, d.dropped_value, 1e-7);
  // Kept elements of an input 0 are b, of x are a*x + b: the row's scalar form applies them.
  EXPECT_EQ(dropout_apply(0.0f, true, a), static_cast<float>(d.b));
  EXPECT_TRUE(std::isnan(dropout_apply(std::numeric_limits<float>::infinity(), false, a)));

  const DropoutConstants s = dropout_constants(FunctionId::Dropout, d.dropout_p);
  EXPECT_EQ(s.scale, static_cast<float>(d.scale_kept));
  EXPECT_EQ(s.offset, 0.0f);
  EXPECT_EQ(s.dropped_value, 0.0f);
}

// ---- loader errors -------------------------------------------------------------------------

void expect_load_error(const std::string& text, const std::string& needle) {
  try {
    parse_golden(text, "mem.json");
    ADD_FAILURE() << "no error for: " << text;
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("mem.json"), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(GoldenLoader, ClearErrors) {
  try {
    load_golden("/nonexistent/golden.json");
    ADD_FAILURE() << "missing file accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/golden.json"), std::string::npos);
  }
  expect_load_error("{\"functions\": ", "invalid JSON");
  expect_load_error("[1, 2]", "not a JSON object");
  expect_load_error("{}", "missing field 'functions'");
  const std::string head = R"({"functions": {"ReLU": {"params": {}, "x": [0, 1])";
  expect_load_error(head + R"(, "grad": [0, 1]}}})", "functions.ReLU: missing field 'y'");
  expect_load_error(head + R"(, "y": [0], "grad": [0, 1]}}})", "functions.ReLU.y: has 1 values");
  expect_load_error(head + R"(, "y": [0, "infinity"], "grad": [0, 1]}}})", "functions.ReLU.y.1");
  expect_load_error(head + R"(, "y": [0, 1], "grad": [0, 1]}},
      "rowwise": {"Softmax": {"shape": [2, 2], "x": [[0, 1], [2]], "upstream_grad": [], "y": [],
      "grad": []}}})",
                    "rowwise.Softmax.x.1: expected 2 columns");
  // A well-formed minimal file loads, with "nan"/"inf" decoded.
  const GoldenSet ok = parse_golden(head + R"(, "y": ["nan", "-inf"], "grad": [0, 1]}}})", "mem");
  ASSERT_EQ(ok.functions.size(), 1u);
  EXPECT_TRUE(std::isnan(ok.functions[0].y[0]));
  EXPECT_EQ(ok.functions[0].y[1], -std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace ip::check
