// power_table as users run it: on the paper's files (spread and relative-to-Identity numbers
// checked against values computed here from the JSON), on our own result files (per-scale and
// consolidated read together count once; energy; unknown keys), in every format, and on bad input.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "results/results.h"
#include "tests/binary_runner.h"

namespace {

namespace fs = std::filesystem;
using ip::test::read_text;
using ip::test::run_binary;
using nlohmann::json;

// ../shared/reference/paper from the repository root; worktrees sit one level deeper.
std::string paper_dir() {
  for (const char* rel : {"../shared/reference/paper", "../../shared/reference/paper"})
    if (fs::exists(fs::path(rel) / "README.md")) return rel;
  return "";
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    else if (c == ',' && !quoted) out.emplace_back();
    else out.back() += c;
  }
  return out;
}

// CSV rows as maps from the header's names.
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::vector<std::map<std::string, std::string>> rows;
  std::string text = read_text(path);
  std::vector<std::string> header;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    auto cells = split_csv_line(text.substr(start, end - start));
    if (header.empty()) {
      header = cells;
      continue;
    }
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(row);
  }
  return rows;
}

// dc_cpu at 10^5: seconds per instance per function, the mean over the file's runs.
std::map<std::string, double> dc_cpu_1e5(const std::string& dir) {
  json j = json::parse(read_text(dir + "/dc_cpu_1591619160.50882.json"));
  EXPECT_EQ(j["pred_items"], 100000);
  std::map<std::string, std::vector<double>> runs;
  for (const json& run : j["pred_times"])
    for (const auto& [key, v] : run.items()) runs[key].push_back(v.get<double>());
  std::map<std::string, double> out;
  for (const auto& [key, ts] : runs) {
    double sum = 0;
    for (double t : ts) sum += t;
    out[key] = sum / ts.size() / 1e5;
  }
  return out;
}

std::string fixed3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

TEST(PowerTable, PaperFilesSpreadAndRelativeMatchIndependentValues) {
  const std::string dir = paper_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/reference/paper is absent";
  const std::string csv_dir = ip::test::fresh_dir("power_table_paper");
  auto r = run_binary("power_table", {dir, "--csv-out", csv_dir});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* platform : {"dc_cpu", "dc_gpu", "consumer_gpu", "mac"})
    EXPECT_NE(r.out.find(std::string(platform) + " ("), std::string::npos) << platform;
  EXPECT_NE(r.err.find("mnist_targets"), std::string::npos) << "MNIST files should be noted as skipped";

  // Independent computation: activations are the torch.nn.modules.activation.* keys.
  std::map<std::string, double> t = dc_cpu_1e5(dir);
  const double identity = t.at("torch.nn.modules.linear.Identity");
  double lo = INFINITY, hi = 0, sum = 0, sq = 0;
  int n = 0;
  for (const auto& [key, v] : t) {
    if (key.rfind("torch.nn.modules.activation.", 0) != 0) continue;
    lo = std::min(lo, v), hi = std::max(hi, v);
    sum += v / identity;
    ++n;
  }
  ASSERT_EQ(n, 21);
  const double spread = hi / lo, mean = sum / n;
  for (const auto& [key, v] : t)
    if (key.rfind("torch.nn.modules.activation.", 0) == 0) sq += (v / identity - mean) * (v / identity - mean);
  const double stddev = std::sqrt(sq / n);

  bool found_spread = false, found_relative = false;
  for (auto& row : read_csv(csv_dir + "/power_table_spread.csv")) {
    if (row["platform"] != "dc_cpu" || row["pred_items"] != "100000" || row["group"] != "activation") continue;
    found_spread = true;
    EXPECT_NEAR(std::stod(row["spread"]), spread, 1e-9 * spread);
    EXPECT_EQ(row["functions"], "21");
  }
  for (auto& row : read_csv(csv_dir + "/power_table_relative_identity.csv")) {
    if (row["platform"] != "dc_cpu" || row["pred_items"] != "100000") continue;
    found_relative = true;
    EXPECT_NEAR(std::stod(row["mean"]), mean, 1e-9 * mean);
    EXPECT_NEAR(std::stod(row["std"]), stddev, 1e-9 * stddev);
  }
  EXPECT_TRUE(found_spread);
  EXPECT_TRUE(found_relative);

  // The printed spread table: dc_cpu's row for 10^5 shows the same number.
  std::size_t at = r.out.find("dc_cpu (");
  at = r.out.find("spread", at);
  ASSERT_NE(at, std::string::npos);
  at = r.out.find("\n10^5 ", at);
  ASSERT_NE(at, std::string::npos);
  std::string line = r.out.substr(at + 1, r.out.find('\n', at + 1) - at - 1);
  EXPECT_NE(line.find(fixed3(spread)), std::string::npos) << line << " vs " << spread;

  auto per_instance = read_csv(csv_dir + "/power_table_per_instance.csv");
  int dc_cpu_rows = 0;
  for (auto& row : per_instance) dc_cpu_rows += row["platform"] == "dc_cpu";
  EXPECT_EQ(dc_cpu_rows, 26 * 9);  // 26 functions x scales 10^0..10^8
}

TEST(PowerTable, MarkdownAndLatexFormats) {
  const std::string dir = paper_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/reference/paper is absent";
  const std::string file = dir + "/dc_cpu_1591619160.50882.json";
  auto md = run_binary("power_table", {file, "--format", "markdown"});
  ASSERT_EQ(md.status, 0) << md.err;
  EXPECT_NE(md.out.find("### dc_cpu"), std::string::npos);
  EXPECT_NE(md.out.find("| function | group | 10^5 |"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("|---|"), std::string::npos);
  auto tex = run_binary("power_table", {file, "--format", "latex", "--tables", "spread"});
  ASSERT_EQ(tex.status, 0) << tex.err;
  EXPECT_NE(tex.out.find("\\begin{tabular}"), std::string::npos) << tex.out;
  EXPECT_NE(tex.out.find("\\hline"), std::string::npos);
  EXPECT_NE(tex.out.find("dc\\_cpu"), std::string::npos) << "underscores must be escaped";
  EXPECT_NE(tex.out.find("10\\^{}5"), std::string::npos);
  EXPECT_EQ(tex.out.find("seconds per instance (mean"), std::string::npos) << "--tables spread printed more";
}

// Our files: rand_power writes a per-scale file and a consolidated file holding the same runs.
TEST(PowerTable, OurFilesCountOnceWithEnergyAndUnknownKeys) {
  const std::string dir = ip::test::fresh_dir("power_table_ours");
  ip::RandResults r;
  r.device = "cpu";
  r.hardware_name = "Test CPU";
  r.outprefix = "ours";
  r.runs = 2;
  r.parameters["started_unix"] = 1700000000.25;  // as rand_power records it: names the invocation
  ip::ScaleResult s;
  s.scale = 2;
  s.pred_items = 100;
  s.test_chunk_size = 100;
  const std::string relu = "torch.nn.modules.activation.ReLU", gelu = "torch.nn.modules.activation.GELU",
                    id = "torch.nn.modules.linear.Identity", drop = "torch.nn.modules.dropout.Dropout",
                    alien = "torch.nn.modules.activation.Frobnicate";
  s.pred_times = {{{relu, 1.0}, {gelu, 3.0}, {id, 0.5}, {drop, 0.6}, {alien, 9.0}},
                  {{relu, 1.0}, {gelu, 5.0}, {id, 0.5}, {drop, 0.6}, {alien, 9.0}}};
  ip::Energy e;
  e.joules = 20.0;
  e.quality = "measured";
  e.source = "rapl";
  s.pred_energy = {{{relu, e}}, {{relu, e}}};
  s.started_at = "now";
  s.unix_time = 1700000000.5;
  r.scales.push_back(s);
  ip::write_scale_file(dir, r, 0);
  ip::write_rand_consolidated(dir, ip::consolidated_stem(r.outprefix, 1700000001), r);
  std::ofstream(dir + "/other.json") << R"({"kernels": []})";  // not a result file: skipped in a directory

  const std::string csv_dir = ip::test::fresh_dir("power_table_ours_csv");
  auto out = run_binary("power_table", {dir, "--csv-out", csv_dir});
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_NE(out.err.find("Frobnicate"), std::string::npos) << "unknown key not reported";
  EXPECT_NE(out.err.find("other.json"), std::string::npos);
  EXPECT_NE(out.out.find("joules per instance"), std::string::npos) << out.out;
  // gelu mean 4 s / 100, relu 1 s / 100: spread 4; relative to Identity: 2 and 8 → mean 5, std 3.
  for (auto& row : read_csv(csv_dir + "/power_table_per_instance.csv")) {
    EXPECT_EQ(row["runs"], "2") << "per-scale and consolidated file counted twice";
    if (row["key"] == relu) {
      EXPECT_DOUBLE_EQ(std::stod(row["joules_per_instance"]), 0.2);
      EXPECT_EQ(row["energy_quality"], "measured");
    }
    if (row["key"] == alien) {
      EXPECT_EQ(row["group"], "unknown");
    }
  }
  auto spread = read_csv(csv_dir + "/power_table_spread.csv");
  ASSERT_EQ(spread.size(), 2u);
  EXPECT_EQ(spread[0]["group"], "activation");
  EXPECT_DOUBLE_EQ(std::stod(spread[0]["spread"]), 4.0);
  EXPECT_EQ(spread[0]["platform"], "ours");
  auto rel = read_csv(csv_dir + "/power_table_relative_identity.csv");
  ASSERT_EQ(rel.size(), 1u);
  EXPECT_DOUBLE_EQ(std::stod(rel[0]["mean"]), 5.0);
  EXPECT_DOUBLE_EQ(std::stod(rel[0]["std"]), 3.0);
}

// Runs merge by who they are, not by their values: two invocations of the same settings whose
// runs hold equal times, one of them with its per-scale file missing, and the paper's own files
// read alongside. Each run counts once, and a mean is over the runs (a+b)/2, not (2a+b)/3.
TEST(PowerTable, RunsMergeByInvocationNotByValue) {
  const std::string dir = ip::test::fresh_dir("power_table_merge");
  const std::string relu = "torch.nn.modules.activation.ReLU", id = "torch.nn.modules.linear.Identity";
  auto invocation = [&](double started, double relu_seconds, bool per_scale_file) {
    ip::RandResults r;
    r.device = "cpu";
    r.hardware_name = "Test CPU";
    r.outprefix = "twice";
    r.runs = 1;
    r.parameters["started_unix"] = started;
    ip::ScaleResult s;
    s.scale = 0;
    s.pred_items = 1;
    s.test_chunk_size = 1;
    s.pred_times = {{{relu, relu_seconds}, {id, 1.0}}};
    s.unix_time = started + 1;
    r.scales.push_back(s);
    if (per_scale_file) ip::write_scale_file(dir, r, 0);
    ip::write_rand_consolidated(dir, ip::consolidated_stem(r.outprefix, started), r);
  };
  invocation(1700000000, 3.0, true);
  invocation(1700000100, 3.0, true);   // equal times: still a second run
  invocation(1700000200, 6.0, false);  // its per-scale file is missing
  std::vector<std::string> inputs = {dir, "--csv-out", dir + "/csv", "--tables", "per-instance"};
  const std::string paper = paper_dir();
  if (!paper.empty()) inputs.push_back(paper);
  auto out = run_binary("power_table", inputs);
  ASSERT_EQ(out.status, 0) << out.err;
  bool found = false;
  for (auto& row : read_csv(dir + "/csv/power_table_per_instance.csv")) {
    if (row["platform"] != "twice" || row["key"] != relu) continue;
    found = true;
    EXPECT_EQ(row["runs"], "3");
    EXPECT_DOUBLE_EQ(std::stod(row["seconds_per_instance"]), 4.0);  // (3 + 3 + 6) / 3
  }
  EXPECT_TRUE(found);
}

TEST(PowerTable, BadInputNamesTheFile) {
  const std::string dir = ip::test::fresh_dir("power_table_bad");
  const std::string broken = dir + "/broken_1.json", wrong = dir + "/wrong_2.json";
  std::ofstream(broken) << "{ \"pred_items\": 1, ";
  std::ofstream(wrong) << R"({"pred_items": 10, "pred_times": "fast"})";
  for (const std::string& path : {broken, wrong}) {
    auto r = run_binary("power_table", {path});
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  auto wrong_r = run_binary("power_table", {wrong});
  EXPECT_NE(wrong_r.err.find("pred_times"), std::string::npos) << wrong_r.err;
  // A malformed file inside a directory is an error too, naming it.
  auto in_dir = run_binary("power_table", {dir});
  EXPECT_NE(in_dir.status, 0);
  EXPECT_NE(in_dir.err.find("broken_1.json"), std::string::npos) << in_dir.err;

  auto missing = run_binary("power_table", {dir + "/nope.json"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("nope.json"), std::string::npos);

  auto format = run_binary("power_table", {dir, "--format", "html"});
  EXPECT_EQ(format.status, 2);
  EXPECT_EQ(ip::test::count_lines(format.err), 1) << format.err;
  EXPECT_NE(format.err.find("--format"), std::string::npos) << format.err;
  EXPECT_NE(format.err.find("markdown"), std::string::npos) << format.err;
}

}  // namespace
