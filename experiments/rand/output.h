// rand_power's files: the paper-schema file per scale, the consolidated JSON (every scale, every
// sample or measurement, the costs with their intervals) with its CSVs, and --resume from it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/rand/designs.h"
#include "results/results.h"

namespace ip::rand {

// Everything the consolidated file holds beyond the results themselves.
struct Extras {
  std::vector<PaperMeasurement> measurements;  // paper design
  bool breakdown = false;                      // paper design: write the breakdown CSV
  nlohmann::json overhead = nlohmann::json::object();  // --breakdown: one instance vs its kernels
  nlohmann::json preflight;                    // what could spoil the timings, said before
};

// Writes <dir>/<stem>.json, .csv, .costs.csv (rounds) and .breakdown.csv (--breakdown), and
// with `scale_index` >= 0 that scale's per-scale file, as one set (FileSet: all or none);
// returns their paths: the per-scale file, then the JSON, the CSV and the others. `complete`
// false marks the file partial, which every write but the last of a run does, so a killed run's
// file can be resumed.
std::vector<std::string> write_consolidated(const std::string& dir, const std::string& stem,
                                            const RandResults& r, const Extras& extras, bool complete,
                                            int scale_index = -1);
// The longest name write_consolidated gives a file, for a prefix of that length (per-scale
// names are shorter).
std::size_t longest_file_name(std::size_t prefix_length);

// What --resume takes over from an interrupted run's consolidated file.
struct Resumed {
  std::string path, stem;
  RandResults file;                        // its scales (rounds with their samples), times, energy
  std::string design;                      // "rounds" or "paper"
  std::map<PaperCell, nlohmann::json> cells;  // paper: (key, scale, run) → measurement
  std::map<int, double> scale_unix_time;   // names of its per-scale files
  nlohmann::json overhead = nlohmann::json::object();
};
Resumed load_resume(const std::string& spec);
// A measurement of the interrupted run, kept verbatim and marked resumed.
PaperMeasurement resumed_measurement(const nlohmann::json& cell);
// Refuses to mix settings: every setting that changes a measurement must be the same.
void check_resume_settings(const Resumed& r, const RandResults& now);

}  // namespace ip::rand
