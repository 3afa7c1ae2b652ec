// Shared by the libFuzzer harnesses: the parsers take paths (they stat, open and stream real
// files, and that code is part of what is fuzzed), so each input is written to one scratch file
// per process and the parser is pointed at it.
//
// Contract of every harness: a parser may refuse an input only with the exception its header
// documents; anything else (another exception type, a crash, a sanitizer report, a hang, an
// allocation beyond libFuzzer's -rss_limit_mb / -malloc_limit_mb) is a finding.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ip::fuzz {

class ScratchFile {
 public:
  ScratchFile() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/ip-fuzz-input.XXXXXX";
    fd_ = ::mkstemp(tmpl.data());
    if (fd_ < 0) {
      std::perror("fuzz harness: mkstemp");
      std::abort();
    }
    path_ = tmpl;
  }
  ~ScratchFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }

  // Replaces the file's content with data[0, size) and returns its path.
  const std::string& write(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) != 0) die("truncate");
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) die("write");
      done += static_cast<size_t>(n);
    }
    return path_;
  }

 private:
  // The harness's own I/O failing is not a parser bug, but it must not pass silently either.
  [[noreturn]] void die(const char* what) {
    std::perror(("fuzz harness: " + std::string(what) + " " + path_).c_str());
    std::abort();
  }
  int fd_ = -1;
  std::string path_;
};

// One per process; libFuzzer runs inputs one after another on one thread.
inline ScratchFile& scratch() {
  static ScratchFile file;
  return file;
}

}  // namespace ip::fuzz
