// RAPL through Linux powercap: /sys/class/powercap/intel-rapl:N/{name,energy_uj,
// max_energy_range_uj} with sub-zones intel-rapl:N/intel-rapl:N:M. AMD CPUs use the same driver
// and names. The root is a parameter so tests can build a fake tree.
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "measure/energy.h"
#include "measure/energy_detail.h"

namespace ip {

using energy_detail::read_text;
using energy_detail::read_u64;
using energy_detail::trim;

namespace {

// RAPL counters update about every millisecond; ten updates bound the quantisation at ~10%.
constexpr double kRaplMinWindow = 10e-3;

// Directory entries named <prefix><digits>, sorted by the number.
std::vector<std::pair<unsigned long, std::string>> numbered_entries(const std::string& dir,
                                                                    const std::string& prefix) {
  std::vector<std::pair<unsigned long, std::string>> found;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return found;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    found.emplace_back(std::stoul(digits), name);
  }
  ::closedir(d);
  std::sort(found.begin(), found.end());
  return found;
}

// Checks that a zone's counter and range can be read; *why says what is wrong otherwise.
bool zone_usable(const std::string& dir, uint64_t* max_range, std::string* why) {
  std::string error;
  if (!read_u64(dir + "/max_energy_range_uj", max_range, &error)) {
    *why = error + " (without the counter's range its wraparound cannot be undone)";
    return false;
  }
  if (*max_range == 0) {
    *why = dir + "/max_energy_range_uj is 0 (without the counter's range its wraparound cannot "
                 "be undone)";
    return false;
  }
  uint64_t value = 0;
  if (!read_u64(dir + "/energy_uj", &value, &error)) {
    if (error.find("Permission denied") != std::string::npos)
      error += " (energy_uj is readable by root only on Linux 5.10 and later)";
    *why = error;
    return false;
  }
  return true;
}

}  // namespace

RaplMeter::RaplMeter(std::string powercap_root) : root_(std::move(powercap_root)) {
  DIR* d = ::opendir(root_.c_str());
  if (!d) {
    reason_ = root_ + ": " + std::strerror(errno) +
              (errno == ENOENT ? " (no powercap driver: virtual machine, or not Linux on x86?)"
                               : "");
    return;
  }
  ::closedir(d);

  // The MSR interface first, so that an MMIO mirror of the same package is the one left out.
  auto tops = numbered_entries(root_, "intel-rapl:");
  auto mmio = numbered_entries(root_, "intel-rapl-mmio:");
  tops.insert(tops.end(), mmio.begin(), mmio.end());
  if (tops.empty()) {
    reason_ = root_ + " has no intel-rapl zones (virtual machine?)";
    return;
  }

  std::vector<std::pair<std::string, std::string>> counted;  // label -> directory
  auto already_counted = [&](const std::string& label, const std::string& dir) {
    for (const auto& [l, d] : counted) {
      if (l != label) continue;
      skipped_.push_back(dir + " (" + label + "): same zone as " + d +
                         ", a mirror of one counter, counted once");
      return true;
    }
    return false;
  };
  auto add = [&](const std::string& dir, const std::string& label, bool dram) {
    uint64_t max_range = 0;
    std::string why;
    if (!zone_usable(dir, &max_range, &why)) {
      skipped_.push_back(label + ": " + why);
      return false;
    }
    counted.emplace_back(label, dir);
    zones_.push_back(Zone{dir, label, dram, max_range});
    return true;
  };

  for (const auto& [number, entry] : tops) {
    (void)number;
    std::string dir = root_ + "/" + entry;
    std::string name, error;
    if (!read_text(dir + "/name", &name, &error)) {
      skipped_.push_back(entry + ": " + error);
      continue;
    }
    name = trim(name);
    bool package = name.compare(0, 7, "package") == 0;
    if (!package && name != "dram") {
      // psys covers the whole platform, package included: adding it would count twice.
      skipped_.push_back(entry + " (" + name + "): overlaps the package zones, not counted");
      continue;
    }
    if (already_counted(name, dir)) continue;
    if (!add(dir, name, !package) || !package) continue;

    for (const auto& [sub_number, sub_entry] : numbered_entries(dir, entry + ":")) {
      (void)sub_number;
      std::string sub_dir = dir + "/" + sub_entry;
      std::string sub_name;
      if (!read_text(sub_dir + "/name", &sub_name, &error)) {
        skipped_.push_back(sub_entry + ": " + error);
        continue;
      }
      sub_name = trim(sub_name);
      if (sub_name != "dram") {
        // core and uncore are parts of the package's energy.
        skipped_.push_back(sub_entry + " (" + sub_name + "): inside the package, not counted");
        continue;
      }
      std::string label = name + "/dram";
      if (!already_counted(label, sub_dir)) add(sub_dir, label, true);
    }
  }
  if (zones_.empty()) {
    reason_ = "no usable RAPL zone under " + root_;
    for (const std::string& s : skipped_) reason_ += "; " + s;
  }
}

namespace {

std::string describe_zones(const std::vector<RaplMeter::Zone>& zones, bool for_source) {
  size_t packages = 0, drams = 0;
  for (const auto& z : zones) (z.dram ? drams : packages) += 1;
  if (for_source) {
    // "rapl:package-0+dram" on one package; qualified labels when there are several.
    std::string s = "rapl:";
    for (size_t i = 0; i < zones.size(); ++i) {
      if (i) s += "+";
      s += (zones[i].dram && packages <= 1) ? std::string("dram") : zones[i].label;
    }
    return s;
  }
  std::string scope;
  if (packages == 1) scope = "CPU package";
  if (packages > 1) scope = std::to_string(packages) + " CPU packages";
  if (drams) scope += scope.empty() ? "DRAM" : " + DRAM";
  return scope;
}

}  // namespace

std::string RaplMeter::source() const {
  return zones_.empty() ? std::string("rapl") : describe_zones(zones_, true);
}

void RaplMeter::start() {
  start_uj_.assign(zones_.size(), 0);
  start_errors_.assign(zones_.size(), std::string());
  for (size_t i = 0; i < zones_.size(); ++i)
    read_u64(zones_[i].dir + "/energy_uj", &start_uj_[i], &start_errors_[i]);
  start_time_ = energy_detail::now_seconds();
}

EnergyReading RaplMeter::stop() {
  double end_time = energy_detail::now_seconds();
  EnergyReading r;
  r.seconds = end_time - start_time_;
  r.source = source();
  if (zones_.empty()) {
    r.reason = reason_;
    return r;
  }
  std::vector<Zone> used;
  std::vector<std::string> errors, still;
  uint64_t total_uj = 0;
  for (size_t i = 0; i < zones_.size(); ++i) {
    const Zone& z = zones_[i];
    uint64_t end = 0;
    std::string error = start_errors_[i];
    if (error.empty()) read_u64(z.dir + "/energy_uj", &end, &error);
    if (error.empty() && (start_uj_[i] > z.max_range_uj || end > z.max_range_uj))
      error = z.dir + "/energy_uj is above max_energy_range_uj";
    if (!error.empty()) {
      errors.push_back(z.label + ": " + error);
      continue;
    }
    // The counter restarts from 0 after max_energy_range_uj. One wrap is undone; a window long
    // enough for two (minutes to hours at full power) would need intermediate reads.
    uint64_t delta = end >= start_uj_[i] ? end - start_uj_[i] : z.max_range_uj - start_uj_[i] + end;
    if (delta == 0) {
      still.push_back(z.label);
      continue;
    }
    total_uj += delta;
    used.push_back(z);
  }

  if (used.empty()) {
    if (still.empty()) {
      r.reason = "no RAPL zone could be read:";
      for (const std::string& e : errors) r.reason += " " + e + ";";
      r.reason.pop_back();
      return r;
    }
    for (const std::string& e : errors) r.warnings.push_back("left out: " + e);
    r.scope = describe_zones(zones_, false);
    energy_detail::judge_window(r, false, kRaplMinWindow, "RAPL energy_uj",
                                "RAPL updates about every 1 ms");
    return r;
  }
  r.quality = EnergyQuality::Measured;
  r.joules = static_cast<double>(total_uj) * 1e-6;
  r.source = describe_zones(used, true);
  r.scope = describe_zones(used, false);
  for (const std::string& e : errors) r.warnings.push_back("left out (unreadable): " + e);
  for (const std::string& s : still)
    r.warnings.push_back("left out: " + s + " did not advance over the window");
  energy_detail::judge_window(r, true, kRaplMinWindow, "RAPL energy_uj",
                              "RAPL updates about every 1 ms");
  return r;
}

}  // namespace ip
