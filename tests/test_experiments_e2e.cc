// End-to-end runs of the experiment binaries (rand_power, mnist_power) as subprocesses: short
// real runs whose files must load and carry the paper's fields, and bad input that must fail
// with a clear message, a non-zero exit and no result file.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "results/results.h"
#include "tests/binary_runner.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ip::test;  // binary_runner.h, temp_dir.h

namespace {

// Runs build/<binary> with `args` (already shell-quoted), capturing stdout and stderr; `shell`
// is run before it in the same shell (e.g. a ulimit).
Outcome run(const std::string& binary, const std::string& args, const fs::path& scratch,
            const std::string& shell = "") {
  // One thread: on a busy CI runner OpenMP's spinning workers make short runs slow and erratic.
  return run_shell(shell + kProgramDir + "/" + binary + " --threads 1 " + args, scratch);
}

const char* const kPaperFields[] = {"pred_items", "pred_times", "train_times", "device",
                                    "hardware_name", "runs", "test_chunk_size", "started_at",
                                    "train_epochs", "outprefix", "parameters"};

// ---- rand_power ----

TEST(ExperimentsE2E, RandPowerShortRunWritesPaperSchemaFiles) {
  TempDir tmp;
  const fs::path out = tmp.path() / "results", cache = tmp.path() / "models";
  const std::string args = "--design paper --functions relu,gelu,dropout --scales 0-2 --runs 2 --train-epochs 5 "
                           "--prefix e2e --quiet --out " + out.string() + " --model-cache " +
                           cache.string();
  const Outcome first = run("rand_power", args, tmp.path());
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_TRUE(first.err.empty()) << "--quiet must keep stderr clean: " << first.err;

  // stdout lists exactly the files written: 3 per-scale files, the consolidated JSON and CSV.
  std::vector<std::string> listed;
  std::istringstream lines(first.out);
  for (std::string line; std::getline(lines, line);) listed.push_back(line);
  ASSERT_EQ(listed.size(), 5u) << first.out;
  for (const std::string& p : listed) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_EQ(files_in(out).size(), 5u);

  int per_scale = 0;
  for (const fs::path& p : files_in(out)) {
    const std::string name = p.filename().string();
    if (name.rfind("e2e_", 0) != 0 || p.extension() != ".json") continue;
    ++per_scale;
    const json j = json::parse(read_text(p));
    for (const char* field : kPaperFields) EXPECT_TRUE(j.contains(field)) << name << ": " << field;
    EXPECT_EQ(j["runs"], 2);
    EXPECT_EQ(j["train_epochs"], 5);
    EXPECT_EQ(j["device"], "cpu");
    EXPECT_EQ(j["partial"], false);
    ASSERT_EQ(j["pred_times"].size(), 2u);
    for (const json& r : j["pred_times"]) {
      ASSERT_EQ(r.size(), 3u);
      for (const char* key : {"torch.nn.modules.activation.ReLU", "torch.nn.modules.activation.GELU",
                              "torch.nn.modules.dropout.Dropout"}) {
        ASSERT_TRUE(r.contains(key)) << key;
        EXPECT_GT(r[key].get<double>(), 0.0);
      }
    }
    EXPECT_EQ(j["train_times"].size(), 3u);  // trained in this invocation
    const uint64_t items = j["pred_items"];
    EXPECT_TRUE(items == 1 || items == 10 || items == 100);
    EXPECT_EQ(j["test_chunk_size"], items);
    // The reader written for the paper's files reads ours.
    EXPECT_NO_THROW(ip::read_rand_file(p.string())) << name;
  }
  EXPECT_EQ(per_scale, 3);

  // The consolidated JSON has every measurement; the CSV one row per function × scale × run.
  for (const fs::path& p : files_in(out)) {
    if (p.filename().string().rfind("e2e.all.", 0) != 0) continue;
    if (p.extension() == ".json") {
      const json j = json::parse(read_text(p));
      EXPECT_EQ(j["scales"].size(), 3u);
      ASSERT_EQ(j["measurements"].size(), 18u);
      EXPECT_TRUE(j["measurements"][0]["energy"].contains("quality"));
      EXPECT_TRUE(j["parameters"].contains("hardware"));
      EXPECT_TRUE(j["parameters"].contains("command_line"));
    } else {
      const std::string csv = read_text(p);
      EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 19);
    }
  }

  // A second run loads every model from the cache (no training times); a corrupt cache file is
  // reported and that model retrained.
  std::vector<fs::path> cached = files_in(cache);
  ASSERT_EQ(cached.size(), 3u);
  std::ofstream(cached[0], std::ios::binary | std::ios::trunc) << "not a model";
  const fs::path out2 = tmp.path() / "results2";
  const Outcome second = run("rand_power",
                             "--design paper --functions relu,gelu,dropout --scales 1 --runs 1 --train-epochs 5 "
                             "--prefix again --quiet --out " + out2.string() + " --model-cache " +
                             cache.string(), tmp.path());
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_TRUE(contains(second.err, "model cache unusable")) << second.err;
  EXPECT_TRUE(contains(second.err, cached[0].filename().string())) << second.err;
  for (const fs::path& p : files_in(out2)) {
    if (p.filename().string().rfind("again_", 0) != 0) continue;
    const json j = json::parse(read_text(p));
    EXPECT_EQ(j["train_times"].size(), 1u) << "only the corrupt model is retrained";
  }
}

TEST(ExperimentsE2E, RandPowerRejectsBadInputWithoutWritingResults) {
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  std::ofstream(tmp.path() / "a_file") << "x";
  struct Case {
    std::string args, message;
  } cases[] = {
      {"--functions relu,nope", "unknown function 'nope'"},
      {"--scales 5-2", "--scales"},
      {"--scales 0-10", "--scales"},
      {"--scales 1,x", "--scales"},
      {"--runs 0", "--runs"},
      {"--runs -2", "--runs"},
      {"--device tpu", "--device"},
      {"--energy sometimes", "--energy"},
      {"--gpu-timing later", "--gpu-timing"},
  };
  for (const Case& c : cases) {
    const Outcome o = run("rand_power",
                          c.args + " --train-epochs 0 --out " + out.string() + " --no-model-cache --quiet",
                          tmp.path());
    EXPECT_NE(o.code, 0) << c.args;
    EXPECT_TRUE(contains(o.err, c.message)) << c.args << " → " << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << "one line: " << o.err;
    EXPECT_TRUE(files_in(out).empty()) << c.args;
  }
  // The unknown name's message lists the valid ones.
  const Outcome unknown = run("rand_power", "--functions nope --out " + out.string(), tmp.path());
  EXPECT_TRUE(contains(unknown.err, "relu") && contains(unknown.err, "gelu_tanh") &&
              contains(unknown.err, "paper"))
      << unknown.err;

  // An output directory that cannot exist: a path under a regular file.
  const fs::path blocked = tmp.path() / "a_file" / "results";
  const Outcome o = run("rand_power",
                        "--functions relu --scales 0 --runs 1 --train-epochs 0 --no-model-cache "
                        "--out " + blocked.string(), tmp.path());
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(contains(o.err, blocked.string())) << o.err;
}

// Runs `binary` in the background and interrupts it once its first result file exists
// (<prefix>_<time>.json: rand_power's first per-scale file, mnist_power's first function).
int run_and_interrupt(const std::string& binary, const std::vector<std::string>& flags,
                      const fs::path& out, const fs::path& log, const std::string& prefix) {
  std::string command = kProgramDir + "/" + binary;
  for (const std::string& f : flags) command += " " + shell_quote(f);
  const pid_t pid = start_shell(command, ">" + shell_quote(log.string()));
  // The file comes after the first function's training: seconds here, minutes under an emulator
  // on a busy machine; the wait ends as soon as it is there.
  for (int i = 0; i < 15000 && file_named(out, prefix + "_").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  return shell_exit_code(status);
}

TEST(ExperimentsE2E, RandPowerInterruptedKeepsFinishedMeasurements) {
  TempDir tmp;
  const fs::path out = tmp.path() / "results", log = tmp.path() / "stdout.txt";
  // Far more work than the test waits for; small chunks so the stop comes within milliseconds.
  EXPECT_EQ(run_and_interrupt("rand_power",
                              {"--design", "paper", "--threads", "1", "--functions", "relu,identity", "--scales",
                               "0-6", "--runs", "50", "--chunk-cap", "1000", "--train-epochs", "0", "--quiet",
                               "--prefix", "cut", "--out", out.string()},
                              out, log, "cut"),
            130);
  ASSERT_FALSE(file_named(out, "cut_").empty()) << "interrupted before the first scale's file";

  bool saw_consolidated = false;
  const std::string listed = read_text(log);
  for (const fs::path& p : files_in(out)) {
    const std::string name = p.filename().string();
    EXPECT_TRUE(contains(listed, p.string())) << name << " not listed on stdout";
    if (p.extension() != ".json") continue;
    const json j = json::parse(read_text(p));  // complete, valid files only
    if (name.rfind("cut.all.", 0) == 0) {
      saw_consolidated = true;
      EXPECT_EQ(j["partial"], true);
    } else if (j["partial"] == false) {
      EXPECT_EQ(j["pred_times"].size(), 50u) << name << ": a complete scale has every run";
    }
  }
  EXPECT_TRUE(saw_consolidated);
}

// The JSON file in `out` whose name starts with `lead` (null when none); its path in *path.
json json_named(const fs::path& out, const std::string& lead, fs::path* path = nullptr) {
  const fs::path p = file_named(out, lead, ".json");
  if (path) *path = p;
  return p.empty() ? json() : json::parse(read_text(p));
}

TEST(ExperimentsE2E, RandPowerResumeCompletesAnInterruptedRunKeepingItsCells) {
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  // Scale 0 is instant, scale 3 long enough (6 loops of 1000 rows) for the signal to land in it.
  const std::vector<std::string> flags = {"--threads", "1", "--design", "paper", "--functions", "relu,identity",
                                          "--scales", "0,3", "--runs", "3", "--train-epochs", "0",
                                          "--quiet", "--prefix", "res", "--out", out.string()};
  ASSERT_EQ(run_and_interrupt("rand_power", flags, out, tmp.path() / "log.txt", "res"), 130);
  fs::path first_path;
  const json first = json_named(out, "res.all.", &first_path);
  ASSERT_TRUE(first.is_object());
  ASSERT_EQ(first["partial"], true);
  const size_t kept = first["measurements"].size();
  ASSERT_GE(kept, 6u) << "scale 0 was complete";
  ASSERT_LT(kept, 12u) << "the signal came after the end of the run";

  // Different settings are refused in one line naming the flag, and change nothing.
  std::string cmd;
  for (size_t i = 2; i < flags.size(); ++i) cmd += flags[i] + " ";
  std::string changed = cmd;
  changed.replace(changed.find("--runs 3"), 8, "--runs 4");
  const Outcome bad = run("rand_power", changed + "--resume " + out.string(), tmp.path());
  EXPECT_NE(bad.code, 0);
  EXPECT_TRUE(contains(bad.err, "--resume: --runs differs")) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  std::string other_functions = cmd;  // a setting kept under "parameters"
  other_functions.replace(other_functions.find("relu,identity"), 13, "relu,gelu");
  const Outcome bad_functions = run("rand_power", other_functions + "--resume " + out.string(), tmp.path());
  EXPECT_NE(bad_functions.code, 0);
  EXPECT_TRUE(contains(bad_functions.err, "--resume: --functions differs")) << bad_functions.err;

  const Outcome resumed = run("rand_power", cmd + "--resume " + out.string(), tmp.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;

  // The interrupted run's files are rewritten in place: one consolidated file, one per scale.
  fs::path final_path;
  const json final = json_named(out, "res.all.", &final_path);
  EXPECT_EQ(final_path, first_path);
  EXPECT_EQ(final["partial"], false);
  EXPECT_EQ(final["parameters"]["resumed"]["cells_resumed"], kept);
  std::map<std::tuple<std::string, int, int>, double> cells;
  for (const json& m : final["measurements"]) {
    const auto cell = std::make_tuple(m["key"].get<std::string>(), m["scale"].get<int>(), m["run"].get<int>());
    EXPECT_TRUE(cells.emplace(cell, m["seconds"].get<double>()).second) << "a cell twice";
  }
  EXPECT_EQ(cells.size(), 12u) << "2 functions x 2 scales x 3 runs";
  for (const json& m : first["measurements"]) {
    const auto cell = std::make_tuple(m["key"].get<std::string>(), m["scale"].get<int>(), m["run"].get<int>());
    EXPECT_EQ(cells[cell], m["seconds"].get<double>()) << "a measured cell kept its value";
  }
  int per_scale = 0;
  for (const fs::path& p : files_in(out)) {
    if (p.filename().string().rfind("res_", 0) != 0 || p.extension() != ".json") continue;
    ++per_scale;
    const json j = json::parse(read_text(p));
    EXPECT_EQ(j["partial"], false) << p;
    ASSERT_EQ(j["pred_times"].size(), 3u) << p;
    for (const json& r : j["pred_times"]) EXPECT_EQ(r.size(), 2u) << p;
  }
  EXPECT_EQ(per_scale, 2);

  // A complete run has nothing to resume.
  const Outcome again = run("rand_power", cmd + "--resume " + final_path.string(), tmp.path());
  EXPECT_NE(again.code, 0);
  EXPECT_TRUE(contains(again.err, "nothing to resume")) << again.err;
}

TEST(ExperimentsE2E, RandPowerOnNanStopsOrRecordsTheFailure) {
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  // Adam's first update moves every weight by lr: 1e30 overflows float at the second step.
  const std::string args = "--design paper --functions relu --scales 0 --runs 1 --train-epochs 5 --lr 1e30 "
                           "--no-model-cache --quiet --prefix nan --out " + out.string();
  const Outcome stop = run("rand_power", args, tmp.path());
  EXPECT_EQ(stop.code, 1);
  EXPECT_TRUE(contains(stop.err, "training relu: non-finite loss")) << stop.err;
  EXPECT_TRUE(contains(stop.err, "step 2")) << stop.err;
  // The hidden layers stay finite; the last Linear's sums overflow first.
  EXPECT_TRUE(contains(stop.err, "first non-finite value: layer 5 (linear(1024,16)) output")) << stop.err;
  EXPECT_EQ(std::count(stop.err.begin(), stop.err.end(), '\n'), 1) << stop.err;
  EXPECT_TRUE(files_in(out).empty());

  const Outcome cont = run("rand_power", args + " --on-nan continue", tmp.path());
  ASSERT_EQ(cont.code, 0) << cont.err;
  const json j = json_named(out, "nan.all.");
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(contains(j["failed"]["torch.nn.modules.activation.ReLU"].get<std::string>(), "step 2"));
  EXPECT_TRUE(j["measurements"].empty());
  EXPECT_FALSE(contains(j.dump(), "NaN"));
}

// The default design: rounds paired with Identity (added as the reference when not asked for),
// eval-mode dropout as the no-op control, every cost with its interval in the consolidated file
// and the costs CSV, rounds as the runs of the paper-schema files, and the answer on stderr.
TEST(ExperimentsE2E, RandPowerRoundsReportCostsWithIntervals) {
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  const Outcome o = run("rand_power",
                        "--functions relu,dropout --scales 0,1 --budget 3s --min-sample 2ms "
                        "--train-epochs 2 --no-model-cache --prefix rounds --out " + out.string(),
                        tmp.path());
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(contains(o.err, "identity added as the reference")) << o.err;
  EXPECT_TRUE(contains(o.err, "vs Identity [95% CI]")) << o.err;
  EXPECT_TRUE(contains(o.err, "Dropout (control)")) << o.err;
  fs::path path;
  const json j = json_named(out, "rounds.all.", &path);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["design"], "rounds");
  EXPECT_EQ(j["partial"], false);
  EXPECT_TRUE(j.contains("preflight"));
  ASSERT_EQ(j["scales"].size(), 2u);
  const std::string relu = "torch.nn.modules.activation.ReLU", identity = "torch.nn.modules.linear.Identity",
                    dropout = "torch.nn.modules.dropout.Dropout";
  for (const json& s : j["scales"]) {
    const json& d = s["design"];
    EXPECT_EQ(d["name"], "rounds");
    EXPECT_EQ(d["reference"], identity);
    EXPECT_EQ(d["controls"], json::array({dropout}));
    EXPECT_TRUE(d["stop"] == "precision" || d["stop"] == "budget") << d["stop"];
    EXPECT_GE(d["reps"].get<int>(), 1);
    const size_t rounds = s["pred_times"].size();
    EXPECT_GE(rounds, 6u) << "at least the minimum rounds, whatever the budget";
    // Per round the functions still timed and as many reference samples: both functions and two
    // reference samples for the first six rounds; a function leaves once its interval is narrow.
    EXPECT_EQ(d["pairing"], "neighbours");
    std::map<int, int> per_round, references;
    for (const json& m : s["samples"]) {
      if (m.value("disturbed", false)) continue;
      ++per_round[m["round"].get<int>()];
      if (m["key"] == identity) ++references[m["round"].get<int>()];
    }
    EXPECT_EQ(per_round.size(), rounds);
    for (const auto& [round, n] : per_round) {
      EXPECT_EQ(n, 2 * references[round]) << "round " << round;
      if (round < 6) {
        EXPECT_EQ(n, 4) << "round " << round;
      }
    }
    for (const json& m : s["samples"]) {
      EXPECT_GT(m["seconds"].get<double>(), 0.0);
      EXPECT_TRUE(m.contains("function_seconds")) << "CPU samples time the layers apart";
    }
    const json& c = s["costs"];
    EXPECT_EQ(c["rounds"].get<size_t>(), rounds);
    for (const std::string& key : {relu, identity, dropout}) {
      const json& f = c["functions"][key];
      ASSERT_TRUE(f.is_object()) << key;
      EXPECT_TRUE(f["relative"]["ci_low"].is_number()) << key;
      EXPECT_LE(f["relative"]["ci_low"].get<double>(), f["relative"]["value"].get<double>());
      EXPECT_GE(f["relative"]["ci_high"].get<double>(), f["relative"]["value"].get<double>());
      EXPECT_GT(f["seconds_per_instance"]["value"].get<double>(), 0.0);
    }
    EXPECT_EQ(c["functions"][identity]["verdict"], "reference");
    EXPECT_EQ(c["functions"][identity]["relative"]["value"], 1.0);
    EXPECT_EQ(c["functions"][dropout]["control"], true);
    // Eval-mode dropout runs no kernel: its function layers take (next to) no time.
    EXPECT_LT(c["functions"][dropout]["function_ns_per_element"]["value"].get<double>(),
              c["functions"][relu]["function_ns_per_element"]["value"].get<double>());
  }
  // The per-scale files keep the paper's schema, one "run" per round.
  int per_scale = 0;
  for (const fs::path& p : files_in(out)) {
    const std::string name = p.filename().string();
    if (name.rfind("rounds_", 0) == 0 && p.extension() == ".json") {
      ++per_scale;
      const json k = json::parse(read_text(p));
      for (const char* field : kPaperFields) EXPECT_TRUE(k.contains(field)) << name << ": " << field;
      EXPECT_GE(k["pred_times"].size(), 6u);
      EXPECT_EQ(k["pred_times"][0].size(), 3u);
    }
    if (name.size() > 10 && name.substr(name.size() - 10) == ".costs.csv") {
      const std::string csv = read_text(p);
      EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 2 * 3) << csv;
      EXPECT_TRUE(contains(csv, "relative_ci_low")) << csv;
    }
  }
  EXPECT_EQ(per_scale, 2);
  const ip::RandResults back = ip::read_rand_file(path.string());
  ASSERT_EQ(back.scales.size(), 2u);
  EXPECT_TRUE(back.scales[0].has_rounds);

  // Bad design settings are refused before any work.
  for (const std::string bad : {"--design fancy", "--precision 0", "--precision nan", "--budget -3s",
                                "--budget soon", "--min-sample 0ms"}) {
    const Outcome b = run("rand_power", bad + " --functions relu --scales 0 --train-epochs 0 --quiet --out " +
                                            (tmp.path() / "bad").string(), tmp.path());
    EXPECT_EQ(b.code, 2 - (b.code == 1)) << bad;  // usage error or one-line refusal
    EXPECT_NE(b.code, 0) << bad;
    EXPECT_EQ(std::count(b.err.begin(), b.err.end(), '\n'), 1) << bad << ": " << b.err;
    EXPECT_TRUE(files_in(tmp.path() / "bad").empty()) << bad;
  }
}

// Interrupted in its second scale, a rounds run keeps its finished rounds; --resume keeps them
// verbatim and finishes the run in the same files.
TEST(ExperimentsE2E, RandPowerRoundsResumeKeepsFinishedRounds) {
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  const std::vector<std::string> flags = {"--threads", "1", "--functions", "relu", "--scales", "0,2",
                                          "--budget", "6s", "--precision", "0.0001", "--min-sample",
                                          "5ms", "--train-epochs", "0", "--quiet", "--prefix", "rr",
                                          "--out", out.string()};
  ASSERT_EQ(run_and_interrupt("rand_power", flags, out, tmp.path() / "log.txt", "rr"), 130);
  fs::path first_path;
  const json first = json_named(out, "rr.all.", &first_path);
  ASSERT_TRUE(first.is_object());
  ASSERT_EQ(first["partial"], true);
  ASSERT_GE(first["scales"].size(), 1u);
  const json scale0 = first["scales"][0]["samples"];
  EXPECT_NE(first["scales"][0]["design"]["stop"], "interrupted");

  std::string cmd;  // run() adds the --threads 1 that flags start with
  for (size_t i = 2; i < flags.size(); ++i) cmd += flags[i] + " ";
  std::string changed = cmd;
  changed.replace(changed.find("--budget 6s"), 11, "--budget 7s");
  const Outcome bad = run("rand_power", changed + "--resume " + out.string(), tmp.path());
  EXPECT_NE(bad.code, 0);
  EXPECT_TRUE(contains(bad.err, "--budget differs")) << bad.err;

  const Outcome resumed = run("rand_power", cmd + "--resume " + out.string(), tmp.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  fs::path final_path;
  const json final = json_named(out, "rr.all.", &final_path);
  EXPECT_EQ(final_path, first_path) << "the same file, rewritten";
  EXPECT_EQ(final["partial"], false);
  ASSERT_EQ(final["scales"].size(), 2u);
  EXPECT_EQ(final["scales"][0]["samples"], scale0) << "finished rounds are kept as they were";
  EXPECT_GE(final["scales"][1]["pred_times"].size(), 6u);
  EXPECT_NE(final["scales"][1]["design"]["stop"], "interrupted");
}

TEST(ExperimentsE2E, RandPowerDeviceAndMemoryMessages) {
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  // 10^9 rows in one chunk would need terabytes: refused up front, naming the flag to lower.
  const Outcome huge = run("rand_power", "--functions relu --scales 9 --chunk-cap 1000000000000 "
                           "--train-epochs 0 --quiet --out " + out.string(), tmp.path());
  EXPECT_EQ(huge.code, 1);
  EXPECT_TRUE(contains(huge.err, "lower --chunk-cap")) << huge.err;
  EXPECT_TRUE(contains(huge.err, "1000000000 rows")) << huge.err;
  EXPECT_EQ(std::count(huge.err.begin(), huge.err.end(), '\n'), 1) << huge.err;

  // --device auto runs wherever it is; --device cuda without a GPU is a clear error.
  const Outcome autod = run("rand_power", "--device auto --functions relu --scales 0 --runs 1 "
                            "--train-epochs 0 --quiet --prefix auto --out " + out.string(), tmp.path());
  ASSERT_EQ(autod.code, 0) << autod.err;
  const bool fell_back = contains(autod.err, "--device auto: no usable GPU");
  EXPECT_EQ(json_named(out, "auto.all.")["device"], fell_back ? "cpu" : "cuda");
  if (fell_back) {
    const Outcome cuda = run("rand_power", "--device cuda --functions relu --scales 0 --quiet "
                             "--out " + out.string(), tmp.path());
    EXPECT_NE(cuda.code, 0);
    EXPECT_TRUE(contains(cuda.err, "--device cuda")) << cuda.err;
  }
}

// ---- mnist_power ----

TEST(ExperimentsE2E, MnistPowerShortRun) {
  const std::string data = mnist_dir();
  if (data.empty())
    GTEST_SKIP() << "no MNIST in ../shared/data/mnist or $MNIST_DIR: end-to-end MNIST run skipped";
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  const Outcome o = run("mnist_power",
                        "--functions relu,dropout --limit-train 2000 --max-epochs 1 --prefix e2e "
                        "--quiet --data-dir " + data + " --out " + out.string(), tmp.path());
  ASSERT_EQ(o.code, 0) << o.err;
  const std::vector<fs::path> files = files_in(out);
  ASSERT_EQ(files.size(), 2u);
  for (const fs::path& p : files) {
    EXPECT_TRUE(contains(o.out, p.string())) << o.out;
    if (p.extension() != ".json") continue;
    const json j = json::parse(read_text(p));
    for (const char* field : {"times", "accuracies", "epochs", "reached_target", "accuracy_curves",
                              "energy", "device", "hardware_name", "parameters"})
      EXPECT_TRUE(j.contains(field)) << field;
    const std::string relu = "<class 'torch.nn.modules.activation.ReLU'>";
    ASSERT_TRUE(j["times"].contains(relu));
    EXPECT_GT(j["times"][relu].get<double>(), 0.0);
    EXPECT_EQ(j["epochs"][relu], 1);
    EXPECT_EQ(j["accuracy_curves"][relu].size(), 1u);
    ASSERT_EQ(j["epoch_seconds"][relu].size(), 1u);
    EXPECT_EQ(j["epoch_seconds"][relu][0].get<double>(), j["times"][relu].get<double>());
    const double acc = j["accuracies"][relu];
    EXPECT_TRUE(acc >= 0.0 && acc <= 1.0) << acc;
    EXPECT_EQ(j["partial"], false);
    EXPECT_EQ(j["parameters"]["train_images"], 2000);
    EXPECT_NO_THROW(ip::read_mnist_file(p.string()));
  }
}

TEST(ExperimentsE2E, MnistPowerRejectsMissingAndCorruptData) {
  TempDir tmp;
  const fs::path out = tmp.path() / "results";

  const fs::path missing = tmp.path() / "no-such-dir";
  Outcome o = run("mnist_power", "--functions relu --max-epochs 1 --data-dir " + missing.string() +
                                     " --out " + out.string(), tmp.path());
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(contains(o.err, missing.string())) << o.err;
  EXPECT_TRUE(contains(o.err, "download_mnist.sh")) << o.err;
  EXPECT_TRUE(files_in(out).empty());

  // Every file present, but the training images have a wrong magic number.
  const fs::path bad = tmp.path() / "bad-mnist";
  fs::create_directories(bad);
  auto write_bytes = [](const fs::path& p, const std::vector<unsigned char>& bytes) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  };
  const std::vector<unsigned char> labels = {0, 0, 8, 1, 0, 0, 0, 1, 3};
  std::vector<unsigned char> images = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28};
  images.resize(images.size() + 784, 7);
  std::vector<unsigned char> wrong = images;
  wrong[3] = 1;  // says "one dimension": a label file's magic
  write_bytes(bad / "train-images-idx3-ubyte", wrong);
  write_bytes(bad / "train-labels-idx1-ubyte", labels);
  write_bytes(bad / "t10k-images-idx3-ubyte", images);
  write_bytes(bad / "t10k-labels-idx1-ubyte", labels);
  o = run("mnist_power", "--functions relu --max-epochs 1 --data-dir " + bad.string() + " --out " +
                             out.string(), tmp.path());
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(contains(o.err, "train-images-idx3-ubyte")) << o.err;
  EXPECT_TRUE(files_in(out).empty());

  // A truncated image file (one pixel short).
  images.pop_back();
  write_bytes(bad / "train-images-idx3-ubyte", images);
  o = run("mnist_power", "--functions relu --max-epochs 1 --data-dir " + bad.string() + " --out " +
                             out.string(), tmp.path());
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(contains(o.err, "train-images-idx3-ubyte")) << o.err;
  EXPECT_TRUE(files_in(out).empty());

  // Flags are validated before the data is looked at.
  for (const std::string& args : {std::string("--functions nope"), std::string("--max-epochs 0"),
                                  std::string("--threshold 1.5"), std::string("--dataset cifar")}) {
    o = run("mnist_power", args + " --data-dir " + bad.string() + " --out " + out.string(), tmp.path());
    EXPECT_NE(o.code, 0) << args;
    EXPECT_TRUE(contains(o.err, args.substr(0, args.find(' ')) == "--functions"
                                    ? std::string("unknown function")
                                    : args.substr(0, args.find(' '))))
        << args << " → " << o.err;
    EXPECT_TRUE(files_in(out).empty());
  }
}

// The MNIST file of a run: <prefix>_<time>.json (the one JSON in `out` starting so).

TEST(ExperimentsE2E, MnistPowerResumeTrainsOnlyTheMissingFunctions) {
  const std::string data = mnist_dir();
  if (data.empty()) GTEST_SKIP() << "no MNIST in ../shared/data/mnist or $MNIST_DIR";
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  // Each function takes a fraction of a second (evaluation on the 10,000 test images
  // dominates): the signal comes once the first function's file exists, inside the second.
  const std::vector<std::string> flags = {"--threads", "1", "--functions", "relu,identity,tanh",
                                          "--limit-train", "512", "--max-epochs", "1", "--quiet",
                                          "--prefix", "mres", "--data-dir", data, "--out", out.string()};
  ASSERT_EQ(run_and_interrupt("mnist_power", flags, out, tmp.path() / "log.txt", "mres"), 130);
  fs::path first_path;
  const json first = json_named(out, "mres_", &first_path);
  ASSERT_TRUE(first.is_object());
  ASSERT_EQ(first["partial"], true) << "an interrupted run's file says so";
  const size_t kept = first["times"].size();
  ASSERT_GE(kept, 1u);
  ASSERT_LT(kept, 3u) << "the signal came after the end of the run";

  std::string cmd;
  for (size_t i = 2; i < flags.size(); ++i) cmd += flags[i] + " ";
  std::string changed = cmd;
  changed.replace(changed.find("--max-epochs 1"), 14, "--max-epochs 2");
  const Outcome bad = run("mnist_power", changed + "--resume " + out.string(), tmp.path());
  EXPECT_NE(bad.code, 0);
  EXPECT_TRUE(contains(bad.err, "--resume: --max-epochs differs")) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  EXPECT_EQ(json_named(out, "mres_"), first) << "a refused resume changes nothing";

  const Outcome resumed = run("mnist_power", cmd + "--resume " + out.string(), tmp.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  fs::path final_path;
  const json final = json_named(out, "mres_", &final_path);
  EXPECT_EQ(final_path, first_path) << "the interrupted run's file is rewritten in place";
  EXPECT_EQ(files_in(out).size(), 2u) << "one JSON and its CSV";
  EXPECT_EQ(final["partial"], false);
  EXPECT_EQ(final["parameters"]["resumed"]["functions_resumed"], kept);
  ASSERT_EQ(final["times"].size(), 3u);
  for (const auto& [key, seconds] : first["times"].items()) {
    EXPECT_EQ(final["times"][key], seconds) << key << " kept its value";
    EXPECT_EQ(final["accuracy_curves"][key], first["accuracy_curves"][key]) << key;
  }
  // Each function once in the CSV too.
  const std::string csv = read_text(final_path.parent_path() / (final_path.stem().string() + ".csv"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;
  for (const char* f : {"\nrelu,", "\nidentity,", "\ntanh,"}) {
    const size_t at = csv.find(f);
    EXPECT_NE(at, std::string::npos) << f;
    EXPECT_EQ(csv.find(f, at + 1), std::string::npos) << f << " twice";
  }

  const Outcome again = run("mnist_power", cmd + "--resume " + final_path.string(), tmp.path());
  EXPECT_NE(again.code, 0);
  EXPECT_TRUE(contains(again.err, "nothing to resume")) << again.err;
}

TEST(ExperimentsE2E, MnistPowerOnNanStopsOrRecordsTheFailure) {
  const std::string data = mnist_dir();
  if (data.empty()) GTEST_SKIP() << "no MNIST in ../shared/data/mnist or $MNIST_DIR";
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  // SGD's first update moves the weights by 1e30 times their gradient: the next forward pass
  // overflows float.
  const std::string args = "--functions relu,identity --limit-train 256 --max-epochs 1 --lr 1e30 "
                           "--quiet --prefix nan --data-dir " + data + " --out " + out.string();
  const Outcome stop = run("mnist_power", args, tmp.path());
  EXPECT_EQ(stop.code, 1);
  EXPECT_TRUE(contains(stop.err, "training relu: non-finite loss")) << stop.err;
  EXPECT_TRUE(contains(stop.err, "at training step 2")) << stop.err;
  // The hidden layers stay finite; the last Linear's sums overflow first.
  EXPECT_TRUE(contains(stop.err, "first non-finite value: layer 5 (linear(1024,10)) output")) << stop.err;
  EXPECT_EQ(std::count(stop.err.begin(), stop.err.end(), '\n'), 1) << stop.err;
  EXPECT_TRUE(files_in(out).empty()) << "nothing finished, nothing written";

  const Outcome cont = run("mnist_power", args + " --on-nan continue", tmp.path());
  ASSERT_EQ(cont.code, 0) << cont.err;
  EXPECT_TRUE(contains(cont.err, "training relu: non-finite loss")) << cont.err;
  EXPECT_TRUE(contains(cont.err, "recorded as failed")) << cont.err;
  fs::path path;
  const json j = json_named(out, "nan_", &path);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["partial"], false);
  for (const char* key : {"torch.nn.modules.activation.ReLU", "torch.nn.modules.linear.Identity"}) {
    ASSERT_TRUE(j["failed"].contains(key)) << j["failed"];
    EXPECT_TRUE(contains(j["failed"][key].get<std::string>(), "step 2")) << j["failed"][key];
  }
  EXPECT_TRUE(j["times"].empty());
  EXPECT_FALSE(contains(j.dump(), "NaN"));
  const std::string csv = read_text(path.parent_path() / (path.stem().string() + ".csv"));
  EXPECT_FALSE(contains(csv, "nan,") || contains(csv, "NaN"));
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << "header and two failed rows: " << csv;
}

// Sanitizers reserve terabytes of address space, so a ulimit on it cannot be used with them.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST(ExperimentsE2E, MnistPowerOutOfMemoryNamesTheSizeAndTheFlag) {
  const std::string data = mnist_dir();
  if (data.empty()) GTEST_SKIP() << "no MNIST in ../shared/data/mnist or $MNIST_DIR";
  TempDir tmp;
  const fs::path out = tmp.path() / "results";
  // 768 MB of address space holds the program and the data (about 200 MB) but not the forward
  // pass of a 30,000-image batch (a 120 MB output per hidden layer, gradients on top).
  const Outcome o = run("mnist_power",
                        "--functions relu --limit-train 30000 --batch 30000 --max-epochs 1 --quiet "
                        "--data-dir " + data + " --out " + out.string(),
                        tmp.path(), "ulimit -v 786432; ");
  EXPECT_EQ(o.code, 1) << o.err;
  EXPECT_TRUE(contains(o.err, "mnist_power: error: out of memory")) << o.err;
  EXPECT_TRUE(contains(o.err, "training batches of 30000 images take about 1.2 GiB")) << o.err;
  EXPECT_TRUE(contains(o.err, "lower --batch")) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_TRUE(files_in(out).empty());
}
#endif

}  // namespace
