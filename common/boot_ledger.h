// OpenClaw's crash-loop breaker, forecast (pure). The gateway records every
// boot in its state database (`gateway_boot_lifecycle`); a clean stop
// completes the row, a kill -9 or a crash leaves it open. At each boot it
// counts the open rows started in the last 300 s (and start-ups that failed
// in that window); three or more and it starts with every channel off.
//
// gwr must never be what makes the third: before it sends SIGKILL to a
// gateway (whose own row then stays open), it asks when that kill would no
// longer trip the breaker at the next boot — now, or once the oldest unclean
// boot has aged out of the window. Without OpenClaw's table (it cannot be
// read) gwr falls back on what it saw itself: the crashes the prober
// reported and its own kills.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gwr {

// OpenClaw's constants (src/infra/gateway-boot-lifecycle.ts, 2026.9).
inline constexpr int64_t kBreakerWindowMs = 300'000;
inline constexpr uint32_t kBreakerThreshold = 3;

struct BootRecord {
  int64_t started_at_ms = 0;
  std::optional<int64_t> completed_at_ms;  // unset: the boot never completed (unclean, or still running)
  std::string outcome;                     // "clean_stop", "startup_failed", ...
  std::string startup_reason;              // maintenance starts do not count
  uint32_t pid = 0;
};

// The number of unclean boots OpenClaw would count at a boot at `at_ms`.
uint32_t unclean_boots_at(const std::vector<BootRecord>& boots, int64_t at_ms);

// Whether a boot at `at_ms` would start with the breaker tripped.
inline bool breaker_trips_at(const std::vector<BootRecord>& boots, int64_t at_ms) {
  return unclean_boots_at(boots, at_ms) >= kBreakerThreshold;
}

struct KillForecast {
  uint32_t unclean_now = 0;   // counted by a boot now
  bool own_row_counted = false;  // the gateway to be killed is one of them (its row is open, in the window)
  bool trips_now = false;     // a kill now makes the next boot trip the breaker (a clean stop would not)
  int64_t safe_at_ms = 0;     // the earliest time a kill no longer does (== now when it does not)
  bool trips_anyway = false;  // the next boot trips whatever gwr does (the gateway's own crashes)
  std::string explain() const;
};

// The forecast for a hard kill at `now_ms` of the gateway process `pid`,
// started at `process_start_ms` (its boot row, if OpenClaw wrote one, is
// open and started at or after that). No rows: no breaker, the kill is safe.
KillForecast forecast_hard_kill(const std::vector<BootRecord>& boots, uint32_t pid, int64_t process_start_ms,
                                int64_t now_ms);

// When a tripped breaker should lift by itself: OpenClaw's health monitor
// looks 60 s after the gateway started, then every 300 s, and lifts it once
// no unclean boot is counted any more — the tripped boot's own open row
// included. 0 when nothing is counted (these records do not keep it tripped).
int64_t breaker_clears_at(const std::vector<BootRecord>& boots, int64_t now_ms);

// The unclean boots OpenClaw counted when it tripped: at the newest boot
// started with the breaker's reason, the others counted then (its own row is
// not one of them). Without such a boot, what a boot now would count.
uint32_t breaker_trip_count(const std::vector<BootRecord>& boots, int64_t now_ms);

// gwr's own record, for when OpenClaw's table cannot be read: gateway boots
// that ended uncleanly as gwr saw them (a crash the prober reported, a
// SIGKILL it sent), pruned to the window.
class UncleanBootLedger {
 public:
  void record(uint32_t pid, int64_t process_started_ms, int64_t now_ms);
  // As open boot records, plus the running gateway's own (open: it runs).
  std::vector<BootRecord> as_boots(int64_t now_ms, uint32_t running_pid, int64_t running_started_ms) const;
  size_t size() const { return boots_.size(); }

 private:
  std::vector<BootRecord> boots_;
};

}  // namespace gwr
