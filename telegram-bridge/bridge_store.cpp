#include "telegram-bridge/bridge_store.h"

#include "common/redact.h"
#include "common/text.h"
#include "telegram-bridge/html_text.h"

namespace gwr::telegram {

namespace {

using json = nlohmann::json;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  chat_id INTEGER NOT NULL,
  kind TEXT NOT NULL,                        -- send | edit
  incident TEXT NOT NULL DEFAULT '',
  opens_incident INTEGER NOT NULL DEFAULT 0,
  reply_to_incident INTEGER NOT NULL DEFAULT 0,
  reply_to INTEGER NOT NULL DEFAULT 0,
  edit_message_id INTEGER NOT NULL DEFAULT 0,
  payload TEXT NOT NULL,                     -- JSON: text, parse_mode, reply_markup, ...
  state TEXT NOT NULL DEFAULT 'queued',      -- queued | sending | sent | dropped
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  retry_reason TEXT NOT NULL DEFAULT '',     -- unreachable | rate_limited
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  message_id INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox(state, chat_id, id);
CREATE INDEX IF NOT EXISTS outbox_by_incident ON outbox(incident, state);
CREATE TABLE IF NOT EXISTS incidents(
  key TEXT PRIMARY KEY,
  chat_id INTEGER NOT NULL DEFAULT 0,
  message_id INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT '',
  updated_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS poll_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS warnings(
  key TEXT PRIMARY KEY,
  text TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_sent INTEGER NOT NULL,
  absent_since INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS markers(key TEXT PRIMARY KEY, state TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen_events(key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql";

constexpr const char* kRowColumns =
    "id, chat_id, kind, incident, opens_incident, reply_to_incident, reply_to, edit_message_id, payload, state, "
    "attempts, next_attempt_at, created_at, message_id";

OutboxRow read_row(const Statement& st) {
  OutboxRow r;
  r.id = st.int64(0);
  r.chat_id = st.int64(1);
  r.message.kind = st.text(2) == "edit" ? Outgoing::Kind::kEdit : Outgoing::Kind::kSend;
  r.message.incident = st.text(3);
  r.message.opens_incident = st.int64(4) != 0;
  r.message.reply_to_incident = st.int64(5) != 0;
  r.message.reply_to = st.int64(6);
  r.message.edit_message_id = st.int64(7);
  const json payload = json::parse(st.text(8), nullptr, false);
  if (payload.is_object()) {
    r.message.text = payload.value("text", "");
    if (payload.contains("reply_markup")) r.message.keyboard = payload["reply_markup"];
    r.message.silent = payload.value("disable_notification", false);
  }
  r.state = st.text(9);
  r.attempts = st.int64(10);
  r.next_attempt_at_ms = st.int64(11);
  r.created_at_ms = st.int64(12);
  r.message_id = st.int64(13);
  return r;
}

}  // namespace

json outbox_payload(const Outgoing& m) {
  json p = {{"text", m.text}, {"parse_mode", "HTML"}};
  if (!m.keyboard.is_null()) p["reply_markup"] = m.keyboard;
  if (m.silent) p["disable_notification"] = true;
  return p;
}

Result<std::unique_ptr<BridgeStore>> BridgeStore::open(const std::string& path) {
  auto db = Database::open(path);
  if (!db) return db.error();
  std::unique_ptr<BridgeStore> store(new BridgeStore(std::move(*db)));
  if (auto st = store->migrate(); !st) return st.error();
  return store;
}

Status BridgeStore::migrate() {
  if (auto st = db_->exec(kSchema); !st) return st;
  return db_->exec("INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1')");
}

Result<int64_t> BridgeStore::enqueue(int64_t chat_id, const Outgoing& message, int64_t now_ms) {
  // Components redact what they report; this is the last line before the
  // database and the chat, so it redacts again (a mask is HTML-safe).
  Outgoing m = message;
  m.text = fit_html(SharedRedactor::instance().redact(m.text));
  const std::string payload = outbox_payload(m).dump(-1, ' ', false, json::error_handler_t::replace);
  if (m.kind == Outgoing::Kind::kEdit && m.edit_message_id == 0 && !m.incident.empty()) {
    // The thread's first message has not gone out yet: it goes out with the newest content.
    auto opener = db_->prepare(
        "SELECT id, payload FROM outbox WHERE incident = ? AND opens_incident = 1 AND state = 'queued' AND chat_id = ? "
        "ORDER BY id DESC LIMIT 1");
    if (!opener) return opener.error();
    opener->bind(1, m.incident).bind(2, chat_id);
    if (opener->step()) {
      const int64_t id = opener->int64(0);
      json merged = json::parse(opener->text(1), nullptr, false);
      if (!merged.is_object()) merged = json::object();
      merged["text"] = m.text;
      merged["parse_mode"] = "HTML";
      if (m.keyboard.is_null()) {
        merged.erase("reply_markup");
      } else {
        merged["reply_markup"] = m.keyboard;
      }
      auto up = db_->prepare("UPDATE outbox SET payload = ?, updated_at = ? WHERE id = ?");
      if (!up) return up.error();
      up->bind(1, merged.dump(-1, ' ', false, json::error_handler_t::replace)).bind(2, now_ms).bind(3, id);
      if (auto st = up->run(); !st) return st.error();
      return id;
    }
    // An edit of this thread is already waiting: the latest state replaces it.
    auto waiting = db_->prepare(
        "SELECT id FROM outbox WHERE incident = ? AND kind = 'edit' AND edit_message_id = 0 AND state = 'queued' "
        "AND chat_id = ? ORDER BY id DESC LIMIT 1");
    if (!waiting) return waiting.error();
    waiting->bind(1, m.incident).bind(2, chat_id);
    if (waiting->step()) {
      const int64_t id = waiting->int64(0);
      auto up = db_->prepare("UPDATE outbox SET payload = ?, updated_at = ? WHERE id = ?");
      if (!up) return up.error();
      up->bind(1, payload).bind(2, now_ms).bind(3, id);
      if (auto st = up->run(); !st) return st.error();
      return id;
    }
  }
  auto ins = db_->prepare(
      "INSERT INTO outbox(chat_id, kind, incident, opens_incident, reply_to_incident, reply_to, edit_message_id, "
      "payload, state, created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)");
  if (!ins) return ins.error();
  ins->bind(1, chat_id)
      .bind(2, std::string(m.kind == Outgoing::Kind::kEdit ? "edit" : "send"))
      .bind(3, m.incident)
      .bind(4, int64_t{m.opens_incident})
      .bind(5, int64_t{m.reply_to_incident})
      .bind(6, m.reply_to)
      .bind(7, m.edit_message_id)
      .bind(8, payload)
      .bind(9, now_ms)
      .bind(10, now_ms);
  if (auto st = ins->run(); !st) return st.error();
  return db_->last_insert_id();
}

std::vector<OutboxRow> BridgeStore::queue_heads(const std::set<int64_t>& skip) {
  std::vector<OutboxRow> out;
  std::string not_in;
  for (int64_t id : skip) not_in += (not_in.empty() ? "" : ",") + std::to_string(id);
  auto st = db_->prepare(std::string("SELECT ") + kRowColumns +
                         " FROM outbox WHERE id IN (SELECT MIN(id) FROM outbox WHERE state = 'queued'" +
                         (not_in.empty() ? std::string() : " AND id NOT IN (" + not_in + ")") +
                         " GROUP BY chat_id) ORDER BY id");
  if (!st) return out;
  while (st->step()) out.push_back(read_row(*st));
  return out;
}

std::optional<OutboxRow> BridgeStore::row(int64_t id) {
  auto st = db_->prepare(std::string("SELECT ") + kRowColumns + " FROM outbox WHERE id = ?");
  if (!st) return std::nullopt;
  st->bind(1, id);
  if (!st->step()) return std::nullopt;
  return read_row(*st);
}

Status BridgeStore::mark_sending(int64_t id, int64_t attempts, int64_t now_ms) {
  auto st = db_->prepare("UPDATE outbox SET state = 'sending', attempts = ?, updated_at = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, attempts).bind(2, now_ms).bind(3, id);
  return st->run();
}

Status BridgeStore::mark_sent(const OutboxRow& row, int64_t message_id, int64_t now_ms) {
  Transaction tx(*db_);
  auto st = db_->prepare(
      "UPDATE outbox SET state = 'sent', message_id = ?, updated_at = ?, last_error = '' WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, message_id).bind(2, now_ms).bind(3, row.id);
  if (auto s = st->run(); !s) return s;
  if (row.message.opens_incident && !row.message.incident.empty() && message_id != 0) {
    auto inc = db_->prepare(
        "INSERT INTO incidents(key, chat_id, message_id, updated_at) VALUES(?, ?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET chat_id = excluded.chat_id, message_id = excluded.message_id, "
        "updated_at = excluded.updated_at");
    if (!inc) return inc.error();
    inc->bind(1, row.message.incident).bind(2, row.chat_id).bind(3, message_id).bind(4, now_ms);
    if (auto s = inc->run(); !s) return s;
  }
  return tx.commit();
}

Status BridgeStore::requeue(int64_t id, int64_t next_attempt_at_ms, const std::string& reason, const std::string& error,
                            int64_t now_ms) {
  auto st = db_->prepare(
      "UPDATE outbox SET state = 'queued', next_attempt_at = ?, retry_reason = ?, last_error = ?, updated_at = ? "
      "WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, next_attempt_at_ms).bind(2, reason).bind(3, clip_end(error, 500)).bind(4, now_ms).bind(5, id);
  return st->run();
}

Status BridgeStore::mark_dropped(int64_t id, const std::string& error, int64_t now_ms) {
  auto st = db_->prepare("UPDATE outbox SET state = 'dropped', last_error = ?, updated_at = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, clip_end(error, 500)).bind(2, now_ms).bind(3, id);
  return st->run();
}

int64_t BridgeStore::requeue_interrupted(int64_t now_ms) {
  int64_t n = 0;
  if (auto c = db_->prepare("SELECT COUNT(*) FROM outbox WHERE state = 'sending'"); c && c->step()) n = c->int64(0);
  if (n == 0) return 0;
  auto st = db_->prepare("UPDATE outbox SET state = 'queued', updated_at = ? WHERE state = 'sending'");
  if (!st) return 0;
  st->bind(1, now_ms);
  return st->run() ? n : 0;
}

Status BridgeStore::clear_unreachable_waits() {
  return db_->exec(
      "UPDATE outbox SET next_attempt_at = 0 WHERE state = 'queued' AND retry_reason = 'unreachable' "
      "AND next_attempt_at > 0");
}

int64_t BridgeStore::count_pending() {
  auto st = db_->prepare("SELECT COUNT(*) FROM outbox WHERE state IN ('queued', 'sending')");
  if (!st || !st->step()) return 0;
  return st->int64(0);
}

bool BridgeStore::opener_pending(const std::string& incident) {
  auto st = db_->prepare(
      "SELECT 1 FROM outbox WHERE incident = ? AND opens_incident = 1 AND state IN ('queued', 'sending') LIMIT 1");
  if (!st) return false;
  st->bind(1, incident);
  return st->step();
}

std::vector<OutboxRow> BridgeStore::rows(const std::string& state) {
  std::vector<OutboxRow> out;
  auto st = db_->prepare(std::string("SELECT ") + kRowColumns + " FROM outbox" +
                         (state.empty() ? "" : " WHERE state = ?") + " ORDER BY id");
  if (!st) return out;
  if (!state.empty()) st->bind(1, state);
  while (st->step()) out.push_back(read_row(*st));
  return out;
}

std::optional<IncidentRow> BridgeStore::incident(const std::string& key) {
  auto st = db_->prepare("SELECT key, chat_id, message_id FROM incidents WHERE key = ?");
  if (!st) return std::nullopt;
  st->bind(1, key);
  if (!st->step()) return std::nullopt;
  return IncidentRow{st->text(0), st->int64(1), st->int64(2)};
}

Status BridgeStore::save_incident_state(const std::string& key, const std::string& state, int64_t now_ms) {
  auto st = db_->prepare(
      "INSERT INTO incidents(key, state, updated_at) VALUES(?, ?, ?) "
      "ON CONFLICT(key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at");
  if (!st) return st.error();
  st->bind(1, key).bind_blob(2, state).bind(3, now_ms);
  return st->run();
}

Status BridgeStore::forget_incident_state(const std::string& key) {
  auto st = db_->prepare("UPDATE incidents SET state = '' WHERE key = ?");
  if (!st) return st.error();
  st->bind(1, key);
  return st->run();
}

std::vector<std::string> BridgeStore::incident_states() {
  std::vector<std::string> out;
  auto st = db_->prepare("SELECT state FROM incidents WHERE length(state) > 0");
  if (!st) return out;
  while (st->step()) out.push_back(st->blob(0));
  return out;
}

std::vector<std::pair<std::string, std::string>> BridgeStore::incident_states_by_key() {
  std::vector<std::pair<std::string, std::string>> out;
  auto st = db_->prepare("SELECT key, state FROM incidents WHERE length(state) > 0");
  if (!st) return out;
  while (st->step()) out.emplace_back(st->text(0), st->blob(1));
  return out;
}

Status BridgeStore::save_warning(const Warning& w) {
  auto st = db_->prepare(
      "INSERT INTO warnings(key, text, first_seen, last_sent, absent_since) VALUES(?, ?, ?, ?, ?) "
      "ON CONFLICT(key) DO UPDATE SET text = excluded.text, first_seen = excluded.first_seen, "
      "last_sent = excluded.last_sent, absent_since = excluded.absent_since");
  if (!st) return st.error();
  st->bind(1, w.key).bind(2, w.text).bind(3, w.first_seen_ms).bind(4, w.last_sent_ms).bind(5, w.absent_since_ms);
  return st->run();
}

Status BridgeStore::delete_warning(const std::string& key) {
  auto st = db_->prepare("DELETE FROM warnings WHERE key = ?");
  if (!st) return st.error();
  st->bind(1, key);
  return st->run();
}

std::vector<Warning> BridgeStore::warnings() {
  std::vector<Warning> out;
  auto st = db_->prepare("SELECT key, text, first_seen, last_sent, absent_since FROM warnings");
  if (!st) return out;
  while (st->step()) out.push_back({st->text(0), st->text(1), st->int64(2), st->int64(3), st->int64(4)});
  return out;
}

int64_t BridgeStore::last_update_id() {
  auto st = db_->prepare("SELECT value FROM poll_state WHERE key = 'last_update_id'");
  if (!st || !st->step()) return 0;
  return st->int64(0);
}

Status BridgeStore::set_last_update_id(int64_t update_id) {
  auto st = db_->prepare(
      "INSERT INTO poll_state(key, value) VALUES('last_update_id', ?) "
      "ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)");
  if (!st) return st.error();
  st->bind(1, update_id);
  return st->run();
}

std::optional<std::string> BridgeStore::marker(const std::string& key) {
  auto st = db_->prepare("SELECT state FROM markers WHERE key = ?");
  if (!st) return std::nullopt;
  st->bind(1, key);
  if (!st->step()) return std::nullopt;
  return st->text(0);
}

Status BridgeStore::put_marker(const std::string& key, const std::string& state, int64_t now_ms) {
  auto st = db_->prepare("INSERT OR REPLACE INTO markers(key, state, created_at) VALUES(?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, key).bind(2, state).bind(3, now_ms);
  return st->run();
}

Status BridgeStore::delete_marker(const std::string& key) {
  auto st = db_->prepare("DELETE FROM markers WHERE key = ?");
  if (!st) return st.error();
  st->bind(1, key);
  return st->run();
}

bool BridgeStore::seen_event(const std::string& key) {
  auto st = db_->prepare("SELECT 1 FROM seen_events WHERE key = ?");
  if (!st) return false;
  st->bind(1, key);
  return st->step();
}

Status BridgeStore::add_seen_event(const std::string& key, int64_t at_ms) {
  auto st = db_->prepare("INSERT OR IGNORE INTO seen_events(key, at_ms) VALUES(?, ?)");
  if (!st) return st.error();
  st->bind(1, key).bind(2, at_ms);
  return st->run();
}

std::optional<std::string> BridgeStore::meta(const std::string& key) {
  auto st = db_->prepare("SELECT value FROM meta WHERE key = ?");
  if (!st) return std::nullopt;
  st->bind(1, key);
  if (!st->step()) return std::nullopt;
  return st->text(0);
}

std::optional<std::string> BridgeStore::meta_blob(const std::string& key) {
  auto st = db_->prepare("SELECT value FROM meta WHERE key = ?");
  if (!st) return std::nullopt;
  st->bind(1, key);
  if (!st->step()) return std::nullopt;
  return st->blob(0);
}

Status BridgeStore::set_meta_blob(const std::string& key, const std::string& bytes) {
  auto st = db_->prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
  if (!st) return st.error();
  st->bind(1, key).bind_blob(2, bytes);
  return st->run();
}

Status BridgeStore::set_meta(const std::string& key, const std::string& value) {
  auto st = db_->prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
  if (!st) return st.error();
  st->bind(1, key).bind(2, value);
  return st->run();
}

void BridgeStore::tune_for_latency() { (void)db_->exec("PRAGMA wal_autocheckpoint=0; PRAGMA synchronous=NORMAL"); }

void BridgeStore::checkpoint() { (void)db_->exec("PRAGMA wal_checkpoint(PASSIVE)"); }

void BridgeStore::prune(int64_t now_ms) {
  const int64_t week = 7 * 86'400'000LL;
  auto run = [&](const char* sql, int64_t before) {
    if (auto st = db_->prepare(sql)) {
      st->bind(1, before);
      (void)st->run();
    }
  };
  run("DELETE FROM outbox WHERE state IN ('sent', 'dropped') AND updated_at < ?", now_ms - week);
  run("DELETE FROM seen_events WHERE at_ms < ?", now_ms - 3 * 86'400'000LL);
  run("DELETE FROM markers WHERE created_at < ?", now_ms - week);
  run("DELETE FROM incidents WHERE state = '' AND updated_at < ?", now_ms - 30 * 86'400'000LL);
}

}  // namespace gwr::telegram
