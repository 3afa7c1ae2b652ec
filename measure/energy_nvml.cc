// NVML backends. The library is opened with dlopen so that a machine without the NVIDIA driver
// still runs everything else; every function goes through an NvmlApi table, which tests replace.
#include <dlfcn.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <type_traits>

#include "measure/energy.h"
#include "measure/energy_detail.h"

namespace ip {

namespace {

constexpr int kNvmlSuccess = 0;
constexpr int kNvmlNotSupported = 3;  // NVML_ERROR_NOT_SUPPORTED
// The total-energy counter is refreshed by the driver every few tens of milliseconds.
constexpr double kNvmlEnergyMinWindow = 0.1;
// nvmlDeviceGetPowerUsage is a driver-side average (over up to 1 s on recent GPUs).
constexpr double kNvmlPowerMinWindow = 1.0;

std::string nvml_error(const NvmlApi& api, int result) {
  std::string text = api.error_string ? api.error_string(result) : "";
  return text.empty() ? "NVML error " + std::to_string(result)
                      : text + " (NVML error " + std::to_string(result) + ")";
}

// nvmlInit, the device handle and its name. *initialised tells the caller to call shutdown
// (NVML counts init/shutdown pairs, so meters can do this independently).
bool open_device(const NvmlApi* api, unsigned index, bool* initialised, void** device,
                 std::string* scope, std::string* why) {
  if (!api) {
    *why = "NVML is not loaded";
    return false;
  }
  int rc = api->init();
  if (rc != kNvmlSuccess) {
    *why = "nvmlInit: " + nvml_error(*api, rc);
    return false;
  }
  *initialised = true;
  rc = api->device_get_handle_by_index(index, device);
  if (rc != kNvmlSuccess) {
    *why = "nvmlDeviceGetHandleByIndex(" + std::to_string(index) + "): " + nvml_error(*api, rc);
    return false;
  }
  char name[96] = {0};
  std::string gpu = "GPU " + std::to_string(index);
  if (api->device_get_name && api->device_get_name(*device, name, sizeof name) == kNvmlSuccess)
    gpu += ": " + std::string(name);
  *scope = "GPU board (" + gpu + ")";
  return true;
}

}  // namespace

std::shared_ptr<const NvmlApi> load_nvml(std::string* why) {
  // Loaded once per process and never closed: NVML keeps process-wide state.
  static const std::pair<std::shared_ptr<const NvmlApi>, std::string> loaded = [] {
    const char* library = "libnvidia-ml.so.1";
    void* handle = ::dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* error = ::dlerror();
      return std::make_pair(std::shared_ptr<const NvmlApi>(),
                            std::string(library) + " cannot be loaded (no NVIDIA driver?): " +
                                (error ? error : "unknown error"));
    }
    auto api = std::make_shared<NvmlApi>();
    api->library = library;
    std::string missing;
    auto find = [&](auto& slot, const char* symbol) {
      void* address = ::dlsym(handle, symbol);
      if (!address) missing += std::string(missing.empty() ? "" : ", ") + symbol;
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(address);
    };
    find(api->init, "nvmlInit_v2");
    find(api->shutdown, "nvmlShutdown");
    find(api->device_get_handle_by_index, "nvmlDeviceGetHandleByIndex_v2");
    find(api->device_get_name, "nvmlDeviceGetName");
    find(api->device_get_total_energy_consumption, "nvmlDeviceGetTotalEnergyConsumption");
    find(api->device_get_power_usage, "nvmlDeviceGetPowerUsage");
    find(api->error_string, "nvmlErrorString");
    if (!missing.empty())
      return std::make_pair(std::shared_ptr<const NvmlApi>(),
                            std::string(library) + " lacks " + missing + " (driver too old?)");
    return std::make_pair(std::shared_ptr<const NvmlApi>(api), std::string());
  }();
  if (why) *why = loaded.second;
  return loaded.first;
}

// ---- NvmlMeter ----
NvmlMeter::NvmlMeter(std::shared_ptr<const NvmlApi> api, unsigned device_index) : api_(std::move(api)) {
  open_device(api_.get(), device_index, &initialised_, &device_, &scope_, &reason_);
}
NvmlMeter::~NvmlMeter() {
  if (initialised_) api_->shutdown();
}

// ---- NvmlEnergyMeter ----
NvmlEnergyMeter::NvmlEnergyMeter(std::shared_ptr<const NvmlApi> api, unsigned device_index)
    : NvmlMeter(std::move(api), device_index) {
  if (!reason_.empty()) return;
  unsigned long long mj = 0;
  int rc = api_->device_get_total_energy_consumption(device_, &mj);
  if (rc == kNvmlNotSupported)
    reason_ = "nvmlDeviceGetTotalEnergyConsumption is not supported on " + scope_ +
              " (it needs Volta or newer)";
  else if (rc != kNvmlSuccess)
    reason_ = "nvmlDeviceGetTotalEnergyConsumption: " + nvml_error(*api_, rc);
}

void NvmlEnergyMeter::start() {
  start_error_.clear();
  if (available()) {
    int rc = api_->device_get_total_energy_consumption(device_, &start_mj_);
    if (rc != kNvmlSuccess)
      start_error_ = "nvmlDeviceGetTotalEnergyConsumption: " + nvml_error(*api_, rc);
  }
  start_time_ = energy_detail::now_seconds();
}

EnergyReading NvmlEnergyMeter::stop() {
  EnergyReading r;
  r.seconds = energy_detail::now_seconds() - start_time_;
  r.source = source();
  r.scope = scope_;
  if (!available()) {
    r.reason = reason_;
    return r;
  }
  unsigned long long end_mj = 0;
  int rc = api_->device_get_total_energy_consumption(device_, &end_mj);
  if (!start_error_.empty() || rc != kNvmlSuccess) {
    r.reason = !start_error_.empty()
                   ? start_error_
                   : "nvmlDeviceGetTotalEnergyConsumption: " + nvml_error(*api_, rc);
    return r;
  }
  if (end_mj < start_mj_) {
    // The counter runs from driver load; going back means the driver was reloaded.
    r.reason = "the NVML energy counter went backwards (driver reloaded?)";
    return r;
  }
  r.quality = EnergyQuality::Measured;
  r.joules = static_cast<double>(end_mj - start_mj_) * 1e-3;
  energy_detail::judge_window(r, end_mj > start_mj_, kNvmlEnergyMinWindow,
                              "the NVML total-energy counter",
                              "the driver refreshes it every few tens of ms");
  return r;
}

// ---- NvmlPowerMeter ----
struct NvmlPowerMeter::Sampler {
  struct Sample {
    double time;
    double watts;
  };
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::vector<Sample> samples;
  size_t failures = 0;
  std::thread thread;
};

NvmlPowerMeter::NvmlPowerMeter(std::shared_ptr<const NvmlApi> api, unsigned device_index,
                               double period_seconds)
    : NvmlMeter(std::move(api), device_index), period_(period_seconds) {
  if (!reason_.empty()) return;
  unsigned mw = 0;
  int rc = api_->device_get_power_usage(device_, &mw);
  if (rc == kNvmlNotSupported)
    reason_ = "nvmlDeviceGetPowerUsage is not supported on " + scope_;
  else if (rc != kNvmlSuccess)
    reason_ = "nvmlDeviceGetPowerUsage: " + nvml_error(*api_, rc);
}

NvmlPowerMeter::~NvmlPowerMeter() {
  if (sampler_ && sampler_->thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(sampler_->mutex);
      sampler_->stopping = true;
    }
    sampler_->wake.notify_all();
    sampler_->thread.join();
  }
}

void NvmlPowerMeter::start() {
  if (!available()) return;
  if (sampler_ && sampler_->thread.joinable()) stop();  // a second start() restarts the window
  sampler_ = std::make_unique<Sampler>();
  Sampler* s = sampler_.get();
  auto sample = [this, s] {
    unsigned mw = 0;
    int rc = api_->device_get_power_usage(device_, &mw);
    double t = energy_detail::now_seconds();
    std::lock_guard<std::mutex> lock(s->mutex);
    if (rc == kNvmlSuccess)
      s->samples.push_back({t, mw * 1e-3});
    else
      ++s->failures;
  };
  sample();  // the window starts with a sample, so the integral covers all of it
  s->thread = std::thread([s, sample, period = period_] {
    std::unique_lock<std::mutex> lock(s->mutex);
    while (!s->wake.wait_for(lock, std::chrono::duration<double>(period),
                             [s] { return s->stopping; })) {
      lock.unlock();
      sample();
      lock.lock();
    }
  });
}

EnergyReading NvmlPowerMeter::stop() {
  EnergyReading r;
  r.source = source();
  r.scope = scope_;
  if (!available() || !sampler_) {
    r.reason = available() ? "stop() without start()" : reason_;
    return r;
  }
  Sampler* s = sampler_.get();
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    s->stopping = true;
  }
  s->wake.notify_all();
  s->thread.join();
  // The closing sample, taken after the thread is gone so it is the last one.
  unsigned mw = 0;
  int rc = api_->device_get_power_usage(device_, &mw);
  double t_end = energy_detail::now_seconds();
  if (rc == kNvmlSuccess)
    s->samples.push_back({t_end, mw * 1e-3});
  else
    ++s->failures;

  const auto& samples = s->samples;
  if (samples.size() < 2) {
    r.reason = "fewer than two NVML power samples could be read";
    return r;
  }
  r.seconds = samples.back().time - samples.front().time;
  double joules = 0.0;
  bool any_power = false;
  for (size_t i = 1; i < samples.size(); ++i) {
    // Trapezoid: power varies between samples, so the mean of the two ends over the interval.
    joules += 0.5 * (samples[i - 1].watts + samples[i].watts) *
              (samples[i].time - samples[i - 1].time);
  }
  for (const auto& sample : samples) any_power = any_power || sample.watts > 0.0;
  r.quality = EnergyQuality::Measured;
  r.joules = joules;
  if (s->failures)
    r.warnings.push_back(std::to_string(s->failures) + " NVML power samples failed and were "
                         "skipped (interpolated across)");
  energy_detail::judge_window(r, any_power, kNvmlPowerMinWindow, "NVML board power",
                              "the driver averages power over up to 1 s on recent GPUs");
  sampler_.reset();
  return r;
}

}  // namespace ip
