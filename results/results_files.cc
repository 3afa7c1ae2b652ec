// Files written whole or not at all, sets of them, output folders probed, stale temporaries.
#include "results/results.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>

namespace ip {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

std::string join_path(const std::string& dir, const std::string& name) {
  return (fs::path(dir.empty() ? "." : dir) / name).string();
}

}  // namespace

// ---- writing files ----

namespace {

bool is_alnum_tail(const std::string& s, std::size_t from) {
  if (s.size() - from != 6) return false;
  for (std::size_t i = from; i < s.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// A temporary file of ours: "<name>.tmp.<pid>.XXXXXX" or "<name>.tmp.XXXXXX" (older builds),
// where <name> is ".<result file>" or "<model>.ipmodel", or the probe ".inferencepower-write-test.XXXXXX".
// Sets *pid (0 when the name holds none).
bool our_temporary(const std::string& name, long* pid) {
  *pid = 0;
  const std::string probe = ".inferencepower-write-test.";
  if (name.rfind(probe, 0) == 0)  // the short probe, or the one as long as the run's longest name
    return name.size() >= probe.size() + 6 && is_alnum_tail(name, name.size() - 6) &&
           name.find_first_not_of("x", probe.size()) >= name.size() - 6;
  const std::size_t tmp = name.rfind(".tmp.");
  if (tmp == std::string::npos || tmp == 0) return false;
  const std::string owner = name.substr(0, tmp);
  const bool result = owner.size() > 1 && owner[0] == '.';
  const bool model = owner.size() > 8 && owner.compare(owner.size() - 8, 8, ".ipmodel") == 0;
  if (!result && !model) return false;
  std::size_t rest = tmp + 5;
  const std::size_t dot = name.find('.', rest);
  if (dot != std::string::npos) {
    const std::string digits = name.substr(rest, dot - rest);
    if (digits.empty() || digits.size() > 10 || digits.find_first_not_of("0123456789") != std::string::npos)
      return false;
    *pid = std::stol(digits);
    rest = dot + 1;
  }
  return is_alnum_tail(name, rest);
}

// Whether a process holds the lock of lock_temporary on `path`; nullopt where the file system
// cannot say (no locks) or the file is gone.
std::optional<bool> temporary_is_locked(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  const bool taken = flock(fd, LOCK_EX | LOCK_NB) == 0;
  const int err = errno;
  close(fd);  // releases the lock just taken
  if (taken) return false;
  if (err == EWOULDBLOCK) return true;
  return std::nullopt;
}

// How long a temporary file's name is beyond its target's: "." + ".tmp." + pid + "." + XXXXXX.
constexpr std::size_t kTemporaryExtra = 1 + 5 + 10 + 1 + 6;

std::string temporary_template(const std::string& dir, const std::string& filename) {
  return dir + "/." + filename + ".tmp." + std::to_string(getpid()) + ".XXXXXX";
}

// One file of a set: written to its temporary name and fsync'ed, not yet renamed.
struct Staged {
  std::string path, tmp;
};

// Writes `content` to a temporary file beside `path`, held open and locked in `held` until the
// set's renames (an adopted file's lock is its creator's).
Staged stage(const std::string& path, const std::string& content, HeldTemporaries& held) {
  fs::path target(path);
  std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  // Same directory as the target, so rename() is atomic (never across file systems).
  std::string tmpl = temporary_template(dir, target.filename().string());
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0)
    throw std::runtime_error(path + ": cannot create a temporary file in " + dir + ": " + errno_text());
  const std::string tmp = name.data();
  held.hold(fd);
  auto fail = [&](const std::string& step) {
    std::string why = errno_text();
    unlink(tmp.c_str());  // `held` closes fd
    throw std::runtime_error(path + ": " + step + " failed: " + why);
  };
  // mkstemp creates 0600; result files are meant to be shared like any other output.
  if (fchmod(fd, 0644) != 0) fail("chmod");
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) errno = ENOSPC;  // a regular file that takes nothing has no room
    if (n <= 0) fail("write");
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  // Data on disk before the rename, or a crash could leave an empty file under the final name.
  // With the data synced, close has nothing left to report: the file stays open until its rename.
  if (fsync(fd) != 0) fail("fsync");
  return {path, tmp};
}

std::string file_names(const std::vector<std::string>& paths) {
  std::string out;
  for (const std::string& p : paths) out += (out.empty() ? "" : ", ") + fs::path(p).filename().string();
  return out;
}

}  // namespace

void FileSet::add(const std::string& path, const std::string& content) { entries_.push_back({path, content, ""}); }

void FileSet::adopt(const std::string& path, const std::string& temporary) {
  entries_.push_back({path, "", temporary});
}

void FileSet::commit() {
  HeldTemporaries held;
  std::vector<Staged> staged;
  std::vector<std::string> all;
  for (const Entry& e : entries_) all.push_back(e.path);
  auto discard = [&] {
    for (const Staged& s : staged) unlink(s.tmp.c_str());
    for (const Entry& e : entries_)
      if (!e.adopted.empty()) unlink(e.adopted.c_str());
  };
  try {
    for (const Entry& e : entries_) {
      if (e.adopted.empty()) {
        staged.push_back(stage(e.path, e.content, held));
        continue;
      }
      const int fd = open(e.adopted.c_str(), O_RDONLY);
      if (fd < 0 || fsync(fd) != 0) {
        const std::string why = errno_text();
        if (fd >= 0) close(fd);
        throw std::runtime_error(e.path + ": fsync failed: " + why);
      }
      close(fd);
      staged.push_back({e.path, e.adopted});
    }
  } catch (const std::exception& ex) {
    discard();
    entries_.clear();
    throw std::runtime_error(std::string(ex.what()) +
                             (all.size() > 1 ? "; none of " + file_names(all) + " was written" : std::string()) +
                             " (any earlier version is unchanged)");
  }
  entries_.clear();
  // Renames need no space: once every file is on disk, the set appears (nearly) at once.
  for (std::size_t i = 0; i < staged.size(); ++i) {
    if (rename(staged[i].tmp.c_str(), staged[i].path.c_str()) == 0) continue;
    const std::string why = errno_text();
    std::vector<std::string> done(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(i)),
        left(all.begin() + static_cast<std::ptrdiff_t>(i), all.end());
    for (std::size_t k = i; k < staged.size(); ++k) unlink(staged[k].tmp.c_str());
    throw std::runtime_error(staged[i].path + ": rename failed: " + why +
                             (done.empty() ? "" : "; written: " + file_names(done)) +
                             "; not written: " + file_names(left));
  }
  // Make the renames durable; some file systems refuse fsync on directories, which is fine.
  std::vector<std::string> dirs;
  for (const Staged& s : staged) {
    const fs::path parent = fs::path(s.path).parent_path();
    const std::string dir = parent.empty() ? "." : parent.string();
    if (std::find(dirs.begin(), dirs.end(), dir) != dirs.end()) continue;
    dirs.push_back(dir);
    int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      (void)fsync(dfd);
      close(dfd);
    }
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  FileSet set;
  set.add(path, content);
  set.commit();
}

std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code entry_ec;
    if (!e.is_regular_file(entry_ec)) continue;
    long pid = 0;
    const std::string name = e.path().filename().string();
    if (!our_temporary(name, &pid)) continue;
    const auto age = now - e.last_write_time(entry_ec);
    if (entry_ec) continue;
    // A writer still running, here or on another machine sharing the directory, holds the
    // file's lock. Where locks say nothing, the pid in the name is checked, and a writer on
    // another machine finishes within a minute.
    const std::optional<bool> locked = temporary_is_locked(e.path().string());
    if (locked == true) continue;
    const bool owner_gone = pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
    const bool old = age > std::chrono::minutes(owner_gone ? 1 : 60);
    const bool abandoned = owner_gone && locked == false;
    if (!abandoned && (!old || (pid > 0 && !owner_gone && age < std::chrono::hours(24)))) continue;
    if (fs::remove(e.path(), entry_ec)) removed.push_back(e.path().string());
  }
  return removed;
}

void lock_temporary(int fd) { (void)flock(fd, LOCK_EX | LOCK_NB); }

HeldTemporaries::~HeldTemporaries() {
  for (int fd : fds_) close(fd);
}

void HeldTemporaries::hold(int fd) {
  lock_temporary(fd);
  fds_.push_back(fd);
}

std::size_t temporary_name_length(std::size_t name_length) { return name_length + kTemporaryExtra; }

std::vector<std::string> prepare_output_dir(const std::string& dir, const std::string& what,
                                            std::size_t longest_name) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir))
    throw std::runtime_error(what + " " + dir + " cannot be created" +
                             (ec ? ": " + ec.message() : ": a file of that name is in the way"));
  // The longest name the run will create, temporary form included, must fit the file system.
  const std::size_t needed = std::max<std::size_t>(temporary_name_length(longest_name), 32);
  const long name_max = pathconf(dir.c_str(), _PC_NAME_MAX);
  if (name_max > 0 && needed > static_cast<std::size_t>(name_max))
    throw std::runtime_error(what + " " + dir + ": file names of this run would be " + std::to_string(needed) +
                             " characters (its temporary files' included), more than the " +
                             std::to_string(name_max) + " this file system allows; shorten --prefix");
  // A real probe: permission bits say nothing about read-only mounts, full disks or root.
  std::string base = ".inferencepower-write-test.";
  std::string tmpl = join_path(dir, base + "XXXXXX");
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) throw std::runtime_error(what + " " + dir + " is not writable: " + errno_text());
  // A block's worth, so that a file system with room for a name but not for data says so now.
  const std::string block(4096, 'x');
  bool ok = write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size()) && fsync(fd) == 0;
  std::string why = ok ? "" : errno_text();
  close(fd);
  unlink(name.data());
  if (!ok) throw std::runtime_error(what + " " + dir + " is not writable: " + why);
  // And a file of the longest name, so that a name limit below NAME_MAX (some network and FUSE
  // file systems) shows now too.
  if (needed > base.size() + 6) {
    std::string long_tmpl = join_path(dir, base + std::string(needed - base.size() - 6, 'x') + "XXXXXX");
    std::vector<char> long_name(long_tmpl.begin(), long_tmpl.end());
    long_name.push_back('\0');
    fd = mkstemp(long_name.data());
    if (fd < 0)
      throw std::runtime_error(what + " " + dir + ": cannot create a file with a name of " + std::to_string(needed) +
                               " characters: " + errno_text() + "; shorten --prefix");
    close(fd);
    unlink(long_name.data());
  }
  return remove_stale_temporaries(dir);
}

void check_writable(const std::string& dir) { prepare_output_dir(dir, "results directory", 0); }
}  // namespace ip
