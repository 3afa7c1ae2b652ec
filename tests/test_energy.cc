// Energy meters against fake sysfs trees (RAPL zones, perf power PMU), fake perf counters and a
// fake NVML table: zone choice, wraparound, broken files, counters that do not advance, short
// windows, power integration, estimate/off modes, carbon. Real hardware only where permitted.
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "measure/energy.h"
#include "measure/timer.h"
#include "tests/temp_dir.h"

namespace ip {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const std::string& line : lines)
    if (contains(line, part)) return true;
  return false;
}
void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// A temporary directory standing in for /sys/class/powercap or the perf power PMU.
class FakeTree {
 public:
  FakeTree() : root_(dir_.path().string()) { EXPECT_FALSE(root_.empty()); }
  const std::string& root() const { return root_; }

  void write(const std::string& rel, const std::string& content) {
    fs::path path = fs::path(root_) / rel;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }
  // A powercap zone directory with name, energy_uj and (unless max is 0) max_energy_range_uj.
  void zone(const std::string& rel, const std::string& name, uint64_t energy,
            uint64_t max = 262143328850ull) {
    write(rel + "/name", name + "\n");
    set(rel, energy);
    if (max) write(rel + "/max_energy_range_uj", std::to_string(max) + "\n");
  }
  void set(const std::string& rel, uint64_t energy) {
    write(rel + "/energy_uj", std::to_string(energy) + "\n");
  }

 private:
  test::TempDir dir_;
  std::string root_;
};

// ---------------- RAPL ----------------

TEST(EnergyRapl, CountsPackageAndDramButNotCoreOrUncore) {
  FakeTree t;
  t.zone("intel-rapl:0", "package-0", 1000000);
  t.zone("intel-rapl:0/intel-rapl:0:0", "core", 500000);
  t.zone("intel-rapl:0/intel-rapl:0:1", "uncore", 100000);
  t.zone("intel-rapl:0/intel-rapl:0:2", "dram", 2000000);
  RaplMeter meter(t.root());
  ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
  ASSERT_EQ(meter.zones().size(), 2u);
  EXPECT_EQ(meter.zones()[0].label, "package-0");
  EXPECT_EQ(meter.zones()[1].label, "package-0/dram");
  EXPECT_TRUE(any_contains(meter.skipped(), "(core)"));
  EXPECT_TRUE(any_contains(meter.skipped(), "(uncore)"));

  meter.start();
  t.set("intel-rapl:0", 1000000 + 3000000);                       // +3 J
  t.set("intel-rapl:0/intel-rapl:0:0", 500000 + 90000000);        // core: must not count
  t.set("intel-rapl:0/intel-rapl:0:2", 2000000 + 500000);         // +0.5 J
  sleep_ms(12);
  EnergyReading r = meter.stop();
  EXPECT_EQ(r.quality, EnergyQuality::Measured) << r.summary();
  EXPECT_NEAR(r.joules, 3.5, 1e-9);
  EXPECT_EQ(r.source, "rapl:package-0+dram");
  EXPECT_EQ(r.scope, "CPU package + DRAM");
  EXPECT_TRUE(r.warnings.empty()) << r.summary();
  EXPECT_GE(r.seconds, 0.010);
}

TEST(EnergyRapl, TwoPackagesSummedMmioMirrorAndPsysLeftOut) {
  FakeTree t;
  t.zone("intel-rapl:0", "package-0", 0);
  t.zone("intel-rapl:0/intel-rapl:0:0", "dram", 0);
  t.zone("intel-rapl:1", "package-1", 0);
  t.zone("intel-rapl:1/intel-rapl:1:0", "dram", 0);  // same name, other socket: counts too
  t.zone("intel-rapl:2", "psys", 0);
  t.zone("intel-rapl-mmio:0", "package-0", 0);  // the MMIO interface to package-0's counter
  RaplMeter meter(t.root());
  ASSERT_EQ(meter.zones().size(), 4u) << meter.unavailable_reason();
  EXPECT_TRUE(any_contains(meter.skipped(), "mirror"));
  EXPECT_TRUE(any_contains(meter.skipped(), "(psys)"));

  meter.start();
  t.set("intel-rapl:0", 1000000);
  t.set("intel-rapl:0/intel-rapl:0:0", 200000);
  t.set("intel-rapl:1", 3000000);
  t.set("intel-rapl:1/intel-rapl:1:0", 400000);
  t.set("intel-rapl:2", 99000000);
  t.set("intel-rapl-mmio:0", 1000000);
  sleep_ms(12);
  EnergyReading r = meter.stop();
  EXPECT_NEAR(r.joules, 4.6, 1e-9) << r.summary();
  EXPECT_EQ(r.source, "rapl:package-0+package-0/dram+package-1+package-1/dram");
  EXPECT_EQ(r.scope, "2 CPU packages + DRAM");
}

TEST(EnergyRapl, MirroredDieWithTheSameNameCountedOnce) {
  FakeTree t;
  t.zone("intel-rapl:0", "package-0", 0);
  t.zone("intel-rapl:1", "package-0", 0);  // a second die reporting package-0's counter
  t.zone("intel-rapl:1/intel-rapl:1:0", "dram", 0);
  RaplMeter meter(t.root());
  ASSERT_EQ(meter.zones().size(), 1u);
  EXPECT_EQ(meter.zones()[0].dir, t.root() + "/intel-rapl:0");
  meter.start();
  t.set("intel-rapl:0", 2000000);
  t.set("intel-rapl:1", 2000000);
  t.set("intel-rapl:1/intel-rapl:1:0", 2000000);
  sleep_ms(12);
  EXPECT_NEAR(meter.stop().joules, 2.0, 1e-9);
}

TEST(EnergyRapl, Wraparound) {
  FakeTree t;
  t.zone("intel-rapl:0", "package-0", 999000, 1000000);
  RaplMeter meter(t.root());
  meter.start();
  t.set("intel-rapl:0", 500);  // wrapped: 1000 uJ to the top, then 500 more
  sleep_ms(12);
  EnergyReading r = meter.stop();
  EXPECT_EQ(r.quality, EnergyQuality::Measured) << r.summary();
  EXPECT_NEAR(r.joules, 1500e-6, 1e-12);
}

TEST(EnergyRapl, MissingRangeLeavesZoneOut) {
  FakeTree alone;
  alone.zone("intel-rapl:0", "package-0", 1000, /*max=*/0);
  RaplMeter meter(alone.root());
  EXPECT_FALSE(meter.available());
  EXPECT_TRUE(contains(meter.unavailable_reason(), "max_energy_range_uj"));
  EXPECT_TRUE(contains(meter.unavailable_reason(), "wraparound"));
  meter.start();
  EnergyReading r = meter.stop();
  EXPECT_EQ(r.quality, EnergyQuality::Unavailable);
  EXPECT_TRUE(contains(r.reason, "max_energy_range_uj"));

  FakeTree mixed;  // the package is fine, its dram zone lacks the range
  mixed.zone("intel-rapl:0", "package-0", 1000);
  mixed.zone("intel-rapl:0/intel-rapl:0:0", "dram", 1000, 0);
  RaplMeter partial(mixed.root());
  ASSERT_EQ(partial.zones().size(), 1u);
  EXPECT_TRUE(any_contains(partial.skipped(), "package-0/dram"));
  partial.start();
  mixed.set("intel-rapl:0", 2001000);
  sleep_ms(12);
  EnergyReading p = partial.stop();
  EXPECT_EQ(p.scope, "CPU package");
  EXPECT_NEAR(p.joules, 2.0, 1e-9);
}

TEST(EnergyRapl, GarbageContent) {
  FakeTree t;
  t.write("intel-rapl:0/name", "package-0\n");
  t.write("intel-rapl:0/energy_uj", "12abc\n");
  t.write("intel-rapl:0/max_energy_range_uj", "1000000\n");
  RaplMeter meter(t.root());
  EXPECT_FALSE(meter.available());
  EXPECT_TRUE(contains(meter.unavailable_reason(), "not an unsigned number")) <<
      meter.unavailable_reason();

  // Garbage that appears after start(): that window is unavailable, not 0 J.
  FakeTree later;
  later.zone("intel-rapl:0", "package-0", 1000);
  RaplMeter m2(later.root());
  ASSERT_TRUE(m2.available());
  m2.start();
  later.write("intel-rapl:0/energy_uj", "-5\n");
  EnergyReading r = m2.stop();
  EXPECT_EQ(r.quality, EnergyQuality::Unavailable);
  EXPECT_TRUE(contains(r.reason, "not an unsigned number")) << r.reason;
}

TEST(EnergyRapl, UnreadableZone) {
  FakeTree t;
  // A directory where the counter should be: reading fails for root too (unlike chmod 000,
  // which root ignores), standing in for the root-only energy_uj of recent kernels.
  t.write("intel-rapl:0/name", "package-0\n");
  t.write("intel-rapl:0/max_energy_range_uj", "1000000\n");
  fs::create_directories(t.root() + "/intel-rapl:0/energy_uj");
  RaplMeter meter(t.root());
  EXPECT_FALSE(meter.available());
  EXPECT_TRUE(contains(meter.unavailable_reason(), "energy_uj"));
  EXPECT_TRUE(contains(meter.unavailable_reason(), "Is a directory")) <<
      meter.unavailable_reason();
}

TEST(EnergyRapl, NoPowercapOrNoZones) {
  RaplMeter missing("/nonexistent/powercap");
  EXPECT_FALSE(missing.available());
  EXPECT_TRUE(contains(missing.unavailable_reason(), "no powercap driver"));
  FakeTree empty;
  empty.write("dummy/x", "");
  RaplMeter none(empty.root());
  EXPECT_FALSE(none.available());
  EXPECT_TRUE(contains(none.unavailable_reason(), "has no intel-rapl zones (virtual machine?)"));
}

TEST(EnergyRapl, CounterThatDoesNotAdvanceIsUnavailableNotZero) {
  FakeTree t;
  t.zone("intel-rapl:0", "package-0", 5000);
  RaplMeter meter(t.root());
  meter.start();
  sleep_ms(15);
  EnergyReading r = meter.stop();
  EXPECT_EQ(r.quality, EnergyQuality::Unavailable);
  EXPECT_TRUE(contains(r.reason, "did not advance")) << r.reason;
  EXPECT_TRUE(contains(r.reason, "not counting")) << r.reason;
  EXPECT_TRUE(nlohmann::json(r)["joules"].is_null());
}

TEST(EnergyRapl, ShortWindowFlagged) {
  FakeTree t;
  t.zone("intel-rapl:0", "package-0", 5000);
  RaplMeter meter(t.root());
  meter.start();
  EnergyReading still = meter.stop();  // microseconds: the counter cannot have moved
  EXPECT_EQ(still.quality, EnergyQuality::Unavailable);
  EXPECT_TRUE(contains(still.reason, "shorter than the counter's update interval")) <<
      still.reason;

  meter.start();
  t.set("intel-rapl:0", 6000);
  EnergyReading moved = meter.stop();
  EXPECT_EQ(moved.quality, EnergyQuality::Measured);
  EXPECT_TRUE(any_contains(moved.warnings, "coarse")) << moved.summary();
}

// ---------------- perf ----------------

void fake_power_pmu(FakeTree& t, bool with_pkg) {
  t.write("type", "9\n");
  t.write("cpumask", "0,28\n");
  const std::string scale = "2.3283064365386962890625e-10\n";
  if (with_pkg) {
    t.write("events/energy-pkg", "event=0x02\n");
    t.write("events/energy-pkg.scale", scale);
    t.write("events/energy-pkg.unit", "Joules\n");
    t.write("events/energy-ram", "event=0x03\n");
    t.write("events/energy-ram.scale", scale);
    t.write("events/energy-ram.unit", "Joules\n");
    t.write("events/energy-cores", "event=0x01\n");
    t.write("events/energy-cores.scale", scale);
    t.write("events/energy-cores.unit", "Joules\n");
    t.write("events/energy-bad", "event=0x07\n");
    t.write("events/energy-bad.scale", "lots\n");
    t.write("events/energy-bad.unit", "Joules\n");
  }
  t.write("events/energy-psys", "event=0x05\n");
  t.write("events/energy-psys.scale", scale);
  t.write("events/energy-psys.unit", "Joules\n");
}

TEST(EnergyPerf, DiscoversEventsAndScale) {
  FakeTree t;
  fake_power_pmu(t, true);
  PerfPowerPmu pmu = discover_perf_power(t.root());
  ASSERT_TRUE(pmu.found) << pmu.error;
  EXPECT_EQ(pmu.type, 9u);
  EXPECT_EQ(pmu.cpus, (std::vector<int>{0, 28}));
  ASSERT_EQ(pmu.events.size(), 4u);  // cores, pkg, psys, ram (sorted); bad is skipped
  EXPECT_TRUE(any_contains(pmu.skipped, "energy-bad: scale"));
  std::vector<PerfPowerEvent> chosen = choose_perf_events(pmu.events);
  ASSERT_EQ(chosen.size(), 2u);
  EXPECT_EQ(chosen[0].name, "energy-pkg");
  EXPECT_EQ(chosen[0].config, 2u);
  EXPECT_DOUBLE_EQ(chosen[0].scale, std::ldexp(1.0, -32));
  EXPECT_EQ(chosen[1].name, "energy-ram");

  FakeTree psys_only;
  fake_power_pmu(psys_only, false);
  chosen = choose_perf_events(discover_perf_power(psys_only.root()).events);
  ASSERT_EQ(chosen.size(), 1u);
  EXPECT_EQ(chosen[0].name, "energy-psys");

  PerfPowerPmu none = discover_perf_power("/nonexistent/power");
  EXPECT_FALSE(none.found);
  EXPECT_TRUE(contains(none.error, "no perf power PMU")) << none.error;
}

// Fake counters: handle -> count; tests advance them between start and stop.
struct FakeCounters {
  std::map<int, uint64_t> counts;
  std::map<int, std::pair<uint64_t, int>> opened;  // handle -> (config, cpu)
  bool refuse = false;
  PerfCounterOps ops() {
    PerfCounterOps o;
    o.open = [this](uint32_t type, uint64_t config, int cpu, std::string* error) {
      if (refuse || type != 9) {
        *error = "Permission denied";
        return -1;
      }
      int handle = static_cast<int>(opened.size()) + 100;
      opened[handle] = {config, cpu};
      counts[handle] = 1000;
      return handle;
    };
    o.read = [this](int handle, uint64_t* count) {
      *count = counts.at(handle);
      return true;
    };
    o.close = [this](int handle) { opened.erase(handle); };
    return o;
  }
};

TEST(EnergyPerf, FakeCountersSumPackagesWithScale) {
  FakeTree t;
  fake_power_pmu(t, true);
  FakeCounters fake;
  {
    PerfEnergyMeter meter(t.root(), fake.ops());
    ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
    ASSERT_EQ(fake.opened.size(), 4u);  // pkg and ram on cpus 0 and 28
    meter.start();
    for (auto& [handle, count] : fake.counts) {
      // pkg: 1 J per package (2^32 counts); ram: 0.25 J per package.
      count += fake.opened[handle].first == 2 ? (1ull << 32) : (1ull << 30);
    }
    sleep_ms(12);
    EnergyReading r = meter.stop();
    EXPECT_EQ(r.quality, EnergyQuality::Measured) << r.summary();
    EXPECT_NEAR(r.joules, 2.5, 1e-9);
    EXPECT_EQ(r.source, "perf:power/energy-pkg+power/energy-ram");
    EXPECT_EQ(r.scope, "CPU package + DRAM");
  }
  EXPECT_TRUE(fake.opened.empty()) << "counters left open";
}

TEST(EnergyPerf, PsysThatDoesNotAdvanceIsUnavailable) {
  // What this project's development VM shows: power/energy-psys exists and reads 0 J.
  FakeTree t;
  fake_power_pmu(t, false);
  FakeCounters fake;
  PerfEnergyMeter meter(t.root(), fake.ops());
  ASSERT_TRUE(meter.available());
  EXPECT_EQ(meter.source(), "perf:power/energy-psys");
  meter.start();
  sleep_ms(15);
  EnergyReading r = meter.stop();
  EXPECT_EQ(r.quality, EnergyQuality::Unavailable);
  EXPECT_TRUE(contains(r.reason, "power/energy-psys did not advance")) << r.reason;
  EXPECT_EQ(r.watts(), 0.0);
}

TEST(EnergyPerf, OpenRefusedGivesReason) {
  FakeTree t;
  fake_power_pmu(t, true);
  FakeCounters fake;
  fake.refuse = true;
  PerfEnergyMeter meter(t.root(), fake.ops());
  EXPECT_FALSE(meter.available());
  EXPECT_TRUE(contains(meter.unavailable_reason(), "perf_event_open(power/energy-pkg, cpu 0)"));
  EXPECT_TRUE(contains(meter.unavailable_reason(), "Permission denied"));
}

TEST(EnergyPerf, RealSyscallWherePermitted) {
  PerfEnergyMeter meter;
  if (!meter.available()) GTEST_SKIP() << meter.unavailable_reason();
  meter.start();
  sleep_ms(30);
  EnergyReading r = meter.stop();
  // Either a real positive measurement or an explained absence; never 0 J "measured".
  if (r.quality == EnergyQuality::Measured) {
    EXPECT_GT(r.joules, 0.0);
  } else {
    EXPECT_FALSE(r.reason.empty());
  }
  std::cout << "[ real perf ] " << r.summary() << "\n";
}

// ---------------- NVML (fake table) ----------------

namespace fake_nvml {
int device_token;
int init_calls = 0, shutdown_calls = 0;
unsigned long long energy_mj = 0;
int energy_result = 0;  // 3 = NVML_ERROR_NOT_SUPPORTED
std::chrono::steady_clock::time_point ramp_start;
bool ramp = false, ramp_started = false;

int init() { return ++init_calls, 0; }
int shutdown() { return ++shutdown_calls, 0; }
int handle(unsigned index, void** device) {
  if (index != 0) return 2;
  *device = &device_token;
  return 0;
}
int name(void*, char* out, unsigned length) {
  std::snprintf(out, length, "Fake GPU");
  return 0;
}
int energy(void*, unsigned long long* mj) {
  *mj = energy_mj;
  return energy_result;
}
int power(void*, unsigned* mw) {
  if (!ramp) {
    *mw = 50000;  // 50 W
    return 0;
  }
  // 1000 W per second since the first call: a linear ramp, which the trapezoid rule integrates
  // exactly and a rectangle rule would not.
  auto now = std::chrono::steady_clock::now();
  if (!ramp_started) ramp_start = now, ramp_started = true;
  *mw = static_cast<unsigned>(1e6 * std::chrono::duration<double>(now - ramp_start).count());
  return 0;
}
const char* error_string(int result) { return result == 3 ? "Not Supported" : "Error"; }

std::shared_ptr<const NvmlApi> table() {
  auto api = std::make_shared<NvmlApi>();
  api->init = init;
  api->shutdown = shutdown;
  api->device_get_handle_by_index = handle;
  api->device_get_name = name;
  api->device_get_total_energy_consumption = energy;
  api->device_get_power_usage = power;
  api->error_string = error_string;
  api->library = "fake";
  energy_mj = 1000;
  energy_result = 0;
  ramp = ramp_started = false;
  return api;
}
}  // namespace fake_nvml

TEST(EnergyNvml, TotalEnergyCounter) {
  auto api = fake_nvml::table();
  int inits = fake_nvml::init_calls, shutdowns = fake_nvml::shutdown_calls;
  {
    NvmlEnergyMeter meter(api);
    ASSERT_TRUE(meter.available()) << meter.unavailable_reason();
    meter.start();
    fake_nvml::energy_mj += 12345;
    EnergyReading r = meter.stop();
    EXPECT_EQ(r.quality, EnergyQuality::Measured);
    EXPECT_NEAR(r.joules, 12.345, 1e-12);
    EXPECT_EQ(r.source, "nvml:total-energy");
    EXPECT_EQ(r.scope, "GPU board (GPU 0: Fake GPU)");
    EXPECT_TRUE(any_contains(r.warnings, "shorter than")) << r.summary();  // microseconds

    meter.start();
    EnergyReading still = meter.stop();
    EXPECT_EQ(still.quality, EnergyQuality::Unavailable);
    EXPECT_TRUE(contains(still.reason, "did not advance"));
  }
  EXPECT_EQ(fake_nvml::init_calls - inits, 1);
  EXPECT_EQ(fake_nvml::shutdown_calls - shutdowns, 1);  // init and shutdown paired

  NvmlEnergyMeter wrong_gpu(api, 3);
  EXPECT_FALSE(wrong_gpu.available());
  EXPECT_TRUE(contains(wrong_gpu.unavailable_reason(), "nvmlDeviceGetHandleByIndex(3)"));
}

TEST(EnergyNvml, UnsupportedCounterFallsBackToPowerSampling) {
  auto api = fake_nvml::table();
  fake_nvml::energy_result = 3;
  NvmlEnergyMeter counter(api);
  EXPECT_FALSE(counter.available());
  EXPECT_TRUE(contains(counter.unavailable_reason(), "Volta"));

  EnergyOptions options;
  options.nvml = api;
  auto meter = make_energy_meter(EnergyMode::Auto, "cuda", options);
  EXPECT_EQ(meter->source(), "nvml:power-sampling");
  meter->start();
  sleep_ms(100);
  EnergyReading r = meter->stop();
  EXPECT_EQ(r.quality, EnergyQuality::Measured) << r.summary();
  EXPECT_EQ(r.source, "nvml:power-sampling");
  EXPECT_NEAR(r.seconds, 0.1, 0.08);
  EXPECT_NEAR(r.joules, 50.0 * r.seconds, 1e-9);  // constant power: exactly 50 W x window
  EXPECT_TRUE(any_contains(r.warnings, "averages power")) << r.summary();
}

TEST(EnergyNvml, PowerSamplingUsesTrapezoidRule) {
  auto api = fake_nvml::table();
  fake_nvml::ramp = true;
  NvmlPowerMeter meter(api, 0, 0.005);
  fake_nvml::ramp_started = false;  // the ramp starts at the meter's first sample
  meter.start();
  sleep_ms(120);
  EnergyReading r = meter.stop();
  ASSERT_EQ(r.quality, EnergyQuality::Measured) << r.summary();
  // Integral of 1000 W/s * t over the window: 500 * T^2. A left-rectangle sum over 5 ms steps
  // would fall short by 0.005 / T of it (~4% here).
  double exact = 500.0 * r.seconds * r.seconds;
  EXPECT_NEAR(r.joules, exact, 0.01 * exact) << r.summary();
}

// The campaign's counter-against-sampling check: both meters see the same window, the counter's
// enclosing the sampler's, and the difference is sampling / counter - 1.
TEST(EnergyNvml, CompareMetersOverOneWindow) {
  auto api = fake_nvml::table();
  NvmlEnergyMeter counter(api);
  NvmlPowerMeter sampling(api, 0, 0.005);  // a constant 50 W
  MeterComparison c = compare_meters(counter, sampling, [] {
    sleep_ms(110);
    fake_nvml::energy_mj += 5500;
  });
  ASSERT_TRUE(c.first.usable()) << c.first.summary();
  ASSERT_TRUE(c.second.usable()) << c.second.summary();
  EXPECT_EQ(c.first.source, "nvml:total-energy");
  EXPECT_EQ(c.second.source, "nvml:power-sampling");
  EXPECT_NEAR(c.first.joules, 5.5, 1e-12);
  EXPECT_NEAR(c.second.joules, 50.0 * c.second.seconds, 1e-9);
  EXPECT_GE(c.first.seconds, c.second.seconds);
  EXPECT_NEAR(c.relative_difference, c.second.joules / 5.5 - 1.0, 1e-12);
  nlohmann::json j = c;
  EXPECT_EQ(j["first"]["quality"], "measured");
  EXPECT_DOUBLE_EQ(j["relative_difference"].get<double>(), c.relative_difference);

  // A counter that does not advance gives no difference, not -100%.
  MeterComparison idle = compare_meters(counter, sampling, [] { sleep_ms(20); });
  EXPECT_FALSE(idle.first.usable());
  EXPECT_TRUE(idle.second.usable());
  EXPECT_TRUE(std::isnan(idle.relative_difference));
  j = idle;
  EXPECT_TRUE(j["relative_difference"].is_null());
}

TEST(EnergyNvml, MissingLibraryOrTable) {
  NvmlEnergyMeter no_table(nullptr);
  EXPECT_FALSE(no_table.available());
  EXPECT_EQ(no_table.unavailable_reason(), "NVML is not loaded");
  NvmlPowerMeter no_table_power(nullptr);
  no_table_power.start();
  EXPECT_EQ(no_table_power.stop().quality, EnergyQuality::Unavailable);

  std::string why;
  if (load_nvml(&why)) GTEST_SKIP() << "NVML is installed here; the missing case cannot be seen";
  EXPECT_TRUE(contains(why, "libnvidia-ml.so.1")) << why;
  auto meter = make_energy_meter(EnergyMode::Auto, "cuda");
  EXPECT_FALSE(meter->available());
  meter->start();
  EnergyReading r = meter->stop();
  EXPECT_EQ(r.quality, EnergyQuality::Unavailable);
  EXPECT_TRUE(contains(r.reason, "libnvidia-ml.so.1")) << r.reason;
}

// ---------------- factory, estimate, off, sums, carbon, timer ----------------

TEST(EnergyFactory, ParseMode) {
  double watts = -1;
  EXPECT_EQ(parse_energy_mode("auto", &watts), EnergyMode::Auto);
  EXPECT_EQ(watts, 0.0);
  EXPECT_EQ(parse_energy_mode("off"), EnergyMode::Off);
  EXPECT_EQ(parse_energy_mode("estimate"), EnergyMode::Estimate);
  EXPECT_EQ(parse_energy_mode("estimate:95", &watts), EnergyMode::Estimate);
  EXPECT_EQ(watts, 95.0);
  EXPECT_EQ(parse_energy_mode("estimate=65W", &watts), EnergyMode::Estimate);
  EXPECT_EQ(watts, 65.0);
  EXPECT_THROW(parse_energy_mode("estimate:-3"), std::invalid_argument);
  EXPECT_THROW(parse_energy_mode("on"), std::invalid_argument);
  EXPECT_THROW(make_energy_meter(EnergyMode::Auto, "tpu"), std::invalid_argument);
}

TEST(EnergyFactory, EstimateIsLabelledWithItsOrigin) {
  EnergyOptions options;
  options.estimate_watts = 95.0;
  auto meter = make_energy_meter(EnergyMode::Estimate, "cpu", options);
  meter->start();
  sleep_ms(5);
  EnergyReading r = meter->stop();
  EXPECT_EQ(r.quality, EnergyQuality::Estimated);
  EXPECT_EQ(r.source, "tdp-estimate");
  EXPECT_NEAR(r.joules, 95.0 * r.seconds, 1e-9);
  EXPECT_TRUE(any_contains(r.warnings, "95 W is the TDP given by the user")) << r.summary();

  auto gpu = make_energy_meter(EnergyMode::Estimate, "cuda");
  gpu->start();
  EnergyReading g = gpu->stop();
  EXPECT_EQ(g.quality, EnergyQuality::Estimated);
  EXPECT_TRUE(any_contains(g.warnings, "300 W is the default")) << g.summary();
  EXPECT_EQ(nlohmann::json(g)["quality"], "estimated");
}

TEST(EnergyFactory, OffSaysSo) {
  auto meter = make_energy_meter(EnergyMode::Off, "cpu");
  meter->start();
  EnergyReading r = meter->stop();
  EXPECT_EQ(r.quality, EnergyQuality::Unavailable);
  EXPECT_TRUE(contains(r.reason, "switched off"));
}

TEST(EnergyFactory, CpuAutoPrefersRaplAndExplainsWhenNothingWorks) {
  FakeTree t;
  t.zone("intel-rapl:0", "package-0", 0);
  EnergyOptions options;
  options.powercap_root = t.root();
  options.perf_root = "/nonexistent/power";
  auto meter = make_energy_meter(EnergyMode::Auto, "cpu", options);
  EXPECT_TRUE(meter->available());
  meter->start();
  t.set("intel-rapl:0", 1500000);
  sleep_ms(12);
  EnergyReading r = meter->stop();
  EXPECT_EQ(r.source, "rapl:package-0");
  EXPECT_NEAR(r.joules, 1.5, 1e-9);

  options.powercap_root = "/nonexistent/powercap";
  auto none = make_energy_meter(EnergyMode::Auto, "cpu", options);
  EXPECT_FALSE(none->available());
  none->start();
  EnergyReading n = none->stop();
  EXPECT_EQ(n.quality, EnergyQuality::Unavailable);
  EXPECT_TRUE(contains(n.reason, "rapl: ")) << n.reason;
  EXPECT_TRUE(contains(n.reason, "perf: ")) << n.reason;
}

TEST(EnergyFactory, GpuPlusCpuSide) {
  FakeTree t;
  t.zone("intel-rapl:0", "package-0", 0);
  EnergyOptions options;
  options.nvml = fake_nvml::table();
  options.include_cpu_with_gpu = true;
  options.powercap_root = t.root();
  options.perf_root = "/nonexistent/power";
  auto meter = make_energy_meter(EnergyMode::Auto, "cuda", options);
  meter->start();
  fake_nvml::energy_mj += 4000;
  t.set("intel-rapl:0", 1000000);
  sleep_ms(12);
  EnergyReading r = meter->stop();
  EXPECT_NEAR(r.joules, 5.0, 1e-9) << r.summary();
  EXPECT_EQ(r.source, "nvml:total-energy+rapl:package-0");
  EXPECT_EQ(r.scope, "GPU board (GPU 0: Fake GPU) + CPU package");

  options.powercap_root = "/nonexistent/powercap";  // CPU side missing: GPU alone, said so
  auto gpu_only = make_energy_meter(EnergyMode::Auto, "cuda", options);
  gpu_only->start();
  fake_nvml::energy_mj += 4000;
  EnergyReading g = gpu_only->stop();
  EXPECT_NEAR(g.joules, 4.0, 1e-9);
  EXPECT_TRUE(any_contains(g.warnings, "CPU side left out")) << g.summary();
}

TEST(EnergyCarbon, JoulesToGrams) {
  CarbonEstimate c = carbon_from_joules(3.6e6);
  EXPECT_DOUBLE_EQ(c.kwh, 1.0);
  EXPECT_DOUBLE_EQ(c.grams_co2e, 475.0);
  EXPECT_EQ(c.intensity_source, "IEA 2019 world average");
  CarbonEstimate mine = carbon_from_joules(7.2e6, 50.0, "user-given");
  EXPECT_DOUBLE_EQ(mine.grams_co2e, 100.0);
  EXPECT_EQ(mine.intensity_source, "user-given");
}

TEST(EnergyTimer, SynchroniseHookRunsBeforeEachRead) {
  int syncs = 0;
  Timer timer([&] { ++syncs; });
  timer.start();
  sleep_ms(3);
  double s = timer.seconds();
  EXPECT_GE(s, 0.003);
  EXPECT_LT(s, 1.0);
  EXPECT_EQ(syncs, 2);
}

}  // namespace
}  // namespace ip
