// The activation table is the only list of functions. check_kernels --list-functions --json
// prints it, and the Python tools (experiments/compare_torch.py, tests/golden/regenerate.py)
// read it instead of keeping copies. These tests check the listing against the table and, for
// each tool, that it names no function the table lacks and covers every one it has (its
// --check-table mode, which needs no PyTorch), and that neither it nor a module of the project it
// imports writes out a function name beyond the ones it declares to that check (a copied list
// would).
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/check/validation.h"
#include "kernels/common/activation_list.h"
#include "tests/binary_runner.h"

namespace ip {
namespace {

using nlohmann::json;
using test::run_binary;
using test::run_program;

json table_json() {
  const test::RunResult r = run_binary("check_kernels", {"--list-functions", "--json"});
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(r.out);
}

TEST(FunctionTableListing, JsonIsTheTable) {
  const json t = table_json();
  const json& fs = t.at("functions");
  ASSERT_EQ(fs.size(), static_cast<size_t>(kFunctionCount));
  for (size_t i = 0; i < fs.size(); ++i) {
    const FunctionInfo& f = kFunctionInfo[i];
    const json& j = fs[i];
    EXPECT_EQ(j.at("id"), f.name);
    EXPECT_EQ(j.at("cli_name"), f.cli_name);
    EXPECT_EQ(j.at("torch_path"), f.torch_path);
    const std::string path = f.torch_path;
    EXPECT_EQ(j.at("torch_class"), path.substr(path.rfind('.') + 1));
    EXPECT_EQ(j.at("torch_args"), f.torch_args);
    EXPECT_EQ(j.at("group"), group_name(f.group));
    EXPECT_EQ(j.at("kind"), kind_name(f.kind));
    EXPECT_EQ(j.at("in_paper"), f.in_paper);
    size_t params = 0;
    for (int k = 0; k < 2; ++k) {
      if (!*f.param_names[k]) continue;
      ++params;
      EXPECT_EQ(j.at("params").at(f.param_names[k]).get<double>(), f.param_defaults[k]) << f.name;
    }
    EXPECT_EQ(j.at("params").size(), params) << f.name;
  }
  // The golden file's edge cases, exactly (non-finite ones spelled as in the golden file).
  const json& edges = t.at("golden_edge_cases");
  ASSERT_EQ(edges.size(), std::size(check::kGoldenEdgeCases));
  for (size_t i = 0; i < edges.size(); ++i) {
    const float want = check::kGoldenEdgeCases[i];
    if (std::isnan(want)) {
      EXPECT_EQ(edges[i], "nan");
    } else if (std::isinf(want)) {
      EXPECT_EQ(edges[i], want > 0 ? "inf" : "-inf");
    } else {
      const float got = static_cast<float>(edges[i].get<double>());
      EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0) << i << ": " << edges[i];
    }
  }
}

TEST(FunctionTableListing, TextNamesEveryFunction) {
  const test::RunResult r = run_binary("check_kernels", {"--list-functions"});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const FunctionInfo& f : kFunctionInfo) EXPECT_NE(r.out.find(std::string(f.cli_name) + " "), std::string::npos);
  // Without --list-functions, --golden is still required (one line, usage error).
  const test::RunResult bad = run_binary("check_kernels", {});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--golden"), std::string::npos) << bad.err;
}

// ---- the Python tools ----

struct Tool {
  const char* script;
  bool cli_names;                       // names functions by CLI name (else by table id only)
  std::vector<std::string> extra_args;  // beyond --check-table --table FILE
};

std::vector<Tool> tools() {
  return {{"experiments/compare_torch.py", true, {}},
          {"tests/golden/regenerate.py", false, {"--golden", "tests/golden/activations.json"}}};
}

bool have_python() { return run_program("python3", {"-c", "pass"}).status == 0; }

std::string write_table(const json& t, const std::string& name) {
  const std::string path = test::fresh_dir("table_" + name) + "/table.json";
  std::ofstream(path) << t.dump(1);
  return path;
}

test::RunResult check_tool(const Tool& tool, const std::string& table_path) {
  std::vector<std::string> args = {tool.script, "--check-table", "--table", table_path};
  args.insert(args.end(), tool.extra_args.begin(), tool.extra_args.end());
  return run_program("python3", args);
}

// The "named: a,b,c" line of a tool's --check-table output.
std::set<std::string> declared_names(const std::string& out) {
  std::set<std::string> names;
  const size_t at = out.find("named: ");
  if (at == std::string::npos) return names;
  std::stringstream list(out.substr(at + 7, out.find('\n', at) - at - 7));
  for (std::string n; std::getline(list, n, ',');) names.insert(n);
  return names;
}

// The string constants of a Python script and of the project's modules it imports (found beside
// it or in experiments/), docstrings left out, one per line, by Python's own parser: what the
// tool writes out, not what its prose or comments mention.
std::string string_constants(const std::string& script) {
  static const char* const kLister = R"py(
import ast, os, sys
seen = set()
def constants(path):
    if path in seen:
        return
    seen.add(path)
    tree = ast.parse(open(path).read())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            print(node.value.replace("\n", " "))
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                  [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        for module in modules:
            for folder in (os.path.dirname(path), "experiments"):
                local = os.path.join(folder, module + ".py")
                if os.path.exists(local):
                    constants(os.path.abspath(local))
constants(os.path.abspath(sys.argv[1]))
)py";
  const test::RunResult r = run_program("python3", {"-c", kLister, script});
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out;
}

// The function names a script writes out: a string constant that is a name of the table (or a
// comma-separated list of them: "relu,gelu"), and the class of a torch.nn constructor in one
// ("nn.CELU()"). Names are the table's ids (PyTorch class names) and, when `cli_names`, its CLI
// names too; kind and group names ("dropout", "identity") are not counted, scripts use them as
// such. Prose and flags ("--threshold") do not count either.
std::set<std::string> table_names_written_out(const std::string& script, bool cli_names) {
  std::set<std::string> table, words_of_their_own;
  for (const FunctionInfo& f : kFunctionInfo) {
    table.insert(f.name);
    if (cli_names) table.insert(f.cli_name);
    words_of_their_own.insert(group_name(f.group)), words_of_their_own.insert(kind_name(f.kind));
  }
  auto is_name = [&](const std::string& w) { return table.count(w) && !words_of_their_own.count(w); };
  std::set<std::string> found;
  std::stringstream constants(string_constants(script));
  for (std::string line; std::getline(constants, line);) {
    std::vector<std::string> items;
    std::stringstream list(line);
    for (std::string item; std::getline(list, item, ',');) items.push_back(item);
    bool all_names = !items.empty();
    for (const std::string& item : items) all_names = all_names && table.count(item);
    if (all_names)
      for (const std::string& item : items)
        if (is_name(item)) found.insert(item);
    for (size_t at = line.find("nn."); at != std::string::npos; at = line.find("nn.", at + 1)) {
      const size_t end = line.find('(', at);
      if (end != std::string::npos && is_name(line.substr(at + 3, end - at - 3)))
        found.insert(line.substr(at + 3, end - at - 3));
    }
  }
  return found;
}

// The scanner itself: a copied table (a dict of names and constructors) and a list are found, in
// the tool and in a module of its own that it imports; flags, prose and kind names are not.
TEST(PythonTools, ScannerFindsCopiedNames) {
  if (!have_python()) GTEST_SKIP() << "python3 is not installed";
  const std::string dir = test::fresh_dir("scanner");
  std::ofstream(dir + "/tool.py") << R"py("""Mentions relu and Tanh in prose."""
import json
from helper import SLOW
FUNCTIONS = {"celu": ("nn.CELU()", "elementwise"), "softmax": ("nn.Softmax(dim=-1)", "rowwise")}
QUICK = "gelu,dropout"
ARGS = ["--threshold", "1", "the tanh approximation", "dropout"]
)py";
  std::ofstream(dir + "/helper.py") << R"py("""A module of the tool's: selu is prose here."""
SLOW = ("elu", "nn.Mish()")
)py";
  EXPECT_EQ(table_names_written_out(dir + "/tool.py", true),
            (std::set<std::string>{"CELU", "Mish", "Softmax", "celu", "elu", "gelu", "softmax"}));
  EXPECT_EQ(table_names_written_out(dir + "/tool.py", false),
            (std::set<std::string>{"CELU", "Mish", "Softmax"}));
}

TEST(PythonTools, NameOnlyFunctionsOfTheTableAndCoverItAll) {
  if (!have_python()) GTEST_SKIP() << "python3 is not installed";
  const std::string table = write_table(table_json(), "real");
  for (const Tool& tool : tools()) {
    SCOPED_TRACE(tool.script);
    const test::RunResult r = check_tool(tool, table);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("table check ok"), std::string::npos) << r.out;
    const std::set<std::string> declared = declared_names(r.out);
    EXPECT_FALSE(declared.empty()) << r.out;
    // A function name the tool writes out but does not declare would escape the check.
    for (const std::string& name : table_names_written_out(tool.script, tool.cli_names))
      EXPECT_TRUE(declared.count(name)) << tool.script << " writes out '" << name
                                        << "' without declaring it to --check-table";
  }
}

TEST(PythonTools, CheckFailsWhenTheTableLacksANamedFunction) {
  if (!have_python()) GTEST_SKIP() << "python3 is not installed";
  const json real = table_json();
  for (const Tool& tool : tools()) {
    SCOPED_TRACE(tool.script);
    const std::set<std::string> declared = declared_names(check_tool(tool, write_table(real, "real")).out);
    ASSERT_FALSE(declared.empty());
    const std::string gone = *declared.begin();
    json t = real;
    json kept = json::array();
    for (const json& f : t["functions"])
      if (f["cli_name"] != gone && f["id"] != gone) kept.push_back(f);
    t["functions"] = kept;
    const test::RunResult r = check_tool(tool, write_table(t, "without"));
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_NE(r.err.find("'" + gone + "'"), std::string::npos) << r.err;
  }
}

// A new table row must reach the golden file too: regenerate.py's check against the shipped file
// reports a function the table has and the file lacks.
TEST(PythonTools, RegenerateCheckFindsATableRowTheGoldenFileLacks) {
  if (!have_python()) GTEST_SKIP() << "python3 is not installed";
  json t = table_json();
  json extra = t["functions"][0];
  extra["id"] = "NewFunction", extra["cli_name"] = "new_function", extra["torch_class"] = "NewFunction";
  t["functions"].push_back(extra);
  const test::RunResult r = check_tool(tools()[1], write_table(t, "extra"));
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.err.find("NewFunction"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ip
