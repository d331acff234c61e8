// StaleLockSweeper: deletes session lock files that OpenClaw (<= 2026.7)
// left behind, and nothing else. Only files matching the configured globs
// under the gateway's state dir; never through a symlink (directories and
// files alike are opened without following links); never a lock whose
// recorded owner is alive. judge_lock() is the pure decision.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/platform/proc.h"

namespace gwr::repairer {

struct LockJudgement {
  bool stale = false;
  std::string why;  // "owner pid 123 is gone", "owner pid 77 is alive", ...
};

// What judge_lock needs to know of the process a lock names.
struct LockOwner {
  bool zombie = false;
  int64_t start_wall_ms = 0;
  std::string name;  // for messages
};
// The live process with that pid as a LockOwner (nullopt: none).
std::optional<LockOwner> lock_owner(const std::optional<ProcInfo>& process);

// content: the lock file's JSON payload {pid, createdAt, starttime?, ...}.
// lookup: the live process with that pid, if any. Pure (lock_judgement.cpp).
LockJudgement judge_lock(const std::string& content, int64_t mtime_ms, int64_t now_ms, int64_t unreadable_grace_ms,
                         const std::function<std::optional<LockOwner>(pid_t)>& lookup);

struct SweepReport {
  std::vector<std::string> removed;  // "agents/main/sessions/a.jsonl.lock: owner pid 9 is gone"
  std::vector<std::string> kept;
  std::vector<std::string> skipped;  // symlinks, non-files
  std::vector<std::string> errors;
  std::string summary() const;
};

// Walks the globs (relative to state_dir) and removes stale locks.
SweepReport sweep_stale_locks(const std::string& state_dir, const std::vector<std::string>& globs,
                              int64_t unreadable_grace_ms, int64_t now_ms);

}  // namespace gwr::repairer
