// Clock: the only way cores learn the time. Real processes use SystemClock;
// tests use FakeClock (tests/support) and step it, so no test sleeps.
#pragma once

#include <chrono>
#include <cstdint>

namespace gwr {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for deadlines and intervals.
  virtual SteadyTime steady() const = 0;
  // Calendar time, for timestamps and anything persisted across restarts.
  virtual WallTime wall() const = 0;

  int64_t wall_ms() const {
    return std::chrono::duration_cast<Millis>(wall().time_since_epoch()).count();
  }
};

class SystemClock final : public Clock {
 public:
  SteadyTime steady() const override { return std::chrono::steady_clock::now(); }
  WallTime wall() const override { return std::chrono::system_clock::now(); }
  // A process-wide instance for adapters that have no clock handed in.
  static const SystemClock& instance() {
    static const SystemClock clock;
    return clock;
  }
};

inline int64_t to_ms(WallTime t) {
  return std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
}
inline WallTime from_ms(int64_t ms) { return WallTime(Millis(ms)); }

}  // namespace gwr
