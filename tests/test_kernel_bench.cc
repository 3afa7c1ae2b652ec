// kernel_bench as users run it: --quick prints a table with bandwidths and writes JSON and CSV that
// parse; bad flags give a one-line error naming the flag and a non-zero exit.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/cpu/kernels.h"
#ifdef INFERENCEPOWER_HAVE_CUDA
#include "kernels/cuda/kernels.h"
#endif
#include "tests/binary_runner.h"

namespace {

namespace fs = std::filesystem;
using ip::test::count_lines;
using ip::test::run_binary;
using nlohmann::json;

std::string find_file(const std::string& dir, const std::string& suffix) {
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        (suffix != ".csv" || name.find("_gemm") == std::string::npos))
      return e.path().string();
  }
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

TEST(KernelBench, QuickRunPrintsTableAndWritesJsonAndCsv) {
  const std::string dir = ip::test::fresh_dir("kernel_bench_quick");
  auto r = run_binary("kernel_bench", {"--quick", "--functions", "relu,softmax,dropout", "--threads", "1",
                                       "--devices", "cpu", "--out", dir});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("GB/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("copy%"), std::string::npos);
  EXPECT_NE(r.out.find("GFLOP/s"), std::string::npos);
  for (const char* word : {"copy", "relu", "softmax", "dropout", "forward", "backward", "own"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word;

  const std::string json_path = find_file(dir, ".json");
  ASSERT_FALSE(json_path.empty()) << "no JSON in " << dir;
  json j = json::parse(ip::test::read_text(json_path));
  ASSERT_TRUE(j.contains("hardware"));
  EXPECT_TRUE(j["hardware"].contains("cpu_model"));
  // copy + (relu, softmax, dropout) x (forward, backward)
  ASSERT_EQ(j["kernels"].size(), 7u);
  for (const json& k : j["kernels"]) {
    EXPECT_EQ(k["device"], "cpu");
    EXPECT_EQ(k["threads"], 1);
    EXPECT_GT(k["gb_per_s"].get<double>(), 0.0);
    EXPECT_GT(k["fraction_of_copy"].get<double>(), 0.0);
    EXPECT_GT(k["elements_per_s"].get<double>(), 0.0);
    const json& t = k["timing"];
    EXPECT_LE(t["min_s"].get<double>(), t["median_s"].get<double>());
    EXPECT_LE(t["median_s"].get<double>(), t["max_s"].get<double>());
    EXPECT_EQ(t["samples"], 3);
    // Bytes: forward reads x and writes y; backward reads two arrays (one for dropout) and writes dx.
    const double array = 4.0 * k["elements"].get<double>();
    const std::string dir_name = k["direction"], kind = k["kind"];
    double arrays = (kind == "copy" || dir_name == "forward" || kind == "dropout") ? 2 : 3;
    EXPECT_DOUBLE_EQ(k["bytes_per_call"].get<double>(), arrays * array) << k.dump();
  }
  EXPECT_EQ(j["kernels"][0]["function"], "copy");
  EXPECT_DOUBLE_EQ(j["kernels"][0]["fraction_of_copy"].get<double>(), 1.0);
  ASSERT_GE(j["gemm"].size(), 1u);
  EXPECT_EQ(j["gemm"][0]["backend"], "own");
  EXPECT_GT(j["gemm"][0]["gflop_per_s"].get<double>(), 0.0);

  // CSV: a header and one row per kernel, every row as wide as the header.
  const std::string csv = ip::test::read_text(find_file(dir, ".csv"));
  ASSERT_EQ(count_lines(csv), 8) << csv;
  std::size_t columns = 0;
  std::size_t start = 0;
  for (std::size_t end; (end = csv.find('\n', start)) != std::string::npos; start = end + 1) {
    auto cells = split_csv_line(csv.substr(start, end - start));
    if (columns == 0) columns = cells.size();
    EXPECT_EQ(cells.size(), columns) << csv.substr(start, end - start);
  }
  EXPECT_FALSE(find_file(dir, "_gemm.csv").empty());
}

TEST(KernelBench, ForcedTargetIsUsedAndReported) {
  const std::string lowest = ip::cpu::available_targets().back();
  auto r = run_binary("kernel_bench", {"--quick", "--functions", "identity", "--directions", "forward",
                                       "--gemm-shapes", "none", "--devices", "cpu", "--target", lowest});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("cpu    " + lowest), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("identity"), std::string::npos);
  EXPECT_EQ(r.out.find("GFLOP/s"), std::string::npos) << "--gemm-shapes none still ran GEMM";
}

// Every usage error: non-zero exit, one line on stderr naming the flag, nothing measured.
void expect_usage_error(const std::vector<std::string>& args, const std::string& flag, const std::string& hint) {
  auto r = run_binary("kernel_bench", args);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(hint), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("GB/s"), std::string::npos) << "measured despite the error";
}

TEST(KernelBench, BadFlagsGiveOneLineErrors) {
  expect_usage_error({"--quick", "--functions", "relu,nosuch"}, "--functions", "leaky_relu");
  expect_usage_error({"--quick", "--target", "NOSUCH"}, "--target", ip::cpu::available_targets().front());
  expect_usage_error({"--quick", "--sizes", "12XB"}, "--sizes", "MiB");
  expect_usage_error({"--quick", "--gemm-shapes", "64x1024"}, "--gemm-shapes", "MxNxK");
  expect_usage_error({"--quick", "--threads", "0"}, "--threads", "positive");
  expect_usage_error({"--quick", "--devices", "tpu"}, "--devices", "cpu");
  expect_usage_error({"--quick", "--variant", "fastest"}, "--variant", "all");
  expect_usage_error({"--quick", "--variant", "99"}, "--variant", "production");
}

// --variant all: on CPU the production kernels only (variant fields say so); on CUDA every variant
// of each kind side by side, one production per case, none failing validation. Without a GPU,
// --devices cuda fails with the same "no GPU" error as without --variant.
TEST(KernelBench, VariantAllKeepsCpuProductionAndListsCudaVariants) {
  const std::string dir = ip::test::fresh_dir("kernel_bench_variants");
  auto cpu = run_binary("kernel_bench", {"--quick", "--functions", "relu", "--directions", "forward", "--threads", "1",
                                         "--devices", "cpu", "--gemm-shapes", "none", "--variant", "all", "--out", dir});
  ASSERT_EQ(cpu.status, 0) << cpu.err;
  json j = json::parse(ip::test::read_text(find_file(dir, ".json")));
  ASSERT_EQ(j["kernels"].size(), 2u);
  for (const json& k : j["kernels"]) {
    EXPECT_EQ(k["variant"], 0);
    EXPECT_EQ(k["variant_name"], "production");
    EXPECT_EQ(k["production"], true);
  }
  EXPECT_TRUE(j["validation_failures"].empty());

  auto cuda = run_binary("kernel_bench", {"--quick", "--functions", "relu,softmax,dropout", "--devices", "cuda",
                                          "--gemm-shapes", "none", "--variant", "all", "--out", dir});
  std::string why;
#ifdef INFERENCEPOWER_HAVE_CUDA
  const bool gpu = ip::cuda::available(&why);
#else
  const bool gpu = false;
#endif
  if (!gpu) {
    EXPECT_EQ(cuda.status, 2);
    EXPECT_NE(cuda.err.find("--devices cuda"), std::string::npos) << cuda.err;
    EXPECT_EQ(cuda.out.find("GB/s"), std::string::npos);
    return;
  }
  ASSERT_EQ(cuda.status, 0) << cuda.err;
  EXPECT_NE(cuda.out.find("* "), std::string::npos) << cuda.out;
  EXPECT_NE(cuda.out.find("thread-per-row"), std::string::npos) << cuda.out;
  json latest;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    json candidate = json::parse(ip::test::read_text(e.path().string()));
    if (!candidate["kernels"].empty() && candidate["kernels"][0]["device"] == "cuda") latest = candidate;
  }
  ASSERT_FALSE(latest.is_null()) << "no CUDA result file in " << dir;
  EXPECT_TRUE(latest["validation_failures"].empty()) << latest["validation_failures"].dump();
  std::map<std::string, int> production, count;
  for (const json& k : latest["kernels"]) {
    if (k["kind"] == "copy") continue;
    const std::string key = k["function"].get<std::string>() + "/" + k["direction"].get<std::string>();
    ++count[key];
    production[key] += k["production"].get<bool>() ? 1 : 0;
    EXPECT_GE(k["variant"].get<int>(), 1) << k.dump();
  }
  EXPECT_EQ(count["relu/forward"], 3);
  EXPECT_EQ(count["softmax/backward"], 4);
  EXPECT_EQ(count["dropout/forward"], 3);
  for (const auto& [key, n] : production) EXPECT_EQ(n, 1) << key;
}

TEST(KernelBench, HelpExplainsEveryFlag) {
  auto r = run_binary("kernel_bench", {"--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* flag : {"--functions", "--directions", "--devices", "--sizes", "--threads", "--target",
                           "--gemm-shapes", "--large-gemm", "--repeats", "--warmup", "--variant", "--out", "--quick"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

}  // namespace
