// perf's power PMU: the same RAPL counters as powercap, through perf_event_open, with the event
// codes and joules-per-count scale published under /sys/bus/event_source/devices/power. Used when
// powercap is missing (some kernels and containers) but perf is allowed.
#include <dirent.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "measure/energy.h"
#include "measure/energy_detail.h"

namespace ip {

using energy_detail::read_text;
using energy_detail::read_u64;
using energy_detail::trim;

namespace {

constexpr double kPerfMinWindow = 10e-3;  // RAPL underneath: ~1 ms updates, ten of them

// "0", "0,28", "0-3,8": the PMU's cpumask (one CPU per package).
bool parse_cpu_list(const std::string& text, std::vector<int>* cpus) {
  std::string t = trim(text);
  if (t.empty()) return false;
  size_t pos = 0;
  while (pos <= t.size()) {
    size_t comma = t.find(',', pos);
    std::string part = t.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t dash = part.find('-');
    uint64_t first = 0, last = 0;
    if (!energy_detail::parse_u64(part.substr(0, dash), &first)) return false;
    last = first;
    if (dash != std::string::npos && !energy_detail::parse_u64(part.substr(dash + 1), &last))
      return false;
    if (last < first || last > 1u << 20) return false;
    for (uint64_t c = first; c <= last; ++c) cpus->push_back(static_cast<int>(c));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return true;
}

// "event=0x05" -> 5. Other format terms (umask, ...) are not used by the power PMU: refuse them
// rather than open the wrong counter.
bool parse_event_config(const std::string& text, uint64_t* config) {
  std::string t = trim(text);
  const std::string key = "event=";
  if (t.compare(0, key.size(), key) != 0 || t.find(',') != std::string::npos) return false;
  std::string value = t.substr(key.size());
  if (value.empty()) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(value.c_str(), &end, 0);
  if (errno || !end || *end != '\0') return false;
  *config = v;
  return true;
}

std::string event_scope(const std::string& name) {
  if (name == "energy-pkg") return "CPU package";
  if (name == "energy-ram") return "DRAM";
  if (name == "energy-psys") return "platform (psys: SoC and what the firmware adds)";
  return name;
}

}  // namespace

PerfPowerPmu discover_perf_power(const std::string& root) {
  PerfPowerPmu pmu;
  uint64_t type = 0;
  std::string error;
  if (!read_u64(root + "/type", &type, &error)) {
    pmu.error = error.find("No such file") != std::string::npos
                    ? root + " does not exist: the kernel has no perf power PMU (virtual machine?)"
                    : error;
    return pmu;
  }
  pmu.type = static_cast<uint32_t>(type);
  std::string mask;
  if (!read_text(root + "/cpumask", &mask, &error) || !parse_cpu_list(mask, &pmu.cpus)) {
    // Without a cpumask the PMU counts on CPU 0 for the whole (single) package.
    pmu.cpus = {0};
  }

  std::string events_dir = root + "/events";
  DIR* d = ::opendir(events_dir.c_str());
  if (!d) {
    pmu.error = events_dir + ": " + std::strerror(errno);
    return pmu;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, 7, "energy-") == 0 && name.find('.') == std::string::npos)
      names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());

  for (const std::string& name : names) {
    std::string base = events_dir + "/" + name;
    PerfPowerEvent event;
    event.name = name;
    std::string text;
    if (!read_text(base, &text, &error) || !parse_event_config(text, &event.config)) {
      pmu.skipped.push_back(name + ": unreadable or unsupported event code '" + trim(text) + "'");
      continue;
    }
    std::string scale_text;
    if (!read_text(base + ".scale", &scale_text, &error)) {
      pmu.skipped.push_back(name + ": no scale (" + error + ")");
      continue;
    }
    std::string s = trim(scale_text);
    char* end = nullptr;
    event.scale = std::strtod(s.c_str(), &end);
    if (s.empty() || !end || *end != '\0' || !(event.scale > 0.0)) {
      pmu.skipped.push_back(name + ": scale is not a positive number ('" + s + "')");
      continue;
    }
    std::string unit;
    if (read_text(base + ".unit", &unit, &error)) event.unit = trim(unit);
    if (event.unit != "Joules") {
      pmu.skipped.push_back(name + ": unit is '" + event.unit + "', not Joules");
      continue;
    }
    pmu.events.push_back(event);
  }
  pmu.found = !pmu.events.empty();
  if (!pmu.found) {
    pmu.error = root + " has no usable energy-* events";
    for (const std::string& s : pmu.skipped) pmu.error += "; " + s;
  }
  return pmu;
}

std::vector<PerfPowerEvent> choose_perf_events(const std::vector<PerfPowerEvent>& events) {
  auto find = [&](const char* name) {
    return std::find_if(events.begin(), events.end(),
                        [&](const PerfPowerEvent& e) { return e.name == name; });
  };
  std::vector<PerfPowerEvent> chosen;
  // energy-cores and energy-gpu are parts of the package; never counted beside it.
  if (find("energy-pkg") != events.end()) {
    chosen.push_back(*find("energy-pkg"));
    if (find("energy-ram") != events.end()) chosen.push_back(*find("energy-ram"));
  } else if (find("energy-psys") != events.end()) {
    chosen.push_back(*find("energy-psys"));
  } else if (find("energy-ram") != events.end()) {
    chosen.push_back(*find("energy-ram"));
  }
  return chosen;
}

PerfCounterOps perf_syscall_ops() {
  PerfCounterOps ops;
  ops.open = [](uint32_t type, uint64_t config, int cpu, std::string* error) {
    perf_event_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.type = type;
    attr.size = sizeof attr;
    attr.config = config;
    // System-wide on one CPU (pid -1): the power PMU counts per package, not per task.
    long fd = ::syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      *error = std::strerror(e);
      if (e == EACCES || e == EPERM)
        *error += " (needs root or CAP_PERFMON, or kernel.perf_event_paranoid <= 0)";
      return -1;
    }
    return static_cast<int>(fd);
  };
  ops.read = [](int handle, uint64_t* count) {
    return ::read(handle, count, sizeof *count) == static_cast<ssize_t>(sizeof *count);
  };
  ops.close = [](int handle) { ::close(handle); };
  return ops;
}

PerfEnergyMeter::PerfEnergyMeter(std::string root, PerfCounterOps ops) : ops_(std::move(ops)) {
  PerfPowerPmu pmu = discover_perf_power(root);
  if (!pmu.found) {
    reason_ = pmu.error;
    return;
  }
  std::vector<PerfPowerEvent> chosen = choose_perf_events(pmu.events);
  if (chosen.empty()) {
    reason_ = root + ": no package, ram or psys energy event";
    return;
  }
  for (const PerfPowerEvent& event : chosen) {
    event_names_.push_back(event.name);
    for (int cpu : pmu.cpus) {
      std::string error;
      int handle = ops_.open(pmu.type, event.config, cpu, &error);
      if (handle < 0) {
        reason_ = "perf_event_open(power/" + event.name + ", cpu " + std::to_string(cpu) +
                  "): " + error;
        for (Counter& c : counters_) ops_.close(c.handle);
        counters_.clear();
        return;
      }
      counters_.push_back(Counter{event, cpu, handle, 0});
    }
  }
}

PerfEnergyMeter::~PerfEnergyMeter() {
  for (Counter& c : counters_) ops_.close(c.handle);
}

std::string PerfEnergyMeter::source() const {
  std::string s = "perf:";
  for (size_t i = 0; i < event_names_.size(); ++i)
    s += (i ? "+power/" : "power/") + event_names_[i];
  return event_names_.empty() ? std::string("perf") : s;
}

void PerfEnergyMeter::start() {
  start_ok_ = true;
  start_error_.clear();
  for (Counter& c : counters_) {
    if (!ops_.read(c.handle, &c.start)) {
      start_ok_ = false;
      start_error_ = "reading power/" + c.event.name + " on cpu " + std::to_string(c.cpu) +
                     " failed";
    }
  }
  start_time_ = energy_detail::now_seconds();
}

EnergyReading PerfEnergyMeter::stop() {
  EnergyReading r;
  r.seconds = energy_detail::now_seconds() - start_time_;
  r.source = source();
  if (counters_.empty()) {
    r.reason = reason_;
    return r;
  }
  if (!start_ok_) {
    r.reason = start_error_;
    return r;
  }
  // Per event: joules summed over the packages (one CPU each in the cpumask).
  std::vector<double> joules(event_names_.size(), 0.0);
  for (Counter& c : counters_) {
    uint64_t end = 0;
    if (!ops_.read(c.handle, &end)) {
      r.reason = "reading power/" + c.event.name + " on cpu " + std::to_string(c.cpu) + " failed";
      return r;
    }
    // perf accumulates the 32-bit hardware counter into 64 bits itself: no wrap to undo.
    size_t e = std::find(event_names_.begin(), event_names_.end(), c.event.name) -
               event_names_.begin();
    joules[e] += static_cast<double>(end - c.start) * c.event.scale;
  }
  std::string source = "perf:", scope;
  double total = 0.0;
  for (size_t e = 0; e < event_names_.size(); ++e) {
    if (!(joules[e] > 0.0)) {
      if (event_names_.size() > 1)
        r.warnings.push_back("left out: power/" + event_names_[e] +
                             " did not advance over the window");
      continue;
    }
    total += joules[e];
    source += (scope.empty() ? "power/" : "+power/") + event_names_[e];
    scope += (scope.empty() ? "" : " + ") + event_scope(event_names_[e]);
  }
  if (total > 0.0) {
    r.quality = EnergyQuality::Measured;
    r.joules = total;
    r.source = source;
    r.scope = scope;
  }
  std::string counter;
  for (size_t e = 0; e < event_names_.size(); ++e)
    counter += (e ? "+power/" : "power/") + event_names_[e];
  energy_detail::judge_window(r, total > 0.0, kPerfMinWindow, counter,
                              "RAPL updates about every 1 ms");
  return r;
}

}  // namespace ip
