#include "measure/disturbance.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace ip {

CpuCounters read_cpu_counters() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  CpuCounters d;
  d.page_faults = u.ru_minflt + u.ru_majflt;
  d.preemptions = u.ru_nivcsw;
  d.own_cpu = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
              1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  // "cpu  user nice system idle iowait irq softirq steal ..." in clock ticks, all CPUs together.
  std::ifstream stat("/proc/stat");
  std::string label;
  unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
  if (stat >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal &&
      label == "cpu") {
    const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
    d.machine_busy = static_cast<double>(user + nice + system + irq + softirq) * tick;
    d.steal = static_cast<double>(steal) * tick;
  }
  return d;
}

CpuTaken cpu_taken(const CpuCounters& before, const CpuCounters& after) {
  CpuTaken t;
  t.page_faults = after.page_faults - before.page_faults;
  t.preemptions = after.preemptions - before.preemptions;
  if (before.machine_busy >= 0 && after.machine_busy >= 0) {
    t.steal_seconds = std::max(0.0, after.steal - before.steal);
    // Clock ticks are coarse (10 ms): a small negative difference is rounding, not time.
    t.other_cpu_seconds = std::max(0.0, (after.machine_busy - before.machine_busy) -
                                            (after.own_cpu - before.own_cpu));
  }
  return t;
}

bool share_taken_beyond(double other_cpu_seconds, double steal_seconds, double wall_seconds, double limit) {
  if (other_cpu_seconds < 0 || steal_seconds < 0) return false;
  static const double cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  // /proc/stat counts in 10 ms ticks: two ticks are within its rounding.
  const double taken = other_cpu_seconds + steal_seconds;
  return taken > 0.02 && taken > limit * wall_seconds * cpus;
}

}  // namespace ip
