#include "common/boot_lifecycle.h"

#include <filesystem>

#include "common/sqlite.h"
#include "common/text.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>

namespace gwr {

std::string boot_lifecycle_path(const std::string& state_dir) { return state_dir + "/state/openclaw.sqlite"; }

namespace {

// The columns every boot query selects, in this order.
constexpr const char* kBootColumns =
    "SELECT started_at_ms, completed_at_ms, coalesce(outcome, ''), coalesce(startup_reason, ''), pid "
    "FROM gateway_boot_lifecycle ";

BootRecord boot_row(Statement& q) {
  BootRecord b;
  b.started_at_ms = q.int64(0);
  if (!q.is_null(1)) b.completed_at_ms = q.int64(1);
  b.outcome = q.text(2);
  b.startup_reason = q.text(3);
  b.pid = static_cast<uint32_t>(q.int64(4));
  return b;
}

}  // namespace

std::optional<BootRecord> newest_boot(const std::string& state_dir) {
  const std::string path = boot_lifecycle_path(state_dir);
  std::error_code ec;
  if (state_dir.empty() || !std::filesystem::exists(path, ec)) return std::nullopt;
  auto db = Database::open_read_only(path, /*live=*/true);
  if (!db.ok()) return std::nullopt;
  auto has = (*db)->prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'gateway_boot_lifecycle'");
  if (!has.ok() || !has->step() || has->int64(0) == 0) return std::nullopt;
  auto q = (*db)->prepare(std::string(kBootColumns) + "ORDER BY started_at_ms DESC LIMIT 1");
  if (!q.ok() || !q->step()) return std::nullopt;
  return boot_row(*q);
}

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
  auto q = (*db)->prepare(std::string(kBootColumns) +
                          "WHERE started_at_ms >= ?1 OR completed_at_ms >= ?1 ORDER BY started_at_ms LIMIT 1000");
  if (!q.ok()) {
    out.error = q.message();
    return out;
  }
  q->bind(1, now_ms - kBreakerWindowMs);
  while (q->step()) out.boots.push_back(boot_row(*q));
  if (const auto st = q->status(); !st.ok()) {
    out.error = "cannot read " + path + ": " + st.message();
    out.boots.clear();
    return out;
  }
  out.read = true;
  return out;
}

std::string latest_crash_cause(const std::string& state_dir, int64_t since_ms) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::path(state_dir) / "logs" / "stability";
  fs::directory_iterator it(dir, ec);
  if (ec || state_dir.empty()) return "";
  fs::path newest;
  int64_t newest_ms = 0;
  int seen = 0;
  for (const auto& e : it) {

    if (++seen > 500) break;  // a directory OpenClaw prunes; never read an unbounded one
    const std::string name = e.path().filename().string();
    if (name.rfind("openclaw-stability-", 0) != 0 || name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
    if (name.find("crash_loop_breaker") != std::string::npos) continue;
    if (!e.is_regular_file(ec) || e.is_symlink(ec)) continue;
    const auto t = e.last_write_time(ec);
    if (ec) continue;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::file_clock::to_sys(t).time_since_epoch())
                        .count();
    if (ms >= since_ms && ms > newest_ms) {
      newest_ms = ms;
      newest = e.path();
    }
  }
  if (newest.empty()) return "";
  std::ifstream in(newest, std::ios::binary);
  std::string body(256 * 1024, '\0');
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  body.resize(static_cast<size_t>(in.gcount()));
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return "";
  std::string text = j.contains("reason") && j["reason"].is_string() ? j["reason"].get<std::string>() : "a crash";
  if (j.contains("error") && j["error"].is_object()) {
    const auto& err = j["error"];
    std::string what;
    if (err.contains("name") && err["name"].is_string()) what = err["name"].get<std::string>();
    if (err.contains("message") && err["message"].is_string()) {
      what += (what.empty() ? "" : ": ") + err["message"].get<std::string>();
    }
    if (!what.empty()) text += " (" + what + ")";
  }
  return clip_end(one_line_utf8(text), 200);
}

}  // namespace gwr
