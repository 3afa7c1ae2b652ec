// Monotonic wall-clock timer. steady_clock never jumps with NTP or DST, so intervals are honest.
// Asynchronous devices (CUDA) finish work after the launch returns: give the timer a synchronise
// hook and it is called before every clock read, so the interval covers the device's work too.
#pragma once

#include <chrono>
#include <functional>
#include <utility>

namespace ip {

class Timer {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Timer(std::function<void()> synchronise = nullptr)
      : synchronise_(std::move(synchronise)), start_(Clock::now()) {}

  // Restarts the interval (after synchronising, so earlier queued work is not counted).
  void start() { start_ = now(); }
  // Seconds since start() (or construction), after synchronising.
  double seconds() const { return std::chrono::duration<double>(now() - start_).count(); }

 private:
  Clock::time_point now() const {
    if (synchronise_) synchronise_();
    return Clock::now();
  }

  std::function<void()> synchronise_;
  Clock::time_point start_;
};

}  // namespace ip
