// The variant registry and the validation that kernel_bench runs before timing a variant.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "experiments/cuda_variants/variants.h"
#include "kernels/check/validation.h"
#include "kernels/common/reference_kernels.h"
#include "kernels/cuda/kernels.h"

namespace ip::cuda::variants {

// A family is a kernel kind of the table, in the same order.
static_assert(static_cast<int>(Family::Elementwise) == static_cast<int>(KernelKind::Elementwise) &&
                  static_cast<int>(Family::Rowwise) == static_cast<int>(KernelKind::Rowwise) &&
                  static_cast<int>(Family::Dropout) == static_cast<int>(KernelKind::Dropout),
              "Family mirrors KernelKind");

const char* family_name(Family family) { return kind_name(static_cast<KernelKind>(family)); }

Family family_of(KernelKind kind) { return static_cast<Family>(kind); }

const std::vector<Variant>& variants(Family family) {
  static const std::vector<Variant> elementwise = detail::elementwise_list();
  static const std::vector<Variant> rowwise = detail::rowwise_list();
  static const std::vector<Variant> dropout = detail::dropout_list();
  switch (family) {
    case Family::Elementwise: return elementwise;
    case Family::Rowwise: return rowwise;
    case Family::Dropout: return dropout;
  }
  return elementwise;
}

const Variant* find_variant(Family family, int number) {
  for (const Variant& v : variants(family))
    if (v.number == number) return &v;
  return nullptr;
}

const Variant& production_variant(Family family) {
  for (const Variant& v : variants(family))
    if (v.production) return v;
  throw std::logic_error(std::string("no production variant in family ") + family_name(family));
}

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kU = 1.0 / 16777216.0;                         // unit roundoff of float
constexpr double kSubnormalSlack = 8 * 1.401298464324817e-45;  // 8 ulp of the smallest subnormal

// Device memory with slack for a misaligned start (one float past a 16-byte boundary).
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : ptr_(static_cast<float*>(device_alloc((n + 4) * sizeof(float)))) {}
  ~DeviceBuffer() {
    try {
      device_free(ptr_);
    } catch (...) {  // a destructor must not throw; the run already reports CUDA failures
    }
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  float* at(size_t offset) { return ptr_ + offset; }

 private:
  float* ptr_;
};

std::vector<float> on_device(const Variant& v, Args a, const std::vector<float>& in, const std::vector<float>* in2,
                             size_t offset) {
  const size_t n = in.size();
  DeviceBuffer din(n), din2(n), dout(n);
  copy_to_device(din.at(offset), in.data(), n * sizeof(float));
  a.in = din.at(offset);
  if (in2) {
    copy_to_device(din2.at(offset), in2->data(), n * sizeof(float));
    a.in2 = din2.at(offset);
  }
  a.out = dout.at(offset);
  v.launch(a, nullptr);
  synchronize();
  std::vector<float> out(n);
  copy_to_host(out.data(), a.out, n * sizeof(float));
  return out;
}

// Collects the first few disagreements.
struct Report {
  size_t bad = 0;
  std::ostringstream first;
  void add(const std::string& where, size_t i, float x, float got, double want) {
    if (bad++ < 3) first << (bad > 1 ? "; " : "") << where << " element " << i << ": x = " << x << ", got " << got
                         << ", want " << want;
  }
};

void check_elementwise(const Variant& v, FunctionId id, bool backward, Report& rep) {
  const size_t sizes[] = {1, 3, 4099};  // a lone element, a tail only, and float4 body with a tail
  for (size_t n : sizes) {
    const std::vector<float> x = check::test_inputs(n, 11 + static_cast<uint32_t>(n));
    const std::vector<float> dy = check::uniform_values(n, 12 + static_cast<uint32_t>(n), -1.f, 1.f);
    const Params<float> p = default_params<float>(id);
    std::vector<float> want(n);
    if (backward) reference::activation_backward(id, x.data(), dy.data(), want.data(), n, p);
    else reference::activation_forward(id, x.data(), want.data(), n, p);
    for (size_t offset : {size_t{0}, size_t{1}}) {
      Args a;
      a.id = id, a.backward = backward, a.n = n, a.rows = 1, a.cols = n, a.p = p;
      const std::vector<float> got = on_device(v, a, x, backward ? &dy : nullptr, offset);
      const std::string where = "n = " + std::to_string(n) + (offset ? " misaligned" : "");
      for (size_t i = 0; i < n; ++i) {
        const double x_scale = backward ? 1.0 + std::fabs(static_cast<double>(x[i])) : 0.0;
        if (!check::elementwise_close(got[i], want[i], x_scale)) rep.add(where, i, x[i], got[i], want[i]);
      }
    }
  }
}

// Row-wise: against float64 with a bound from rounding-error analysis that holds for any order of
// summation (variant 1 sums a whole row sequentially, the others in trees): a sum of k terms errs
// by at most (k + slack) u times the sum of |terms|; arguments such as sign*x - m round to |x - m| u.
void check_rowwise(const Variant& v, FunctionId id, bool backward, size_t bench_cols, Report& rep) {
  std::vector<size_t> widths = {1, 33, 1024, 1025};
  if (std::find(widths.begin(), widths.end(), bench_cols) == widths.end() && bench_cols <= (size_t{1} << 16))
    widths.push_back(bench_cols);
  const bool is_log = id == FunctionId::LogSoftmax;
  const double sign = id == FunctionId::Softmin ? -1.0 : 1.0;
  for (size_t cols : widths) {
    const size_t rows = 9;
    const size_t n = rows * cols;
    std::vector<float> x = check::uniform_values(n, 21 + static_cast<uint32_t>(cols), -12.f, 12.f);
    x[1 * cols + cols / 2] = 1000.f;  // one dominant element
    x[3 * cols + cols / 3] = -kInf;   // an element that must come out 0 (or -inf)
    x[8 * cols + cols - 1] = kNaN;    // a NaN row
    const double slack = static_cast<double>(cols) + 32;
    std::vector<float> want32(n);
    reference::rowwise_forward(id, x.data(), want32.data(), rows, cols);
    std::vector<double> xd(x.begin(), x.end()), want(n);
    std::vector<double> m(rows), log_sum(rows), dot(rows), abs_dot(rows);
    const std::vector<float> dy = check::uniform_values(n, 22 + static_cast<uint32_t>(cols), -1.f, 1.f);
    if (!backward) {
      reference::rowwise_forward(id, xd.data(), want.data(), rows, cols);
      for (size_t r = 0; r < rows; ++r) {
        m[r] = row_max(xd.data() + r * cols, cols, sign);
        double s = 0;
        for (size_t c = 0; c < cols; ++c) s += std::exp(sign * xd[r * cols + c] - m[r]);
        log_sum[r] = std::log(s);
      }
    } else {
      std::vector<double> yd(want32.begin(), want32.end()), dyd(dy.begin(), dy.end());
      reference::rowwise_backward(id, yd.data(), dyd.data(), want.data(), rows, cols);
      for (size_t r = 0; r < rows; ++r)
        for (size_t c = 0; c < cols; ++c) {
          const double term = is_log ? dyd[r * cols + c] : dyd[r * cols + c] * yd[r * cols + c];
          dot[r] += term;
          abs_dot[r] += std::fabs(term);
        }
    }
    Args a;
    a.id = id, a.backward = backward, a.n = n, a.rows = rows, a.cols = cols;
    const std::vector<float> got = backward ? on_device(v, a, want32, &dy, 0) : on_device(v, a, x, nullptr, 0);
    const std::string where = "cols = " + std::to_string(cols);
    for (size_t i = 0; i < n; ++i) {
      const double w = want[i];
      const size_t r = i / cols;
      bool ok = got[i] == w;
      if (!ok && (!std::isfinite(w) || !std::isfinite(got[i]))) {
        ok = check::same_class(got[i], static_cast<float>(w));
      } else if (!ok && !backward) {
        const double arg = std::fabs(sign * xd[i] - m[r]);
        const double tol = is_log ? kU * (2 * arg + 4 * std::fabs(log_sum[r]) + slack + 8)
                                  : kU * std::fabs(w) * (arg + slack) + kSubnormalSlack;
        ok = std::fabs(got[i] - w) <= tol;
      } else if (!ok) {
        const double y = want32[i], d = dy[i];
        const double tol = is_log ? kU * (4 * std::fabs(d) + std::exp(y) * (8 * std::fabs(dot[r]) + slack * abs_dot[r]))
                                  : kU * std::fabs(y) * (4 * (std::fabs(d) + std::fabs(dot[r])) + slack * abs_dot[r]);
        ok = std::fabs(got[i] - w) <= tol + kSubnormalSlack;
      }
      if (!ok) rep.add(where, i, backward ? want32[i] : x[i], got[i], w);
    }
  }
}

// Bit for bit (check::identical: any NaN equals any NaN).
void check_dropout(const Variant& v, FunctionId id, bool backward, size_t bench_cols, float drop_p, uint64_t seed,
                   Report& rep) {
  const DropoutConstants c = dropout_constants(id, drop_p);
  const size_t shapes[][2] = {{1, 1}, {7, 3}, {5, 1023}, {3, std::min<size_t>(bench_cols, 1 << 16)}};
  for (const auto& shape : shapes) {
    const size_t rows = shape[0], cols = shape[1], n = rows * cols;
    const std::vector<float> x = check::test_inputs(n, 31 + static_cast<uint32_t>(n));
    std::vector<float> want(n);
    if (backward) reference::dropout_backward(c, x.data(), want.data(), rows, cols, seed);
    else reference::dropout_forward(c, x.data(), want.data(), rows, cols, seed);
    // The production kernel's backward reads the mask its forward stored: fill it with the
    // production forward over the same input first (variants that draw again ignore it).
    const size_t words = dropout_mask_words(id, rows, cols);
    DeviceBuffer dmask(words), dfwd_in(n), dfwd_out(n);
    uint32_t* mask = reinterpret_cast<uint32_t*>(dmask.at(0));
    if (backward) {
      copy_to_device(dfwd_in.at(0), x.data(), n * sizeof(float));
      dropout_forward(id, dfwd_in.at(0), dfwd_out.at(0), mask, rows, cols, drop_p, seed);
      synchronize();
    }
    for (size_t offset : {size_t{0}, size_t{1}}) {
      Args a;
      a.id = id, a.backward = backward, a.n = n, a.rows = rows, a.cols = cols, a.drop_p = drop_p, a.seed = seed;
      a.mask = mask;
      const std::vector<float> got = on_device(v, a, x, nullptr, offset);
      const std::string where = std::to_string(rows) + "x" + std::to_string(cols) + (offset ? " misaligned" : "");
      if (!backward && v.production) {  // the stored mask, word for word
        std::vector<uint32_t> want_mask(words), got_mask(words);
        reference::dropout_mask(c, seed, rows, cols, want_mask.data());
        copy_to_host(got_mask.data(), mask, words * sizeof(uint32_t));
        for (size_t w = 0; w < words; ++w)
          if (got_mask[w] != want_mask[w])
            rep.add(where + " mask word", w, 0.f, static_cast<float>(got_mask[w]), want_mask[w]);
      }
      for (size_t i = 0; i < n; ++i) {
        if (!check::identical(got[i], want[i])) rep.add(where, i, x[i], got[i], want[i]);
      }
    }
  }
}

}  // namespace

Validation validate(Family family, const Variant& variant, FunctionId id, bool backward, size_t cols, float drop_p,
                    uint64_t seed) {
  if (static_cast<int>(id) < 0 || static_cast<int>(id) >= kFunctionCount ||
      family_of(function_info(id).kind) != family)
    throw std::invalid_argument(std::string("validate: function is not of family ") + family_name(family));
  Report rep;
  switch (family) {
    case Family::Elementwise: check_elementwise(variant, id, backward, rep); break;
    case Family::Rowwise: check_rowwise(variant, id, backward, cols, rep); break;
    case Family::Dropout: check_dropout(variant, id, backward, cols, drop_p, seed, rep); break;
  }
  Validation out;
  out.ok = rep.bad == 0;
  out.detail = out.ok ? "matches the reference" : std::to_string(rep.bad) + " elements differ: " + rep.first.str();
  return out;
}

}  // namespace ip::cuda::variants
