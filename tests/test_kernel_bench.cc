// kernel_bench as users run it: --quick prints a table with bandwidths and writes JSON and CSV that
// parse; bad flags give a one-line error naming the flag and a non-zero exit.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "experiments/common/instruction_steps.h"
#include "kernels/cpu/calibration.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/streaming.h"
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
  // The GEMM's threading depends on how OpenMP's idle threads wait: both outputs say it.
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  EXPECT_EQ(j.value("omp_wait_policy", std::string("missing")), policy ? policy : "");
  EXPECT_NE(r.out.find(std::string("OMP_WAIT_POLICY=") + (policy ? policy : "unset")), std::string::npos);
  const char* spins = std::getenv("GOMP_SPINCOUNT");
  EXPECT_EQ(j.value("gomp_spincount", std::string("missing")), spins ? spins : "");
  EXPECT_NE(r.out.find(std::string("GOMP_SPINCOUNT=") + (spins ? spins : "unset")), std::string::npos);
  // two copies (memcpy, stream) + (relu, softmax, dropout) x (forward, backward)
  ASSERT_EQ(j["kernels"].size(), 8u);
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
    // Dropout also writes (forward) or reads (backward) its keep mask: a bit per element, or per
    // row for dropout3d, in whole 32-bit words.
    const double array = 4.0 * k["elements"].get<double>();
    const std::string dir_name = k["direction"], kind = k["kind"];
    double arrays = (kind == "copy" || dir_name == "forward" || kind == "dropout") ? 2 : 3;
    double mask_bytes = 0;
    if (kind == "dropout") {
      const double units = k["function"] == "dropout3d" ? k["rows"].get<double>() : k["elements"].get<double>();
      mask_bytes = 4.0 * std::ceil(units / 32.0);
    }
    EXPECT_DOUBLE_EQ(k["bytes_per_call"].get<double>(), arrays * array + mask_bytes) << k.dump();
  }
  // The copy reference is the faster of the two copies: it is 100%, the other at most that. Every
  // kernel row is compared with that copy timed alternately with it, sample for sample: its own
  // copy_gb_per_s, from its copy_timing.
  EXPECT_EQ(j["kernels"][0]["function"], "copy:memcpy");
  EXPECT_EQ(j["kernels"][1]["function"], "copy:vector");
  const double best = std::max(j["kernels"][0]["gb_per_s"].get<double>(), j["kernels"][1]["gb_per_s"].get<double>());
  EXPECT_DOUBLE_EQ(std::max(j["kernels"][0]["fraction_of_copy"].get<double>(),
                            j["kernels"][1]["fraction_of_copy"].get<double>()), 1.0);
  for (const json& k : j["kernels"]) {
    const double copy = k["copy_gb_per_s"].get<double>();
    if (k["kind"] == "copy") {
      EXPECT_DOUBLE_EQ(copy, best) << k.dump();
      EXPECT_FALSE(k.contains("copy_timing")) << k.dump();
    } else {
      ASSERT_TRUE(k.contains("copy_timing")) << k.dump();
      EXPECT_EQ(k["copy_timing"]["samples"], k["timing"]["samples"]) << k.dump();
      EXPECT_DOUBLE_EQ(copy, 8.0 * k["elements"].get<double>() / k["copy_timing"]["median_s"].get<double>() * 1e-9)
          << k.dump();
    }
    EXPECT_DOUBLE_EQ(k["fraction_of_copy"].get<double>(), k["gb_per_s"].get<double>() / copy) << k.dump();
  }
  EXPECT_NE(r.out.find("copy:vector"), std::string::npos);
  ASSERT_GE(j["gemm"].size(), 1u);
  EXPECT_EQ(j["gemm"][0]["backend"], "own");
  EXPECT_GT(j["gemm"][0]["gflop_per_s"].get<double>(), 0.0);
  // Every CPU GEMM row as a fraction of the FMA peak measured in the same run.
  EXPECT_NE(r.out.find("FMA peak"), std::string::npos) << r.out;
  for (const json& g : j["gemm"]) EXPECT_GT(g["fraction_of_fma_peak"].get<double>(), 0.0) << g.dump();
  // One round (the default): own/ref from one pair of blocks, no range.
  for (const json& g : j["gemm"]) EXPECT_TRUE(g["fraction_of_reference_min"].is_null()) << g.dump();

  // CSV: a header and one row per kernel, every row as wide as the header.
  const std::string csv = ip::test::read_text(find_file(dir, ".csv"));
  ASSERT_EQ(count_lines(csv), 9) << csv;
  std::size_t columns = 0;
  std::size_t start = 0;
  for (std::size_t end; (end = csv.find('\n', start)) != std::string::npos; start = end + 1) {
    auto cells = split_csv_line(csv.substr(start, end - start));
    if (columns == 0) columns = cells.size();
    EXPECT_EQ(cells.size(), columns) << csv.substr(start, end - start);
  }
  EXPECT_FALSE(find_file(dir, "_gemm.csv").empty());
}

// --gemm-rounds: ours and OpenBLAS alternated in blocks; each row pools every round's samples, and
// own/ref is the median of the per-round ratios, with their range.
TEST(KernelBench, GemmRoundsPoolSamplesAndGiveTheRatiosRange) {
  const std::string dir = ip::test::fresh_dir("kernel_bench_gemm_rounds");
  auto r = run_binary("kernel_bench", {"--functions", "none", "--devices", "cpu", "--threads", "1", "--gemm-shapes",
                                       "64x64x64:nt,48x40x24:tn", "--repeats", "3", "--warmup", "0",
                                       "--gemm-rounds", "3", "--out", dir});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("ref range"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GEMM rounds 3"), std::string::npos) << r.out;
  const json j = json::parse(ip::test::read_text(find_file(dir, ".json")));
  EXPECT_EQ(j["settings"]["gemm_rounds"], 3);
  bool with_blas = false;
  for (const json& g : j["gemm"]) {
    EXPECT_EQ(g["timing"]["samples"], 9) << g.dump();  // 3 rounds x 3 repeats
    with_blas = with_blas || g["backend"] == "openblas";
  }
  for (const json& g : j["gemm"]) {
    if (g["backend"] != "own") continue;
    if (!with_blas) {
      EXPECT_TRUE(g["fraction_of_reference"].is_null()) << g.dump();
      continue;
    }
    const double low = g["fraction_of_reference_min"].get<double>(), high = g["fraction_of_reference_max"].get<double>();
    const double mid = g["fraction_of_reference"].get<double>();
    EXPECT_GT(low, 0.0) << g.dump();
    EXPECT_LE(low, mid) << g.dump();
    EXPECT_LE(mid, high) << g.dump();
    // Three rounds are too few for a 95% interval of their median: no interval, no verdict.
    EXPECT_TRUE(g["fraction_of_reference_low"].is_null()) << g.dump();
    EXPECT_TRUE(g["reference_verdict"].is_null()) << g.dump();
  }
  // The CSV carries the range too, every row as wide as its header.
  const std::string csv = ip::test::read_text(find_file(dir, "_gemm.csv"));
  const auto header = split_csv_line(csv.substr(0, csv.find('\n')));
  EXPECT_NE(std::find(header.begin(), header.end(), "fraction_of_reference_max"), header.end()) << csv;
  std::size_t start = csv.find('\n') + 1;
  for (std::size_t end; (end = csv.find('\n', start)) != std::string::npos; start = end + 1)
    EXPECT_EQ(split_csv_line(csv.substr(start, end - start)).size(), header.size()) << csv;
}

// From 6 rounds on the median ratio has a distribution-free 95% interval (then [min, max] of the
// rounds' ratios), and the verdict says where it lies against 1.0.
TEST(KernelBench, GemmRoundsGiveTheMedianRatioAnIntervalAndAVerdict) {
  const std::string dir = ip::test::fresh_dir("kernel_bench_gemm_interval");
  auto r = run_binary("kernel_bench", {"--functions", "none", "--devices", "cpu", "--threads", "1", "--gemm-shapes",
                                       "32x48x40:nt", "--repeats", "2", "--warmup", "0", "--gemm-rounds", "6",
                                       "--out", dir});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("95% CI"), std::string::npos) << r.out;
  const json j = json::parse(ip::test::read_text(find_file(dir, ".json")));
  bool with_blas = false;
  for (const json& g : j["gemm"]) with_blas = with_blas || g["backend"] == "openblas";
  if (!with_blas) GTEST_SKIP() << "no OpenBLAS in this build: nothing to compare with";
  for (const json& g : j["gemm"]) {
    if (g["backend"] != "own") {
      EXPECT_TRUE(g["reference_verdict"].is_null()) << g.dump();
      continue;
    }
    const double low = g["fraction_of_reference_low"].get<double>(), high = g["fraction_of_reference_high"].get<double>();
    EXPECT_EQ(low, g["fraction_of_reference_min"].get<double>()) << g.dump();
    EXPECT_EQ(high, g["fraction_of_reference_max"].get<double>()) << g.dump();
    const std::string verdict = g["reference_verdict"].get<std::string>();
    const std::string expected = low > 1.0 ? "faster" : high < 1.0 ? "slower" : "indistinguishable";
    EXPECT_EQ(verdict, expected) << g.dump();
    EXPECT_NE(r.out.find(" " + verdict + "\n"), std::string::npos) << r.out;
  }
  const std::string csv = ip::test::read_text(find_file(dir, "_gemm.csv"));
  EXPECT_NE(csv.find("reference_verdict"), std::string::npos) << csv;
}

// The copy reference must be a copy: every element, any size and alignment, below and above
// the streaming-store size (streaming.h), nothing written outside the destination.
TEST(KernelBench, VectorCopyCopiesEveryElement) {
  auto check = [](std::size_t n, std::size_t x_off, std::size_t y_off) {
    std::vector<float> x(n + x_off), y(n + y_off + 1, -1.0f);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.5f + 1.0f;
    ip::cpu::vector_copy(x.data() + x_off, y.data() + y_off, n);
    for (std::size_t i = 0; i < y_off; ++i) ASSERT_EQ(y[i], -1.0f) << "wrote before the start, n=" << n;
    for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(y[y_off + i], x[x_off + i]) << "n=" << n << " i=" << i;
    ASSERT_EQ(y[y_off + n], -1.0f) << "wrote past the end, n=" << n;
  };
  for (std::size_t n = 0; n <= 70; ++n)
    for (std::size_t off : {0, 1, 3}) check(n, off, (off * 2) % 5);
  check(40000, 1, 3);  // several chunks
  check(ip::cpu::kStreamBytes / sizeof(float) + 37, 2, 1);  // streaming stores, misaligned
}

// The FMA calibration reports the work it did: proportional to the iterations, never zero.
TEST(KernelBench, FmaChainsCountTheirWork) {
  const double ten = ip::cpu::fma_chains(10);
  EXPECT_GT(ten, 0.0);
  EXPECT_DOUBLE_EQ(ip::cpu::fma_chains(30), 3 * ten);
}

// Identity's backward is dx = dy: it reads one array and writes one, and is counted so (counting
// the x it never loads showed it far above the copy bandwidth).
TEST(KernelBench, IdentityBackwardCountsTheBytesItMoves) {
  const std::string dir = ip::test::fresh_dir("kernel_bench_identity");
  auto r = run_binary("kernel_bench", {"--quick", "--functions", "identity,relu", "--directions", "backward",
                                       "--threads", "1", "--devices", "cpu", "--gemm-shapes", "none", "--out", dir});
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(ip::test::read_text(find_file(dir, ".json")));
  int checked = 0;
  for (const json& k : j["kernels"]) {
    if (k["kind"] == "copy") continue;
    const double array = 4.0 * k["elements"].get<double>();
    EXPECT_DOUBLE_EQ(k["bytes_per_call"].get<double>(), (k["function"] == "identity" ? 2 : 3) * array) << k.dump();
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

// One instance predicted against its kernels (rand_power --breakdown, the overhead target):
// every function gets a row; a function layer that passes its input through (dropout in eval
// mode) adds no kernel, one that computes (ReLU) does, and the overhead is the difference.
TEST(KernelBench, RandPowerBreakdownReportsOneInstanceOverhead) {
  const std::string dir = ip::test::fresh_dir("rand_power_overhead");
  auto r = run_binary("rand_power", {"--design", "paper", "--functions", "relu,dropout", "--scales", "0", "--runs", "1", "--threads", "1",
                                     "--train-epochs", "0", "--no-model-cache", "--breakdown", "--quiet",
                                     "--out", dir});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string consolidated;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".all.") != std::string::npos && e.path().extension() == ".json")
      consolidated = e.path().string();
  ASSERT_FALSE(consolidated.empty()) << "no consolidated JSON in " << dir;
  const json file = json::parse(ip::test::read_text(consolidated));
  // After the warm-up call the timed loop touches no fresh memory (every buffer is reused), and
  // the count of times a thread lost its core is recorded beside it.
  ASSERT_EQ(file.at("measurements").size(), 2u);
  for (const json& m : file["measurements"]) {
#if !defined(__SANITIZE_ADDRESS__) && !defined(IP_BINARY_EMULATOR)
    EXPECT_EQ(m.at("page_faults"), 0) << m.dump();
#else
    // ASan's binaries fault where the real ones do not: its shadow memory is mapped lazily and its
    // allocator hands out fresh pages past a quarantine. Under a cross build's emulator the count
    // is the emulator's own (qemu-user maps memory for its translations and itself as it runs:
    // 1 fault in the timed loop under qemu 7.2). The count is still recorded.
    EXPECT_GE(m.at("page_faults").get<long>(), 0) << m.dump();
#endif
    EXPECT_GE(m.at("preemptions").get<long>(), 0) << m.dump();
    // Linux: what the machine did beside the loop, from /proc/stat (coarse ticks, never negative).
    EXPECT_GE(m.at("steal_seconds").get<double>(), 0.0) << m.dump();
    EXPECT_GE(m.at("other_cpu_seconds").get<double>(), 0.0) << m.dump();
  }
  const json o = file.at("overhead_one_instance");
  ASSERT_EQ(o.size(), 2u) << o.dump();
  for (const auto& [key, row] : o.items()) {
    EXPECT_GT(row["predict_seconds"].get<double>(), 0.0) << key;
    EXPECT_GT(row["kernels_seconds"].get<double>(), 0.0) << key;
    EXPECT_DOUBLE_EQ(row["overhead_seconds"].get<double>(),
                     row["predict_seconds"].get<double>() - row["kernels_seconds"].get<double>());
    EXPECT_DOUBLE_EQ(row["limit_seconds"].get<double>(), 5e-6);
    EXPECT_TRUE(row["pass"].is_boolean());
    // Two Linear layers, plus four ReLUs; eval-mode dropout passes through.
    EXPECT_EQ(row["layers_with_kernels"], row["function"] == "relu" ? 6 : 2) << key;
  }
}

// Whether this system lets a parent trace its children (ptrace; seccomp policies may forbid it).
bool can_trace_children() {
  const pid_t pid = fork();
  if (pid == 0) _exit(ip::trace_me() ? 0 : 4);
  return ip::count_marked_windows(pid).has_value();
}

// The summary says each element-wise loop's instructions per vector, as the build counted them in
// its own assembly (x86 builds with Python); kernels whose loops are not counted show "-".
TEST(KernelBench, SummaryShowsLoopInstructionsPerVector) {
  const std::string dir = ip::test::fresh_dir("kernel_bench_summary");
  auto r = run_binary("kernel_bench", {"--functions", "relu,sigmoid,dropout", "--directions", "forward", "--sizes",
                                       "64KiB", "--threads", "1", "--repeats", "3", "--gemm-shapes", "none",
                                       "--devices", "cpu", "--summary", "targets", "--out", dir});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(" ins  fit  limit"), std::string::npos) << r.out;
  const json j = json::parse(ip::test::read_text(find_file(dir, ".json")));
  std::map<std::string, json> counts;
  for (const json& k : j["kernels"])
    if (k.contains("loop_instructions_per_vector")) counts[k["function"]] = k["loop_instructions_per_vector"];
#ifdef IP_HAVE_LOOP_OP_COUNTS
  ASSERT_EQ(counts.size(), 2u) << j["kernels"].dump();  // relu and sigmoid; dropout's loop is not counted
  for (const auto& [function, c] : counts) {
    EXPECT_GT(c["vector"].get<int>(), 0) << function;
    EXPECT_LE(c["vector"].get<int>(), c["all"].get<int>()) << function;
  }
  // A load, a max, a store and the loop's step and branch at least; sigmoid adds exp and a division.
  EXPECT_GE(counts["relu"]["all"].get<int>(), 4);
  EXPECT_GE(counts["sigmoid"]["all"].get<int>(), counts["relu"]["all"].get<int>() + 8);
  const std::size_t relu_line = r.out.find(" relu           forward", r.out.find(" ins  fit  limit"));
  ASSERT_NE(relu_line, std::string::npos) << r.out;
  const std::string line = r.out.substr(relu_line, r.out.find('\n', relu_line) - relu_line);
  EXPECT_NE(line.find(" " + std::to_string(counts["relu"]["all"].get<int>()) + " "), std::string::npos) << line;
#else
  EXPECT_TRUE(counts.empty()) << "this build counts no loops";
#endif
  // Dropout's work is not one loop: its row shows what one call executed per vector, stepped
  // through in a child (ins*), where this system lets a process be traced.
  std::map<std::string, double> executed;
  for (const json& k : j["kernels"])
    if (k.contains("executed_instructions_per_vector")) executed[k["function"]] = k["executed_instructions_per_vector"];
  if (!can_trace_children()) {
    EXPECT_TRUE(executed.empty());
    return;
  }
  ASSERT_EQ(executed.size(), 1u) << j["kernels"].dump();
  // Ten Philox rounds of 2 multiplies, 2 shifts and 4 xors for every 2 vectors of draws are 40
  // instructions per vector before any of the dropout itself.
  EXPECT_GT(executed["dropout"], 40.0);
  const std::size_t dropout_line = r.out.find(" dropout        forward", r.out.find(" ins  fit  limit"));
  ASSERT_NE(dropout_line, std::string::npos) << r.out;
  const std::string dline = r.out.substr(dropout_line, r.out.find('\n', dropout_line) - dropout_line);
  EXPECT_NE(dline.find(" " + std::to_string(std::lround(executed["dropout"])) + "* "), std::string::npos) << dline;
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
  // The lowest target: the program may see fewer targets than this process (the Arm build starts
  // the programs under qemu without SVE), never others.
  expect_usage_error({"--quick", "--target", "NOSUCH"}, "--target", ip::cpu::available_targets().back());
  expect_usage_error({"--quick", "--sizes", "12XB"}, "--sizes", "MiB");
  expect_usage_error({"--quick", "--gemm-shapes", "64x1024"}, "--gemm-shapes", "MxNxK");
  expect_usage_error({"--quick", "--threads", "0"}, "--threads", "positive");
  expect_usage_error({"--quick", "--devices", "tpu"}, "--devices", "cpu");
  expect_usage_error({"--quick", "--gemm-rounds", "0"}, "--gemm-rounds", "1 to 100");
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
  ASSERT_EQ(j["kernels"].size(), 3u);  // copy:memcpy, copy:vector, relu
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
                           "--gemm-shapes", "--large-gemm", "--gemm-rounds", "--repeats", "--warmup", "--variant", "--out", "--quick"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

}  // namespace
