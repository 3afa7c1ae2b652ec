// Hostile but realistic cases against the built binaries: bad values in every kind of flag,
// output locations that cannot take the run's files, full and read-only file systems, SIGKILL
// and signals during long loops, leftovers of killed runs, stray files among the results. Each
// case is one of docs/reliability-cases.md; what it checks is what a user sees (exit status,
// one clear line, the files left behind).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "results/results.h"
#include "tests/binary_runner.h"
#include "tests/fs_sandbox.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ip::test;  // binary_runner.h, temp_dir.h

namespace {

const std::string kBin = kProgramDir;

bool any_temporary(const fs::path& dir) {
  for (const fs::path& p : files_in(dir))
    if (contains(p.filename().string(), ".tmp.")) return true;
  return false;
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
}

// A small IDX pair (images 28x28, labels) of `n` examples whose pixels depend on `salt`.
void write_idx(const fs::path& dir, const std::string& images, const std::string& labels, int n, int salt) {
  std::vector<unsigned char> img = {0, 0, 8, 3, 0, 0, 0, static_cast<unsigned char>(n), 0, 0, 0, 28, 0, 0, 0, 28};
  for (int i = 0; i < n * 784; ++i) img.push_back(static_cast<unsigned char>((i * 7 + salt) % 251));
  std::vector<unsigned char> lab = {0, 0, 8, 1, 0, 0, 0, static_cast<unsigned char>(n)};
  for (int i = 0; i < n; ++i) lab.push_back(static_cast<unsigned char>((i + salt) % 10));
  std::ofstream(dir / images, std::ios::binary).write(reinterpret_cast<const char*>(img.data()), img.size());
  std::ofstream(dir / labels, std::ios::binary).write(reinterpret_cast<const char*>(lab.data()), lab.size());
}

// ---- bad values: refused before any work, in one line naming the flag, nothing written ----

struct BadValue {
  std::string command;  // after kBin + "/"
  std::string message;  // part of the one line on stderr
};

TEST(ReliabilityE2E, BadValuesAreRefusedInOneLineBeforeAnyWork) {
  TempDir tmp;
  const std::string out = (tmp.path() / "out").string();
  const std::string rand = "rand_power --functions relu --scales 0 --train-epochs 0 --quiet --out " + out + " ";
  const std::string rand_any = "rand_power --scales 0 --train-epochs 0 --quiet --out " + out + " ";
  const std::string mnist = "mnist_power --functions relu --max-epochs 1 --quiet --out " + out + " ";
  const std::string bench = "kernel_bench --quick --out " + out + " ";
  const std::string many = std::to_string(4 * usable_cpus() + 1);
  std::vector<BadValue> cases = {
      // Floating-point flags: NaN and infinities, whatever the flag.
      {rand + "--lr nan", "--lr: 'nan' is not a finite number"},
      {rand + "--lr inf", "--lr: 'inf' is not a finite number"},
      {rand + "--precision -inf", "--precision: '-inf' is not a finite number"},
      {mnist + "--threshold nan", "--threshold: 'nan' is not a finite number"},
      {mnist + "--momentum inf", "--momentum: 'inf'"},
      {mnist + "--lr NaN", "--lr: 'NaN'"},
      {bench + "--min-sample-ms nan", "--min-sample-ms: 'nan' is not a finite number"},
      {bench + "--energy-check inf", "--energy-check: 'inf'"},
      {"compare_results a b --margin nan", "--margin: 'nan'"},
      // Seeds and counts: no wrap-around, no saturation.
      {rand + "--seed -1", "--seed: '-1' is not a whole number from 0 to 18446744073709551615"},
      {rand + "--seed 18446744073709551616", "--seed: '18446744073709551616' is more than 18446744073709551615"},
      {mnist + "--seed -5", "--seed: '-5' is not a whole number"},
      {bench + "--seed 1e3", "--seed: '1e3' is not a whole number"},
      {rand + "--chunk-cap 99999999999999999999", "--chunk-cap: '99999999999999999999' is out of range"},
      {"train_example --seed -1", "--seed: '-1'"},
      // Threads far beyond the CPUs, from the flag or from OpenMP's variable.
      {rand + "--threads " + many, "--threads " + many + ": more than 4 threads per CPU"},
      {"OMP_NUM_THREADS=" + many + " " + kBin + "/" + rand, "OMP_NUM_THREADS=" + many + ": more than 4 threads per CPU"},
      {bench + "--threads " + many, "--threads " + many + ": more than 4 threads per CPU"},
      {"OMP_NUM_THREADS=" + many + " " + kBin + "/" + bench, "OMP_NUM_THREADS=" + many + ": more than 4 threads"},
      {bench + "--threads 1,x", "--threads: bad thread count 'x'"},
      // Empty lists and sizes below one row.
      {bench + "--sizes ''", "--sizes: no size in ''"},
      {bench + "--sizes ,", "--sizes: no size in ','"},
      {bench + "--functions ''", "--functions: empty"},
      {bench + "--sizes 1.5", "less than one row of --cols 1024"},
      {bench + "--sizes 1KiB", "'1KiB' is 256 floats, less than one row of --cols 1024"},
      {bench + "--functions none --gemm-shapes none", "nothing to time"},
      {rand_any + "--functions ''", "--functions: empty"},
      {rand_any + "--functions relu,", "an empty name in 'relu,'"},
      {rand_any + "--functions all,relu", "'all' stands alone"},
      {"power_table --tables '' x.json", "--tables: empty"},
      // Messages that name the right thing.
      {bench + "--warmup -1", "--warmup: must be 0 or more, got '-1'"},
      {bench + "--repeats 0", "--repeats: must be 1 or more"},
      {"power_table --bogus", "unknown flag --bogus"},
  };
  if (kHaveFigures) cases.push_back({"figures --bogus", "unknown flag --bogus"});
  for (const BadValue& c : cases) {
    const std::string command = c.command.rfind("OMP_NUM_THREADS", 0) == 0 ? c.command : kBin + "/" + c.command;
    const Outcome o = run_shell(command, tmp.path());
    EXPECT_NE(o.code, 0) << c.command;
    EXPECT_TRUE(contains(o.err, c.message)) << c.command << "\n  said: " << o.err << "  expected: " << c.message;
    EXPECT_EQ(count_lines(o.err), 1) << c.command << ": " << o.err;
    EXPECT_LT(o.err.size(), 400u) << "a short line: " << o.err;
    EXPECT_FALSE(contains(o.err, "bad_function_call")) << o.err;
    EXPECT_TRUE(files_in(out).empty()) << c.command;
  }
}

// More threads than CPUs, but not absurdly many: a warning that says what it costs, then the run.
TEST(ReliabilityE2E, ThreadsBeyondTheCpusAreWarnedAbout) {
  TempDir tmp;
  const std::string n = std::to_string(usable_cpus() + 1);
  const Outcome o = run_shell(kBin + "/rand_power --design paper --functions relu --scales 0 --runs 1 --train-epochs 0 "
                                         "--threads " + n + " --quiet --out " + (tmp.path() / "out").string(),
                              tmp.path());
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(contains(o.err, "rand_power: warning: --threads " + n + ": " + n + " threads on")) << o.err;
}

// ---- output locations probed before any work ----

TEST(ReliabilityE2E, OutputLocationsAreProbedBeforeAnyWork) {
  TempDir tmp;
  const fs::path out = tmp.path() / "out", cache = tmp.path() / "cache";
  const std::string base = kBin + "/rand_power --design paper --functions relu --scales 0 --runs 1 --train-epochs 1 "
                                  "--quiet --out " + out.string() + " --model-cache " + cache.string();

  // A prefix whose file names the file system cannot hold.
  const Outcome long_prefix = run_shell(base + " --prefix " + std::string(300, 'p'), tmp.path());
  EXPECT_EQ(long_prefix.code, 1);
  EXPECT_TRUE(contains(long_prefix.err, "shorten --prefix")) << long_prefix.err;
  EXPECT_EQ(count_lines(long_prefix.err), 1) << long_prefix.err;
  EXPECT_TRUE(files_in(out).empty());
  EXPECT_TRUE(files_in(cache).empty()) << "nothing trained";

  // A directory where the model's cache file belongs: found before training.
  ASSERT_EQ(run_shell(base + " --prefix first", tmp.path()).code, 0);
  std::vector<fs::path> cached = files_in(cache);
  ASSERT_EQ(cached.size(), 1u);
  fs::remove(cached[0]);
  fs::create_directories(cached[0]);
  fs::remove_all(out);
  const Outcome blocked = run_shell(base + " --prefix second", tmp.path());
  EXPECT_EQ(blocked.code, 1);
  EXPECT_TRUE(contains(blocked.err, "--model-cache: " + cached[0].string() + " is a directory")) << blocked.err;
  EXPECT_EQ(count_lines(blocked.err), 1) << blocked.err;
  EXPECT_TRUE(files_in(out).empty());

  // A truncated model in the cache is reported as truncated, and retrained.
  fs::remove_all(cached[0]);
  fs::remove_all(out);
  ASSERT_EQ(run_shell(base + " --prefix again", tmp.path()).code, 0);
  fs::resize_file(cached[0], fs::file_size(cached[0]) / 2);
  const Outcome truncated = run_shell(base + " --prefix fourth", tmp.path());
  EXPECT_EQ(truncated.code, 0) << truncated.err;
  EXPECT_TRUE(contains(truncated.err, "model cache unusable, retraining") && contains(truncated.err, "truncated"))
      << truncated.err;
  EXPECT_FALSE(contains(truncated.err, "absurd")) << truncated.err;
  fs::remove_all(out);

  // A cache that is a file.
  fs::remove_all(cache);
  std::ofstream(cache) << "x";
  const Outcome file_cache = run_shell(base + " --prefix third", tmp.path());
  EXPECT_EQ(file_cache.code, 1);
  EXPECT_TRUE(contains(file_cache.err, "--model-cache " + cache.string())) << file_cache.err;
  EXPECT_TRUE(files_in(out).empty());
}

// Read-only and full file systems under the model cache and the results: refused at the start,
// naming the flag and the reason; a cache that already holds every model may be read-only.
TEST(ReliabilityE2E, ReadOnlyAndFullFileSystemsAreFoundAtTheStart) {
  if (!ip::test::tmpfs_sandbox_available()) GTEST_SKIP() << "no private mount namespace (unshare -rm) here";
  TempDir tmp;
  const fs::path mnt = tmp.path() / "mnt", out = tmp.path() / "out";
  fs::create_directories(mnt);
  const std::string run = kBin + "/rand_power --design paper --functions relu --scales 0 --runs 1 --train-epochs 1 "
                                 "--threads 1 --quiet --prefix ro ";
  // Read-only cache, results elsewhere.
  ip::test::SandboxRun r = ip::test::run_in_tmpfs(
      tmp.path(), mnt, 64, true, run + "--model-cache " + mnt.string() + " --out " + out.string());
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "--model-cache " + mnt.string() + " is not writable: Read-only file system")) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_TRUE(files_in(out).empty());
  // Read-only results directory.
  r = ip::test::run_in_tmpfs(tmp.path(), mnt, 64, true, run + "--no-model-cache --out " + mnt.string());
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "--out " + mnt.string() + " is not writable: Read-only file system")) << r.err;
  // A full cache: filled before the run.
  r = ip::test::run_in_tmpfs(tmp.path(), mnt, 64, false,
                             "dd if=/dev/zero of=" + mnt.string() + "/filler bs=1k count=80 2>/dev/null\n" + run +
                                 "--model-cache " + mnt.string() + " --out " + out.string());
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_TRUE(contains(r.err, "--model-cache " + mnt.string() + " is not writable: No space left on device")) << r.err;
  EXPECT_TRUE(files_in(out).empty());
  // A read-only cache holding every model is only read: the run goes on.
  const fs::path cache = tmp.path() / "cache";
  ASSERT_EQ(run_shell(run + "--model-cache " + cache.string() + " --out " + out.string(), tmp.path()).code, 0);
  fs::remove_all(out);
  r = ip::test::run_in_tmpfs(tmp.path(), mnt, 16384, false,
                             "cp " + cache.string() + "/* " + mnt.string() + "/ && mount -o remount,ro " +
                                 mnt.string() + " && " + run + "--model-cache " + mnt.string() + " --out " +
                                 out.string());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(files_in(out).empty());
}

// ---- a full disk in the middle of a run ----

// rand_power: the disk fills after the first scale's files. The run stops with an error naming
// the file and the failure; what is on disk is whole sets (every per-scale file with the
// consolidated file that lists it, the CSV with its JSON), no temporary file, and once there is
// room again --resume finishes the run.
TEST(ReliabilityE2E, RandPowerDiskFullMidRunLeavesWholeSetsAndResumes) {
  if (!ip::test::tmpfs_sandbox_available()) GTEST_SKIP() << "no private mount namespace (unshare -rm) here";
  TempDir tmp;
  const fs::path mnt = tmp.path() / "mnt", copy = tmp.path() / "copy";
  fs::create_directories(mnt);
  fs::create_directories(copy);
  const std::string flags = "--threads 1 --design paper --functions relu,identity --scales 0-3 --runs 4 "
                            "--chunk-cap 1000 --train-epochs 0 --quiet --prefix full --out " + mnt.string();
  const std::string script =
      kBin + "/rand_power " + flags + " > /dev/null 2> " + (tmp.path() / "run.err").string() + " &\n"
      "pid=$!\n"
      "while kill -0 $pid 2>/dev/null; do ls " + mnt.string() + " | grep -q '^full_' && break; sleep 0.01; done\n"
      "dd if=/dev/zero of=" + mnt.string() + "/filler bs=4k 2>/dev/null\n"
      "wait $pid; echo $? > " + (tmp.path() / "run.rc").string() + "\n"
      "rm -f " + mnt.string() + "/filler\n"
      "cp -a " + mnt.string() + "/. " + copy.string() + "/\n" +
      kBin + "/rand_power " + flags + " --resume " + mnt.string() + " > /dev/null\n";
  const ip::test::SandboxRun r = ip::test::run_in_tmpfs(tmp.path(), mnt, 1024, false, script);
  const std::string run_err = read_text((tmp.path() / "run.err").string());
  EXPECT_EQ(read_text((tmp.path() / "run.rc").string()), "1\n") << run_err;
  EXPECT_TRUE(contains(run_err, "No space left on device")) << run_err;
  EXPECT_TRUE(contains(run_err, "full")) << "names the file: " << run_err;
  EXPECT_FALSE(any_temporary(copy));
  json consolidated;
  std::vector<double> per_scale_items;
  int csvs = 0;
  for (const fs::path& p : files_in(copy)) {
    const std::string name = p.filename().string();
    if (name.rfind("full.all.", 0) == 0 && p.extension() == ".json") consolidated = json::parse(read_text(p.string()));
    if (name.rfind("full.all.", 0) == 0 && p.extension() == ".csv") ++csvs;
    if (name.rfind("full_", 0) == 0) per_scale_items.push_back(json::parse(read_text(p.string()))["pred_items"]);
  }
  ASSERT_TRUE(consolidated.is_object()) << "the first scale's set is whole";
  EXPECT_EQ(csvs, 1);
  EXPECT_EQ(consolidated["partial"], true);
  for (double items : per_scale_items) {
    bool listed = false;
    for (const json& s : consolidated["scales"]) listed = listed || s["pred_items"] == items;
    EXPECT_TRUE(listed) << "a per-scale file (" << items << " items) without its consolidated record";
  }
  // The resume inside the sandbox finished the run (its exit status is the script's).
  EXPECT_EQ(r.status, 0) << r.err;
}

// kernel_bench: its JSON and CSVs appear together or not at all.
TEST(ReliabilityE2E, KernelBenchDiskFullWritesNoHalfSet) {
  if (!ip::test::tmpfs_sandbox_available()) GTEST_SKIP() << "no private mount namespace (unshare -rm) here";
  TempDir tmp;
  const fs::path mnt = tmp.path() / "mnt";
  fs::create_directories(mnt);
  // Room for the start's probe (4 KiB) but not for the results.
  const ip::test::SandboxRun r = ip::test::run_in_tmpfs(
      tmp.path(), mnt, 64, false,
      "dd if=/dev/zero of=" + mnt.string() + "/filler bs=4k count=14 2>/dev/null\n" + kBin +
          "/kernel_bench --quick --threads 1 --functions relu --directions forward --gemm-shapes none --out " +
          mnt.string() + " > /dev/null\necho rc=$?\nls -a " + mnt.string());
  EXPECT_TRUE(contains(r.out, "rc=1")) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "No space left on device")) << r.err;
  EXPECT_TRUE(contains(r.err, "none of kernel_bench_")) << r.err;
  EXPECT_FALSE(contains(r.out, "kernel_bench_")) << "no file of the set: " << r.out;
  EXPECT_FALSE(contains(r.out, ".tmp.")) << r.out;
}

// figures on a full disk says so, and leaves no empty or half file.
TEST(ReliabilityE2E, FiguresDiskFullSaysDiskFull) {
  if (!kHaveFigures) GTEST_SKIP() << kNoFigures;
  if (!ip::test::tmpfs_sandbox_available()) GTEST_SKIP() << "no private mount namespace (unshare -rm) here";
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot is not installed";
  TempDir tmp;
  const fs::path mnt = tmp.path() / "mnt", results = tmp.path() / "results";
  fs::create_directories(mnt);
  ASSERT_EQ(run_shell(kBin + "/rand_power --design paper --functions relu,identity,dropout --scales 0-1 --runs 1 "
                             "--train-epochs 0 --quiet --prefix fig --out " + results.string(),
                      tmp.path()).code,
            0);
  const ip::test::SandboxRun r = ip::test::run_in_tmpfs(
      tmp.path(), mnt, 64, false,
      "dd if=/dev/zero of=" + mnt.string() + "/filler bs=4k count=14 2>/dev/null\n" + kBin +
          "/figures --quiet --formats svg,png --input " + results.string() + " --out " + mnt.string() +
          "\necho rc=$?\nls -a " + mnt.string() + "\nfind " + mnt.string() + " -empty -type f");
  EXPECT_TRUE(contains(r.out, "rc=1")) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "disk full")) << r.err;
  EXPECT_FALSE(contains(r.err, "gnuplot wrote nothing")) << r.err;
  EXPECT_FALSE(contains(r.out, ".png")) << r.out;
  EXPECT_FALSE(contains(r.out, ".tmp.")) << r.out;
}

TEST(ReliabilityE2E, FiguresWithoutGnuplotSayHowToInstallIt) {
  if (!kHaveFigures) GTEST_SKIP() << kNoFigures;
  TempDir tmp;
  const fs::path results = tmp.path() / "results";
  ASSERT_EQ(run_shell(kBin + "/rand_power --design paper --functions relu,identity --scales 0 --runs 1 --train-epochs 0 "
                             "--quiet --prefix g --out " + results.string(),
                      tmp.path()).code,
            0);
  const Outcome o = run_shell("PATH=/nonexistent " + kBin + "/figures --input " + results.string() + " --out " +
                                  (tmp.path() / "fig").string(),
                              tmp.path());
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(contains(o.err, "gnuplot not found: apt-get install gnuplot-nox")) << o.err;
  EXPECT_EQ(count_lines(o.err), 1) << o.err;
}

// ---- SIGKILL: whatever a killed run left is resumable ----

// Kills `command` with SIGKILL once a file starting with `prefix` + "_" is in `out`, then
// returns the exit status (137 when the kill landed).
int run_and_kill(const std::string& command, const fs::path& out, const std::string& prefix, int extra_ms) {
  const pid_t pid = start_shell(command);
  // Seconds here, minutes under an emulator; the wait ends as soon as the file is there.
  for (int i = 0; i < 30000 && file_named(out, prefix + "_").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(extra_ms));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  return shell_exit_code(status);
}

json consolidated(const fs::path& out, const std::string& prefix) {
  const fs::path p = file_named(out, prefix + ".all.", ".json");
  return p.empty() ? json() : json::parse(read_text(p.string()));
}

void expect_killed_run_resumes(const std::string& design) {
  TempDir tmp;
  const fs::path out = tmp.path() / "out";
  const int top_scale = kProgramsRunSlow ? 2 : 3;  // with 10^3 these runs last 8-10 minutes there
  const std::string flags = "--threads 1 --design " + design + " --functions relu,identity --scales 0-" +
                            std::to_string(top_scale) + " " +
                            (design == "paper" ? "--runs 20 " : "--budget 4s --min-sample 2ms ") +
                            "--chunk-cap 1000 --train-epochs 0 --quiet --prefix k --out " + out.string();
  ASSERT_EQ(run_and_kill(kBin + "/rand_power " + flags, out, "k", 300), 137) << "the run ended before the kill";
  const json killed = consolidated(out, "k");
  ASSERT_TRUE(killed.is_object()) << "the first scale's set is on disk";
  EXPECT_EQ(killed["partial"], true) << "a file written while the run goes on says so";
  const Outcome resumed = run_shell(kBin + "/rand_power " + flags + " --resume " + out.string(), tmp.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const json final = consolidated(out, "k");
  EXPECT_EQ(final["partial"], false);
  EXPECT_EQ(final["scales"].size(), std::size_t(top_scale + 1));
  EXPECT_FALSE(any_temporary(out));
  int per_scale = 0;
  for (const fs::path& p : files_in(out)) per_scale += p.filename().string().rfind("k_", 0) == 0;
  EXPECT_EQ(per_scale, top_scale + 1) << "one per-scale file per scale, the killed run's rewritten";
}

TEST(ReliabilityE2E, RandPowerKilledRoundsRunResumes) { expect_killed_run_resumes("rounds"); }
TEST(ReliabilityE2E, RandPowerKilledPaperRunResumes) { expect_killed_run_resumes("paper"); }

// Temporary files of our naming that a killed writer left are removed by the next run; those of
// a writer that may still be running, and files not of our naming, are not.
TEST(ReliabilityE2E, StaleTemporariesOfKilledRunsAreRemovedOnStart) {
  TempDir tmp;
  const fs::path out = tmp.path() / "out", cache = tmp.path() / "cache";
  fs::create_directories(out);
  fs::create_directories(cache);
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);  // a pid that no longer runs
  const std::string dead = std::to_string(child), alive = std::to_string(getppid());
  const auto old = fs::file_time_type::clock::now() - std::chrono::minutes(5);
  auto touch = [&](const fs::path& p, bool make_old) {
    std::ofstream(p) << "half";
    if (make_old) fs::last_write_time(p, old);
  };
  const std::vector<fs::path> stale = {out / (".k.all.1.json.tmp." + dead + ".a1B2c3"),
                                       out / (".k.all.2.json.tmp." + dead + ".a1B2c3"),  // fresh, unlocked
                                       cache / ("rand_relu_0123456789abcdef.ipmodel.tmp." + dead + ".Zz9Yy8"),
                                       out / ".inferencepower-write-test.QwErTy"};
  const std::vector<fs::path> kept = {out / (".k.all.4.json.tmp." + dead + ".a1B2c3"),   // locked
                                      out / (".k.all.3.json.tmp." + alive + ".a1B2c3"),  // its writer runs
                                      out / "notes.tmp.a1B2c3", out / "k_1.json"};       // not ours
  for (const fs::path& p : stale) touch(p, p != stale[1]);
  for (const fs::path& p : kept) touch(p, true);
  // Locked as a writer on another machine sharing the directory would hold it (its pid means
  // nothing here).
  const int held = open(kept[0].c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ip::lock_temporary(held);
  // stale[3] is an old probe without a pid: an hour is its limit.
  fs::last_write_time(stale[3], fs::file_time_type::clock::now() - std::chrono::hours(2));
  const Outcome o = run_shell(kBin + "/rand_power --design paper --functions relu --scales 0 --runs 1 --train-epochs 1 "
                                     "--threads 1 --prefix k --out " + out.string() + " --model-cache " + cache.string(),
                              tmp.path());
  close(held);
  ASSERT_EQ(o.code, 0) << o.err;
  for (const fs::path& p : stale) EXPECT_FALSE(fs::exists(p)) << p;
  for (const fs::path& p : kept) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_TRUE(contains(o.err, "removed 3 stale temporary file(s) of an interrupted run from " + out.string())) << o.err;
  EXPECT_TRUE(contains(o.err, "removed 1 stale temporary file(s) of an interrupted run from " + cache.string())) << o.err;
}

// ---- interruption acted on in every long loop ----

// Interrupts `command` after `after_ms` and expects it to end within a few seconds with 128 + sig.
void expect_prompt_stop(const std::string& command, int sig, int after_ms) {
  const pid_t pid = start_shell(command);
  std::this_thread::sleep_for(std::chrono::milliseconds(after_ms));
  kill(pid, sig);
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(20))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ADD_FAILURE() << command << ": still running 20 s after signal " << sig;
    return;
  }
  const int code = shell_exit_code(status);
  EXPECT_EQ(code, 128 + sig) << command;
}

TEST(ReliabilityE2E, LongLoopsStopOnTheFirstSignal) {
  TempDir tmp;
  const std::string out = " --quiet --out " + (tmp.path() / "out").string();
  // Warm-up of a billion calls, in both designs.
  for (const char* design : {"paper", "rounds"})
    for (int sig : {SIGINT, SIGTERM})
      expect_prompt_stop(kBin + "/rand_power --threads 1 --design " + design +
                             " --functions relu --scales 0 --runs 1 --train-epochs 0 --warmup 1000000000" + out,
                         sig, 1500);
  // Training of a million steps; the breakdown of a long loop: 10^6 predictions (20 s on a fast
  // core in 2026, where 10^5 ended before the signal) in chunks of 1000, which the loop checks
  // between (a chunk of 10^4 took 45 s there under AddressSanitizer).
  expect_prompt_stop(kBin + "/rand_power --threads 1 --design paper --functions relu --scales 0 --runs 1 "
                            "--train-epochs 1000000 --no-model-cache" + out,
                     SIGINT, 1500);
  expect_prompt_stop(kBin + "/rand_power --threads 1 --design paper --breakdown --functions relu --scales 6 --runs 1 "
                            "--chunk-cap 1000 --train-epochs 0" + out,
                     SIGINT, 3000);
  // kernel_bench keeps the default action: it stops at once and writes nothing.
  expect_prompt_stop(kBin + "/kernel_bench --quick --threads 1 --repeats 1000000 --out " + (tmp.path() / "kb").string(),
                     SIGINT, 1500);
  EXPECT_TRUE(files_in(tmp.path() / "kb").empty());
}

// ---- --resume refuses what it cannot trust, naming it ----

TEST(ReliabilityE2E, ResumeNamesUnreadableAndWrongFiles) {
  TempDir tmp;
  const fs::path out = tmp.path() / "out";
  const std::string flags = "--threads 1 --design paper --functions relu,identity --scales 0 --runs 2 "
                            "--train-epochs 0 --quiet --prefix r --out " + out.string();
  ASSERT_EQ(run_shell(kBin + "/rand_power " + flags, tmp.path()).code, 0);
  fs::path path;
  for (const fs::path& p : files_in(out))
    if (p.filename().string().rfind("r.all.", 0) == 0 && p.extension() == ".json") path = p;
  ASSERT_FALSE(path.empty());
  json j = json::parse(read_text(path.string()));
  j["partial"] = true;
  // A negative time in a measurement the resumed run would keep verbatim.
  j["measurements"][0]["seconds"] = -1.5;
  std::ofstream(path) << j.dump(1);
  Outcome o = run_shell(kBin + "/rand_power " + flags + " --resume " + path.string(), tmp.path());
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(contains(o.err, "-1.5 s is not a time")) << o.err;
  EXPECT_EQ(count_lines(o.err), 1) << o.err;
  // A truncated partial file in the directory is named with the parse error.
  const std::string text = j.dump(1);
  std::ofstream(path) << text.substr(0, text.size() / 2);
  o = run_shell(kBin + "/rand_power " + flags + " --resume " + out.string(), tmp.path());
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(contains(o.err, path.string() + " is not valid JSON")) << o.err;
  EXPECT_FALSE(contains(o.err, "no partial")) << o.err;

  // mnist_power: a negative time in the file to resume.
  const fs::path data = tmp.path() / "data", mout = tmp.path() / "mnist";
  fs::create_directories(data);
  write_idx(data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 30, 5);
  write_idx(data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 20, 3);
  const std::string mflags = "--functions relu,identity --max-epochs 1 --quiet --prefix m --data-dir " + data.string() +
                             " --out " + mout.string();
  ASSERT_EQ(run_shell(kBin + "/mnist_power " + mflags, tmp.path()).code, 0);
  fs::path mpath;
  for (const fs::path& p : files_in(mout))
    if (p.extension() == ".json") mpath = p;
  json m = json::parse(read_text(mpath.string()));
  m["partial"] = true;
  m["times"]["<class 'torch.nn.modules.activation.ReLU'>"] = -2.0;
  std::ofstream(mpath) << m.dump(1);
  o = run_shell(kBin + "/mnist_power " + mflags + " --resume " + mpath.string(), tmp.path());
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(contains(o.err, "--resume: " + mpath.string()) && contains(o.err, "non-negative number of seconds"))
      << o.err;
  EXPECT_EQ(count_lines(o.err), 1) << o.err;
}

// ---- stray files among the results ----

TEST(ReliabilityE2E, StrayJsonAmongResultsIsSkipped) {
  TempDir tmp;
  const fs::path out = tmp.path() / "out";
  ASSERT_EQ(run_shell(kBin + "/rand_power --design paper --functions relu,identity --scales 0 --runs 1 --train-epochs 0 "
                             "--quiet --prefix s --out " + out.string(),
                      tmp.path()).code,
            0);
  std::ofstream(out / "numbers.json") << "[1,2,3]";
  std::ofstream(out / "settings.json") << R"({"editor": "vim"})";
  const Outcome o = run_shell(kBin + "/power_table " + out.string(), tmp.path());
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(contains(o.err, "numbers.json: not a result file; skipped")) << o.err;
  EXPECT_TRUE(contains(o.out, "ReLU")) << o.out;
}

json mnist_json(const fs::path& out) {
  for (const fs::path& p : files_in(out))
    if (p.extension() == ".json") return json::parse(read_text(p.string()));
  return json();
}

TEST(ReliabilityE2E, MnistKilledRunResumes) {
  const std::string data = mnist_dir();
  if (data.empty()) GTEST_SKIP() << "no MNIST in ../shared/data/mnist or $MNIST_DIR";
  TempDir tmp;
  const fs::path out = tmp.path() / "out";
  const std::string flags = "--threads 1 --functions relu,identity,tanh --limit-train 512 --max-epochs 1 --quiet "
                            "--prefix mk --data-dir " + data + " --out " + out.string();
  ASSERT_EQ(run_and_kill(kBin + "/mnist_power " + flags, out, "mk", 0), 137) << "the run ended before the kill";
  const json killed = mnist_json(out);
  ASSERT_TRUE(killed.is_object());
  EXPECT_EQ(killed["partial"], true);
  const Outcome resumed = run_shell(kBin + "/mnist_power " + flags + " --resume " + out.string(), tmp.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const json final = mnist_json(out);
  EXPECT_EQ(final["partial"], false);
  EXPECT_EQ(final["times"].size(), 3u);
  EXPECT_EQ(files_in(out).size(), 2u) << "one JSON and its CSV, no temporary file";
}

// mnist_power: the disk fills after the first function's files; the JSON and its CSV stay a
// pair (the earlier versions), the error names the file, and --resume finishes once there is room.
// The script waits for those files as long as the run lives, not a fixed time: under qemu on a
// slow host the first function took longer than the 30 s once allowed.
TEST(ReliabilityE2E, MnistDiskFullMidRunKeepsThePairAndResumes) {
  const std::string data = mnist_dir();
  if (data.empty()) GTEST_SKIP() << "no MNIST in ../shared/data/mnist or $MNIST_DIR";
  if (!ip::test::tmpfs_sandbox_available()) GTEST_SKIP() << "no private mount namespace (unshare -rm) here";
  TempDir tmp;
  const fs::path mnt = tmp.path() / "mnt", copy = tmp.path() / "copy";
  fs::create_directories(mnt);
  fs::create_directories(copy);
  const std::string flags = "--threads 1 --functions relu,identity,tanh --limit-train 512 --max-epochs 1 --quiet "
                            "--prefix mf --data-dir " + data + " --out " + mnt.string();
  const std::string script =
      kBin + "/mnist_power " + flags + " > /dev/null 2> " + (tmp.path() / "run.err").string() + " &\n"
      "pid=$!\n"
      "while kill -0 $pid 2>/dev/null; do ls " + mnt.string() + " | grep -q '^mf_' && break; sleep 0.01; done\n"
      "dd if=/dev/zero of=" + mnt.string() + "/filler bs=4k 2>/dev/null\n"
      "wait $pid; echo $? > " + (tmp.path() / "run.rc").string() + "\n"
      "rm -f " + mnt.string() + "/filler\n"
      "cp -a " + mnt.string() + "/. " + copy.string() + "/\n" +
      kBin + "/mnist_power " + flags + " --resume " + mnt.string() + " > /dev/null\n";
  const ip::test::SandboxRun r = ip::test::run_in_tmpfs(tmp.path(), mnt, 1024, false, script);
  const std::string run_err = read_text((tmp.path() / "run.err").string());
  EXPECT_EQ(read_text((tmp.path() / "run.rc").string()), "1\n") << run_err;
  EXPECT_TRUE(contains(run_err, "No space left on device")) << run_err;
  EXPECT_TRUE(contains(run_err, "none of mf_")) << "says which files were not written: " << run_err;
  const std::vector<fs::path> left = files_in(copy);
  ASSERT_EQ(left.size(), 2u) << "the JSON and its CSV of the first function, nothing else";
  const json first = json::parse(read_text(left[1].extension() == ".json" ? left[1].string() : left[0].string()));
  EXPECT_EQ(first["partial"], true);
  EXPECT_EQ(first["times"].size(), 1u);
  EXPECT_EQ(r.status, 0) << "the resume after the disk had room again: " << r.err;
}

// ---- MNIST data that cannot be what it claims ----

TEST(ReliabilityE2E, MnistRefusesTestImagesCopiedOverTheTrainingImages) {
  TempDir tmp;
  const fs::path data = tmp.path() / "data", out = tmp.path() / "out";
  fs::create_directories(data);
  write_idx(data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 20, 3);
  fs::copy_file(data / "t10k-images-idx3-ubyte", data / "train-images-idx3-ubyte");
  fs::copy_file(data / "t10k-labels-idx1-ubyte", data / "train-labels-idx1-ubyte");
  const std::string cmd = kBin + "/mnist_power --functions relu --max-epochs 1 --quiet --data-dir " + data.string() +
                          " --out " + out.string();
  Outcome o = run_shell(cmd, tmp.path());
  EXPECT_EQ(o.code, 1);
  EXPECT_TRUE(contains(o.err, "are the test images")) << o.err;
  EXPECT_EQ(count_lines(o.err), 1) << o.err;
  EXPECT_TRUE(files_in(out).empty());
  // Different images, but not the standard split's counts: a warning, and the run.
  write_idx(data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 30, 5);
  o = run_shell(cmd + " --batch 1000000000 --limit-train 1000000000", tmp.path());
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(contains(o.err, "warning: the training file holds 30 images and the test file 20")) << o.err;
  // The file records what ran: one batch of 30, every image.
  json j;
  for (const fs::path& p : files_in(out))
    if (p.extension() == ".json") j = json::parse(read_text(p.string()));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["parameters"]["batch"], 30);
  EXPECT_EQ(j["parameters"]["limit_train"], 0);
  EXPECT_EQ(j["parameters"]["train_images"], 30);
  ASSERT_TRUE(j["epoch_seconds"].contains("<class 'torch.nn.modules.activation.ReLU'>"));
  // An IDX path that is a directory is named as such.
  fs::remove(data / "train-images-idx3-ubyte");
  fs::create_directories(data / "train-images-idx3-ubyte");
  o = run_shell(cmd, tmp.path());
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(contains(o.err, (data / "train-images-idx3-ubyte").string() + ": a directory")) << o.err;
}

}  // namespace
