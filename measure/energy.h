// Energy meters: start() ... stop() gives the joules spent over a wall-clock window, with how they
// were obtained (measured by a hardware counter, estimated from a stated power, or unavailable and
// why), which counters were read and what part of the machine they cover. A meter never reports a
// number it cannot stand behind: a counter that does not advance, or a window too short for the
// counter's update interval, gives "unavailable" (or a warning), never 0 J labelled measured.
//
// Backends, in order of preference (make_energy_meter picks):
//   RaplMeter        Linux powercap (/sys/class/powercap/intel-rapl*), package and dram zones
//   PerfEnergyMeter  perf power PMU events (power/energy-pkg, energy-ram, or energy-psys)
//   NvmlEnergyMeter  NVML's total-energy counter (Volta and newer)
//   NvmlPowerMeter   NVML power readings sampled on a thread and integrated (trapezoid rule)
//   EstimateMeter    watts x seconds, only when asked for, always labelled estimated
// NVML is loaded with dlopen, never linked, so the engine runs where no NVIDIA driver exists.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ip {

enum class EnergyQuality { Measured, Estimated, Unavailable };
const char* quality_name(EnergyQuality quality);  // "measured", "estimated", "unavailable"

struct EnergyReading {
  double joules = 0.0;   // meaningful only when quality is not Unavailable
  double seconds = 0.0;  // the wall-clock window (steady clock)
  EnergyQuality quality = EnergyQuality::Unavailable;
  std::string source;  // backend and counters, e.g. "rapl:package-0+dram", "nvml:total-energy"
  std::string scope;   // what the joules cover, e.g. "CPU package + DRAM", "GPU board (...)"
  std::vector<std::string> warnings;
  std::string reason;  // why the reading is Unavailable

  bool usable() const { return quality != EnergyQuality::Unavailable; }
  double watts() const;         // mean power; 0 when unusable or the window is empty
  std::string summary() const;  // one line for logs
};
// {"joules": ..or null, "seconds", "watts", "quality", "source", "scope", "warnings", "reason"}
void to_json(nlohmann::json& j, const EnergyReading& reading);

class EnergyMeter {
 public:
  virtual ~EnergyMeter() = default;
  // Whether this meter can measure here at all, as probed when it was built; if not, why.
  // A meter that is available can still return Unavailable from stop() (e.g. a counter that
  // did not advance), with the reason.
  virtual bool available() const = 0;
  virtual std::string unavailable_reason() const = 0;
  virtual std::string source() const = 0;
  virtual void start() = 0;
  virtual EnergyReading stop() = 0;
};

// ---- Linux powercap RAPL ----
// Counts package zones (intel-rapl:N, named "package-*") and their "dram" sub-zones; core, uncore
// and psys are left out because they overlap the package. A zone whose name repeats one already
// counted (an MMIO mirror of the MSR interface, or dies mirroring one package counter) is counted
// once. Counters wrap at max_energy_range_uj; a zone without that file is left out, since its
// wraparound cannot be undone.
class RaplMeter : public EnergyMeter {
 public:
  struct Zone {
    std::string dir;    // sysfs directory of the zone
    std::string label;  // "package-0" or "package-0/dram"
    bool dram = false;
    uint64_t max_range_uj = 0;
  };

  explicit RaplMeter(std::string powercap_root = "/sys/class/powercap");

  const std::vector<Zone>& zones() const { return zones_; }
  // Zones that were considered and left out, each with why (for reports and tests).
  const std::vector<std::string>& skipped() const { return skipped_; }

  bool available() const override { return !zones_.empty(); }
  std::string unavailable_reason() const override { return reason_; }
  std::string source() const override;
  void start() override;
  EnergyReading stop() override;

 private:
  std::string root_;
  std::vector<Zone> zones_;
  std::vector<std::string> skipped_;
  std::string reason_;
  std::vector<uint64_t> start_uj_;
  std::vector<std::string> start_errors_;  // per zone; non-empty when start() could not read it
  double start_time_ = 0.0;
};

// ---- perf power PMU ----
struct PerfPowerEvent {
  std::string name;  // "energy-pkg"
  uint64_t config = 0;
  double scale = 0.0;  // joules per count (from <name>.scale)
  std::string unit;    // "Joules"
};
struct PerfPowerPmu {
  bool found = false;
  std::string error;  // why nothing usable was found
  uint32_t type = 0;
  std::vector<int> cpus;               // one CPU per package (the PMU's cpumask)
  std::vector<PerfPowerEvent> events;  // all energy-* events with a usable scale and unit
  std::vector<std::string> skipped;    // events left out, with why
};
// Reads <root>/type, <root>/cpumask and <root>/events/energy-*{,.scale,.unit}.
PerfPowerPmu discover_perf_power(const std::string& root = "/sys/bus/event_source/devices/power");
// The events counted: energy-pkg and energy-ram; energy-psys alone when there is no energy-pkg
// (psys covers the platform, package included, so it is never added to pkg).
std::vector<PerfPowerEvent> choose_perf_events(const std::vector<PerfPowerEvent>& events);

// The counter syscalls, replaceable by tests. open returns a handle >= 0, or -1 with *error set.
struct PerfCounterOps {
  std::function<int(uint32_t type, uint64_t config, int cpu, std::string* error)> open;
  std::function<bool(int handle, uint64_t* count)> read;
  std::function<void(int handle)> close;
};
PerfCounterOps perf_syscall_ops();  // perf_event_open, read, close

class PerfEnergyMeter : public EnergyMeter {
 public:
  explicit PerfEnergyMeter(std::string root = "/sys/bus/event_source/devices/power",
                           PerfCounterOps ops = perf_syscall_ops());
  ~PerfEnergyMeter() override;
  PerfEnergyMeter(const PerfEnergyMeter&) = delete;
  PerfEnergyMeter& operator=(const PerfEnergyMeter&) = delete;

  bool available() const override { return !counters_.empty(); }
  std::string unavailable_reason() const override { return reason_; }
  std::string source() const override;
  void start() override;
  EnergyReading stop() override;

 private:
  struct Counter {
    PerfPowerEvent event;
    int cpu = 0;
    int handle = -1;
    uint64_t start = 0;
  };
  PerfCounterOps ops_;
  std::vector<Counter> counters_;
  std::vector<std::string> event_names_;  // counted events, in order
  std::string reason_;
  bool start_ok_ = false;
  std::string start_error_;
  double start_time_ = 0.0;
};

// ---- NVML, loaded at run time ----
// NVML's functions with its opaque device handle spelled void* and nvmlReturn_t spelled int
// (0 = NVML_SUCCESS): the same representation in the C ABI, which is what lets tests pass a fake.
struct NvmlApi {
  int (*init)() = nullptr;                                                   // nvmlInit_v2
  int (*shutdown)() = nullptr;                                               // nvmlShutdown
  int (*device_get_handle_by_index)(unsigned index, void** device) = nullptr;  // ..._v2
  int (*device_get_name)(void* device, char* name, unsigned length) = nullptr;
  int (*device_get_total_energy_consumption)(void* device, unsigned long long* mj) = nullptr;
  int (*device_get_power_usage)(void* device, unsigned* mw) = nullptr;
  const char* (*error_string)(int result) = nullptr;  // optional
  std::string library;  // where the table came from ("libnvidia-ml.so.1", "fake")
};
// dlopen("libnvidia-ml.so.1"); nullptr with *why when the library or a function is missing.
std::shared_ptr<const NvmlApi> load_nvml(std::string* why = nullptr);

// What both NVML meters share: NVML initialised for one device (shut down with the meter), the
// device's handle and name, and why it cannot measure.
class NvmlMeter : public EnergyMeter {
 public:
  ~NvmlMeter() override;
  NvmlMeter(const NvmlMeter&) = delete;
  NvmlMeter& operator=(const NvmlMeter&) = delete;

  bool available() const override { return reason_.empty(); }
  std::string unavailable_reason() const override { return reason_; }

 protected:
  // Opens the device; on failure reason_ says why.
  NvmlMeter(std::shared_ptr<const NvmlApi> api, unsigned device_index);

  std::shared_ptr<const NvmlApi> api_;
  bool initialised_ = false;
  void* device_ = nullptr;
  std::string scope_, reason_;
};

// The GPU's total-energy counter (millijoules since the driver loaded).
class NvmlEnergyMeter : public NvmlMeter {
 public:
  NvmlEnergyMeter(std::shared_ptr<const NvmlApi> api, unsigned device_index = 0);

  std::string source() const override { return "nvml:total-energy"; }
  void start() override;
  EnergyReading stop() override;

 private:
  std::string start_error_;
  unsigned long long start_mj_ = 0;
  double start_time_ = 0.0;
};

// Board power (milliwatts) sampled every period on a background thread and integrated with the
// trapezoid rule between a sample taken at start() and one taken at stop().
class NvmlPowerMeter : public NvmlMeter {
 public:
  NvmlPowerMeter(std::shared_ptr<const NvmlApi> api, unsigned device_index = 0,
                 double period_seconds = 0.01);
  ~NvmlPowerMeter() override;

  std::string source() const override { return "nvml:power-sampling"; }
  void start() override;
  EnergyReading stop() override;

 private:
  struct Sampler;
  double period_ = 0.01;
  std::unique_ptr<Sampler> sampler_;
};

// ---- estimate, off, combinations ----
// Documented defaults for --energy estimate without a value: round figures for a server CPU
// package and a data-centre GPU board, not this machine's TDP; the reading says so.
inline constexpr double kDefaultCpuTdpWatts = 100.0;
inline constexpr double kDefaultGpuTdpWatts = 300.0;

// joules = watts x seconds, labelled Estimated, with the watts and their origin in a warning.
class EstimateMeter : public EnergyMeter {
 public:
  EstimateMeter(double watts, std::string origin, std::string scope);
  bool available() const override { return true; }
  std::string unavailable_reason() const override { return {}; }
  std::string source() const override { return "tdp-estimate"; }
  void start() override;
  EnergyReading stop() override;

 private:
  double watts_;
  std::string origin_, scope_;
  double start_time_ = 0.0;
};

// Always Unavailable with a fixed reason (--energy off, or no backend at all).
class UnavailableMeter : public EnergyMeter {
 public:
  UnavailableMeter(std::string source, std::string reason)
      : source_(std::move(source)), reason_(std::move(reason)) {}
  bool available() const override { return false; }
  std::string unavailable_reason() const override { return reason_; }
  std::string source() const override { return source_; }
  void start() override;
  EnergyReading stop() override;

 private:
  std::string source_, reason_;
  double start_time_ = 0.0;
};

// Runs every candidate over the same window; stop() returns the first one's reading (in the
// order given) that is usable, else an Unavailable reading that names each candidate's reason.
class FirstUsableMeter : public EnergyMeter {
 public:
  explicit FirstUsableMeter(std::vector<std::unique_ptr<EnergyMeter>> candidates);
  bool available() const override;
  std::string unavailable_reason() const override;
  std::string source() const override;
  void start() override;
  EnergyReading stop() override;

 private:
  std::vector<std::unique_ptr<EnergyMeter>> candidates_;
};

// Sums a required meter (e.g. the GPU) and an optional one (e.g. the CPU side); the optional
// part is left out, with a warning, when it gives no usable reading.
class SumMeter : public EnergyMeter {
 public:
  SumMeter(std::unique_ptr<EnergyMeter> required, std::unique_ptr<EnergyMeter> optional);
  bool available() const override { return required_->available(); }
  std::string unavailable_reason() const override { return required_->unavailable_reason(); }
  std::string source() const override;
  void start() override;
  EnergyReading stop() override;

 private:
  std::unique_ptr<EnergyMeter> required_, optional_;
};

// ---- two meters over one window ----
// For checking one source against another (NVML's energy counter against its power sampling):
// both started, `work` run, both stopped in reverse order, so each window encloses the other's
// but for the few microseconds a start or a stop takes.
struct MeterComparison {
  EnergyReading first, second;
  // second.joules / first.joules - 1; NaN unless both readings are usable and first is > 0 J.
  double relative_difference = 0.0;
};
MeterComparison compare_meters(EnergyMeter& first, EnergyMeter& second,
                               const std::function<void()>& work);
// {"first": reading, "second": reading, "relative_difference": ..or null}
void to_json(nlohmann::json& j, const MeterComparison& comparison);

// ---- factory ----
enum class EnergyMode { Auto, Off, Estimate };
// "auto", "off", "estimate" or "estimate:<watts>" (also "estimate=<watts>"); *watts gets the
// value or 0. Throws std::invalid_argument naming the accepted forms.
EnergyMode parse_energy_mode(const std::string& text, double* watts = nullptr);

struct EnergyOptions {
  double estimate_watts = 0.0;      // Estimate mode; 0 = the documented default for the device
  bool include_cpu_with_gpu = false;  // cuda: add the CPU side (RAPL/perf) when it measures
  unsigned gpu_index = 0;
  std::string powercap_root = "/sys/class/powercap";
  std::string perf_root = "/sys/bus/event_source/devices/power";
  std::shared_ptr<const NvmlApi> nvml;  // null = load_nvml() when needed
};

// device "cpu": RAPL, else perf. device "cuda": NVML energy counter, else NVML power sampling
// (plus the CPU side if asked). Off: a meter that says so. Estimate: EstimateMeter.
// Throws std::invalid_argument for another device name.
std::unique_ptr<EnergyMeter> make_energy_meter(EnergyMode mode, const std::string& device,
                                               const EnergyOptions& options = {});

// ---- carbon ----
inline constexpr double kDefaultGridIntensity = 475.0;  // gCO2e per kWh
inline constexpr const char* kDefaultGridIntensitySource = "IEA 2019 world average";

struct CarbonEstimate {
  double kwh = 0.0;
  double grams_co2e = 0.0;
  double intensity = 0.0;        // gCO2e per kWh used
  std::string intensity_source;  // where that figure comes from
};
CarbonEstimate carbon_from_joules(double joules, double grams_per_kwh = kDefaultGridIntensity,
                                  std::string intensity_source = kDefaultGridIntensitySource);

}  // namespace ip
