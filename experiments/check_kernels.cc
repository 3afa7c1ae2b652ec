// check_kernels: runs every kernel backend (scalar reference, each SIMD target, CUDA) on a PyTorch
// golden file and prints the largest error per function and backend. Exit 0 when everything is
// within tolerance, 1 when anything fails, 2 for usage errors (bad file, unknown target, no GPU).
//
// --list-functions [--json] prints the activation table instead: the one list of functions, which
// the Python tools (experiments/compare_torch.py, tests/golden/regenerate.py) read from here
// rather than keeping copies of their own.
#include <cmath>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "kernels/check/golden.h"
#include "kernels/check/kernel_check.h"
#include "kernels/check/validation.h"
#include "kernels/common/activation_list.h"

namespace {

using ip::check::CellResult;
using ip::check::CheckReport;
using ip::check::Comparison;

std::string format_err(const Comparison& c) {
  if (!c.error.empty()) return "ERROR";
  if (!c.ran) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1e", c.max_err);
  return buf;
}

// "fwd/grad" with a trailing mark on failure: '!' out of tolerance, '#' non-finite class mismatch,
// 'E' the backend threw.
std::string format_cell(const CellResult& cell) {
  std::string s = format_err(cell.forward) + "/" + format_err(cell.grad);
  if (cell.failed()) {
    std::string mark = " ";
    for (const Comparison* c : {&cell.forward, &cell.grad, &cell.weight_grad}) {
      if (!c->error.empty() && mark.find('E') == std::string::npos) mark += "E";
      if (c->n_out_of_tol && mark.find('!') == std::string::npos) mark += "!";
      if (c->n_class_mismatch && mark.find('#') == std::string::npos) mark += "#";
    }
    s += mark;
  }
  return s;
}

void print_failure_detail(const CellResult& cell) {
  const char* names[] = {"forward", "grad", "weight_grad"};
  const Comparison* cs[] = {&cell.forward, &cell.grad, &cell.weight_grad};
  for (int i = 0; i < 3; ++i) {
    const Comparison& c = *cs[i];
    if (!c.failed()) continue;
    std::printf("  %s on %s, %s: ", cell.function.c_str(), cell.backend.c_str(), names[i]);
    if (!c.error.empty()) {
      std::printf("error: %s\n", c.error.c_str());
      continue;
    }
    std::printf("%zu out of tolerance (abs %.0e / rel %.0e), %zu class mismatches; max err %.3e",
                c.n_out_of_tol, c.tol.abs, c.tol.rel, c.n_class_mismatch, c.max_err);
    if (c.has_worst)
      std::printf("; worst at element %zu (x=%.9g): got %.9g, want %.17g", c.worst_index,
                  c.worst_x, c.worst_got, c.worst_ref);
    std::printf("\n");
  }
}

void print_report(const CheckReport& r) {
  std::printf("golden: %s\n", r.golden_path.c_str());
  std::printf("cells: max error forward/grad over finite references (min of abs and rel error);\n"
              "       ! out of tolerance, # non-finite class mismatch, E error, n/a not built\n\n");
  size_t name_w = 12;
  for (const std::string& f : r.functions) name_w = std::max(name_w, f.size());
  const int cell_w = 22;
  std::printf("%-*s", static_cast<int>(name_w) + 2, "function");
  for (const std::string& b : r.backends) std::printf("%-*s", cell_w, b.c_str());
  std::printf("\n");
  for (const std::string& f : r.functions) {
    std::printf("%-*s", static_cast<int>(name_w) + 2, f.c_str());
    for (const std::string& b : r.backends) {
      const CellResult* cell = r.find(f, b);
      std::printf("%-*s", cell_w, cell ? format_cell(*cell).c_str() : "-");
    }
    std::printf("\n");
  }
  // PReLU's weight gradient is a third quantity; show it on its own line when present.
  for (const std::string& f : r.functions) {
    bool any = false;
    for (const std::string& b : r.backends)
      if (const CellResult* c = r.find(f, b); c && c->has_weight_grad) any = true;
    if (!any) continue;
    std::printf("%-*s", static_cast<int>(name_w) + 2, (f + " dW").c_str());
    for (const std::string& b : r.backends) {
      const CellResult* c = r.find(f, b);
      std::string s = c && c->has_weight_grad ? format_err(c->weight_grad) : "-";
      if (c && c->weight_grad.failed()) s += " !";
      std::printf("%-*s", cell_w, s.c_str());
    }
    std::printf("\n");
  }

  if (!r.unknown_names.empty()) {
    std::printf("\nnot in table (skipped):");
    for (const std::string& n : r.unknown_names) std::printf(" %s", n.c_str());
    std::printf("\n");
  }
  if (!r.notes.empty()) {
    std::printf("\nnotes:\n");
    for (const std::string& n : r.notes) std::printf("  %s\n", n.c_str());
  }
  size_t skipped = 0;
  for (const CellResult& c : r.cells) skipped += !c.forward.ran && c.forward.error.empty();
  if (r.failures()) {
    std::printf("\nfailures:\n");
    for (const CellResult& c : r.cells)
      if (c.failed()) print_failure_detail(c);
  }
  std::printf("\nsummary: %zu functions x %zu backends = %zu cells, %zu failed, %zu not built; %s\n",
              r.functions.size(), r.backends.size(), r.cells.size(), r.failures(), skipped,
              r.all_pass() ? "PASS" : "FAIL");
}

// The table as JSON (key order kept): per function its table id (the golden-file name), CLI
// name, PyTorch module path, class and extra constructor arguments, default parameters by name,
// group, kernel kind and whether the paper timed it; then the golden file's edge-case inputs
// (non-finite ones as "inf", "-inf", "nan", as in the golden file).
nlohmann::ordered_json function_table_json() {
  using ojson = nlohmann::ordered_json;
  ojson functions = ojson::array();
  for (const ip::FunctionInfo& f : ip::kFunctionInfo) {
    const std::string path = f.torch_path;
    ojson params = ojson::object();
    for (int i = 0; i < 2; ++i)
      if (*f.param_names[i]) params[f.param_names[i]] = f.param_defaults[i];
    functions.push_back({{"id", f.name},
                         {"cli_name", f.cli_name},
                         {"torch_path", path},
                         {"torch_class", path.substr(path.rfind('.') + 1)},
                         {"torch_args", f.torch_args},
                         {"params", params},
                         {"group", ip::group_name(f.group)},
                         {"kind", ip::kind_name(f.kind)},
                         {"in_paper", f.in_paper}});
  }
  ojson edges = ojson::array();
  for (float v : ip::check::kGoldenEdgeCases) {
    if (std::isnan(v)) edges.push_back("nan");
    else if (std::isinf(v)) edges.push_back(v > 0 ? "inf" : "-inf");
    else edges.push_back(static_cast<double>(v));
  }
  return {{"generator", "inferencepower check_kernels --list-functions --json"},
          {"functions", functions},
          {"golden_edge_cases", edges}};
}

void print_function_table(bool as_json) {
  if (as_json) {
    std::printf("%s\n", function_table_json().dump(1).c_str());
    return;
  }
  std::printf("%-14s %-13s %-10s %-11s %-5s %s\n", "cli_name", "id", "group", "kind", "paper", "PyTorch module");
  for (const ip::FunctionInfo& f : ip::kFunctionInfo) {
    std::string module = std::string(f.torch_path) + "(" + f.torch_args + ")";
    for (int i = 0; i < 2; ++i)
      if (*f.param_names[i]) module += std::string(i ? ", " : "  defaults: ") + f.param_names[i] + "=" +
                                        nlohmann::json(f.param_defaults[i]).dump();
    std::printf("%-14s %-13s %-10s %-11s %-5s %s\n", f.cli_name, f.name, ip::group_name(f.group),
                ip::kind_name(f.kind), f.in_paper ? "yes" : "no", module.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Checks every kernel backend against PyTorch golden values.\n"
      "Backends: 'scalar' (the scalar forms in float), 'cpu/<TARGET>' for each SIMD target this\n"
      "CPU supports, and 'cuda' when built with CUDA and a GPU is present. For each function of\n"
      "the golden file it runs forward and backward (upstream gradient 1; row-wise functions use\n"
      "the file's upstream gradient) and reports the largest error over finite references.\n"
      "Tolerances: forward abs 1e-6 or rel 2e-6, gradient abs 1e-4 or rel 1e-4, per element;\n"
      "non-finite classes (nan, +inf, -inf) must match exactly.\n"
      "With --list-functions it prints the activation table instead (--json: as JSON, with the\n"
      "golden file's edge-case inputs; the Python tools read the function list from there).\n"
      "Exit status: 0 all pass, 1 some check fails, 2 usage error.",
      "check_kernels"};
  std::string golden_path;
  std::string device = "all";
  std::vector<std::string> targets;
  bool list_functions = false, as_json = false;
  app.add_option("--golden", golden_path,
                 "golden file (tests/golden/activations.json); required unless --list-functions");
  app.add_flag("--list-functions", list_functions,
               "print the activation table (CLI name, PyTorch module, default parameters, group, "
               "kernel kind) and exit");
  app.add_flag("--json", as_json, "with --list-functions: print it as JSON");
  app.add_option("--device", device, "cpu (scalar + SIMD targets), cuda, or all available")
      ->check(CLI::IsMember({"cpu", "cuda", "all"}));
  app.add_option("--target", targets,
                 "restrict the SIMD targets run (repeatable), e.g. AVX2; default: all available");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (list_functions) {
    print_function_table(as_json);
    return 0;
  }
  if (golden_path.empty() || as_json) {
    std::cerr << "check_kernels: " << (as_json ? "--json goes with --list-functions" : "--golden is required")
              << " (see --help)\n";
    return 2;
  }

  try {
    ip::check::CheckOptions options;
    options.targets = targets;
    options.scalar = options.cpu = device != "cuda";
    options.cuda = device != "cpu";
    if (device == "cuda") {
      std::string why;
      if (!ip::check::cuda_backend_available(&why)) {
        std::cerr << "check_kernels: --device cuda, but the CUDA backend is unavailable: " << why
                  << "\n";
        return 2;
      }
      if (!targets.empty()) {
        std::cerr << "check_kernels: --target applies to CPU targets, not to --device cuda\n";
        return 2;
      }
    }
    const ip::check::GoldenSet golden = ip::check::load_golden(golden_path);
    const ip::check::CheckReport report = ip::check::run_check(golden, options);
    print_report(report);
    return report.all_pass() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "check_kernels: " << e.what() << "\n";
    return 2;
  }
}
