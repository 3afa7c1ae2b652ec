// What will spoil a timing, said before it is taken (google/benchmark warns about CPU frequency
// scaling the same way): load on the cores, more threads than idle cores, threads free to move
// between cores, a build without optimisation. And pinning OpenMP's threads to cores.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ip {

struct Preflight {
  int cpus = 0;                 // CPUs this process may run on
  int threads = 0;              // OpenMP threads the measurements use
  double others_busy_cpus = 0;  // CPUs' worth of other processes' time while probing (-1: unknown)
  double load_average = -1;     // 1-minute load average (-1: unknown)
  bool pinned = false;          // OpenMP threads pinned to CPUs (by us or OMP_PROC_BIND)
  std::string pinning;          // how, or why not
  bool optimised = true;        // built with optimisation and without assertions
  std::vector<std::string> warnings;
  nlohmann::json to_json() const;
};

// Pins OpenMP thread i to the i-th CPU of this process's affinity mask (modulo their count), so
// that the scheduler cannot move a thread mid-measurement; libgomp keeps its threads, so the
// pinning holds for later parallel regions. Returns false, with the reason, when it cannot.
bool pin_openmp_threads(std::string* why);

// Probes the machine for `probe_seconds` (other processes' CPU time from /proc/stat) and
// collects the warnings. `pin` says whether to pin the threads first.
Preflight preflight(bool pin, double probe_seconds = 0.3);

}  // namespace ip
