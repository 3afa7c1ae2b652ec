#include "experiments/kernel_bench/targets.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "kernels/common/activation_list.h"

namespace ip::bench {

namespace {

struct LoopCount {
  FunctionId id;
  const char* direction;
  const char* target;
  int all, vector;
};

const std::vector<LoopCount>& loop_counts() {
  static const std::vector<LoopCount> counts = {
#ifdef IP_HAVE_LOOP_OP_COUNTS
#include "loop_op_counts.inc"
#endif
  };
  return counts;
}

}  // namespace

LoopInstructions loop_instructions(const std::string& function, const std::string& direction,
                                   const std::string& target) {
  for (const LoopCount& c : loop_counts())
    if (function_info(c.id).cli_name == function && c.direction == direction && c.target == target)
      return {c.all, c.vector};
  return {};
}

double target_fraction(const std::string& kind, const std::string& direction) {
  if (kind == "rowwise") return 0.80;
  return direction == "forward" ? 0.90 : 0.85;
}

std::string describe_targets() {
  auto percent = [](double f) { return std::to_string(static_cast<int>(std::lround(100 * f))) + "%"; };
  return "fractions of copy: " + percent(target_fraction("elementwise", "forward")) + " forward, " +
         percent(target_fraction("elementwise", "backward")) + " backward, " +
         percent(target_fraction("rowwise", "forward")) + " row-wise";
}

// A miss is explained by the calibration: at the target, a kernel must process
//   need = target * copy GB/s / (bytes per element) / threads   elements per second per thread,
// and one thread on L1-resident data manages `core` elements per second. core < need means the
// instructions per element exceed the bandwidth budget ("compute-bound"); otherwise the kernel
// could keep up and the miss is in how it streams (or other load on the machine). Where the loop's
// instructions per vector are known, the budget is said in instructions: at the rate this thread
// ran them, ins * core / need would meet the target.
int print_targets_summary(const std::vector<KernelRow>& rows, double load_before, double load_after) {
  std::printf("\ntargets: effective GB/s >= 90%% (forward) / 85%% (backward) of copy for element-wise "
              "and dropout kernels, >= 80%% for row-wise; copy = the faster of copy:memcpy and copy:vector at the "
              "same size and thread count, timed alternately with each kernel\n");
  std::printf("core = Gelem/s of one thread on L1-resident arrays (compute bound); need = Gelem/s per thread "
              "to reach the target at this run's copy bandwidth. load average %.1f before, %.1f after\n",
              load_before, load_after);
  std::printf("ins = instructions per vector (8 floats on AVX2, 16 on AVX3) in the kernel's inner loop as this "
              "build compiled it (four vectors per step, divided by four), loads, stores and loop control "
              "included; ins* = instructions per vector one call executed, counted by single-stepping it on "
              "2 and 4 rows (row-wise, dropout and RReLU train kernels, whose work is not one loop); "
              "fit = ins * ratio: the instructions per vector that would reach the target at the "
              "rate this kernel ran them (- where not counted)\n\n");
  std::printf("%-7s %3s %10s %-14s %-8s %6s %6s %-4s %8s %8s %6s %5s %4s  %s\n", "target", "thr", "elements",
              "function", "dir", "copy%", "goal%", "ok", "core", "need", "ratio", "ins", "fit", "limit");
  struct Count {
    int total = 0, misses = 0;
  };
  std::map<std::string, Count> per_target;
  std::vector<std::string> order;  // SIMD targets in the order measured
  int misses = 0;
  for (const KernelRow& r : rows) {
    if (r.device != "cpu" || r.kind == "copy") continue;
    const double goal = target_fraction(r.kind, r.direction);
    const bool pass = r.fraction_of_copy >= goal;
    const double bytes_per_element = r.bytes / static_cast<double>(r.elements);
    const double need = goal * r.copy_gbps * 1e9 / bytes_per_element / r.threads;
    const double core = r.compute_elements_per_s;
    const double ratio = core / need;
    std::string limit = "-";
    if (!pass) limit = std::isfinite(ratio) && ratio < 1.0 ? "compute-bound (core < need)"
                                                          : "not compute-bound alone (streaming, or CPU share under load)";
    else if (std::isfinite(ratio) && ratio < 1.3) limit = "near compute bound";
    const LoopInstructions ins = loop_instructions(r.function, r.direction, r.target);
    std::string ins_text = "-", fit_text = "-";
    if (ins.all > 0) {
      ins_text = std::to_string(ins.all);
      if (std::isfinite(ratio)) fit_text = std::to_string(static_cast<long>(std::floor(ins.all * ratio)));
    } else if (std::isfinite(r.executed_instructions_per_vector)) {
      const double executed = r.executed_instructions_per_vector;
      ins_text = std::to_string(std::lround(executed)) + "*";
      if (std::isfinite(ratio)) fit_text = std::to_string(static_cast<long>(std::floor(executed * ratio)));
    }
    std::printf("%-7s %3d %10zu %-14s %-8s %6.1f %6.0f %-4s %8.3f %8.3f %6.2f %5s %4s  %s\n", r.target.c_str(),
                r.threads, r.elements, r.function.c_str(), r.direction.c_str(), 100 * r.fraction_of_copy, 100 * goal,
                pass ? "PASS" : "MISS", core * 1e-9, need * 1e-9, ratio, ins_text.c_str(), fit_text.c_str(),
                limit.c_str());
    if (per_target.find(r.target) == per_target.end()) order.push_back(r.target);
    Count& c = per_target[r.target];
    ++c.total;
    c.misses += pass ? 0 : 1;
    misses += pass ? 0 : 1;
  }
  std::printf("\n");
  for (const std::string& target : order) {
    const Count& c = per_target[target];
    std::printf("targets, %s: %d of %d kernel rows meet their target, %d miss\n", target.c_str(), c.total - c.misses,
                c.total, c.misses);
  }
  std::fflush(stdout);
  return misses;
}

}  // namespace ip::bench
