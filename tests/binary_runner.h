// Runs an experiment binary of this build as a subprocess, for tests of the command-line tools:
// their exit status, stdout and stderr are what users see, so that is what the tests check.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/temp_dir.h"

#if !defined(IP_BINARY_DIR) || !defined(IP_SOURCE_DIR)
#error "IP_BINARY_DIR and IP_SOURCE_DIR must name the build and source trees (CMakeLists.txt)"
#endif

namespace ip::test {

struct RunResult {
  int status = -1;  // exit status; -1 when killed by a signal
  std::string out, err;
};

// Directories made by fresh_dir, removed when the test process ends however its tests ended
// (a failed assertion returns from the test; the process still exits normally).
class ScratchRegistry {
 public:
  static ScratchRegistry& get() {
    static ScratchRegistry registry;
    return registry;
  }
  void add(const std::string& dir) { dirs_.push_back(dir); }
  ~ScratchRegistry() {
    for (const std::string& d : dirs_) {
      std::error_code ec;
      std::filesystem::permissions(d, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
      std::filesystem::remove_all(d, ec);
    }
  }

 private:
  std::vector<std::string> dirs_;
};

// A fresh empty directory under the test temp dir, removed when the test process exits.
inline std::string fresh_dir(const std::string& name) {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::path(::testing::TempDir()) / ("ip_" + name + "_XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) {
    ADD_FAILURE() << "cannot create a scratch directory " << tmpl;
    return tmpl;
  }
  ScratchRegistry::get().add(tmpl);
  return tmpl;
}

// Single quotes keep every argument one word for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `program` (a path, or a name looked up in PATH) with `args`.
inline RunResult run_program(const std::string& program, const std::vector<std::string>& args) {
  const std::string dir = fresh_dir("run_" + std::filesystem::path(program).filename().string());
  const std::string out = dir + "/stdout", err = dir + "/stderr";
  std::string cmd = shell_quote(program);
  for (const std::string& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(out) + " 2>" + shell_quote(err);
  RunResult r;
  int rc = std::system(cmd.c_str());
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

// What a shell command line starts build/<program> with: the build folder, behind the emulator
// in a cross build (IP_BINARY_EMULATOR), so that "<kProgramDir>/rand_power ..." runs anywhere.
#ifdef IP_BINARY_EMULATOR
inline const std::string kProgramDir = IP_BINARY_EMULATOR " " IP_BINARY_DIR;
#else
inline const std::string kProgramDir = IP_BINARY_DIR;
#endif

// Whether the programs run tens of times slower than a native optimised build: under an emulator,
// or built with AddressSanitizer (gcc and clang define __SANITIZE_ADDRESS__ then). Tests that give
// a program real work to do before acting on it give it less there.
#if defined(IP_BINARY_EMULATOR) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kProgramsRunSlow = true;
#else
inline constexpr bool kProgramsRunSlow = false;
#endif

// Whether this build has the figures program (it needs Boost and gnuplot-iostream for the target,
// which a cross build may lack: CMakeLists.txt defines IP_HAVE_FIGURES when it is built).
#ifdef IP_HAVE_FIGURES
inline constexpr bool kHaveFigures = true;
#else
inline constexpr bool kHaveFigures = false;
#endif
inline constexpr const char* kNoFigures = "no figures program in this build (CMake said why when configuring)";

// Runs the experiment binary `name` of this build. A cross build's programs run under the
// emulator its tests run under (IP_BINARY_EMULATOR: CMAKE_CROSSCOMPILING_EMULATOR, words separated
// by spaces), so that nothing depends on the host's binfmt registrations.
inline RunResult run_binary(const std::string& name, const std::vector<std::string>& args) {
  const std::string program = std::string(IP_BINARY_DIR) + "/" + name;
#ifdef IP_BINARY_EMULATOR
  std::vector<std::string> words;
  std::istringstream emulator(IP_BINARY_EMULATOR);
  for (std::string w; emulator >> w;) words.push_back(w);
  std::vector<std::string> emulated(words.begin() + 1, words.end());
  emulated.push_back(program);
  emulated.insert(emulated.end(), args.begin(), args.end());
  return run_program(words.front(), emulated);
#else
  return run_program(program, args);
#endif
}

// ---- shell command lines (the end-to-end tests: environment variables, ulimits, pipelines) ----

// What a command left: its exit status as a shell reports it (128 + signal when killed), stdout
// and stderr.
struct Outcome {
  int code = -1;
  std::string out, err;
};

inline int shell_exit_code(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Every shell command line of the end-to-end tests passes here on its way to /bin/sh, whether
// run to the end (run_shell) or started in the background (start_shell).
inline std::string shell_command(const std::string& command) { return command; }

// Runs `command` with stdout and stderr captured in files in `scratch`.
inline Outcome run_shell(const std::string& command, const std::filesystem::path& scratch) {
  const std::filesystem::path out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  const int status = std::system(
      (shell_command(command) + " >" + shell_quote(out.string()) + " 2>" + shell_quote(err.string())).c_str());
  Outcome o;
  o.code = shell_exit_code(status);
  o.out = read_text(out.string());
  o.err = read_text(err.string());
  std::error_code ec;
  std::filesystem::remove(out, ec);
  std::filesystem::remove(err, ec);
  return o;
}

// Starts `command` in the background (`redirect`: where its output goes) and returns its process
// id; the shell execs the command, so a signal to that id reaches the program itself.
inline pid_t start_shell(const std::string& command, const std::string& redirect = ">/dev/null 2>&1") {
  const std::string line = "exec " + shell_command(command) + " " + redirect;
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// The regular files in `dir`, sorted; none when it does not exist.
inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// The first file in `dir` whose name starts with `prefix` and ends with `suffix`; "" when none.
inline std::filesystem::path file_named(const std::filesystem::path& dir, const std::string& prefix,
                                        const std::string& suffix = "") {
  for (const std::filesystem::path& p : files_in(dir)) {
    const std::string name = p.filename().string();
    if (name.rfind(prefix, 0) == 0 && name.size() >= prefix.size() + suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      return p;
  }
  return {};
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Where CI keeps MNIST: ../shared/data/mnist beside the source tree, else $MNIST_DIR; "" when
// neither has it (the MNIST runs are then skipped).
inline std::string mnist_dir() {
  namespace fs = std::filesystem;
  const fs::path shared = fs::path(IP_SOURCE_DIR).parent_path() / "shared" / "data" / "mnist";
  if (fs::exists(shared / "train-images-idx3-ubyte.gz") || fs::exists(shared / "train-images-idx3-ubyte"))
    return shared.string();
  const char* env = std::getenv("MNIST_DIR");
  return env && *env && fs::is_directory(env) ? env : "";
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace ip::test
