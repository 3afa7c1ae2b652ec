// kernel_bench's result files. Their fields are read by experiments/compare_torch.py and by
// whoever compares runs: names and formats stay as they are.
#include <cmath>
#include <cstdio>
#include <string>

#include "experiments/kernel_bench/rows.h"
#include "experiments/kernel_bench/targets.h"
#include "results/results.h"

namespace ip::bench {

namespace {

using json = nlohmann::json;

json timing_json(const Timing& t) {
  return {{"median_s", t.median}, {"min_s", t.min}, {"max_s", t.max}, {"samples", t.samples},
          {"calls_per_sample", t.calls_per_sample}};
}

// NaN (not measured) as JSON null and an empty CSV field.
json optional_number(double v) { return std::isfinite(v) ? json(v) : json(); }
std::string optional_csv(double v) { return std::isfinite(v) ? ip::format_number(v) : ""; }

std::string csv_text(const std::string& s) {
  return s.find_first_of(",\"\n") == std::string::npos ? s : "\"" + s + "\"";
}

}  // namespace

void write_result_files(const std::string& dir, const json& header, const std::vector<KernelRow>& kernels,
                        const std::vector<GemmRow>& gemm, const json& validation_failures) {
  const double when = ip::unix_time_now();
  const std::string stem = dir + "/kernel_bench_" + std::to_string(static_cast<long long>(when));
  json j = header;
  j["kernels"] = json::array();
  std::string csv =
      "device,target,threads,function,key,kind,direction,elements,rows,cols,bytes_per_call,median_s,min_s,max_s,"
      "samples,calls_per_sample,gb_per_s,copy_gb_per_s,fraction_of_copy,elements_per_s,variant,variant_name,production\n";
  for (const KernelRow& r : kernels) {
    j["kernels"].push_back({{"device", r.device}, {"target", r.target}, {"threads", r.threads},
                            {"function", r.function}, {"key", r.key}, {"kind", r.kind}, {"direction", r.direction},
                            {"elements", r.elements}, {"rows", r.rows}, {"cols", r.cols}, {"bytes_per_call", r.bytes},
                            {"timing", timing_json(r.timing)}, {"gb_per_s", r.gbps}, {"copy_gb_per_s", r.copy_gbps},
                            {"fraction_of_copy", r.fraction_of_copy}, {"elements_per_s", r.elements_per_s},
                            {"variant", r.variant}, {"variant_name", r.variant_name}, {"production", r.production}});
    if (std::isfinite(r.compute_elements_per_s))
      j["kernels"].back()["compute_elements_per_s_one_thread_l1"] = r.compute_elements_per_s;
    if (r.device == "cpu") {
      const LoopInstructions ins = loop_instructions(r.function, r.direction, r.target);
      if (ins.all > 0)
        j["kernels"].back()["loop_instructions_per_vector"] = {{"all", ins.all}, {"vector", ins.vector}};
      if (std::isfinite(r.executed_instructions_per_vector))
        j["kernels"].back()["executed_instructions_per_vector"] = r.executed_instructions_per_vector;
    }
    if (r.copy_timing.samples > 0) j["kernels"].back()["copy_timing"] = timing_json(r.copy_timing);
    csv += r.device + "," + r.target + "," + std::to_string(r.threads) + "," + r.function + "," + csv_text(r.key) +
           "," + r.kind + "," + r.direction + "," + std::to_string(r.elements) + "," + std::to_string(r.rows) + "," +
           std::to_string(r.cols) + "," + ip::format_number(r.bytes) + "," + ip::format_number(r.timing.median) + "," +
           ip::format_number(r.timing.min) + "," + ip::format_number(r.timing.max) + "," +
           std::to_string(r.timing.samples) + "," + std::to_string(r.timing.calls_per_sample) + "," +
           ip::format_number(r.gbps) + "," + ip::format_number(r.copy_gbps) + "," +
           ip::format_number(r.fraction_of_copy) + "," + ip::format_number(r.elements_per_s) + "," +
           std::to_string(r.variant) + "," + csv_text(r.variant_name) + "," + (r.production ? "1" : "0") + "\n";
  }
  j["validation_failures"] = validation_failures;
  j["gemm"] = json::array();
  std::string gcsv = "device,target,threads,shape,M,N,K,trans_a,trans_b,backend,median_s,min_s,max_s,samples,"
                     "gflop_per_s,fraction_of_reference,fraction_of_fma_peak,fraction_of_reference_min,"
                     "fraction_of_reference_max,fraction_of_reference_low,fraction_of_reference_high,reference_verdict\n";
  for (const GemmRow& r : gemm) {
    json row = {{"device", r.device}, {"target", r.target}, {"threads", r.threads}, {"shape", r.shape},
                {"M", r.g.M}, {"N", r.g.N}, {"K", r.g.K}, {"trans_a", r.g.trans_a}, {"trans_b", r.g.trans_b},
                {"backend", r.backend}, {"timing", timing_json(r.timing)}, {"gflop_per_s", r.gflops}};
    row["fraction_of_reference"] = optional_number(r.fraction_of_reference);
    row["fraction_of_fma_peak"] = optional_number(r.fraction_of_peak);
    row["fraction_of_reference_min"] = optional_number(r.fraction_of_reference_min);
    row["fraction_of_reference_max"] = optional_number(r.fraction_of_reference_max);
    row["fraction_of_reference_low"] = optional_number(r.fraction_of_reference_low);
    row["fraction_of_reference_high"] = optional_number(r.fraction_of_reference_high);
    row["reference_verdict"] = r.reference_verdict.empty() ? json(nullptr) : json(r.reference_verdict);
    j["gemm"].push_back(row);
    gcsv += r.device + "," + r.target + "," + std::to_string(r.threads) + "," + r.shape + "," + std::to_string(r.g.M) +
            "," + std::to_string(r.g.N) + "," + std::to_string(r.g.K) + "," + (r.g.trans_a ? "1" : "0") + "," +
            (r.g.trans_b ? "1" : "0") + "," + r.backend + "," + ip::format_number(r.timing.median) + "," +
            ip::format_number(r.timing.min) + "," + ip::format_number(r.timing.max) + "," +
            std::to_string(r.timing.samples) + "," + ip::format_number(r.gflops) + "," +
            optional_csv(r.fraction_of_reference) + "," + optional_csv(r.fraction_of_peak) + "," +
            optional_csv(r.fraction_of_reference_min) + "," + optional_csv(r.fraction_of_reference_max) + "," +
            optional_csv(r.fraction_of_reference_low) + "," + optional_csv(r.fraction_of_reference_high) + "," +
            r.reference_verdict + "\n";
  }
  // One set: the CSVs never appear without the JSON, nor the JSON without them.
  ip::FileSet set;
  set.add(stem + ".csv", csv);
  set.add(stem + "_gemm.csv", gcsv);
  set.add(stem + ".json", j.dump(1) + "\n");
  set.commit();
  std::fprintf(stderr, "kernel_bench: results in %s.json, %s.csv and %s_gemm.csv\n", stem.c_str(), stem.c_str(),
               stem.c_str());
}

}  // namespace ip::bench
