// Energy meters: shared helpers, estimate/off/combining meters, the factory, carbon.
// The hardware backends live in energy_rapl.cc, energy_perf.cc and energy_nvml.cc.
#include "measure/energy.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "measure/energy_detail.h"

namespace ip {

namespace energy_detail {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool read_text(const std::string& path, std::string* out, std::string* error) {
  // POSIX calls rather than ifstream: ifstream "opens" a directory and then reads nothing, and
  // errno is what tells "permission denied" (energy_uj is root-only) from "missing".
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (error) *error = path + ": " + std::strerror(errno);
    return false;
  }
  out->clear();
  char buffer[4096];
  for (;;) {
    ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (error) *error = path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (got == 0) break;
    out->append(buffer, static_cast<size_t>(got));
  }
  ::close(fd);
  return true;
}

std::string trim(const std::string& text) {
  const char* space = " \t\r\n";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return {};
  size_t end = text.find_last_not_of(space);
  return text.substr(begin, end - begin + 1);
}

bool parse_u64(const std::string& text, uint64_t* value) {
  std::string t = trim(text);
  if (t.empty() || t.size() > 20) return false;
  uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;  // overflow
    v = v * 10 + digit;
  }
  *value = v;
  return true;
}

bool read_u64(const std::string& path, uint64_t* value, std::string* error) {
  std::string text;
  if (!read_text(path, &text, error)) return false;
  if (!parse_u64(text, value)) {
    if (error) *error = path + ": not an unsigned number ('" + trim(text).substr(0, 40) + "')";
    return false;
  }
  return true;
}

std::string format_seconds(double seconds) {
  char text[64];
  if (seconds < 1e-3)
    std::snprintf(text, sizeof text, "%.0f us", seconds * 1e6);
  else if (seconds < 1.0)
    std::snprintf(text, sizeof text, "%.3g ms", seconds * 1e3);
  else
    std::snprintf(text, sizeof text, "%.3g s", seconds);
  return text;
}

void judge_window(EnergyReading& reading, bool advanced, double min_window,
                  const std::string& counter, const std::string& update_note) {
  bool short_window = reading.seconds < min_window;
  if (short_window) {
    reading.warnings.push_back("window of " + format_seconds(reading.seconds) +
                               " is shorter than " + format_seconds(min_window) + " (" +
                               update_note + "): few counter updates, a coarse reading");
  }
  if (advanced) return;
  reading.quality = EnergyQuality::Unavailable;
  reading.joules = 0.0;
  if (short_window) {
    reading.reason = counter + " did not advance over " + format_seconds(reading.seconds) +
                     ": the window is shorter than the counter's update interval";
  } else {
    reading.reason = counter + " did not advance over " + format_seconds(reading.seconds) +
                     ": the counter exists but is not counting (virtual machine or a domain "
                     "this CPU does not support?)";
  }
}

}  // namespace energy_detail

using energy_detail::now_seconds;

const char* quality_name(EnergyQuality quality) {
  switch (quality) {
    case EnergyQuality::Measured: return "measured";
    case EnergyQuality::Estimated: return "estimated";
    case EnergyQuality::Unavailable: return "unavailable";
  }
  return "?";
}

double EnergyReading::watts() const {
  if (!usable() || !(seconds > 0.0)) return 0.0;
  return joules / seconds;
}

std::string EnergyReading::summary() const {
  char head[128];
  if (usable()) {
    std::snprintf(head, sizeof head, "%.4g J over %s (%.4g W), %s", joules,
                  energy_detail::format_seconds(seconds).c_str(), watts(), quality_name(quality));
  } else {
    std::snprintf(head, sizeof head, "unavailable over %s",
                  energy_detail::format_seconds(seconds).c_str());
  }
  std::string line = head;
  if (!source.empty()) line += " [" + source + "]";
  if (!scope.empty()) line += " scope: " + scope;
  if (!usable() && !reason.empty()) line += "; why: " + reason;
  for (const std::string& w : warnings) line += "; warning: " + w;
  return line;
}

void to_json(nlohmann::json& j, const EnergyReading& reading) {
  j = nlohmann::json{{"quality", quality_name(reading.quality)},
                     {"seconds", reading.seconds},
                     {"source", reading.source},
                     {"scope", reading.scope},
                     {"warnings", reading.warnings}};
  // null rather than 0 when there is no number: a 0 in a result file would read as "free".
  if (reading.usable()) {
    j["joules"] = reading.joules;
    j["watts"] = reading.watts();
  } else {
    j["joules"] = nullptr;
    j["watts"] = nullptr;
    j["reason"] = reading.reason;
  }
}

// ---- EstimateMeter ----
EstimateMeter::EstimateMeter(double watts, std::string origin, std::string scope)
    : watts_(watts), origin_(std::move(origin)), scope_(std::move(scope)) {
  if (!(watts > 0.0) || !std::isfinite(watts))
    throw std::invalid_argument("energy estimate: watts must be a positive number");
}

void EstimateMeter::start() { start_time_ = now_seconds(); }

EnergyReading EstimateMeter::stop() {
  EnergyReading r;
  r.seconds = now_seconds() - start_time_;
  r.quality = EnergyQuality::Estimated;
  r.joules = watts_ * r.seconds;
  r.source = source();
  r.scope = scope_;
  char text[64];
  std::snprintf(text, sizeof text, "%g W", watts_);
  r.warnings.push_back(std::string("not measured: estimated as ") + text + " x seconds; " + text +
                       " is " + origin_);
  return r;
}

// ---- UnavailableMeter ----
void UnavailableMeter::start() { start_time_ = now_seconds(); }

EnergyReading UnavailableMeter::stop() {
  EnergyReading r;
  r.seconds = now_seconds() - start_time_;
  r.source = source_;
  r.reason = reason_;
  return r;
}

// ---- FirstUsableMeter ----
FirstUsableMeter::FirstUsableMeter(std::vector<std::unique_ptr<EnergyMeter>> candidates)
    : candidates_(std::move(candidates)) {
  if (candidates_.empty()) throw std::invalid_argument("FirstUsableMeter: no candidates");
}

bool FirstUsableMeter::available() const {
  for (const auto& c : candidates_)
    if (c->available()) return true;
  return false;
}

std::string FirstUsableMeter::unavailable_reason() const {
  std::string why;
  for (const auto& c : candidates_) {
    if (c->available()) continue;
    if (!why.empty()) why += "; ";
    why += c->source() + ": " + c->unavailable_reason();
  }
  return why;
}

std::string FirstUsableMeter::source() const {
  for (const auto& c : candidates_)
    if (c->available()) return c->source();
  return candidates_.front()->source();
}

void FirstUsableMeter::start() {
  // Meters that failed their probe are not started: they have nothing to read.
  for (auto& c : candidates_)
    if (c->available()) c->start();
}

EnergyReading FirstUsableMeter::stop() {
  std::vector<EnergyReading> readings;
  double seconds = 0.0;
  // Stop in reverse start order so the preferred (first) meter's window encloses the others'
  // by the least possible.
  readings.resize(candidates_.size());
  for (size_t i = candidates_.size(); i-- > 0;) {
    if (!candidates_[i]->available()) continue;
    readings[i] = candidates_[i]->stop();
    seconds = readings[i].seconds;
  }
  for (EnergyReading& r : readings)
    if (r.usable()) return r;
  EnergyReading none;
  none.seconds = seconds;
  none.source = source();
  for (size_t i = 0; i < candidates_.size(); ++i) {
    const std::string& why = candidates_[i]->available() ? readings[i].reason
                                                          : candidates_[i]->unavailable_reason();
    if (!none.reason.empty()) none.reason += "; ";
    none.reason += candidates_[i]->source() + ": " + why;
    for (const std::string& w : readings[i].warnings) none.warnings.push_back(w);
  }
  return none;
}

// ---- SumMeter ----
SumMeter::SumMeter(std::unique_ptr<EnergyMeter> required, std::unique_ptr<EnergyMeter> optional)
    : required_(std::move(required)), optional_(std::move(optional)) {}

std::string SumMeter::source() const { return required_->source() + "+" + optional_->source(); }

void SumMeter::start() {
  optional_->start();
  required_->start();
}

EnergyReading SumMeter::stop() {
  EnergyReading r = required_->stop();
  EnergyReading extra = optional_->stop();
  if (!r.usable()) return r;
  if (!extra.usable()) {
    r.warnings.push_back("CPU side left out: " + extra.source + ": " + extra.reason);
    return r;
  }
  r.joules += extra.joules;
  r.source += "+" + extra.source;
  r.scope += " + " + extra.scope;
  // The sum is only as good as its weaker part.
  if (extra.quality == EnergyQuality::Estimated) r.quality = EnergyQuality::Estimated;
  for (const std::string& w : extra.warnings) r.warnings.push_back(w);
  return r;
}

// ---- two meters over one window ----
MeterComparison compare_meters(EnergyMeter& first, EnergyMeter& second,
                               const std::function<void()>& work) {
  MeterComparison c;
  first.start();
  second.start();
  work();
  c.second = second.stop();
  c.first = first.stop();
  c.relative_difference = c.first.usable() && c.second.usable() && c.first.joules > 0.0
                              ? c.second.joules / c.first.joules - 1.0
                              : std::nan("");
  return c;
}

void to_json(nlohmann::json& j, const MeterComparison& comparison) {
  j = {{"first", comparison.first},
       {"second", comparison.second},
       {"relative_difference", std::isfinite(comparison.relative_difference)
                                   ? nlohmann::json(comparison.relative_difference)
                                   : nlohmann::json()}};
}

// ---- factory ----
EnergyMode parse_energy_mode(const std::string& text, double* watts) {
  if (watts) *watts = 0.0;
  if (text == "auto") return EnergyMode::Auto;
  if (text == "off") return EnergyMode::Off;
  if (text == "estimate") return EnergyMode::Estimate;
  const std::string prefix = "estimate";
  if (text.size() > prefix.size() + 1 && text.compare(0, prefix.size(), prefix) == 0 &&
      (text[prefix.size()] == ':' || text[prefix.size()] == '=')) {
    std::string value = text.substr(prefix.size() + 1);
    char* end = nullptr;
    double w = std::strtod(value.c_str(), &end);
    if (end && *end == 'W') ++end;  // "estimate:95W" reads naturally too
    if (end && *end == '\0' && w > 0.0 && std::isfinite(w)) {
      if (watts) *watts = w;
      return EnergyMode::Estimate;
    }
  }
  throw std::invalid_argument("energy mode '" + text +
                              "': expected auto, off, estimate or estimate:<watts>");
}

namespace {

std::unique_ptr<EnergyMeter> cpu_meter(const EnergyOptions& options) {
  std::vector<std::unique_ptr<EnergyMeter>> candidates;
  candidates.push_back(std::make_unique<RaplMeter>(options.powercap_root));
  candidates.push_back(std::make_unique<PerfEnergyMeter>(options.perf_root));
  return std::make_unique<FirstUsableMeter>(std::move(candidates));
}

std::unique_ptr<EnergyMeter> gpu_meter(const EnergyOptions& options) {
  std::shared_ptr<const NvmlApi> api = options.nvml;
  if (!api) {
    std::string why;
    api = load_nvml(&why);
    if (!api) return std::make_unique<UnavailableMeter>("nvml", why);
  }
  std::vector<std::unique_ptr<EnergyMeter>> candidates;
  candidates.push_back(std::make_unique<NvmlEnergyMeter>(api, options.gpu_index));
  candidates.push_back(std::make_unique<NvmlPowerMeter>(api, options.gpu_index));
  return std::make_unique<FirstUsableMeter>(std::move(candidates));
}

}  // namespace

std::unique_ptr<EnergyMeter> make_energy_meter(EnergyMode mode, const std::string& device,
                                               const EnergyOptions& options) {
  if (device != "cpu" && device != "cuda")
    throw std::invalid_argument("energy meter: unknown device '" + device + "' (cpu or cuda)");
  bool gpu = device == "cuda";
  switch (mode) {
    case EnergyMode::Off:
      return std::make_unique<UnavailableMeter>("off", "energy measurement switched off");
    case EnergyMode::Estimate: {
      double watts = options.estimate_watts;
      std::string origin = "the TDP given by the user";
      if (!(watts > 0.0)) {
        watts = gpu ? kDefaultGpuTdpWatts : kDefaultCpuTdpWatts;
        origin = gpu ? "the default for a data-centre GPU board (no TDP given), not this GPU's"
                     : "the default for a server CPU package (no TDP given), not this CPU's";
      }
      return std::make_unique<EstimateMeter>(watts, origin,
                                             gpu ? "GPU board (assumed power)"
                                                 : "CPU package (assumed power)");
    }
    case EnergyMode::Auto:
      break;
  }
  if (!gpu) return cpu_meter(options);
  auto meter = gpu_meter(options);
  if (options.include_cpu_with_gpu)
    return std::make_unique<SumMeter>(std::move(meter), cpu_meter(options));
  return meter;
}

// ---- carbon ----
CarbonEstimate carbon_from_joules(double joules, double grams_per_kwh,
                                  std::string intensity_source) {
  CarbonEstimate c;
  c.kwh = joules / 3.6e6;  // 1 kWh = 3.6 MJ
  c.intensity = grams_per_kwh;
  c.grams_co2e = c.kwh * grams_per_kwh;
  c.intensity_source = std::move(intensity_source);
  return c;
}

}  // namespace ip
