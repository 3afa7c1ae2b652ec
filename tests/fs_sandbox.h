// File systems that fail on purpose, for end-to-end tests of full disks and read-only mounts:
// a small tmpfs mounted over a directory in a private mount namespace (`unshare -rm`, which
// needs no privileges where user namespaces are enabled). Mounts there are invisible outside,
// so a test's script runs the programs inside and copies out what it wants to look at.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/temp_dir.h"

namespace ip::test {

struct SandboxRun {
  int status = -1;  // the script's exit status (128 + signal when killed)
  std::string out, err;
};

// True when a tmpfs can be mounted in a private namespace here (skip the test otherwise).
inline bool tmpfs_sandbox_available() {
  static const bool available = [] {
    TempDir t;
    const std::string cmd = "unshare -rm sh -c 'mount -t tmpfs -o size=16k none " + t.path().string() +
                            "' >/dev/null 2>&1";
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
  }();
  return available;
}

// Runs the bash `script` in a private mount namespace where `dir` (which must exist) is a fresh
// tmpfs of `kib` KiB, read-only when `read_only`. The script's stdout and stderr are returned;
// `scratch` (outside `dir`) holds the script and its output files.
inline SandboxRun run_in_tmpfs(const std::filesystem::path& scratch, const std::filesystem::path& dir, int kib,
                               bool read_only, const std::string& script) {
  const std::filesystem::path file = scratch / "sandbox.sh", out = scratch / "sandbox.out", err = scratch / "sandbox.err";
  {
    std::ofstream s(file);
    s << "set -u\nmount -t tmpfs -o size=" << kib << "k none '" << dir.string() << "' || exit 99\n";
    if (read_only) s << "mount -o remount,ro '" << dir.string() << "' || exit 99\n";
    s << script << "\n";
  }
  const std::string cmd = "unshare -rm bash '" + file.string() + "' >'" + out.string() + "' 2>'" + err.string() + "'";
  const int rc = std::system(cmd.c_str());
  SandboxRun r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = read_text(out.string());
  r.err = read_text(err.string());
  return r;
}

}  // namespace ip::test
