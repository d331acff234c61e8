// judge_lock: whether a session lock file is stale. Pure: the process it
// names is looked up by the caller (stale_lock_sweeper.cpp asks the platform seam).
#include <nlohmann/json.hpp>

#include "repairer/stale_lock_sweeper.h"

namespace gwr::repairer {

LockJudgement judge_lock(const std::string& content, int64_t mtime_ms, int64_t now_ms, int64_t unreadable_grace_ms,
                         const std::function<std::optional<LockOwner>(pid_t)>& lookup) {
  const auto j = nlohmann::json::parse(content, nullptr, false);
  int64_t pid = 0;
  if (j.is_object() && j.contains("pid") && j["pid"].is_number_integer()) pid = j["pid"].get<int64_t>();
  if (pid <= 0 || pid > 4'194'304) {
    // No readable owner. A lock that young may still be being written.
    if (now_ms - mtime_ms < unreadable_grace_ms) return {false, "no readable owner yet (just created)"};
    return {true, "no readable owner pid"};
  }
  const auto proc = lookup(static_cast<pid_t>(pid));
  if (!proc || proc->zombie) return {true, "owner pid " + std::to_string(pid) + " is gone"};
  // The pid is alive: it is only someone else if it started after the lock
  // was written (the pid was reused).
  if (j.contains("createdAt") && j["createdAt"].is_number()) {
    const int64_t created = j["createdAt"].get<int64_t>();
    if (created + 1000 < proc->start_wall_ms) {
      return {true, "owner pid " + std::to_string(pid) + " was reused (" + proc->name + " started after the lock was written)"};
    }
  }
  return {false, "owner pid " + std::to_string(pid) + " (" + proc->name + ") is alive"};
}

}  // namespace gwr::repairer
