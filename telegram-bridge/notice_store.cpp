#include "telegram-bridge/notice_store.h"

#include "common/redact.h"

namespace gwr::telegram {

namespace {

using json = nlohmann::json;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS notices(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  channel TEXT NOT NULL,
  key TEXT NOT NULL,
  notice TEXT NOT NULL,                 -- JSON (notice_json)
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  UNIQUE(channel, key)
);
CREATE INDEX IF NOT EXISTS notices_by_channel ON notices(channel, id);
CREATE TABLE IF NOT EXISTS delivered(
  channel TEXT NOT NULL,
  key TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  PRIMARY KEY(channel, key)
);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');
)sql";

constexpr int64_t kDeliveredKeptMs = 48 * 3'600'000LL;

}  // namespace

Result<std::unique_ptr<NoticeStore>> NoticeStore::open(const std::string& path, std::chrono::milliseconds busy) {
  auto db = Database::open(path, busy);
  if (!db) return db.error();
  std::unique_ptr<NoticeStore> store(new NoticeStore(std::move(*db)));
  if (auto st = store->db_->exec(kSchema); !st) return st.error();
  return store;
}

Result<bool> NoticeStore::enqueue(const std::string& channel, const Notice& notice, int64_t now_ms, int64_t* evicted) {
  // Components redact what they report; this is the last line before the
  // disk and the channel, so it redacts again.
  Notice n = notice;
  const auto& redactor = SharedRedactor::instance();
  n.title = redactor.redact(n.title);
  n.text = redactor.redact(n.text);
  n.actor = redactor.redact(n.actor);
  // The check and the insert are one transaction: a sender finishing the
  // same notice in between would otherwise see it queued again.
  Transaction tx(*db_);
  if (!tx.ok()) return tx.begin_status().error();
  auto seen = db_->prepare("SELECT 1 FROM delivered WHERE channel = ? AND key = ?");
  if (!seen) return seen.error();
  seen->bind(1, channel).bind(2, n.key);
  if (seen->step()) return false;
  if (auto st = seen->status(); !st) return st.error();
  auto ins = db_->prepare("INSERT OR IGNORE INTO notices(channel, key, notice, created_at) VALUES(?, ?, ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, channel).bind(2, n.key).bind(3, notice_json(n).dump(-1, ' ', false, json::error_handler_t::replace)).bind(4, now_ms);
  if (auto st = ins->run(); !st) return st.error();
  auto changes = db_->prepare("SELECT changes()");
  if (!changes || !changes->step()) return make_error("cannot count the queued notice");
  const bool added = changes->int64(0) > 0;
  if (added) {
    // The evicted are done with too (not queued again by the catch-up).
    auto mark = db_->prepare(
        "INSERT OR REPLACE INTO delivered(channel, key, at_ms) SELECT channel, key, ?3 FROM notices WHERE channel = ?1 "
        "AND id NOT IN (SELECT id FROM notices WHERE channel = ?1 ORDER BY id DESC LIMIT ?2)");
    if (!mark) return mark.error();
    mark->bind(1, channel).bind(2, kNoticeQueueLimit).bind(3, now_ms);
    if (auto st = mark->run(); !st) return st.error();
    auto cut = db_->prepare(
        "DELETE FROM notices WHERE channel = ?1 AND id NOT IN "
        "(SELECT id FROM notices WHERE channel = ?1 ORDER BY id DESC LIMIT ?2)");
    if (!cut) return cut.error();
    cut->bind(1, channel).bind(2, kNoticeQueueLimit);
    if (auto st = cut->run(); !st) return st.error();
    if (evicted != nullptr) {
      auto c = db_->prepare("SELECT changes()");
      *evicted = c && c->step() ? c->int64(0) : 0;
    }
  }
  if (auto st = tx.commit(); !st) return st.error();
  return added;
}

std::optional<QueuedNotice> NoticeStore::head(const std::string& channel) {
  auto st = db_->prepare(
      "SELECT id, notice, created_at, attempts, next_attempt_at FROM notices WHERE channel = ? ORDER BY id LIMIT 1");
  if (!st) return std::nullopt;
  st->bind(1, channel);
  if (!st->step()) return std::nullopt;
  QueuedNotice q;
  q.id = st->int64(0);
  q.notice = notice_from_json(json::parse(st->text(1), nullptr, false));
  q.created_at_ms = st->int64(2);
  q.attempts = st->int64(3);
  q.next_attempt_at_ms = st->int64(4);
  return q;
}

Status NoticeStore::done(const std::string& channel, const QueuedNotice& q, int64_t now_ms) {
  Transaction tx(*db_);
  if (!tx.ok()) return tx.begin_status();
  if (q.notice) {
    auto mark = db_->prepare("INSERT OR REPLACE INTO delivered(channel, key, at_ms) VALUES(?, ?, ?)");
    if (!mark) return mark.error();
    mark->bind(1, channel).bind(2, q.notice->key).bind(3, now_ms);
    if (auto st = mark->run(); !st) return st;
  }
  if (auto st = drop(q.id); !st) return st;
  return tx.commit();
}

Status NoticeStore::drop(int64_t id) {
  auto st = db_->prepare("DELETE FROM notices WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, id);
  return st->run();
}

Status NoticeStore::retry(int64_t id, int64_t at_ms) {
  auto st = db_->prepare("UPDATE notices SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, at_ms).bind(2, id);
  return st->run();
}

Status NoticeStore::retry_now(const std::string& channel) {
  auto st = db_->prepare("UPDATE notices SET next_attempt_at = 0 WHERE channel = ?");
  if (!st) return st.error();
  st->bind(1, channel);
  return st->run();
}

int64_t NoticeStore::queued(const std::string& channel) {
  auto st = db_->prepare("SELECT COUNT(*) FROM notices WHERE channel = ?");
  if (!st) return 0;
  st->bind(1, channel);
  return st->step() ? st->int64(0) : 0;
}

int64_t NoticeStore::since(const std::string& channel, int64_t now_ms) {
  const std::string key = "since:" + channel;
  auto get = db_->prepare("SELECT value FROM meta WHERE key = ?");
  if (get) {
    get->bind(1, key);
    if (get->step()) return std::atoll(get->text(0).c_str());
  }
  auto put = db_->prepare("INSERT OR IGNORE INTO meta(key, value) VALUES(?, ?)");
  if (put) {
    put->bind(1, key).bind(2, std::to_string(now_ms));
    (void)put->run();
  }
  return now_ms;
}

void NoticeStore::prune(int64_t now_ms) {
  auto st = db_->prepare("DELETE FROM delivered WHERE at_ms < ?");
  if (!st) return;
  st->bind(1, now_ms - kDeliveredKeptMs);
  (void)st->run();
}

}  // namespace gwr::telegram
