#include "experiments/common/preflight.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include <omp.h>

namespace ip {

namespace {

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

// Machine busy seconds (all CPUs, from /proc/stat) and this process's CPU seconds.
bool busy_now(double* machine, double* own) {
  std::ifstream stat("/proc/stat");
  std::string label;
  unsigned long long user, nice, system, idle, iowait, irq, softirq;
  if (!(stat >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq) || label != "cpu")
    return false;
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  *machine = static_cast<double>(user + nice + system + irq + softirq) * tick;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  *own = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  return true;
}

}  // namespace

bool pin_openmp_threads(std::string* why) {
  const std::vector<int> cpus = allowed_cpus();
  if (cpus.empty()) {
    *why = "the process's CPU affinity could not be read";
    return false;
  }
  int failures = 0;
#pragma omp parallel reduction(+ : failures)
  {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[static_cast<size_t>(omp_get_thread_num()) % cpus.size()], &one);
    if (sched_setaffinity(0, sizeof one, &one) != 0) ++failures;
  }
  if (failures) {
    *why = std::to_string(failures) + " thread(s) could not be pinned";
    return false;
  }
  *why = "thread i pinned to CPU " + std::to_string(cpus.front()) + "+i of " + std::to_string(cpus.size());
  return true;
}

Preflight preflight(bool pin, double probe_seconds) {
  Preflight p;
  p.cpus = static_cast<int>(allowed_cpus().size());
  p.threads = omp_get_max_threads();
  const char* bind = std::getenv("OMP_PROC_BIND");
  if (pin) {
    p.pinned = pin_openmp_threads(&p.pinning);
  } else if (bind && std::string(bind) != "false") {
    p.pinned = true;
    p.pinning = std::string("OMP_PROC_BIND=") + bind;
  } else {
    p.pinning = "not pinned (--no-pin, and OMP_PROC_BIND unset)";
  }
  if (!p.pinned)
    p.warnings.push_back("threads are not pinned to cores: " + p.pinning +
                         "; a thread moved mid-measurement stalls the others at the next barrier");

  double m0, o0, m1, o1;
  p.others_busy_cpus = -1;
  if (busy_now(&m0, &o0)) {
    std::this_thread::sleep_for(std::chrono::duration<double>(probe_seconds));
    if (busy_now(&m1, &o1))
      p.others_busy_cpus = std::max(0.0, ((m1 - m0) - (o1 - o0)) / probe_seconds);
  }
  std::ifstream loadavg("/proc/loadavg");
  if (!(loadavg >> p.load_average)) p.load_average = -1;
  char buf[256];
  if (p.others_busy_cpus > 0.1) {
    std::snprintf(buf, sizeof buf,
                  "load on the cores: other processes used %.2f CPUs while probing (%.1f s); "
                  "their share of the cores will be counted as this run's noise",
                  p.others_busy_cpus, probe_seconds);
    p.warnings.push_back(buf);
  }
  const double idle = std::max(0.0, p.others_busy_cpus >= 0 ? p.cpus - p.others_busy_cpus : p.cpus);
  if (p.threads > p.cpus) {
    std::snprintf(buf, sizeof buf, "%d OpenMP threads on %d CPUs: threads will share cores (--threads)",
                  p.threads, p.cpus);
    p.warnings.push_back(buf);
  } else if (p.threads > idle + 0.5) {
    std::snprintf(buf, sizeof buf, "%d OpenMP threads but only about %.1f idle CPUs", p.threads, idle);
    p.warnings.push_back(buf);
  }
#if !defined(__OPTIMIZE__) || !defined(NDEBUG)
  p.optimised = false;
  p.warnings.push_back(
      "this is a debug or unoptimised build (CMAKE_BUILD_TYPE=Release is the default): its "
      "timings do not represent the engine");
#endif
  return p;
}

nlohmann::json Preflight::to_json() const {
  return {{"cpus", cpus},
          {"threads", threads},
          {"others_busy_cpus", others_busy_cpus >= 0 ? nlohmann::json(others_busy_cpus) : nlohmann::json(nullptr)},
          {"load_average", load_average >= 0 ? nlohmann::json(load_average) : nlohmann::json(nullptr)},
          {"pinned", pinned},
          {"pinning", pinning},
          {"optimised", optimised},
          {"warnings", warnings}};
}

}  // namespace ip
