// The figures program, run as a subprocess on a small synthetic result set written through
// results.h: every figure comes out as well-formed SVG naming every series and axis, and bad
// inputs give messages that say what is wrong and where.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results/analysis.h"
#include "results/results.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using ip::test::read_text;

namespace {

#ifdef IP_BINARY_DIR
const std::string kFigures = std::string(IP_BINARY_DIR) + "/figures";
#else
const std::string kFigures = "build/figures";
#endif

struct Outcome {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// A cross build's programs run under its emulator (IP_BINARY_EMULATOR, CMakeLists.txt).
#ifdef IP_BINARY_EMULATOR
const std::string kEmulator = IP_BINARY_EMULATOR " ";
#else
const std::string kEmulator;
#endif

Outcome run_figures(const std::string& args) {
  Outcome r;
  FILE* p = popen((kEmulator + kFigures + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// A minimal XML check: the root element is <svg>, and every start tag has its end tag in order
// (comments, declarations and CDATA skipped; self-closing tags allowed).
::testing::AssertionResult well_formed_svg(const std::string& text) {
  std::vector<std::string> stack;
  bool saw_root = false;
  for (std::size_t i = text.find('<'); i != std::string::npos; i = text.find('<', i)) {
    if (text.compare(i, 4, "<!--") == 0) { i = text.find("-->", i); if (i == std::string::npos) break; continue; }
    if (text.compare(i, 9, "<![CDATA[") == 0) { i = text.find("]]>", i); if (i == std::string::npos) break; continue; }
    std::size_t end = text.find('>', i);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unterminated tag at " << i;
    std::string tag = text.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag[0] == '/') {
      std::string name = tag.substr(1, tag.find_first_of(" \t\n") - 1);
      if (stack.empty() || stack.back() != name)
        return ::testing::AssertionFailure() << "</" << name << "> closes <" << (stack.empty() ? "" : stack.back()) << ">";
      stack.pop_back();
      continue;
    }
    std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (stack.empty()) {
      if (saw_root) return ::testing::AssertionFailure() << "second root element <" << name << ">";
      if (name != "svg") return ::testing::AssertionFailure() << "root element is <" << name << ">, not <svg>";
      saw_root = true;
    }
    if (tag.back() != '/') stack.push_back(name);
  }
  if (!saw_root) return ::testing::AssertionFailure() << "no <svg> element";
  if (!stack.empty()) return ::testing::AssertionFailure() << "<" << stack.back() << "> never closed";
  return ::testing::AssertionSuccess();
}

class FiguresTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef IP_HAVE_FIGURES
    GTEST_SKIP() << "no figures program in this build: it needs Boost.Iostreams, Boost.Filesystem and "
                    "gnuplot-iostream for the target (CMake said so when configuring)";
#endif
    ASSERT_TRUE(fs::exists(kFigures)) << kFigures << " not built";
    ASSERT_FALSE(dir_.empty());
    fs::create_directories(dir_ / "data");
  }

  // Every table row at scales 0..2, two runs, energy (half measured, half estimated) and a
  // consolidated file with breakdown measurements; an MNIST run of three functions twice; a
  // kernel_bench file.
  void write_synthetic(const fs::path& data) {
    const fs::path ref = data / "reference" / "synth";
    fs::create_directories(ref);
    ip::RandResults r;
    r.device = "cpu", r.hardware_name = "Synthetic CPU", r.outprefix = "synth", r.runs = 2;
    nlohmann::json measurements = nlohmann::json::array();
    for (int n = 0; n <= 2; ++n) {
      ip::ScaleResult s;
      s.scale = n, s.pred_items = static_cast<uint64_t>(std::pow(10, n)), s.test_chunk_size = s.pred_items;
      s.unix_time = 1700000000 + n;
      for (int run = 0; run < 2; ++run) {
        ip::RunTimes t;
        ip::RunEnergy e;
        for (int i = 0; i < ip::kFunctionCount; ++i) {
          const ip::FunctionInfo& f = ip::kFunctionInfo[i];
          const double seconds = 1e-3 * s.pred_items * (1 + 0.1 * i + 0.01 * run);
          t[ip::function_key(f)] = seconds;
          e[ip::function_key(f)] = {seconds * 20, i % 2 ? "estimated" : "measured", "synthetic"};
          measurements.push_back({{"key", ip::function_key(f)}, {"scale", n}, {"run", run}, {"seconds", seconds},
                                  {"breakdown", {{"gemm_seconds", seconds * 0.6}, {"activation_seconds", seconds * 0.3},
                                                 {"dropout_seconds", seconds * 0.1}}}});
        }
        s.pred_times.push_back(t);
        s.pred_energy.push_back(e);
      }
      r.scales.push_back(s);
      ip::write_scale_file(ref.string(), r, r.scales.size() - 1);
    }
    const std::string all = ip::write_rand_consolidated(ref.string(), ip::consolidated_stem("synth", 1700000100), r);
    nlohmann::json j = nlohmann::json::parse(read_text(all));
    j["measurements"] = measurements;
    ip::write_file_atomic(all, j.dump());

    for (int run = 0; run < 2; ++run) {
      ip::MnistResults m;
      m.device = "cpu", m.hardware_name = "Synthetic CPU", m.outprefix = "mnist_synth";
      const char* names[] = {"ReLU", "Sigmoid", "Dropout"};
      for (int i = 0; i < 3; ++i) {
        ip::MnistFunctionResult f;
        for (const ip::FunctionInfo& info : ip::kFunctionInfo)
          if (std::string(info.name) == names[i]) f.key = ip::function_key(info);
        f.train_seconds = 10.0 * (i + 1) + run, f.accuracy = i == 1 ? 0.11 : 0.91, f.reached_target = i != 1;
        f.epochs = 3;
        m.functions.push_back(f);
      }
      ip::write_mnist_results(ref.string(), m, 1700000200 + run);
    }

    nlohmann::json bench = {{"generator", "inferencepower kernel_bench"},
                            {"hardware", {{"simd_target", "AVX2"}}},
                            {"kernels", nlohmann::json::array()}};
    auto row = [&](const std::string& fn, const std::string& key, const std::string& dir, double gbps) {
      bench["kernels"].push_back({{"device", "cpu"}, {"target", "AVX2"}, {"threads", 2}, {"function", fn},
                                  {"key", key}, {"direction", dir}, {"elements", 1 << 20}, {"gb_per_s", gbps},
                                  {"copy_gb_per_s", 20.0}, {"fraction_of_copy", gbps / 20}});
    };
    row("copy", "", "-", 20);
    row("relu", "torch.nn.modules.activation.ReLU", "forward", 18);
    row("relu", "torch.nn.modules.activation.ReLU", "backward", 15);
    row("gelu", "torch.nn.modules.activation.GELU", "forward", 9);
    ip::write_file_atomic((ref / "kernel_bench_1700000300.json").string(), bench.dump());
  }

  ip::test::TempDir temp_;
  fs::path dir_ = temp_.path();
};

TEST_F(FiguresTest, DrawsEveryFigureAsWellFormedSvgNamingEverySeries) {
  write_synthetic(dir_ / "data");
  const fs::path out = dir_ / "fig";
  Outcome r = run_figures("--data " + (dir_ / "data").string() + " --out " + out.string() + " --formats svg");
  ASSERT_EQ(r.status, 0) << r.output;

  const std::vector<std::string> figures = {"cost_synth", "group_spread", "relative_to_identity",
                                            "mnist_time_synth", "mnist_epochs_synth", "kernel_throughput_synth_cpu", "energy_synth",
                                            "breakdown_synth"};
  for (const std::string& f : figures) {
    ASSERT_TRUE(fs::exists(out / (f + ".svg"))) << f << "\n" << r.output;
    ASSERT_TRUE(fs::exists(out / (f + ".csv"))) << f;
    EXPECT_TRUE(well_formed_svg(read_text(out / (f + ".svg")))) << f;
  }
  // Every table row is a series of figure (1): a new row needs no plot code.
  const std::string cost = read_text(out / "cost_synth.svg");
  for (const ip::FunctionInfo& f : ip::kFunctionInfo) EXPECT_NE(cost.find(std::string(">") + f.name + "<"), std::string::npos) << f.name;
  EXPECT_NE(cost.find("seconds per instance (log scale)"), std::string::npos);
  EXPECT_NE(cost.find("instances predicted"), std::string::npos);

  const std::string spread = read_text(out / "group_spread.svg");
  for (const char* s : {"synth activations", "synth dropouts", "max / min time (log scale)", "instances predicted"})
    EXPECT_NE(spread.find(s), std::string::npos) << s;
  const std::string rel = read_text(out / "relative_to_identity.svg");
  for (const char* s : {">synth<", "time / Identity time", "Identity = 1"}) EXPECT_NE(rel.find(s), std::string::npos) << s;
  const std::string mnist = read_text(out / "mnist_time_synth.svg");
  for (const char* s : {"ReLU", "Sigmoid", "Dropout", "seconds in training steps", "never reached the target"})
    EXPECT_NE(mnist.find(s), std::string::npos) << s;
  const std::string epochs = read_text(out / "mnist_epochs_synth.svg");
  for (const char* s : {"ReLU", "Sigmoid", "epochs to 90%", "seconds per training epoch", "never reached"})
    EXPECT_NE(epochs.find(s), std::string::npos) << s;
  const std::string bench = read_text(out / "kernel_throughput_synth_cpu.svg");
  for (const char* s : {"relu", "gelu", "forward", "backward", "copy 20 GB/s", "effective GB/s"})
    EXPECT_NE(bench.find(s), std::string::npos) << s;
  const std::string energy = read_text(out / "energy_synth.svg");
  for (const char* s : {"joules per instance", "measured", "estimated (hatched)"})
    EXPECT_NE(energy.find(s), std::string::npos) << s;
  const std::string breakdown = read_text(out / "breakdown_synth.svg");
  for (const char* s : {"GEMM (Linear layers)", "activation layers", "dropout layers", "seconds per instance"})
    EXPECT_NE(breakdown.find(s), std::string::npos) << s;

  // The CSV beside figure (3) holds the numbers drawn: Identity's ratio is 1, the
  // activations' mean ratio is above it.
  const std::string csv = read_text(out / "relative_to_identity.csv");
  EXPECT_EQ(csv.rfind("platform,pred_items,scale,activations,mean_ratio", 0), 0u) << csv;
  EXPECT_NE(csv.find("synth,100,2,"), std::string::npos) << csv;
}

// Two kernel_bench files of one platform: the newer (by started_at, whatever the file names'
// order) is drawn under the platform's name, the older under "<platform>:<stem>", neither lost.
TEST_F(FiguresTest, KernelBenchFilesOfOnePlatformAreDrawnApartNewestUnderItsName) {
  write_synthetic(dir_ / "data");
  const fs::path ref = dir_ / "data" / "reference" / "synth";
  auto bench = [](const std::string& started, double relu_gbps) {
    nlohmann::json b = {{"generator", "inferencepower kernel_bench"}, {"started_at", started},
                        {"hardware", {{"simd_target", "AVX2"}}}, {"kernels", nlohmann::json::array()}};
    b["kernels"].push_back({{"device", "cpu"}, {"target", "AVX2"}, {"threads", 2}, {"function", "relu"},
                            {"key", "torch.nn.modules.activation.ReLU"}, {"direction", "forward"},
                            {"elements", 1 << 20}, {"gb_per_s", relu_gbps}, {"copy_gb_per_s", 20.0},
                            {"fraction_of_copy", relu_gbps / 20}});
    return b.dump();
  };
  fs::remove(ref / "kernel_bench_1700000300.json");
  // "a_" sorts first but is the newer run.
  ip::write_file_atomic((ref / "kernel_bench_a_new.json").string(), bench("Thu Nov 26 21:09:04 2026 UTC", 17.25));
  ip::write_file_atomic((ref / "kernel_bench_b_old.json").string(), bench("Thu Nov 26 20:09:04 2026 UTC", 11.5));
  const fs::path out = dir_ / "fig";
  Outcome r = run_figures("--data " + (dir_ / "data").string() + " --out " + out.string() + " --formats svg");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string newest = read_text(out / "kernel_throughput_synth_cpu.csv");
  EXPECT_NE(newest.find("17.25"), std::string::npos) << newest;
  const fs::path older = out / "kernel_throughput_synth_kernel_bench_b_old_cpu.csv";
  ASSERT_TRUE(fs::exists(older)) << r.output;
  EXPECT_NE(read_text(older).find("11.5"), std::string::npos);
  EXPECT_NE(r.output.find("drawn as synth:kernel_bench_b_old"), std::string::npos) << r.output;
}

TEST_F(FiguresTest, MalformedResultFileIsNamed) {
  write_synthetic(dir_ / "data");
  fs::create_directories(dir_ / "data" / "results");
  const fs::path bad = dir_ / "data" / "results" / "broken_1700000000.json";
  std::ofstream(bad) << "{\"pred_items\": 10, \"pred_times\": [{\"x\": ";
  Outcome r = run_figures("--data " + (dir_ / "data").string() + " --out " + (dir_ / "fig").string() + " --formats svg");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(bad.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not valid JSON"), std::string::npos) << r.output;

  // Valid JSON with a wrong field: the file and the field are named.
  std::ofstream(bad) << R"({"pred_items": 10, "pred_times": [{"torch.nn.modules.activation.ReLU": "fast"}]})";
  r = run_figures("--data " + (dir_ / "data").string() + " --out " + (dir_ / "fig").string() + " --formats svg");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(bad.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pred_times[0]"), std::string::npos) << r.output;
}

TEST_F(FiguresTest, MissingPaperFolderIsNamed) {
  write_synthetic(dir_ / "data");
  Outcome r = run_figures("--data " + (dir_ / "data").string() + " --paper " + (dir_ / "no_such_dir").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("no_such_dir"), std::string::npos) << r.output;
}

TEST_F(FiguresTest, EmptyDataSaysHowToProduceResults) {
  Outcome r = run_figures("--data " + (dir_ / "data").string() + " --out " + (dir_ / "fig").string());
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("no result files found"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("make reproduce"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rand_power"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "fig"));
}

TEST(FilePrefix, NamesPlatformsLikeThePaper) {
  EXPECT_EQ(ip::file_prefix("x/dc_cpu_1591619160.50882.json"), "dc_cpu");
  EXPECT_EQ(ip::file_prefix("run.all.1700000000.json"), "run");
  EXPECT_EQ(ip::file_prefix("mnist_targets.4332704.214709112.json"), "mnist_targets");
  EXPECT_EQ(ip::file_prefix("notes.json"), "notes");
}

TEST(Analysis, SpreadAndRelativeToIdentity) {
  ip::ScaleResult s;
  s.pred_items = 10;
  s.pred_times = {{{"torch.nn.modules.activation.ReLU", 2.0},
                   {"torch.nn.modules.activation.GELU", 6.0},
                   {"torch.nn.modules.linear.Identity", 2.0},
                   {"torch.nn.modules.dropout.Dropout", 3.0}}};
  auto fs = ip::function_stats(s, ip::Stat::Mean);
  ASSERT_EQ(fs.size(), 4u);
  EXPECT_EQ(fs.front().group, "activation");
  EXPECT_EQ(fs.back().label, "Identity");
  ip::Spread sp = ip::spread_of(fs, "activation");
  EXPECT_DOUBLE_EQ(sp.ratio, 3.0);
  EXPECT_EQ(sp.fastest, "ReLU");
  EXPECT_EQ(sp.slowest, "GELU");
  ip::Relative rel = ip::relative_of(fs);
  EXPECT_EQ(rel.n, 2);
  EXPECT_DOUBLE_EQ(rel.mean, 2.0);  // ratios 1 and 3
  EXPECT_DOUBLE_EQ(rel.std, 1.0);   // population standard deviation
}

// Epochs to the target from runs long enough to tell; seconds per epoch from the fastest run.
TEST(Analysis, MnistEpochsApartFromSecondsPerEpoch) {
  auto fn = [](const std::string& key, bool reached, int epochs, double accuracy, std::vector<double> seconds) {
    ip::MnistFunctionResult f;
    f.key = key;
    f.reached_target = reached;
    f.epochs = epochs;
    f.accuracy = accuracy;
    f.epoch_seconds = std::move(seconds);
    return f;
  };
  const std::string relu = "torch.nn.modules.activation.ReLU", sigmoid = "torch.nn.modules.activation.Sigmoid";
  ip::MnistSet set;
  ip::MnistResults a, b, shorter;
  a.max_epochs = b.max_epochs = 100;
  shorter.max_epochs = 3;
  a.functions = {fn(relu, true, 40, 0.9, {2.0, 2.2, 9.0}), fn(sigmoid, false, 100, 0.11, {1.0, 1.0, 1.0})};
  b.functions = {fn(relu, true, 50, 0.91, {3.0, 3.0, 3.0}), fn(sigmoid, false, 100, 0.12, {1.5})};
  // A 3-epoch run: counts for seconds per epoch, not for epochs to the target.
  shorter.functions = {fn(relu, false, 3, 0.5, {1.9, 1.9, 1.9}), fn(sigmoid, false, 3, 0.1, {1.2})};
  set.runs = {a, b, shorter};
  const std::vector<ip::MnistEpochStat> stats = ip::mnist_epoch_stats(set);
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].key, relu);  // reached first
  EXPECT_EQ(stats[0].runs, 2);
  EXPECT_EQ(stats[0].reached, 2);
  EXPECT_DOUBLE_EQ(stats[0].mean_epochs, 45);
  EXPECT_DOUBLE_EQ(stats[0].min_epochs, 40);
  EXPECT_DOUBLE_EQ(stats[0].max_epochs_seen, 50);
  EXPECT_EQ(stats[0].epoch_runs, 3);
  EXPECT_DOUBLE_EQ(stats[0].epoch_seconds, 1.9);  // run medians 2.2, 3.0, 1.9
  EXPECT_DOUBLE_EQ(stats[0].epoch_seconds_hi, 3.0);
  EXPECT_EQ(stats[1].key, sigmoid);
  EXPECT_EQ(stats[1].reached, 0);
  EXPECT_EQ(stats[1].max_epochs, 100);
  EXPECT_DOUBLE_EQ(stats[1].final_accuracy, 0.115);  // the 3-epoch run's 0.1 left out
}

// The paper's epochs: never-reaching functions give the per-epoch cost, which divides the times.
TEST(Analysis, PaperEpochsDerivedFromNeverReachingFunctions) {
  ip::MnistSet paper;
  ip::MnistResults r;
  auto fn = [](const std::string& key, double seconds, double accuracy) {
    ip::MnistFunctionResult f;
    f.key = key;
    f.train_seconds = seconds;
    f.accuracy = accuracy;
    return f;
  };
  r.functions = {fn("torch.nn.modules.activation.Sigmoid", 200, 0.11), fn("torch.nn.modules.activation.Softmax", 150, 0.11),
                 fn("torch.nn.modules.activation.Softmin", 250, 0.11), fn("torch.nn.modules.activation.ReLU", 80, 0.9001),
                 fn("torch.nn.modules.activation.GELU", 600, 0.9)};
  paper.runs = {r};
  const ip::PaperEpochCost cost = ip::paper_epochs(paper, 100);
  EXPECT_EQ(cost.never_reached, 3);
  EXPECT_DOUBLE_EQ(cost.per_epoch, 2.0);
  EXPECT_DOUBLE_EQ(cost.per_epoch_lo, 1.5);
  EXPECT_DOUBLE_EQ(cost.per_epoch_hi, 2.5);
  for (const ip::PaperEpochs& p : cost.functions) {
    if (p.label == "ReLU") {
      EXPECT_TRUE(p.reached && p.derivable);
      EXPECT_DOUBLE_EQ(p.epochs, 40);
      EXPECT_DOUBLE_EQ(p.epochs_lo, 32);
      EXPECT_NEAR(p.epochs_hi, 53.333, 1e-3);
    } else if (p.label == "GELU") {
      EXPECT_TRUE(p.reached);
      EXPECT_FALSE(p.derivable);  // 240 epochs at the dearest per-epoch cost: more than the limit
    } else {
      EXPECT_FALSE(p.reached);
    }
  }
}

}  // namespace
