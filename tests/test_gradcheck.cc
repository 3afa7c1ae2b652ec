// The scalar forms' derivatives against central finite differences of their forwards, in double,
// for every element-wise and row-wise row of the table: a derivative that drifted from its forward
// (wrong sign, wrong constant, wrong branch) fails here even where no golden vector exists.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/common/activation_list.h"
#include "kernels/common/activation_math.h"

namespace ip {
namespace {

constexpr double kStep = 1e-5;       // central difference step (truncation error ~ h^2)
constexpr double kTolerance = 1e-6;  // abs, or relative to |derivative| when that exceeds 1
constexpr double kKinkMargin = 1e-3;

double central_difference(double (*f)(double, Params<double>), double x, Params<double> p) {
  const double h = kStep * std::max(1.0, std::fabs(x));
  return (f(x + h, p) - f(x - h, p)) / (2 * h);
}

bool close(double a, double b) { return std::fabs(a - b) <= kTolerance * std::max(1.0, std::fabs(b)); }

// Points where a function may have a kink or a switch of formula, derived from the parameters:
// the fixed ones of the ReLU/hard families (0, ±3, 6) and every parameter with its negation and
// the ratio p1/p0 (Softplus switches at beta * x = threshold). Skipping a point that is no kink
// for some function costs nothing.
std::vector<double> kinks(Params<double> p) {
  std::vector<double> k = {0.0, 3.0, -3.0, 6.0, p.p0, -p.p0, p.p1, -p.p1};
  if (p.p0 != 0) {
    k.push_back(p.p1 / p.p0);
    k.push_back(-p.p1 / p.p0);
  }
  return k;
}

std::vector<double> sample_points() {
  std::vector<double> xs;
  for (double x = -12.0; x <= 12.0; x += 0.0173) xs.push_back(x);
  for (double x : {15.0, 25.0, 40.0}) {
    xs.push_back(x);
    xs.push_back(-x);
  }
  return xs;
}

// The table's defaults, and the same with every non-zero parameter scaled by 1.3, so that a
// derivative ignoring its parameter (e.g. CELU's 1/alpha) cannot pass by luck of the default.
std::vector<Params<double>> param_sets(FunctionId id) {
  const Params<double> d = default_params<double>(id);
  return {d, Params<double>{d.p0 * 1.3, d.p1 * 1.3}};
}

template <FunctionId kId>
double forward_of(double x, Params<double> p) {
  return Math<kId>::forward(x, p);
}

TEST(GradCheck, ElementwiseDerivativesMatchFiniteDifferences) {
  int functions = 0;
  for (const FunctionInfo& info : kFunctionInfo) {
    if (info.kind != KernelKind::Elementwise) continue;
    ++functions;
    visit_function(info.id, [&](auto fid) {
      constexpr FunctionId kId = decltype(fid)::value;
      if constexpr (FunctionTraits<kId>::kind == KernelKind::Elementwise) {
        for (const Params<double>& p : param_sets(kId)) {
          const std::vector<double> skip = kinks(p);
          int checked = 0, failures = 0;
          for (double x : sample_points()) {
            if (std::any_of(skip.begin(), skip.end(),
                            [&](double k) { return std::fabs(x - k) < kKinkMargin; }))
              continue;
            ++checked;
            const double fd = central_difference(&forward_of<kId>, x, p);
            const double d = Math<kId>::derivative(x, p);
            if (!close(d, fd) && ++failures <= 3)
              ADD_FAILURE() << info.name << " (p0=" << p.p0 << ", p1=" << p.p1 << ") at x=" << x
                            << ": derivative " << d << ", finite difference " << fd;
          }
          EXPECT_EQ(failures, 0) << info.name;
          EXPECT_GT(checked, 1300) << info.name << ": too many points skipped";
        }
      }
    });
  }
  EXPECT_GT(functions, 20);
}

TEST(GradCheck, PReLUWeightDerivative) {
  for (double x : sample_points()) {
    const double w = 0.25, h = 1e-6;
    const double fd =
        (PReLU::forward(x, Params<double>{w + h, 0}) - PReLU::forward(x, Params<double>{w - h, 0})) /
        (2 * h);
    EXPECT_TRUE(close(PReLU::weight_derivative(x), fd)) << x;
  }
}

// The comparison must be able to fail: tanh's derivative is not the finite difference of softsign.
TEST(GradCheck, DetectsAWrongDerivative) {
  const Params<double> p{};
  EXPECT_FALSE(close(Tanh::derivative(1.0, p), central_difference(&forward_of<FunctionId::Softsign>, 1.0, p)));
  EXPECT_TRUE(close(Softsign::derivative(1.0, p), central_difference(&forward_of<FunctionId::Softsign>, 1.0, p)));
}

// Row-wise: backward_row(y, dy) must equal J(x)^T dy, with J from central differences of
// forward_row column by column.
TEST(GradCheck, RowwiseBackwardIsTheJacobianTransposeProduct) {
  std::mt19937_64 rng(1234);
  std::normal_distribution<double> normal;
  constexpr size_t n = 7;
  std::vector<std::vector<double>> rows;
  for (double scale : {1.0, 3.0}) {
    std::vector<double> r(n);
    for (double& v : r) v = scale * normal(rng);
    rows.push_back(r);
  }
  rows.push_back({50.1, 49.7, 51.3, 50.0, 48.2, 50.5, 49.9});  // large values: max subtraction
  rows.push_back({0.5, 0.5, 0.5, -0.25, 0.5, 1.0, 0.0});       // ties

  int functions = 0;
  for (const FunctionInfo& info : kFunctionInfo) {
    if (info.kind != KernelKind::Rowwise) continue;
    ++functions;
    visit_function(info.id, [&](auto fid) {
      constexpr FunctionId kId = decltype(fid)::value;
      if constexpr (FunctionTraits<kId>::kind == KernelKind::Rowwise) {
        for (const std::vector<double>& x : rows) {
          std::vector<double> dy(n), y(n), dx(n);
          for (double& v : dy) v = normal(rng);
          Math<kId>::forward_row(x.data(), y.data(), n);
          Math<kId>::backward_row(y.data(), dy.data(), dx.data(), n);
          for (size_t j = 0; j < n; ++j) {
            std::vector<double> xp = x, xm = x, yp(n), ym(n);
            const double h = kStep * std::max(1.0, std::fabs(x[j]));
            xp[j] += h;
            xm[j] -= h;
            Math<kId>::forward_row(xp.data(), yp.data(), n);
            Math<kId>::forward_row(xm.data(), ym.data(), n);
            double fd = 0;
            for (size_t i = 0; i < n; ++i) fd += dy[i] * (yp[i] - ym[i]) / (2 * h);
            EXPECT_TRUE(close(dx[j], fd))
                << info.name << " column " << j << " at x=" << x[j] << ": backward " << dx[j]
                << ", finite difference " << fd;
          }
        }
      }
    });
  }
  EXPECT_EQ(functions, 3);
}

}  // namespace
}  // namespace ip
