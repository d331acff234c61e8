// Reads OpenClaw's boot records (`gateway_boot_lifecycle` in
// $STATE/state/openclaw.sqlite) read-only, for the breaker forecast
// (boot_ledger.h). gwr never writes OpenClaw's files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/boot_ledger.h"

namespace gwr {

struct BootLifecycle {
  // The table is there and was read. The database is there without it (a
  // gateway older than the breaker): no breaker to trip. No database (a
  // state_dir that is not the gateway's?) or one that cannot be read:
  // `error` says why, and gwr falls back on its own ledger.
  bool read = false;
  bool no_breaker = false;
  std::vector<BootRecord> boots;  // started within the window and later, oldest first
  std::string error;
};

std::string boot_lifecycle_path(const std::string& state_dir);
BootLifecycle read_boot_lifecycle(const std::string& state_dir, int64_t now_ms);

// The newest boot record (by start), whatever its age: how the last gateway
// of this state dir ended (a clean stop sets completed_at_ms and outcome
// "clean_stop"). nullopt when there is none or it cannot be read.
std::optional<BootRecord> newest_boot(const std::string& state_dir);

// What made the gateway crash, as its newest stability bundle says
// ($STATE/logs/stability/openclaw-stability-*.json, not the breaker's own),
// if written at or after since_ms: "<reason>: <error name and message>", one
// line, valid UTF-8, at most 200 bytes. "" when there is none.
std::string latest_crash_cause(const std::string& state_dir, int64_t since_ms);

}  // namespace gwr
