#include "experiments/common/results.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <tuple>

namespace ip {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kGenerator = "inferencepower";
constexpr int kSchemaVersion = 1;
constexpr const char* kClassPrefix = "<class '";
constexpr const char* kClassSuffix = "'>";

std::string errno_text() { return std::strerror(errno); }

}  // namespace

// ---- function keys ----

std::string function_key(const FunctionInfo& f) {
  std::string key = f.torch_path;
  if (f.torch_args[0] != '\0') key += std::string("(") + f.torch_args + ")";
  return key;
}

std::string mnist_key_from_key(const std::string& key) {
  std::size_t paren = key.find('(');
  std::string path = key.substr(0, paren);
  std::string args = paren == std::string::npos ? "" : key.substr(paren);
  return kClassPrefix + path + kClassSuffix + args;
}

std::string key_from_mnist_key(const std::string& mnist_key) {
  const std::string prefix = kClassPrefix;
  if (mnist_key.compare(0, prefix.size(), prefix) != 0) return mnist_key;
  std::size_t end = mnist_key.find(kClassSuffix, prefix.size());
  if (end == std::string::npos) return mnist_key;
  return mnist_key.substr(prefix.size(), end - prefix.size()) +
         mnist_key.substr(end + std::strlen(kClassSuffix));
}

const FunctionInfo* find_function_by_key(const std::string& key) {
  for (const FunctionInfo& f : kFunctionInfo)
    if (function_key(f) == key) return &f;
  return nullptr;
}

std::string group_name_of_key(const std::string& key) {
  const FunctionInfo* f = find_function_by_key(key);
  if (!f) return "unknown";
  switch (f->group) {
    case FunctionGroup::Activation: return "activation";
    case FunctionGroup::Dropout: return "dropout";
    case FunctionGroup::IdentityGroup: return "identity";
  }
  return "unknown";
}

// ---- small formatting helpers ----

double unix_time_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string local_time_string(double unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y %Z", &tm);
  return buf;
}

std::string format_number(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

namespace {

// Python's repr of time.time() names the paper's files: fixed notation, shortest digits.
std::string format_unix_time(double t) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, t, std::chars_format::fixed);
  std::string s(buf, res.ptr);
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_number(double v) { return std::isfinite(v) ? format_number(v) : ""; }

std::string cli_name_of_key(const std::string& key) {
  const FunctionInfo* f = find_function_by_key(key);
  return f ? f->cli_name : "";
}

json energy_to_json(const Energy& e) {
  json j;
  j["joules"] = std::isfinite(e.joules) ? json(e.joules) : json(nullptr);
  j["quality"] = e.quality;
  j["source"] = e.source;
  return j;
}

void require_finite(double v, const std::string& what) {
  if (!std::isfinite(v)) throw std::invalid_argument(what + " is not a finite number of seconds");
}

void check_outprefix(const std::string& prefix) {
  if (prefix.empty() || prefix.find('/') != std::string::npos)
    throw std::invalid_argument("output prefix '" + prefix + "' must be non-empty and without '/'");
}

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

// How long a temporary file's name is beyond its target's: "." + ".tmp." + pid + "." + XXXXXX.
constexpr std::size_t kTemporaryExtra = 1 + 5 + 10 + 1 + 6;

std::string temporary_template(const std::string& dir, const std::string& filename) {
  return dir + "/." + filename + ".tmp." + std::to_string(getpid()) + ".XXXXXX";
}

// One file of a set: written to its temporary name and fsync'ed, not yet renamed.
struct Staged {
  std::string path, tmp;
};

Staged stage(const std::string& path, const std::string& content) {
  fs::path target(path);
  std::string dir = target.parent_path().empty() ? "." : target.parent_path().string();
  // Same directory as the target, so rename() is atomic (never across file systems).
  std::string tmpl = temporary_template(dir, target.filename().string());
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0)
    throw std::runtime_error(path + ": cannot create a temporary file in " + dir + ": " + errno_text());
  const std::string tmp = name.data();
  auto fail = [&](const std::string& step) {
    std::string why = errno_text();
    if (fd >= 0) close(fd);
    unlink(tmp.c_str());
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
  if (fsync(fd) != 0) fail("fsync");
  int closing = fd;
  fd = -1;
  if (close(closing) != 0) fail("close");
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
        staged.push_back(stage(e.path, e.content));
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
    // A writer that is still running (here, or on another machine sharing the directory)
    // finishes its file within seconds; its owner's pid is checked where the name holds one.
    const bool owner_gone = pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
    const bool old = age > std::chrono::minutes(owner_gone ? 1 : 60);
    if (!old || (pid > 0 && !owner_gone && age < std::chrono::hours(24))) continue;
    if (fs::remove(e.path(), entry_ec)) removed.push_back(e.path().string());
  }
  return removed;
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

// ---- rand results ----

double RunSpread::max_over_min() const {
  return min_seconds > 0 ? max_seconds / min_seconds : std::numeric_limits<double>::quiet_NaN();
}

std::map<std::string, RunSpread> run_spreads(const ScaleResult& s) {
  std::map<std::string, RunSpread> out;
  for (const RunTimes& run : s.pred_times)
    for (const auto& [key, sec] : run) {
      RunSpread& sp = out[key];
      sp.min_seconds = sp.runs ? std::min(sp.min_seconds, sec) : sec;
      sp.max_seconds = sp.runs ? std::max(sp.max_seconds, sec) : sec;
      ++sp.runs;
    }
  return out;
}

// status is "ok" on measured rows; a function listed in `failed` has one row of its own with
// status "failed", the reason, and the measurement columns empty, so a filter on status keeps
// only measurements and a missing function is never silent.
const char* const kRandCsvHeader =
    "function,torch_key,group,scale,instances,run,seconds,seconds_per_instance,energy_joules,"
    "energy_quality,energy_source,runs,run_spread,status,reason";

json scale_to_json(const RandResults& r, const ScaleResult& s) {
  if (!s.pred_energy.empty() && s.pred_energy.size() != s.pred_times.size())
    throw std::invalid_argument("pred_energy must be empty or have one entry per run");
  json j;
  // The paper's fields.
  j["train_epochs"] = r.train_epochs;
  j["pred_items"] = s.pred_items;
  j["test_chunk_size"] = s.test_chunk_size;
  j["train_times"] = json::object();
  for (const auto& [key, sec] : s.train_times) {
    require_finite(sec, "train_times[" + key + "]");
    j["train_times"][key] = sec;
  }
  j["pred_times"] = json::array();
  for (std::size_t run = 0; run < s.pred_times.size(); ++run) {
    json times = json::object();
    for (const auto& [key, sec] : s.pred_times[run]) {
      require_finite(sec, "pred_times[" + std::to_string(run) + "][" + key + "]");
      times[key] = sec;
    }
    j["pred_times"].push_back(std::move(times));
  }
  j["device"] = r.device;
  j["hardware_name"] = r.hardware_name;
  // Tools index pred_times by range(runs): "runs" counts the runs present, the plan is separate.
  j["runs"] = s.pred_times.size();
  j["outprefix"] = r.outprefix;
  j["started_at"] = s.started_at;
  json params = r.parameters.is_object() ? r.parameters : json::object();
  params["test_size_cap"] = r.test_size_cap;
  // The paper's option to run experiment-impact-tracker; we never do (our meters are separate).
  if (!params.contains("track_impact")) params["track_impact"] = false;
  params["train_epochs"] = r.train_epochs;
  params["runs"] = r.runs;
  params["device"] = r.device;
  params["outprefix"] = r.outprefix;
  params["scale"] = s.scale;
  j["parameters"] = std::move(params);
  // Ours.
  j["scale"] = s.scale;
  j["runs_planned"] = r.runs;
  j["partial"] = s.partial;
  if (!r.failed.empty()) j["failed"] = r.failed;
  if (!s.pred_energy.empty()) {
    j["pred_energy"] = json::array();
    for (const RunEnergy& run : s.pred_energy) {
      json e = json::object();
      for (const auto& [key, energy] : run) e[key] = energy_to_json(energy);
      j["pred_energy"].push_back(std::move(e));
    }
  }
  j["generator"] = kGenerator;
  j["schema_version"] = kSchemaVersion;
  return j;
}

namespace {

json sample_to_json(const Sample& m) {
  json j = {{"function", cli_name_of_key(m.key)}, {"key", m.key},      {"round", m.round},
            {"position", m.position},             {"reps", m.reps},    {"seconds", m.seconds},
            {"page_faults", m.page_faults},       {"preemptions", m.preemptions}};
  require_finite(m.seconds, "sample of " + m.key);
  if (std::isfinite(m.linear_seconds)) j["linear_seconds"] = m.linear_seconds;
  if (std::isfinite(m.function_seconds)) j["function_seconds"] = m.function_seconds;
  if (m.steal_seconds >= 0) j["steal_seconds"] = m.steal_seconds;
  if (m.other_cpu_seconds >= 0) j["other_cpu_seconds"] = m.other_cpu_seconds;
  if (m.energy.quality != "unavailable") j["energy"] = energy_to_json(m.energy);
  if (m.disturbed) j["disturbed"] = true;
  return j;
}

json design_to_json(const RoundsDesign& d) {
  return {{"name", "rounds"},
          {"reference", d.reference},
          {"pairing", d.pairing},
          {"reps", d.reps},
          {"min_sample_seconds", d.min_sample_seconds},
          {"function_elements_per_instance", d.function_elements_per_instance},
          {"controls", d.controls},
          {"precision", d.precision},
          {"budget_seconds", d.budget_seconds},
          {"measuring_seconds", d.measuring_seconds},
          {"stop", d.stop},
          {"disturbance_limit", d.disturbance_limit}};
}

}  // namespace

json rand_to_json(const RandResults& r) {
  json j;
  j["generator"] = kGenerator;
  j["schema_version"] = kSchemaVersion;
  j["device"] = r.device;
  j["hardware_name"] = r.hardware_name;
  j["outprefix"] = r.outprefix;
  j["runs"] = r.runs;
  j["train_epochs"] = r.train_epochs;
  j["parameters"] = r.parameters.is_object() ? r.parameters : json::object();
  j["parameters"]["test_size_cap"] = r.test_size_cap;
  bool partial = false;
  j["scales"] = json::array();
  for (const ScaleResult& s : r.scales) {
    partial = partial || s.partial;
    json scale = scale_to_json(r, s);
    if (s.has_rounds) {
      scale["design"] = design_to_json(s.rounds);
      scale["samples"] = json::array();
      for (const Sample& m : s.samples) scale["samples"].push_back(sample_to_json(m));
    }
    scale["run_spread"] = json::object();
    for (const auto& [key, sp] : run_spreads(s)) {
      const double ratio = sp.max_over_min();
      scale["run_spread"][key] = {{"runs", sp.runs},
                                  {"min_seconds", sp.min_seconds},
                                  {"max_seconds", sp.max_seconds},
                                  {"max_over_min", std::isfinite(ratio) ? json(ratio) : json(nullptr)}};
    }
    j["scales"].push_back(std::move(scale));
  }
  j["partial"] = partial;
  if (!r.failed.empty()) j["failed"] = r.failed;
  return j;
}

std::string rand_to_csv(const RandResults& r) {
  std::string out = std::string(kRandCsvHeader) + "\n";
  for (const ScaleResult& s : r.scales) {
    const std::map<std::string, RunSpread> spreads = run_spreads(s);
    for (std::size_t run = 0; run < s.pred_times.size(); ++run) {
      for (const auto& [key, sec] : s.pred_times[run]) {
        Energy energy;
        if (run < s.pred_energy.size()) {
          auto it = s.pred_energy[run].find(key);
          if (it != s.pred_energy[run].end()) energy = it->second;
        }
        double per_instance = s.pred_items ? sec / static_cast<double>(s.pred_items) : NAN;
        out += csv_field(cli_name_of_key(key)) + "," + csv_field(key) + "," +
               group_name_of_key(key) + "," + std::to_string(s.scale) + "," +
               std::to_string(s.pred_items) + "," + std::to_string(run) + "," + csv_number(sec) +
               "," + csv_number(per_instance) + "," + csv_number(energy.joules) + "," +
               csv_field(energy.quality) + "," + csv_field(energy.source) + "," +
               std::to_string(spreads.at(key).runs) + "," +
               csv_number(spreads.at(key).max_over_min()) + ",ok,\n";
      }
    }
  }
  for (const auto& [key, reason] : r.failed)
    out += csv_field(cli_name_of_key(key)) + "," + csv_field(key) + "," + group_name_of_key(key) +
           ",,,,,,,,,,,failed," + csv_field(reason) + "\n";
  return out;
}

std::string scale_file_path(const std::string& dir, const RandResults& r, std::size_t index) {
  check_outprefix(r.outprefix);
  const ScaleResult& s = r.scales.at(index);
  const double t = s.unix_time > 0 ? s.unix_time : unix_time_now();
  return join_path(dir, r.outprefix + "_" + format_unix_time(t) + ".json");
}

std::string write_scale_file(const std::string& dir, const RandResults& r, std::size_t index) {
  const std::string path = scale_file_path(dir, r, index);
  write_file_atomic(path, scale_to_json(r, r.scales.at(index)).dump() + "\n");
  return path;
}

std::string consolidated_stem(const std::string& outprefix, double unix_time) {
  check_outprefix(outprefix);
  return outprefix + ".all." + format_unix_time(unix_time);
}

std::string write_rand_consolidated(const std::string& dir, const std::string& stem,
                                    const RandResults& r) {
  std::string json_path = join_path(dir, stem + ".json");
  // One set; the JSON is the record of the run, so it is the last to change.
  FileSet set;
  set.add(join_path(dir, stem + ".csv"), rand_to_csv(r));
  set.add(json_path, rand_to_json(r).dump(1) + "\n");
  set.commit();
  return json_path;
}

// ---- MNIST results ----

// status as in the rand CSV: "ok", or "failed" with the reason and the other columns empty.
const char* const kMnistCsvHeader =
    "function,torch_key,group,dataset,seconds,accuracy,epochs,reached_target,energy_joules,"
    "energy_quality,energy_source,status,reason";

json mnist_to_json(const MnistResults& r) {
  json j;
  for (const char* field : {"times", "accuracies", "epochs", "reached_target", "accuracy_curves",
                            "epoch_seconds", "energy"})
    j[field] = json::object();
  for (const MnistFunctionResult& f : r.functions) {
    const std::string k = mnist_key_from_key(f.key);
    if (j["times"].contains(k)) throw std::invalid_argument("MNIST result for " + f.key + " twice");
    require_finite(f.train_seconds, "times[" + f.key + "]");
    j["times"][k] = f.train_seconds;
    j["accuracies"][k] = f.accuracy;
    j["epochs"][k] = f.epochs;
    j["reached_target"][k] = f.reached_target;
    j["accuracy_curves"][k] = f.accuracy_curve;
    j["epoch_seconds"][k] = f.epoch_seconds;
    j["energy"][k] = energy_to_json(f.energy);
  }
  j["dataset"] = r.dataset;
  j["device"] = r.device;
  j["hardware_name"] = r.hardware_name;
  j["started_at"] = r.started_at;
  j["outprefix"] = r.outprefix;
  j["target_accuracy"] = r.target_accuracy;
  j["max_epochs"] = r.max_epochs;
  j["parameters"] = r.parameters.is_object() ? r.parameters : json::object();
  j["partial"] = r.partial;
  if (!r.failed.empty()) j["failed"] = r.failed;
  j["generator"] = kGenerator;
  j["schema_version"] = kSchemaVersion;
  return j;
}

std::string mnist_to_csv(const MnistResults& r) {
  std::string out = std::string(kMnistCsvHeader) + "\n";
  for (const MnistFunctionResult& f : r.functions) {
    out += csv_field(cli_name_of_key(f.key)) + "," + csv_field(f.key) + "," +
           group_name_of_key(f.key) + "," + csv_field(r.dataset) + "," +
           csv_number(f.train_seconds) + "," + csv_number(f.accuracy) + "," +
           std::to_string(f.epochs) + "," + (f.reached_target ? "true" : "false") + "," +
           csv_number(f.energy.joules) + "," + csv_field(f.energy.quality) + "," +
           csv_field(f.energy.source) + ",ok,\n";
  }
  for (const auto& [key, reason] : r.failed)
    out += csv_field(cli_name_of_key(key)) + "," + csv_field(key) + "," + group_name_of_key(key) +
           "," + csv_field(r.dataset) + ",,,,,,,,failed," + csv_field(reason) + "\n";
  return out;
}

std::string mnist_result_path(const std::string& dir, const std::string& outprefix, double unix_time) {
  check_outprefix(outprefix);
  return join_path(dir, outprefix + "_" + format_unix_time(unix_time) + ".json");
}

std::string write_mnist_results(const std::string& dir, const MnistResults& r, double unix_time) {
  const std::string json_path =
      mnist_result_path(dir, r.outprefix, unix_time > 0 ? unix_time : unix_time_now());
  FileSet set;
  set.add(json_path.substr(0, json_path.size() - 5) + ".csv", mnist_to_csv(r));
  set.add(json_path, mnist_to_json(r).dump(1) + "\n");
  set.commit();
  return json_path;
}

// ---- reading ----

double unix_time_from_name(const std::string& path) {
  std::string stem = fs::path(path).stem().string();
  std::size_t us = stem.rfind('_');
  if (us == std::string::npos) return 0;
  const char* first = stem.data() + us + 1;
  const char* last = stem.data() + stem.size();
  double t = 0;
  auto res = std::from_chars(first, last, t);
  return res.ec == std::errc() && res.ptr == last ? t : 0;
}

namespace {

// Validates fields of one file; every error names the file and the field.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& problem) const {
    throw std::runtime_error(path_ + ": " + (where.empty() ? "" : where + ": ") + problem);
  }

  json parse() const {
    std::ifstream in(path_, std::ios::binary);
    if (!in) fail("", "cannot open: " + errno_text());
    // nlohmann's parser is iterative, but copying a value (the verbatim "parameters") recurses
    // once per level: a 2 MB file of nested brackets overflowed the stack of power_table. Our
    // files nest 5 levels deep; refuse absurd depths while parsing, before anything is copied.
    constexpr int kMaxDepth = 256;
    struct TooDeep {};
    auto limit_depth = [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxDepth) throw TooDeep{};
      return true;
    };
    try {
      return json::parse(in, limit_depth);
    } catch (const TooDeep&) {
      fail("", "JSON nested more than " + std::to_string(kMaxDepth) + " levels deep");
    } catch (const json::exception& e) {
      fail("", std::string("not valid JSON: ") + e.what());
    }
  }

  double number(const json& v, const std::string& where) const {
    if (!v.is_number()) fail(where, "expected a number, found " + std::string(v.type_name()));
    return v.get<double>();
  }
  double seconds(const json& v, const std::string& where) const {
    double s = number(v, where);
    if (!std::isfinite(s) || s < 0) fail(where, "expected a non-negative number of seconds");
    return s;
  }
  uint64_t count(const json& v, const std::string& where) const {
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    // Python writes whole floats as 100000.0 in some hands; accept them when exact.
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (d >= 0 && d <= 1e18 && d == std::floor(d)) return static_cast<uint64_t>(d);
    }
    fail(where, "expected a non-negative integer");
  }
  std::string string(const json& obj, const char* field, const std::string& fallback = "") const {
    auto it = obj.find(field);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_string()) fail(field, "expected a string");
    return it->get<std::string>();
  }
  const json* object_field(const json& obj, const std::string& field, bool required) const {
    auto it = obj.find(field);
    if (it == obj.end()) {
      if (required) fail("", "missing field '" + field + "'");
      return nullptr;
    }
    if (!it->is_object()) fail(field, "expected an object");
    return &*it;
  }
  RunTimes times(const json& obj, const std::string& where) const {
    RunTimes out;
    for (const auto& [key, v] : obj.items()) out[key] = seconds(v, where + "[\"" + key + "\"]");
    return out;
  }
  Energy energy(const json& v, const std::string& where) const {
    if (!v.is_object()) fail(where, "expected an object {joules, quality, source}");
    Energy e;
    auto j = v.find("joules");
    if (j != v.end() && !j->is_null()) e.joules = number(*j, where + ".joules");
    auto q = v.find("quality");
    if (q != v.end()) {
      if (!q->is_string()) fail(where + ".quality", "expected a string");
      e.quality = q->get<std::string>();
    }
    auto s = v.find("source");
    if (s != v.end()) {
      if (!s->is_string()) fail(where + ".source", "expected a string");
      e.source = s->get<std::string>();
    }
    return e;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};


int scale_of_items(uint64_t items) {
  int n = 0;
  for (; items >= 10 && items % 10 == 0; items /= 10) ++n;
  return items == 1 ? n : -1;
}

// "failed": {function key: reason} (ours; absent when nothing failed).
std::map<std::string, std::string> read_failed(const Reader& rd, const json& j) {
  std::map<std::string, std::string> out;
  if (const json* f = rd.object_field(j, "failed", false))
    for (const auto& [key, reason] : f->items()) {
      if (!reason.is_string()) rd.fail("failed[\"" + key + "\"]", "expected a reason (text)");
      out[key] = reason.get<std::string>();
    }
  return out;
}

// The header fields shared by every scale (the top of a per-scale or consolidated file).
void read_header(const Reader& rd, const json& j, RandResults& r) {
  r.failed = read_failed(rd, j);
  r.device = rd.string(j, "device");
  r.hardware_name = rd.string(j, "hardware_name");
  r.outprefix = rd.string(j, "outprefix");
  if (j.contains("train_epochs"))
    r.train_epochs = static_cast<int>(rd.count(j["train_epochs"], "train_epochs"));
  if (const json* params = rd.object_field(j, "parameters", false)) {
    r.parameters = *params;
    if (params->contains("test_size_cap"))
      r.test_size_cap = rd.count((*params)["test_size_cap"], "parameters.test_size_cap");
  }
  // runs_planned is ours; the paper's files only say how many runs they hold.
  if (j.contains("runs_planned"))
    r.runs = static_cast<int>(rd.count(j["runs_planned"], "runs_planned"));
  else if (j.contains("runs"))
    r.runs = static_cast<int>(rd.count(j["runs"], "runs"));
}

// The rounds design of a scale and its samples (consolidated files only).
void read_design(const Reader& rd, const json& d, const std::string& where, ScaleResult& s) {
  auto text = [&](const char* f) { return rd.string(d, f); };
  auto number = [&](const char* f) {
    if (!d.contains(f)) rd.fail(where, std::string("missing field '") + f + "'");
    return rd.number(d[f], where + "." + f);
  };
  if (text("name") != "rounds") rd.fail(where + ".name", "unknown design '" + text("name") + "'");
  s.has_rounds = true;
  RoundsDesign& r = s.rounds;
  r.reference = text("reference");
  r.pairing = text("pairing");
  if (r.pairing != "neighbours") rd.fail(where + ".pairing", "expected neighbours");
  r.reps = d.contains("reps") ? rd.count(d["reps"], where + ".reps") : 1;
  r.min_sample_seconds = number("min_sample_seconds");
  r.function_elements_per_instance = number("function_elements_per_instance");
  r.precision = number("precision");
  r.budget_seconds = number("budget_seconds");
  r.measuring_seconds = number("measuring_seconds");
  r.stop = text("stop");
  if (d.contains("disturbance_limit")) r.disturbance_limit = number("disturbance_limit");
  if (d.contains("controls")) {
    if (!d["controls"].is_array()) rd.fail(where + ".controls", "expected a list of function keys");
    for (const json& c : d["controls"]) {
      if (!c.is_string()) rd.fail(where + ".controls", "expected a list of function keys");
      r.controls.push_back(c.get<std::string>());
    }
  }
}

void read_samples(const Reader& rd, const json& list, const std::string& where, ScaleResult& s) {
  if (!list.is_array()) rd.fail(where, "expected a list of samples");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string w = where + "[" + std::to_string(i) + "]";
    const json& j = list[i];
    if (!j.is_object()) rd.fail(w, "expected an object");
    Sample m;
    m.key = rd.string(j, "key");
    if (m.key.empty()) rd.fail(w + ".key", "missing function key");
    for (const char* f : {"round", "position", "seconds"})
      if (!j.contains(f)) rd.fail(w, std::string("missing field '") + f + "'");
    m.round = static_cast<int>(rd.count(j["round"], w + ".round"));
    m.position = static_cast<int>(rd.count(j["position"], w + ".position"));
    m.reps = j.contains("reps") ? rd.count(j["reps"], w + ".reps") : 1;
    m.seconds = rd.seconds(j["seconds"], w + ".seconds");
    if (j.contains("linear_seconds")) m.linear_seconds = rd.seconds(j["linear_seconds"], w + ".linear_seconds");
    if (j.contains("function_seconds"))
      m.function_seconds = rd.seconds(j["function_seconds"], w + ".function_seconds");
    if (j.contains("page_faults")) m.page_faults = static_cast<long>(rd.count(j["page_faults"], w + ".page_faults"));
    if (j.contains("preemptions")) m.preemptions = static_cast<long>(rd.count(j["preemptions"], w + ".preemptions"));
    if (j.contains("steal_seconds")) m.steal_seconds = rd.seconds(j["steal_seconds"], w + ".steal_seconds");
    if (j.contains("other_cpu_seconds"))
      m.other_cpu_seconds = rd.seconds(j["other_cpu_seconds"], w + ".other_cpu_seconds");
    if (j.contains("energy")) m.energy = rd.energy(j["energy"], w + ".energy");
    if (j.contains("disturbed")) {
      if (!j["disturbed"].is_boolean()) rd.fail(w + ".disturbed", "expected true or false");
      m.disturbed = j["disturbed"].get<bool>();
    }
    s.samples.push_back(std::move(m));
  }
}

ScaleResult read_scale(const Reader& rd, const json& j, const std::string& where,
                       uint64_t test_size_cap) {
  if (!j.is_object()) rd.fail(where, "expected an object");
  auto field = [&](const char* name) { return where.empty() ? std::string(name) : where + "." + name; };
  ScaleResult s;
  if (!j.contains("pred_items")) rd.fail(where, "missing field 'pred_items'");
  s.pred_items = rd.count(j["pred_items"], field("pred_items"));
  if (s.pred_items == 0) rd.fail(field("pred_items"), "must be at least 1");
  s.test_chunk_size = j.contains("test_chunk_size")
                          ? rd.count(j["test_chunk_size"], field("test_chunk_size"))
                          : std::min(s.pred_items, test_size_cap);

  auto pt = j.find("pred_times");
  if (pt == j.end()) rd.fail(where, "missing field 'pred_times'");
  if (!pt->is_array()) rd.fail(field("pred_times"), "expected a list of runs");
  for (std::size_t run = 0; run < pt->size(); ++run) {
    std::string w = field("pred_times") + "[" + std::to_string(run) + "]";
    if (!(*pt)[run].is_object()) rd.fail(w, "expected an object {function: seconds}");
    s.pred_times.push_back(rd.times((*pt)[run], w));
  }
  auto tt = j.find("train_times");
  if (tt != j.end()) {
    if (!tt->is_object()) rd.fail(field("train_times"), "expected an object {function: seconds}");
    s.train_times = rd.times(*tt, field("train_times"));
  }
  auto pe = j.find("pred_energy");
  if (pe != j.end()) {
    if (!pe->is_array() || pe->size() != s.pred_times.size())
      rd.fail(field("pred_energy"), "expected a list with one entry per run of pred_times");
    for (std::size_t run = 0; run < pe->size(); ++run) {
      std::string w = field("pred_energy") + "[" + std::to_string(run) + "]";
      if (!(*pe)[run].is_object()) rd.fail(w, "expected an object {function: energy}");
      RunEnergy e;
      for (const auto& [key, v] : (*pe)[run].items()) e[key] = rd.energy(v, w + "[\"" + key + "\"]");
      s.pred_energy.push_back(std::move(e));
    }
  }
  if (j.contains("design")) {
    if (!j["design"].is_object()) rd.fail(field("design"), "expected an object");
    read_design(rd, j["design"], field("design"), s);
    if (!j.contains("samples")) rd.fail(where, "missing field 'samples' (the rounds design's samples)");
    read_samples(rd, j["samples"], field("samples"), s);
  }
  s.started_at = rd.string(j, "started_at");
  if (j.contains("partial")) {
    if (!j["partial"].is_boolean()) rd.fail(field("partial"), "expected true or false");
    s.partial = j["partial"].get<bool>();
  }
  // The scale: ours says it, the paper's files keep it under parameters.
  const json* scale = nullptr;
  if (j.contains("scale")) scale = &j["scale"];
  else if (j.contains("parameters") && j["parameters"].is_object() && j["parameters"].contains("scale"))
    scale = &j["parameters"]["scale"];
  if (scale) {
    if (!scale->is_number_integer()) rd.fail(field("scale"), "expected an integer");
    s.scale = scale->get<int>();
  } else {
    s.scale = scale_of_items(s.pred_items);
  }
  return s;
}

RandResults rand_from_json(const Reader& rd, const json& j) {
  RandResults r;
  read_header(rd, j, r);
  r.source_paths.push_back(rd.path());
  if (j.contains("scales")) {
    if (!j["scales"].is_array()) rd.fail("scales", "expected a list of per-scale objects");
    for (std::size_t i = 0; i < j["scales"].size(); ++i)
      r.scales.push_back(read_scale(rd, j["scales"][i], "scales[" + std::to_string(i) + "]",
                                    r.test_size_cap));
  } else {
    r.scales.push_back(read_scale(rd, j, "", r.test_size_cap));
    r.scales.back().unix_time = unix_time_from_name(rd.path());
  }
  // Our files record when their invocation started (per-scale and consolidated alike); the
  // paper's files do not, and each of them is the only record of its runs.
  const auto started = r.parameters.find("started_unix");
  const std::string invocation = started != r.parameters.end() && started->is_number()
                                     ? "started " + format_number(started->get<double>())
                                     : rd.path();
  for (ScaleResult& s : r.scales)
    for (std::size_t run = 0; run < s.pred_times.size(); ++run)
      s.run_ids.push_back(invocation + "#" + std::to_string(run));
  return r;
}

MnistResults mnist_from_json(const Reader& rd, const json& j) {
  MnistResults r;
  const json& times = *rd.object_field(j, "times", true);
  const json& accuracies = *rd.object_field(j, "accuracies", true);
  const json* epochs = rd.object_field(j, "epochs", false);
  const json* reached = rd.object_field(j, "reached_target", false);
  const json* curves = rd.object_field(j, "accuracy_curves", false);
  const json* epoch_seconds = rd.object_field(j, "epoch_seconds", false);
  const json* energy = rd.object_field(j, "energy", false);

  r.dataset = rd.string(j, "dataset", r.dataset);
  r.device = rd.string(j, "device");
  r.hardware_name = rd.string(j, "hardware_name");
  r.started_at = rd.string(j, "started_at");
  r.outprefix = rd.string(j, "outprefix", r.outprefix);
  if (j.contains("target_accuracy")) r.target_accuracy = rd.number(j["target_accuracy"], "target_accuracy");
  if (j.contains("max_epochs")) r.max_epochs = static_cast<int>(rd.count(j["max_epochs"], "max_epochs"));
  if (const json* params = rd.object_field(j, "parameters", false)) r.parameters = *params;
  r.failed = read_failed(rd, j);
  if (j.contains("partial")) {
    if (!j["partial"].is_boolean()) rd.fail("partial", "expected true or false");
    r.partial = j["partial"].get<bool>();
  }

  for (const auto& [k, v] : accuracies.items())
    if (!times.contains(k)) rd.fail("accuracies[\"" + k + "\"]", "has no entry in times");
  for (const auto& [k, v] : times.items()) {
    const std::string at = "[\"" + k + "\"]";
    MnistFunctionResult f;
    f.key = key_from_mnist_key(k);
    f.train_seconds = rd.seconds(v, "times" + at);
    if (!accuracies.contains(k)) rd.fail("times" + at, "has no entry in accuracies");
    f.accuracy = rd.number(accuracies[k], "accuracies" + at);
    if (epochs && epochs->contains(k)) f.epochs = static_cast<int>(rd.count((*epochs)[k], "epochs" + at));
    // The paper's files do not say; its figure greys the bars below the target accuracy.
    f.reached_target = f.accuracy >= r.target_accuracy;
    if (reached && reached->contains(k)) {
      if (!(*reached)[k].is_boolean()) rd.fail("reached_target" + at, "expected true or false");
      f.reached_target = (*reached)[k].get<bool>();
    }
    if (curves && curves->contains(k)) {
      const json& c = (*curves)[k];
      if (!c.is_array()) rd.fail("accuracy_curves" + at, "expected a list of accuracies");
      for (std::size_t e = 0; e < c.size(); ++e)
        f.accuracy_curve.push_back(rd.number(c[e], "accuracy_curves" + at + "[" + std::to_string(e) + "]"));
    }
    if (epoch_seconds && epoch_seconds->contains(k)) {
      const json& c = (*epoch_seconds)[k];
      if (!c.is_array()) rd.fail("epoch_seconds" + at, "expected a list of seconds");
      for (std::size_t e = 0; e < c.size(); ++e)
        f.epoch_seconds.push_back(rd.seconds(c[e], "epoch_seconds" + at + "[" + std::to_string(e) + "]"));
    }
    if (energy && energy->contains(k)) f.energy = rd.energy((*energy)[k], "energy" + at);
    r.functions.push_back(std::move(f));
  }
  return r;
}

bool is_rand_json(const json& j) {
  return j.is_object() && (j.contains("pred_times") || j.contains("scales"));
}

}  // namespace

RandResults read_rand_file(const std::string& path) {
  Reader rd(path);
  json j = rd.parse();
  if (!is_rand_json(j)) rd.fail("", "not a rand result file (no 'pred_times' or 'scales')");
  return rand_from_json(rd, j);
}

std::vector<RandResults> read_rand_files(const std::vector<std::string>& paths) {
  std::vector<RandResults> groups;
  for (const std::string& path : paths) {
    RandResults r = read_rand_file(path);
    auto same = [&](const RandResults& g) {
      return std::tie(g.outprefix, g.device, g.hardware_name) ==
             std::tie(r.outprefix, r.device, r.hardware_name);
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end()) {
      groups.push_back(std::move(r));
      continue;
    }
    it->runs = std::max(it->runs, r.runs);
    it->source_paths.push_back(path);
    for (ScaleResult& s : r.scales) it->scales.push_back(std::move(s));
  }
  for (RandResults& g : groups)
    std::stable_sort(g.scales.begin(), g.scales.end(),
                     [](const ScaleResult& a, const ScaleResult& b) { return a.pred_items < b.pred_items; });
  return groups;
}

MnistResults read_mnist_file(const std::string& path) {
  Reader rd(path);
  json j = rd.parse();
  if (!j.is_object()) rd.fail("", "not an MNIST result file (expected an object)");
  return mnist_from_json(rd, j);
}

ResultFile read_result_file(const std::string& path) {
  Reader rd(path);
  json j = rd.parse();
  ResultFile out;
  if (j.is_array()) {
    out.kind = ResultFileKind::FunctionList;
    for (std::size_t i = 0; i < j.size(); ++i) {
      if (!j[i].is_string()) rd.fail("[" + std::to_string(i) + "]", "expected a function key");
      out.functions.push_back(j[i].get<std::string>());
    }
  } else if (is_rand_json(j)) {
    out.kind = ResultFileKind::Rand;
    out.rand = rand_from_json(rd, j);
  } else if (j.is_object() && j.contains("times") && j.contains("accuracies")) {
    out.kind = ResultFileKind::Mnist;
    out.mnist = mnist_from_json(rd, j);
  } else {
    rd.fail("", "not a result file (no 'pred_times', 'scales', or 'times' and 'accuracies')");
  }
  return out;
}

}  // namespace ip
