#include "repairer/boot_lifecycle.h"

#include <filesystem>

#include "common/sqlite.h"

namespace gwr::repairer {

std::string boot_lifecycle_path(const std::string& state_dir) { return state_dir + "/state/openclaw.sqlite"; }

BootLifecycle read_boot_lifecycle(const std::string& state_dir, int64_t now_ms) {
  BootLifecycle out;
  const std::string path = boot_lifecycle_path(state_dir);
  std::error_code ec;
  if (state_dir.empty()) {
    out.error = "gateway.state_dir is not set";
    return out;
  }
  if (!std::filesystem::exists(path, ec)) {
    out.error = ec ? "cannot look at " + path + ": " + ec.message() : "no " + path;
    return out;
  }
  auto db = Database::open_read_only(path, /*live=*/true);
  if (!db.ok()) {
    out.error = db.message();
    return out;
  }
  auto has = (*db)->prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gateway_boot_lifecycle'");
  if (!has.ok()) {
    out.error = has.message();
    return out;
  }
  if (!has->step()) {
    out.error = "cannot read " + path + ": " + has->status().message();
    return out;
  }
  if (has->int64(0) == 0) {
    out.no_breaker = true;
    return out;
  }
  // Everything that can still count: open rows started in the window and
  // failed start-ups completed in it (a small table: OpenClaw keeps 24 h).
  auto q = (*db)->prepare(
      "SELECT started_at_ms, completed_at_ms, coalesce(outcome, ''), coalesce(startup_reason, ''), pid "
      "FROM gateway_boot_lifecycle WHERE started_at_ms >= ?1 OR completed_at_ms >= ?1 "
      "ORDER BY started_at_ms LIMIT 1000");
  if (!q.ok()) {
    out.error = q.message();
    return out;
  }
  q->bind(1, now_ms - kBreakerWindowMs);
  while (q->step()) {
    BootRecord b;
    b.started_at_ms = q->int64(0);
    if (!q->is_null(1)) b.completed_at_ms = q->int64(1);
    b.outcome = q->text(2);
    b.startup_reason = q->text(3);
    b.pid = static_cast<uint32_t>(q->int64(4));
    out.boots.push_back(std::move(b));
  }
  if (const auto st = q->status(); !st.ok()) {
    out.error = "cannot read " + path + ": " + st.message();
    out.boots.clear();
    return out;
  }
  out.read = true;
  return out;
}

}  // namespace gwr::repairer
