#include "web/web_store.h"

namespace gwr::web {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS states(at_ms INTEGER NOT NULL, state INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS states_by_time ON states(at_ms);
CREATE TABLE IF NOT EXISTS rss(at_ms INTEGER NOT NULL, bytes INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS rss_by_time ON rss(at_ms);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');
)sql";

pb::GatewayState state_of(int64_t v) {
  return pb::GatewayState_IsValid(static_cast<int>(v)) ? static_cast<pb::GatewayState>(v) : pb::GATEWAY_STATE_UNKNOWN;
}

}  // namespace

Result<std::unique_ptr<WebStore>> WebStore::open(const std::string& path) {
  auto db = Database::open(path, std::chrono::milliseconds(500));
  if (!db) return db.error();
  std::unique_ptr<WebStore> store(new WebStore(std::move(*db)));
  if (auto st = store->db_->exec(kSchema); !st) return st.error();
  return store;
}

Status WebStore::add_state(const StateChange& c) {
  auto st = db_->prepare("INSERT INTO states(at_ms, state) VALUES(?, ?)");
  if (!st) return st.error();
  st->bind(1, c.at_ms).bind(2, static_cast<int64_t>(c.state));
  return st->run();
}

Status WebStore::add_rss(const RssSample& s) {
  auto st = db_->prepare("INSERT INTO rss(at_ms, bytes) VALUES(?, ?)");
  if (!st) return st.error();
  st->bind(1, s.at_ms).bind(2, static_cast<int64_t>(s.bytes));
  return st->run();
}

std::vector<StateChange> WebStore::states(int64_t since_ms) {
  std::vector<StateChange> out;
  auto before = db_->prepare("SELECT at_ms, state FROM states WHERE at_ms <= ? ORDER BY at_ms DESC LIMIT 1");
  if (before) {
    before->bind(1, since_ms);
    if (before->step()) out.push_back({before->int64(0), state_of(before->int64(1))});
  }
  auto st = db_->prepare("SELECT at_ms, state FROM states WHERE at_ms > ? ORDER BY at_ms");
  if (!st) return out;
  st->bind(1, since_ms);
  while (st->step()) out.push_back({st->int64(0), state_of(st->int64(1))});
  return out;
}

std::vector<RssSample> WebStore::rss(int64_t since_ms) {
  std::vector<RssSample> out;
  auto st = db_->prepare("SELECT at_ms, bytes FROM rss WHERE at_ms > ? ORDER BY at_ms");
  if (!st) return out;
  st->bind(1, since_ms);
  while (st->step()) out.push_back({st->int64(0), static_cast<uint64_t>(std::max<int64_t>(0, st->int64(1)))});
  return out;
}

void WebStore::prune(int64_t before_ms) {
  // The newest state before the cut stays: the timeline opens in it.
  for (const char* sql : {"DELETE FROM states WHERE at_ms < ?1 AND rowid NOT IN "
                          "(SELECT rowid FROM states WHERE at_ms < ?1 ORDER BY at_ms DESC LIMIT 1)",
                          "DELETE FROM rss WHERE at_ms < ?1"}) {
    auto st = db_->prepare(sql);
    if (!st) continue;
    st->bind(1, before_ms);
    (void)st->run();
  }
}

}  // namespace gwr::web
