// RestartBackoff: how long to wait before restarting a worker that died.
// Quick successive deaths double the delay (initial, 2x, 4x, ... up to max);
// a worker that ran at least `stable_after` before dying starts over at the
// initial delay, so a rare crash is repaired in well under a second while a
// crash loop cannot spin the CPU.
#pragma once

#include <chrono>
#include <cstdint>

namespace gwr::supervisor {

class RestartBackoff {
 public:
  using Millis = std::chrono::milliseconds;
  RestartBackoff(Millis initial, Millis max, Millis stable_after)
      : initial_(initial), max_(max), stable_after_(stable_after) {}

  // The worker died after running for `uptime`; returns the delay before
  // the next start.
  Millis on_exit(Millis uptime) {
    if (uptime >= stable_after_) quick_deaths_ = 0;
    ++quick_deaths_;
    Millis delay = initial_;
    for (uint32_t i = 1; i < quick_deaths_ && delay < max_; ++i) delay *= 2;
    return delay > max_ ? max_ : delay;
  }
  // Deaths in a row without a stable run in between.
  uint32_t quick_deaths() const { return quick_deaths_; }

 private:
  Millis initial_;
  Millis max_;
  Millis stable_after_;
  uint32_t quick_deaths_ = 0;
};

}  // namespace gwr::supervisor
