#include "kernels/check/golden.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace ip::check {
namespace {

using nlohmann::json;

// Carries the file name and the JSON path of the value being decoded, so that every error says
// exactly where the file is wrong.
struct Where {
  const std::string& origin;
  std::string path;

  Where at(const std::string& key) const { return {origin, path.empty() ? key : path + "." + key}; }
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("golden file '" + origin + "': " + (path.empty() ? "" : path + ": ") +
                             what);
  }
};

const json& field(const json& obj, const std::string& key, const Where& w) {
  if (!obj.is_object()) w.fail("expected an object");
  auto it = obj.find(key);
  if (it == obj.end()) w.fail("missing field '" + key + "'");
  return *it;
}

// A number, or one of the strings the file uses for non-finite values.
double decode_number(const json& v, const Where& w) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    w.fail("expected a number or \"inf\"/\"-inf\"/\"nan\", got the string \"" + s + "\"");
  }
  w.fail(std::string("expected a number, got ") + v.type_name());
}

double number_field(const json& obj, const std::string& key, const Where& w) {
  return decode_number(field(obj, key, w), w.at(key));
}

std::vector<double> decode_vector(const json& v, const Where& w) {
  if (!v.is_array()) w.fail(std::string("expected an array, got ") + v.type_name());
  std::vector<double> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) out.push_back(decode_number(v[i], w.at(std::to_string(i))));
  return out;
}

// A rows x cols nested array, flattened row-major.
std::vector<double> decode_matrix(const json& v, size_t rows, size_t cols, const Where& w) {
  if (!v.is_array()) w.fail(std::string("expected an array of rows, got ") + v.type_name());
  if (v.size() != rows)
    w.fail("expected " + std::to_string(rows) + " rows (shape), got " + std::to_string(v.size()));
  std::vector<double> out;
  out.reserve(rows * cols);
  for (size_t r = 0; r < rows; ++r) {
    const Where wr = w.at(std::to_string(r));
    std::vector<double> row = decode_vector(v[r], wr);
    if (row.size() != cols)
      wr.fail("expected " + std::to_string(cols) + " columns (shape), got " +
              std::to_string(row.size()));
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

void expect_length(const std::vector<double>& v, size_t n, const char* name, const char* against,
                   const Where& w) {
  if (v.size() != n)
    w.at(name).fail("has " + std::to_string(v.size()) + " values but " + against + " has " +
                    std::to_string(n));
}

GoldenFunction decode_function(const std::string& name, const json& f, const Where& w) {
  GoldenFunction g;
  g.name = name;
  if (auto it = f.find("torch_class"); it != f.end() && it->is_string()) g.torch_class = *it;
  const json& params = field(f, "params", w);
  if (!params.is_object()) w.at("params").fail("expected an object");
  for (auto it = params.begin(); it != params.end(); ++it) {
    if (it->is_number()) {
      g.params[it.key()] = it->get<double>();
    } else if (it->is_string()) {
      // Non-finite numbers are strings too; keep them numeric, other text stays text.
      const std::string s = it->get<std::string>();
      if (s == "inf" || s == "-inf" || s == "nan")
        g.params[it.key()] = decode_number(*it, w.at("params").at(it.key()));
      else
        g.text_params[it.key()] = s;
    } else {
      g.text_params[it.key()] = it->dump();  // booleans, null: informative only
    }
  }
  g.x = decode_vector(field(f, "x", w), w.at("x"));
  g.y = decode_vector(field(f, "y", w), w.at("y"));
  g.grad = decode_vector(field(f, "grad", w), w.at("grad"));
  if (g.x.empty()) w.at("x").fail("is empty");
  expect_length(g.y, g.x.size(), "y", "x", w);
  expect_length(g.grad, g.x.size(), "grad", "x", w);
  if (f.contains("weight")) {
    g.has_weight = true;
    g.weight = number_field(f, "weight", w);
    g.grad_weight = number_field(f, "grad_weight", w);
    if (f.contains("grad_weight_sum_over_random_x")) {
      g.has_grad_weight_random = true;
      g.grad_weight_sum_over_random_x = number_field(f, "grad_weight_sum_over_random_x", w);
    }
  }
  return g;
}

GoldenRowwise decode_rowwise(const std::string& name, const json& f, const Where& w) {
  GoldenRowwise g;
  g.name = name;
  const json& shape = field(f, "shape", w);
  if (!shape.is_array() || shape.size() != 2 || !shape[0].is_number_unsigned() ||
      !shape[1].is_number_unsigned())
    w.at("shape").fail("expected [rows, cols] of non-negative integers");
  g.rows = shape[0].get<size_t>();
  g.cols = shape[1].get<size_t>();
  if (g.rows == 0 || g.cols == 0) w.at("shape").fail("has a zero dimension");
  g.x = decode_matrix(field(f, "x", w), g.rows, g.cols, w.at("x"));
  g.upstream_grad = decode_matrix(field(f, "upstream_grad", w), g.rows, g.cols, w.at("upstream_grad"));
  g.y = decode_matrix(field(f, "y", w), g.rows, g.cols, w.at("y"));
  g.grad = decode_matrix(field(f, "grad", w), g.rows, g.cols, w.at("grad"));
  return g;
}

GoldenDropout decode_dropout(const json& d, const Where& w) {
  GoldenDropout g;
  if (!d.is_object()) w.fail("expected an object");
  // A module's section, when the file has it: its params.p, then its own fields (read_rest).
  const auto section = [&](const char* name, bool& has, double& p, const auto& read_rest) {
    if (!d.contains(name)) return;
    const Where ws = w.at(name);
    const json& s = d[name];
    has = true;
    p = number_field(field(s, "params", ws), "p", ws.at("params"));
    read_rest(s, ws);
  };
  section("Dropout", g.has_dropout, g.dropout_p, [&](const json& dj, const Where& wd) {
    g.scale_kept = number_field(dj, "scale_kept", wd);
  });
  section("AlphaDropout", g.has_alpha, g.alpha_p, [&](const json& aj, const Where& wa) {
    g.alpha_prime = number_field(aj, "alpha_prime", wa);
    g.a = number_field(aj, "a", wa);
    g.b = number_field(aj, "b", wa);
    g.dropped_value = number_field(aj, "dropped_value", wa);
    // PyTorch's measured float32 output for dropped elements; the file also states it as the
    // float32 rounding of dropped_value (the two agree in the PyTorch 1.13.1 file).
    const char* key = aj.contains("measured_float32_dropped_value") ? "measured_float32_dropped_value"
                                                                    : "float32_of_dropped_value";
    const double f32 = number_field(aj, key, wa);
    g.dropped_value_f32 = static_cast<float>(f32);
    if (static_cast<double>(g.dropped_value_f32) != f32)
      wa.at(key).fail("is not a float32 value");
  });
  return g;
}

}  // namespace

const GoldenFunction* GoldenSet::function(const std::string& name) const {
  for (const GoldenFunction& f : functions)
    if (f.name == name) return &f;
  return nullptr;
}

const GoldenRowwise* GoldenSet::rowwise_function(const std::string& name) const {
  for (const GoldenRowwise& f : rowwise)
    if (f.name == name) return &f;
  return nullptr;
}

GoldenSet parse_golden(const std::string& text, const std::string& origin) {
  const Where root{origin, ""};
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    root.fail(std::string("invalid JSON: ") + e.what());
  }
  if (!doc.is_object()) root.fail("top level is not a JSON object");

  GoldenSet set;
  set.path = origin;
  if (auto it = doc.find("generator"); it != doc.end() && it->is_string()) set.generator = *it;
  if (auto it = doc.find("n_edge_cases"); it != doc.end()) {
    if (!it->is_number_unsigned()) root.at("n_edge_cases").fail("expected a non-negative integer");
    set.n_edge_cases = it->get<size_t>();
  }

  const json& functions = field(doc, "functions", root);
  if (!functions.is_object()) root.at("functions").fail("expected an object");
  for (auto it = functions.begin(); it != functions.end(); ++it)
    set.functions.push_back(decode_function(it.key(), *it, root.at("functions").at(it.key())));
  // All functions share one x (README); a different length means a truncated or mixed file.
  for (const GoldenFunction& f : set.functions)
    if (f.x.size() != set.functions.front().x.size())
      root.at("functions").at(f.name).at("x").fail(
          "has " + std::to_string(f.x.size()) + " values but " + set.functions.front().name +
          ".x has " + std::to_string(set.functions.front().x.size()));
  if (!set.functions.empty() && set.n_edge_cases > set.functions.front().x.size())
    root.at("n_edge_cases").fail("exceeds the number of inputs");

  if (doc.contains("rowwise")) {
    const json& rowwise = doc["rowwise"];
    if (!rowwise.is_object()) root.at("rowwise").fail("expected an object");
    for (auto it = rowwise.begin(); it != rowwise.end(); ++it)
      set.rowwise.push_back(decode_rowwise(it.key(), *it, root.at("rowwise").at(it.key())));
  }
  if (doc.contains("dropout")) set.dropout = decode_dropout(doc["dropout"], root.at("dropout"));
  return set;
}

GoldenSet load_golden(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("golden file '" + path + "': cannot open (missing or unreadable)");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error("golden file '" + path + "': read error");
  return parse_golden(text.str(), path);
}

}  // namespace ip::check
