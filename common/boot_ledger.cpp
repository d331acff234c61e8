#include "common/boot_ledger.h"

#include <algorithm>
#include <functional>

namespace gwr {

namespace {

bool maintenance_start(const BootRecord& b) {
  // OpenClaw leaves boots that start for maintenance out of the count.
  return b.startup_reason == "gateway.maintenance_required" ||
         b.startup_reason == "gateway.agent_media_migration_required";
}

// The last moment at which a boot counts this record: it is counted by
// boots at or before this time.
std::optional<int64_t> counted_until(const BootRecord& b) {
  if (maintenance_start(b)) return std::nullopt;
  if (!b.completed_at_ms) return b.started_at_ms + kBreakerWindowMs;
  if (b.outcome == "startup_failed") return *b.completed_at_ms + kBreakerWindowMs;
  return std::nullopt;
}

// The newest boot OpenClaw started with its breaker tripped (nullptr: none).
const BootRecord* latest_tripped(const std::vector<BootRecord>& boots) {
  const BootRecord* tripped = nullptr;
  for (const auto& b : boots) {
    if (b.startup_reason == "gateway.crash_loop_breaker" && (!tripped || b.started_at_ms > tripped->started_at_ms)) {
      tripped = &b;
    }
  }
  return tripped;
}

}  // namespace

uint32_t unclean_boots_at(const std::vector<BootRecord>& boots, int64_t at_ms) {
  uint32_t n = 0;
  for (const auto& b : boots) {
    const auto until = counted_until(b);
    // A record from the future (a clock step) counts: it errs toward caution.
    if (until && *until >= at_ms) ++n;
  }
  return n;
}

KillForecast forecast_hard_kill(const std::vector<BootRecord>& boots, uint32_t pid, int64_t process_start_ms,
                                int64_t now_ms) {
  // A boot row is written a few seconds after the process starts (once its
  // CLI has loaded); one started before the process is a recycled pid's.
  constexpr int64_t kClockSlackMs = 5'000;
  KillForecast f;
  f.safe_at_ms = now_ms;
  std::vector<int64_t> until;
  for (const auto& b : boots) {
    const auto u = counted_until(b);
    if (!u || *u < now_ms) continue;
    until.push_back(*u);
    if (!b.completed_at_ms && pid != 0 && b.pid == pid && b.started_at_ms + kClockSlackMs >= process_start_ms) {
      f.own_row_counted = true;
    }
  }
  f.unclean_now = static_cast<uint32_t>(until.size());
  const size_t others = until.size() - (f.own_row_counted ? 1 : 0);
  if (others >= kBreakerThreshold) {
    // Tripped at the next boot whatever gwr does: the kill changes nothing.
    f.trips_anyway = true;
    return f;
  }
  if (!f.own_row_counted || until.size() < kBreakerThreshold) return f;
  // A clean stop would close the gateway's row; a kill leaves it counted.
  // Safe once fewer than the threshold are still counted: just after the
  // threshold-th latest of them ages out.
  f.trips_now = true;
  std::sort(until.begin(), until.end(), std::greater<>());
  f.safe_at_ms = until[kBreakerThreshold - 1] + 1;
  return f;
}

int64_t breaker_clears_at(const std::vector<BootRecord>& boots, int64_t now_ms) {
  constexpr int64_t kFirstCheckMs = 60'000;
  constexpr int64_t kCheckEveryMs = 300'000;
  int64_t drained = 0;
  for (const auto& b : boots) {
    if (const auto u = counted_until(b); u && *u >= now_ms) drained = std::max(drained, *u + 1);
  }
  if (drained == 0) return 0;
  const BootRecord* tripped = latest_tripped(boots);
  if (!tripped) return drained;
  int64_t check = tripped->started_at_ms + kFirstCheckMs;
  while (check < drained) check += kCheckEveryMs;
  return check;
}

uint32_t breaker_trip_count(const std::vector<BootRecord>& boots, int64_t now_ms) {
  const BootRecord* tripped = latest_tripped(boots);
  if (!tripped) return unclean_boots_at(boots, now_ms);
  std::vector<BootRecord> before;
  for (const auto& b : boots) {
    if (&b != tripped && b.started_at_ms <= tripped->started_at_ms) before.push_back(b);
  }
  return unclean_boots_at(before, tripped->started_at_ms);
}

std::string KillForecast::explain() const {
  std::string s = std::to_string(unclean_now) + " unclean boot(s) in OpenClaw's 5 min crash-loop window";
  if (trips_now) s += ": a kill now would make the third, and its breaker would start the gateway with every channel off";
  if (trips_anyway) s += ": its breaker trips at the next start whatever gwr does";
  return s;
}

void UncleanBootLedger::record(uint32_t pid, int64_t process_started_ms, int64_t now_ms) {
  // OpenClaw writes its boot row once its CLI has loaded, up to ~15 s after
  // the process started: counting from then keeps the record at least as
  // long as OpenClaw does.
  constexpr int64_t kBootAfterStartMs = 15'000;
  const int64_t boot_ms = std::min(process_started_ms + kBootAfterStartMs, now_ms);
  std::erase_if(boots_, [&](const BootRecord& b) {
    return b.started_at_ms + kBreakerWindowMs < now_ms ||
           (b.pid == pid && b.started_at_ms >= process_started_ms && b.started_at_ms <= boot_ms);
  });
  BootRecord b;
  b.pid = pid;
  b.started_at_ms = boot_ms;
  boots_.push_back(b);
}

std::vector<BootRecord> UncleanBootLedger::as_boots(int64_t now_ms, uint32_t running_pid,
                                                    int64_t running_started_ms) const {
  std::vector<BootRecord> out;
  for (const auto& b : boots_) {
    if (b.started_at_ms + kBreakerWindowMs < now_ms) continue;
    if (b.pid == running_pid && b.started_at_ms >= running_started_ms) continue;
    out.push_back(b);
  }
  if (running_pid != 0) {
    BootRecord b;
    b.pid = running_pid;
    b.started_at_ms = running_started_ms;
    out.push_back(b);
  }
  return out;
}

}  // namespace gwr
