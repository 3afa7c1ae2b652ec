// Runs an experiment binary of this build as a subprocess, for tests of the command-line tools:
// their exit status, stdout and stderr are what users see, so that is what the tests check.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/temp_dir.h"

#ifndef IP_BINARY_DIR
#error "IP_BINARY_DIR (the build directory holding the experiment binaries) must be defined"
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

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace ip::test
