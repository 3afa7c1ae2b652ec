#include "kernels/check/kernel_check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "kernels/common/reference_kernels.h"
#include "kernels/cpu/kernels.h"
#if defined(IP_CHECK_CUDA)
#include "kernels/cuda/kernels.h"
#endif

namespace ip::check {

// ---- comparison --------------------------------------------------------------------------------

Comparison compare(const std::vector<double>& ref, const std::vector<float>& got,
                   const std::vector<double>& x, Tolerance tol) {
  if (ref.size() != got.size() || ref.size() != x.size())
    throw std::invalid_argument("compare: reference, result and input sizes differ");
  Comparison c;
  c.ran = true;
  c.tol = tol;
  c.n = ref.size();
  // Rank of the current worst element: class mismatch > out of tolerance > largest error.
  int worst_rank = -1;
  double worst_err = -1;
  for (size_t i = 0; i < ref.size(); ++i) {
    const ValueClass rc = classify_reference(ref[i]);
    const ValueClass gc = classify(got[i]);
    int rank = 0;
    double err = 0;
    if (rc != gc) {
      ++c.n_class_mismatch;
      rank = 2;
    } else if (rc == ValueClass::Finite) {
      ++c.n_finite;
      const double abs_err = std::fabs(static_cast<double>(got[i]) - ref[i]);
      const double rel_err = ref[i] != 0 ? abs_err / std::fabs(ref[i])
                                         : (abs_err == 0 ? 0 : std::numeric_limits<double>::infinity());
      err = std::min(abs_err, rel_err);
      c.max_err = std::max(c.max_err, err);
      c.max_abs = std::max(c.max_abs, abs_err);
      if (std::isfinite(rel_err)) c.max_rel = std::max(c.max_rel, rel_err);
      if (!(abs_err <= tol.abs || rel_err <= tol.rel)) {
        ++c.n_out_of_tol;
        rank = 1;
      }
    } else {
      continue;  // same non-finite class: nothing to measure
    }
    if (rank > worst_rank || (rank == worst_rank && err > worst_err)) {
      worst_rank = rank;
      worst_err = err;
      c.has_worst = true;
      c.worst_index = i;
      c.worst_x = x[i];
      c.worst_ref = ref[i];
      c.worst_got = got[i];
    }
  }
  return c;
}

// ---- golden params -> Params<float> ------------------------------------------------------------

const FunctionInfo* find_function(const std::string& name) {
  for (const FunctionInfo& f : kFunctionInfo)
    if (name == f.name) return &f;
  return nullptr;
}

Params<float> params_from_golden(const FunctionInfo& info, const GoldenFunction& g,
                                 std::vector<std::string>* ignored) {
  double values[2] = {info.param_defaults[0], info.param_defaults[1]};
  for (int i = 0; i < 2; ++i) {
    const std::string name = info.param_names[i];
    if (name.empty()) continue;
    if (name == "init" && g.has_weight) {
      values[i] = g.weight;  // the weight the file was computed with, not just its initial value
    } else if (auto it = g.params.find(name); it != g.params.end()) {
      values[i] = it->second;
    } else if (ignored) {
      ignored->push_back(g.name + ": no '" + name + "' in the file; table default used");
    }
  }
  if (ignored) {
    for (const auto& [key, value] : g.params) {
      if (key != info.param_names[0] && key != info.param_names[1]) {
        std::ostringstream s;
        s.precision(17);
        s << g.name << ": file param " << key << "=" << value << " is not a table parameter";
        ignored->push_back(s.str());
      }
    }
  }
  return {static_cast<float>(values[0]), static_cast<float>(values[1])};
}

// ---- backends ----------------------------------------------------------------------------------

namespace {

using FloatVec = std::vector<float>;

// One column of the report. Functions run on host vectors; device backends copy internally.
struct Backend {
  std::string name;
  std::function<void()> enter = [] {};
  std::function<void()> leave = [] {};
  std::function<void(FunctionId, const FloatVec&, FloatVec&, Params<float>)> forward;
  std::function<void(FunctionId, const FloatVec&, const FloatVec&, FloatVec&, Params<float>)>
      backward;
  std::function<double(const FloatVec&, const FloatVec&)> prelu_weight_grad;
  std::function<void(FunctionId, const FloatVec&, FloatVec&, size_t, size_t)> row_forward;
  std::function<void(FunctionId, const FloatVec&, const FloatVec&, FloatVec&, size_t, size_t)>
      row_backward;
};

Backend scalar_backend() {
  Backend b;
  b.name = "scalar";
  b.forward = [](FunctionId id, const FloatVec& x, FloatVec& y, Params<float> p) {
    if (!reference::activation_forward<float>(id, x.data(), y.data(), x.size(), p))
      throw std::invalid_argument("not an element-wise function");
  };
  b.backward = [](FunctionId id, const FloatVec& x, const FloatVec& dy, FloatVec& dx,
                  Params<float> p) {
    if (!reference::activation_backward<float>(id, x.data(), dy.data(), dx.data(), x.size(), p))
      throw std::invalid_argument("not an element-wise function");
  };
  b.prelu_weight_grad = [](const FloatVec& x, const FloatVec& dy) {
    return static_cast<double>(reference::prelu_weight_grad<float>(x.data(), dy.data(), x.size()));
  };
  b.row_forward = [](FunctionId id, const FloatVec& x, FloatVec& y, size_t rows, size_t cols) {
    if (!reference::rowwise_forward<float>(id, x.data(), y.data(), rows, cols))
      throw std::invalid_argument("not a row-wise function");
  };
  b.row_backward = [](FunctionId id, const FloatVec& y, const FloatVec& dy, FloatVec& dx,
                      size_t rows, size_t cols) {
    if (!reference::rowwise_backward<float>(id, y.data(), dy.data(), dx.data(), rows, cols))
      throw std::invalid_argument("not a row-wise function");
  };
  return b;
}

Backend cpu_backend(const std::string& target) {
  Backend b;
  b.name = "cpu/" + target;
  b.enter = [target] {
    cpu::force_target(target);
    // Guard against a dispatch that ignores the forced target: the column would silently
    // measure another target's code.
    if (cpu::current_target() != target)
      throw std::runtime_error("force_target(" + target + ") left dispatch on " +
                               cpu::current_target());
  };
  b.leave = [] { cpu::force_target("auto"); };
  b.forward = [](FunctionId id, const FloatVec& x, FloatVec& y, Params<float> p) {
    cpu::activation_forward(id, x.data(), y.data(), x.size(), p);
  };
  b.backward = [](FunctionId id, const FloatVec& x, const FloatVec& dy, FloatVec& dx,
                  Params<float> p) {
    cpu::activation_backward(id, x.data(), dy.data(), dx.data(), x.size(), p);
  };
  b.prelu_weight_grad = [](const FloatVec& x, const FloatVec& dy) {
    return cpu::prelu_weight_grad(x.data(), dy.data(), x.size());
  };
  b.row_forward = [](FunctionId id, const FloatVec& x, FloatVec& y, size_t rows, size_t cols) {
    cpu::rowwise_forward(id, x.data(), y.data(), rows, cols);
  };
  b.row_backward = [](FunctionId id, const FloatVec& y, const FloatVec& dy, FloatVec& dx,
                      size_t rows, size_t cols) {
    cpu::rowwise_backward(id, y.data(), dy.data(), dx.data(), rows, cols);
  };
  return b;
}

#if defined(IP_CHECK_CUDA)
// Device copy of a host vector, freed on scope exit (also when a kernel throws).
class DeviceVec {
 public:
  explicit DeviceVec(size_t n) : n_(n), ptr_(static_cast<float*>(cuda::device_alloc(bytes()))) {}
  explicit DeviceVec(const FloatVec& host) : DeviceVec(host.size()) {
    cuda::copy_to_device(ptr_, host.data(), bytes());
  }
  ~DeviceVec() { cuda::device_free(ptr_); }
  DeviceVec(const DeviceVec&) = delete;
  DeviceVec& operator=(const DeviceVec&) = delete;
  float* get() const { return ptr_; }
  void to_host(FloatVec& host) const {
    cuda::synchronize();
    cuda::copy_to_host(host.data(), ptr_, bytes());
  }

 private:
  size_t bytes() const { return std::max<size_t>(n_, 1) * sizeof(float); }
  size_t n_;
  float* ptr_;
};

Backend cuda_backend() {
  Backend b;
  b.name = "cuda";
  b.forward = [](FunctionId id, const FloatVec& x, FloatVec& y, Params<float> p) {
    DeviceVec dx(x), dy(y.size());
    cuda::activation_forward(id, dx.get(), dy.get(), x.size(), p);
    dy.to_host(y);
  };
  b.backward = [](FunctionId id, const FloatVec& x, const FloatVec& dy, FloatVec& dx,
                  Params<float> p) {
    DeviceVec d_x(x), d_dy(dy), d_dx(dx.size());
    cuda::activation_backward(id, d_x.get(), d_dy.get(), d_dx.get(), x.size(), p);
    d_dx.to_host(dx);
  };
  b.prelu_weight_grad = [](const FloatVec& x, const FloatVec& dy) {
    DeviceVec d_x(x), d_dy(dy);
    return cuda::prelu_weight_grad(d_x.get(), d_dy.get(), x.size());
  };
  b.row_forward = [](FunctionId id, const FloatVec& x, FloatVec& y, size_t rows, size_t cols) {
    DeviceVec d_x(x), d_y(y.size());
    cuda::rowwise_forward(id, d_x.get(), d_y.get(), rows, cols);
    d_y.to_host(y);
  };
  b.row_backward = [](FunctionId id, const FloatVec& y, const FloatVec& dy, FloatVec& dx,
                      size_t rows, size_t cols) {
    DeviceVec d_y(y), d_dy(dy), d_dx(dx.size());
    cuda::rowwise_backward(id, d_y.get(), d_dy.get(), d_dx.get(), rows, cols);
    d_dx.to_host(dx);
  };
  return b;
}
#endif

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::vector<Backend> make_backends(const CheckOptions& options) {
  std::vector<Backend> backends;
  if (options.scalar) backends.push_back(scalar_backend());
  if (options.cpu) {
    const std::vector<std::string> available = available_cpu_targets();
    std::vector<std::string> chosen;
    if (options.targets.empty()) {
      chosen = available;
    } else {
      for (const std::string& wanted : options.targets) {
        auto it = std::find(available.begin(), available.end(), upper(wanted));
        if (it == available.end())
          throw std::invalid_argument("unknown SIMD target '" + wanted + "'; available: " +
                                      (available.empty() ? "none" : join(available)));
        if (std::find(chosen.begin(), chosen.end(), *it) == chosen.end()) chosen.push_back(*it);
      }
    }
    for (const std::string& t : chosen) backends.push_back(cpu_backend(t));
  }
#if defined(IP_CHECK_CUDA)
  if (options.cuda && cuda_backend_available()) backends.push_back(cuda_backend());
#endif
  return backends;
}

// Runs one backend call, turning an exception into a failed cell with the message.
void run_into(Comparison& c, const Backend& b, const std::function<Comparison()>& body) {
  try {
    b.enter();
    try {
      c = body();
    } catch (...) {
      b.leave();
      throw;
    }
    b.leave();
  } catch (const std::exception& e) {
    c = Comparison{};
    c.error = e.what();
  }
}

// The table row of the golden file's function `name`, added to the report's functions; nullptr,
// with `name` added to its unknown names, when the table lacks it or has it in another family.
const FunctionInfo* table_row(CheckReport& report, const std::string& name, KernelKind kind) {
  const FunctionInfo* info = find_function(name);
  if (info && info->kind == kind) {
    report.functions.push_back(name);
    return info;
  }
  const char* family = kind == KernelKind::Elementwise ? "element-wise" : "row-wise";
  report.unknown_names.push_back(name + (info ? std::string(" (not ") + family + " in the table)" : ""));
  return nullptr;
}

FloatVec to_float(const std::vector<double>& v) {
  FloatVec out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return out;
}

}  // namespace

// ---- public entry points -----------------------------------------------------------------------

std::vector<std::string> available_cpu_targets() { return cpu::available_targets(); }

bool cuda_backend_available(std::string* why) {
#if defined(IP_CHECK_CUDA)
  return cuda::available(why);
#else
  if (why) *why = "this build has no CUDA kernels (nvcc not found or kernels/cuda/*.cu absent)";
  return false;
#endif
}

std::vector<std::string> available_backends() {
  std::vector<std::string> names;
  for (const Backend& b : make_backends(CheckOptions{})) names.push_back(b.name);
  return names;
}

const CellResult* CheckReport::find(const std::string& function, const std::string& backend) const {
  for (const CellResult& c : cells)
    if (c.function == function && c.backend == backend) return &c;
  return nullptr;
}

size_t CheckReport::failures() const {
  return static_cast<size_t>(
      std::count_if(cells.begin(), cells.end(), [](const CellResult& c) { return c.failed(); }));
}

CheckReport run_check(const GoldenSet& golden, const CheckOptions& options) {
  CheckReport report;
  report.golden_path = golden.path;
  const std::vector<Backend> backends = make_backends(options);
  for (const Backend& b : backends) report.backends.push_back(b.name);

  // Element-wise functions: upstream gradient 1, so the gradient is the derivative.
  for (const GoldenFunction& g : golden.functions) {
    const FunctionInfo* info = table_row(report, g.name, KernelKind::Elementwise);
    if (!info) continue;
    const Params<float> p = params_from_golden(*info, g, &report.notes);
    const FloatVec x = to_float(g.x);
    const FloatVec ones(x.size(), 1.0f);

    // PReLU's weight gradient over all inputs (NaN, since x holds NaN) and over the random ones.
    const bool weight_grad = info->id == FunctionId::PReLU && g.has_grad_weight_random;
    const size_t first_random = golden.n_edge_cases;
    const FloatVec x_random(x.begin() + static_cast<std::ptrdiff_t>(first_random), x.end());
    const FloatVec ones_random(x_random.size(), 1.0f);

    for (const Backend& b : backends) {
      CellResult cell;
      cell.function = g.name;
      cell.backend = b.name;
      run_into(cell.forward, b, [&] {
        FloatVec y(x.size());
        b.forward(info->id, x, y, p);
        return compare(g.y, y, g.x, forward_tolerance(info->id));
      });
      run_into(cell.grad, b, [&] {
        FloatVec dx(x.size());
        b.backward(info->id, x, ones, dx, p);
        return compare(g.grad, dx, g.x, grad_tolerance(info->id));
      });
      if (weight_grad) {
        cell.has_weight_grad = true;
        run_into(cell.weight_grad, b, [&] {
          const double all = b.prelu_weight_grad(x, ones);
          const double random = b.prelu_weight_grad(x_random, ones_random);
          // "x" of the two entries: the number of inputs summed, for the report.
          return compare({g.grad_weight, g.grad_weight_sum_over_random_x},
                         {static_cast<float>(all), static_cast<float>(random)},
                         {static_cast<double>(x.size()), static_cast<double>(x_random.size())},
                         grad_tolerance(info->id));
        });
      }
      report.cells.push_back(std::move(cell));
    }
  }

  // Row-wise functions: the file's upstream gradient; backward from the backend's own forward.
  for (const GoldenRowwise& g : golden.rowwise) {
    const FunctionInfo* info = table_row(report, g.name, KernelKind::Rowwise);
    if (!info) continue;
    const FloatVec x = to_float(g.x);
    const FloatVec dy = to_float(g.upstream_grad);
    for (const Backend& b : backends) {
      CellResult cell;
      cell.function = g.name;
      cell.backend = b.name;
      cell.rowwise = true;
      FloatVec y(x.size());
      run_into(cell.forward, b, [&] {
        b.row_forward(info->id, x, y, g.rows, g.cols);
        return compare(g.y, y, g.x, forward_tolerance(info->id));
      });
      if (cell.forward.ran) {
        run_into(cell.grad, b, [&] {
          FloatVec dx(x.size());
          b.row_backward(info->id, y, dy, dx, g.rows, g.cols);
          return compare(g.grad, dx, g.x, grad_tolerance(info->id));
        });
      } else {
        cell.grad.skipped = "forward did not run";
        if (!cell.forward.error.empty()) cell.grad.error = "forward failed";
      }
      report.cells.push_back(std::move(cell));
    }
  }
  return report;
}

}  // namespace ip::check
