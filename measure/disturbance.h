// What took the CPUs from a measurement while it ran: this process's page faults and involuntary
// context switches, and the machine's steal time and other processes' CPU time (/proc/stat).
#pragma once

namespace ip {

// The counters at one moment; what happened during a measurement is the difference of two.
struct CpuCounters {
  long page_faults = 0, preemptions = 0;
  double own_cpu = 0, machine_busy = -1, steal = -1;  // seconds; -1 when /proc/stat is unreadable
};
CpuCounters read_cpu_counters();

struct CpuTaken {
  long page_faults = 0, preemptions = 0;
  double steal_seconds = -1, other_cpu_seconds = -1;  // -1: unknown
};
CpuTaken cpu_taken(const CpuCounters& before, const CpuCounters& after);

// Whether other processes' CPU time plus steal exceeded `limit` (a fraction) of the CPU time the
// machine had during `wall_seconds`; false when unknown.
bool share_taken_beyond(double other_cpu_seconds, double steal_seconds, double wall_seconds, double limit);

}  // namespace ip
