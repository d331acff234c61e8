#include "repairer/history_store.h"

#include <map>

#include <nlohmann/json.hpp>

#include "common/findings.h"
#include "common/log.h"
#include "common/message_text.h"
#include "repairer/signature_migration.h"

namespace gwr::repairer {

namespace {

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS repairs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  trigger INTEGER NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  signature TEXT NOT NULL DEFAULT '',
  started_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL,
  success INTEGER NOT NULL DEFAULT 0,
  fixed_by_tier INTEGER NOT NULL DEFAULT 0,
  tiers_tried TEXT NOT NULL DEFAULT '[]',
  duration_ms INTEGER NOT NULL DEFAULT 0,
  details TEXT NOT NULL DEFAULT '',
  current_tier INTEGER NOT NULL DEFAULT 0,
  findings BLOB NOT NULL DEFAULT x''
);
CREATE INDEX IF NOT EXISTS repairs_started ON repairs(started_at_ms);
CREATE TABLE IF NOT EXISTS steps (
  repair_id INTEGER NOT NULL,
  step_index INTEGER NOT NULL,
  running INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (repair_id, step_index)
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  repair_id INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS policy (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS learned (
  signature TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  seen INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  tiers TEXT NOT NULL,
  plan TEXT NOT NULL DEFAULT '[]',
  plan_successes INTEGER NOT NULL DEFAULT 0,
  plan_failures INTEGER NOT NULL DEFAULT 0
);
)SQL";

// gwr.db's layout, in PRAGMA user_version. 0/1: gwr 1.0 (signatures of
// text, the policy as JSON under 'state'); 2: repairs.findings, signatures
// of typed findings; 3: the policy as a pb::PolicyState under 'policy'.
constexpr int64_t kSchemaVersion = 3;

std::string findings_blob(const google::protobuf::RepeatedPtrField<pb::Finding>& findings) {
  pb::FindingList list;
  *list.mutable_findings() = findings;
  return list.SerializeAsString();
}

std::string tiers_json(const google::protobuf::RepeatedField<uint32_t>& tiers) {
  nlohmann::json j = nlohmann::json::array();
  for (auto t : tiers) j.push_back(t);
  return j.dump();
}

}  // namespace

Result<std::unique_ptr<HistoryStore>> HistoryStore::open(const std::string& path) {
  // gwr.db has one connection, the repairer's main thread: another process
  // holding a lock (a backup, someone's sqlite3) must not stall its
  // heartbeat, so a busy database is an error to retry, soon.
  auto db = Database::open(path, std::chrono::milliseconds(300));
  if (!db) return db.error();
  std::unique_ptr<HistoryStore> store(new HistoryStore(std::move(*db)));
  if (auto st = store->migrate(); !st) return st.error();
  return store;
}

Status HistoryStore::probe_write() {
  auto put = db_->prepare("INSERT OR REPLACE INTO policy(key, value) VALUES('write_probe', ?)");
  if (!put) return put.error();
  put->bind(1, std::string(64 * 1024, 'p'));
  if (auto st = put->run(); !st) return st;
  return db_->exec("DELETE FROM policy WHERE key = 'write_probe'");
}

namespace {

std::optional<PolicyState> parse_policy(const std::string& bytes) {
  PolicyState p;
  if (!p.ParseFromString(bytes)) return std::nullopt;
  return p;
}

}  // namespace

std::optional<PolicyState> HistoryStore::peek_policy(const std::string& path) {
  auto db = Database::open_read_only(path);
  if (!db) return std::nullopt;
  // Read-only: an older database is read as it is, not migrated.
  if (auto st = (*db)->prepare("SELECT value FROM policy WHERE key = 'policy'"); st && st->step()) {
    return parse_policy(st->blob(0));
  }
  auto st = (*db)->prepare("SELECT value FROM policy WHERE key = 'state'");
  if (!st || !st->step()) return std::nullopt;
  return policy_from_v1_json(st->text(0));
}

Status HistoryStore::migrate() {
  auto version = db_->prepare("PRAGMA user_version");
  if (!version) return version.error();
  if (!version->step()) {
    if (auto st = version->status(); !st) return st;
    return make_error("PRAGMA user_version returned nothing");
  }
  const int64_t was = version->int64(0);
  version->reset();
  auto tables = db_->prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'repairs'");
  if (!tables) return tables.error();
  if (!tables->step()) return tables->status();
  const bool existed = tables->int64(0) > 0;
  tables->reset();
  if (was >= kSchemaVersion) return db_->exec(kSchema);
  Transaction tx(*db_);
  if (!tx.ok()) return tx.begin_status();
  // Tables an older gwr did not have are created first (existing ones are
  // left as they are and altered below).
  if (auto st = db_->exec(kSchema); !st) return st;
  if (existed && was < 2) {
    // gwr 1.0's database: add what is new, and re-key what was learned.
    if (auto st = db_->exec("ALTER TABLE repairs ADD COLUMN findings BLOB NOT NULL DEFAULT x''"); !st) return st;
    if (auto st = migrate_signatures(); !st) return st;
  }
  if (existed && was < 3) {
    if (auto st = migrate_policy(); !st) return st;
  }
  if (auto st = db_->exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)); !st) return st;
  if (auto st = tx.commit(); !st) return st;
  if (existed) log::info("history_migrated", {{"from_schema", was}, {"to_schema", kSchemaVersion}});
  return Status::Ok();
}

Status HistoryStore::migrate_policy() {
  auto st = db_->prepare("SELECT value FROM policy WHERE key = 'state'");
  if (!st) return st.error();
  if (!st->step()) return st->status();  // never saved: nothing to move
  auto policy = policy_from_v1_json(st->text(0));
  st->reset();
  // An unreadable policy stays where it is: load_policy() then fails
  // closed (no automatic repairs) instead of starting from defaults.
  if (!policy) return Status::Ok();
  if (auto saved = save_policy(*policy); !saved) return saved;
  return db_->exec("DELETE FROM policy WHERE key = 'state'");
}

Status HistoryStore::migrate_signatures() {
  // Repairs: each signature re-keyed in place.
  {
    auto rows = db_->prepare("SELECT id, signature FROM repairs WHERE signature != ''");
    if (!rows) return rows.error();
    std::vector<std::pair<int64_t, std::string>> todo;
    while (rows->step()) todo.emplace_back(rows->int64(0), migrate_v1_signature(rows->text(1)));
    if (auto st = rows->status(); !st) return st;
    auto put = db_->prepare("UPDATE repairs SET signature = ? WHERE id = ?");
    if (!put) return put.error();
    for (const auto& [id, sig] : todo) {
      put->bind(1, sig).bind(2, id);
      if (auto st = put->run(); !st) return st;
      put->reset();
    }
  }
  // Learned patterns: two v1 signatures may be one incident in v2 (the same
  // failure worded differently); their counts add up, the newest plan wins.
  std::vector<std::string> old;
  {
    auto rows = db_->prepare("SELECT signature FROM learned ORDER BY last_seen_ms");
    if (!rows) return rows.error();
    while (rows->step()) old.push_back(rows->text(0));
    if (auto st = rows->status(); !st) return st;
  }
  std::map<std::string, Learned> merged;
  for (const auto& sig : old) {
    auto l = learned(sig);
    if (!l) return make_error("learned pattern '" + sig + "' cannot be read");
    const std::string to = migrate_v1_signature(sig);
    auto [it, fresh] = merged.try_emplace(to, *l);
    Learned& m = it->second;
    m.signature = to;
    if (fresh) continue;
    m.description = l->description;  // rows come oldest first
    m.seen += l->seen;
    m.last_seen_ms = std::max(m.last_seen_ms, l->last_seen_ms);
    for (int t = 1; t <= 3; ++t) {
      m.attempts[t] += l->attempts[t];
      m.fixes[t] += l->fixes[t];
    }
    if (!l->plan.empty()) m.plan = l->plan;
    m.plan_successes += l->plan_successes;
    m.plan_failures += l->plan_failures;
  }
  if (auto st = db_->exec("DELETE FROM learned"); !st) return st;
  for (const auto& [sig, l] : merged) {
    if (auto st = put_learned(l); !st) return st;
  }
  return Status::Ok();
}

Result<std::optional<PolicyState>> HistoryStore::load_policy() {
  auto st = db_->prepare("SELECT value FROM policy WHERE key = 'policy'");
  if (!st) return st.error();
  if (!st->step()) {
    if (auto done = st->status(); !done) return done.error();  // an error, not just "no row"
    // A policy of gwr 1.0 that migrate() could not read is not "none".
    auto old = db_->prepare("SELECT count(*) FROM policy WHERE key = 'state'");
    if (!old) return old.error();
    if (!old->step()) return old->status().ok() ? make_error("cannot read the policy table") : old->status().error();
    if (old->int64(0) > 0) return make_error("the saved repair policy is unreadable");
    return std::optional<PolicyState>();
  }
  auto policy = parse_policy(st->blob(0));
  if (!policy) return make_error("the saved repair policy is unreadable");
  return std::optional<PolicyState>(std::move(*policy));
}

void HistoryStore::checkpoint() {
  // PASSIVE: copies what no reader needs into the main file, never waits.
  if (auto st = db_->exec("PRAGMA wal_checkpoint(PASSIVE)"); !st) {
    log::warn("state_checkpoint_failed", {{"error", st.message()}});
  }
}

Status HistoryStore::save_policy(const PolicyState& state) {
  auto st = db_->prepare("INSERT INTO policy(key, value) VALUES('policy', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!st) return st.error();
  st->bind_blob(1, state.SerializeAsString());
  return st->run();
}

Result<int64_t> HistoryStore::create_repair(const pb::RepairSummary& r) {
  auto st = db_->prepare(
      "INSERT INTO repairs(trigger, actor, reason, signature, started_at_ms, status, current_tier, tiers_tried, "
      "findings) VALUES(?, ?, ?, ?, ?, 'running', ?, '[]', ?)");
  if (!st) return st.error();
  st->bind(1, static_cast<int64_t>(r.trigger()))
      .bind(2, r.actor())
      .bind(3, r.reason())
      .bind(4, r.signature())
      .bind(5, r.started_at_ms())
      .bind(6, static_cast<int64_t>(r.current_tier()))
      .bind_blob(7, findings_blob(r.findings()));
  if (auto s = st->run(); !s) return s.error();
  return db_->last_insert_id();
}

Status HistoryStore::set_current_tier(int64_t repair_id, uint32_t tier, const std::vector<uint32_t>& tiers_tried) {
  auto st = db_->prepare("UPDATE repairs SET current_tier = ?, tiers_tried = ? WHERE id = ?");
  if (!st) return st.error();
  nlohmann::json j = tiers_tried;
  st->bind(1, static_cast<int64_t>(tier)).bind(2, j.dump()).bind(3, repair_id);
  return st->run();
}

Status HistoryStore::save_step(int64_t repair_id, int step_index, const pb::RepairStep& step, bool running) {
  auto st = db_->prepare(
      "INSERT INTO steps(repair_id, step_index, running, body) VALUES(?, ?, ?, ?) "
      "ON CONFLICT(repair_id, step_index) DO UPDATE SET running = excluded.running, body = excluded.body");
  if (!st) return st.error();
  st->bind(1, repair_id).bind(2, static_cast<int64_t>(step_index)).bind(3, running ? 1 : 0).bind_blob(4, step.SerializeAsString());
  return st->run();
}

Status HistoryStore::finish_repair(int64_t repair_id, const pb::RepairSummary& o) {
  auto st = db_->prepare(
      "UPDATE repairs SET finished_at_ms = ?, status = ?, success = ?, fixed_by_tier = ?, tiers_tried = ?, "
      "duration_ms = ?, details = ? WHERE id = ?");
  if (!st) return st.error();
  st->bind(1, o.finished_at_ms())
      .bind(2, repair_status_name(o.status()))
      .bind(3, o.success() ? 1 : 0)
      .bind(4, static_cast<int64_t>(o.fixed_by_tier()))
      .bind(5, tiers_json(o.tiers_tried()))
      .bind(6, o.duration_ms())
      .bind(7, o.details())
      .bind(8, repair_id);
  return st->run();
}

pb::RepairSummary HistoryStore::row_to_summary(Statement& st) {
  pb::RepairSummary r;
  r.set_id(st.int64(0));
  r.set_trigger(static_cast<pb::RepairTrigger>(st.int64(1)));
  r.set_actor(st.text(2));
  r.set_reason(st.text(3));
  r.set_signature(st.text(4));
  r.set_started_at_ms(st.int64(5));
  r.set_finished_at_ms(st.int64(6));
  r.set_status(repair_status_from_name(st.text(7)));
  r.set_success(st.int64(8) != 0);
  r.set_fixed_by_tier(static_cast<uint32_t>(st.int64(9)));
  const auto tiers = nlohmann::json::parse(st.text(10), nullptr, false);
  if (tiers.is_array()) {
    for (const auto& t : tiers) {
      if (t.is_number_unsigned()) r.add_tiers_tried(t.get<uint32_t>());
    }
  }
  r.set_duration_ms(st.int64(11));
  r.set_details(st.text(12));
  r.set_current_tier(static_cast<uint32_t>(st.int64(13)));
  pb::FindingList findings;
  if (findings.ParseFromString(st.blob(14))) *r.mutable_findings() = findings.findings();
  return r;
}

namespace {
constexpr const char* kRepairColumns =
    "id, trigger, actor, reason, signature, started_at_ms, finished_at_ms, status, success, fixed_by_tier, "
    "tiers_tried, duration_ms, details, current_tier, findings";
}

std::optional<pb::RepairSummary> HistoryStore::get_repair(int64_t repair_id, bool with_steps) {
  auto st = db_->prepare(std::string("SELECT ") + kRepairColumns + " FROM repairs WHERE id = ?");
  if (!st) return std::nullopt;
  st->bind(1, repair_id);
  if (!st->step()) return std::nullopt;
  pb::RepairSummary r = row_to_summary(*st);
  if (with_steps) {
    auto steps = db_->prepare("SELECT body FROM steps WHERE repair_id = ? ORDER BY step_index");
    if (steps) {
      steps->bind(1, repair_id);
      while (steps->step()) {
        pb::RepairStep s;
        if (parse_repairing_utf8(s, steps->blob(0))) *r.add_steps() = s;
      }
    }
  }
  return r;
}

std::vector<pb::RepairSummary> HistoryStore::recent_repairs(uint32_t limit) {
  std::vector<pb::RepairSummary> out;
  auto st = db_->prepare(std::string("SELECT ") + kRepairColumns + " FROM repairs ORDER BY id DESC LIMIT ?");
  if (!st) return out;
  st->bind(1, static_cast<int64_t>(limit));
  while (st->step()) out.push_back(row_to_summary(*st));
  return out;
}

std::vector<pb::RepairSummary> HistoryStore::running_repairs() {
  std::vector<pb::RepairSummary> out;
  auto st = db_->prepare(std::string("SELECT ") + kRepairColumns + " FROM repairs WHERE status = 'running' ORDER BY id");
  if (!st) return out;
  while (st->step()) out.push_back(row_to_summary(*st));
  return out;
}

std::vector<pb::RepairStep> HistoryStore::interrupt_running_steps(int64_t repair_id) {
  std::vector<std::pair<int64_t, pb::RepairStep>> running;
  {
    auto st = db_->prepare("SELECT step_index, body FROM steps WHERE repair_id = ? AND running = 1");
    if (!st) return {};
    st->bind(1, repair_id);
    while (st->step()) {
      pb::RepairStep s;
      if (parse_repairing_utf8(s, st->blob(1))) running.emplace_back(st->int64(0), s);
    }
  }
  std::vector<pb::RepairStep> out;
  for (auto& [index, step] : running) {
    step.set_interrupted(true);
    step.set_ok(false);
    step.set_exit_code(-1);
    step.set_detail("interrupted: the repairer stopped while this step ran");
    (void)save_step(repair_id, static_cast<int>(index), step, false);
    out.push_back(step);
  }
  return out;
}

int HistoryStore::next_step_index(int64_t repair_id) {
  auto st = db_->prepare("SELECT COALESCE(MAX(step_index), -1) + 1 FROM steps WHERE repair_id = ?");
  if (!st) return 0;
  st->bind(1, repair_id);
  return st->step() ? static_cast<int>(st->int64(0)) : 0;
}

Status HistoryStore::add_event(const pb::RepairEvent& event) {
  auto st = db_->prepare("INSERT INTO events(at_ms, repair_id, body) VALUES(?, ?, ?)");
  if (!st) return st.error();
  st->bind(1, event.at_ms()).bind(2, event.repair_id()).bind_blob(3, event.SerializeAsString());
  if (auto s = st->run(); !s) return s;
  // Keep the table bounded: the last 10 000 events.
  return db_->exec("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - 10000");
}

Result<int64_t> HistoryStore::prune(int64_t now_ms, int64_t max_age_ms, uint32_t max_repairs, uint32_t max_learned) {
  Transaction tx(*db_);
  if (!tx.ok()) return tx.begin_status().error();
  // The repairs to drop: too old, or beyond the newest max_repairs.
  auto victims = db_->prepare(
      "SELECT id FROM repairs WHERE status != 'running' AND (started_at_ms < ? OR id NOT IN "
      "(SELECT id FROM repairs ORDER BY id DESC LIMIT ?))");
  if (!victims) return victims.error();
  victims->bind(1, now_ms - max_age_ms).bind(2, static_cast<int64_t>(max_repairs));
  std::vector<int64_t> ids;
  while (victims->step()) ids.push_back(victims->int64(0));
  if (auto st = victims->status(); !st) return st.error();
  for (const char* sql : {"DELETE FROM steps WHERE repair_id = ?", "DELETE FROM events WHERE repair_id = ?",
                          "DELETE FROM repairs WHERE id = ?"}) {
    auto st = db_->prepare(sql);
    if (!st) return st.error();
    for (int64_t id : ids) {
      st->reset();
      st->bind(1, id);
      if (auto r = st->run(); !r) return r.error();
    }
  }
  // Events that belong to no repair (pause, cooldown, ...) age out too.
  auto old_events = db_->prepare("DELETE FROM events WHERE repair_id = 0 AND at_ms < ?");
  if (!old_events) return old_events.error();
  old_events->bind(1, now_ms - max_age_ms);
  if (auto r = old_events->run(); !r) return r.error();
  auto learned = db_->prepare(
      "DELETE FROM learned WHERE signature NOT IN (SELECT signature FROM learned ORDER BY last_seen_ms DESC LIMIT ?)");
  if (!learned) return learned.error();
  learned->bind(1, static_cast<int64_t>(max_learned));
  if (auto r = learned->run(); !r) return r.error();
  if (auto st = tx.commit(); !st) return st.error();
  return static_cast<int64_t>(ids.size());
}

std::vector<pb::RepairEvent> HistoryStore::recent_events(uint32_t limit) {
  std::vector<pb::RepairEvent> out;
  auto st = db_->prepare("SELECT body FROM (SELECT id, body FROM events ORDER BY id DESC LIMIT ?) ORDER BY id");
  if (!st) return out;
  st->bind(1, static_cast<int64_t>(limit));
  while (st->step()) {
    pb::RepairEvent e;
    if (parse_repairing_utf8(e, st->blob(0))) out.push_back(std::move(e));
  }
  return out;
}

pb::StatsReply HistoryStore::stats(int64_t now_ms) {
  pb::StatsReply reply;
  struct Window {
    const char* name;
    int64_t since_ms;
  };
  const Window windows[] = {{"24h", now_ms - 86'400'000}, {"7d", now_ms - 7 * 86'400'000LL}, {"all", 0}};
  for (const auto& w : windows) {
    auto* out = reply.add_windows();
    out->set_name(w.name);
    std::map<uint32_t, pb::TierStats> tiers;
    std::map<uint32_t, int64_t> tier_ms;
    int64_t total_ms = 0;
    uint32_t finished = 0;
    auto st = db_->prepare(std::string("SELECT ") + kRepairColumns +
                           " FROM repairs WHERE started_at_ms >= ? AND status != 'running'");
    if (!st) continue;
    st->bind(1, w.since_ms);
    std::vector<int64_t> ids;
    while (st->step()) {
      const auto r = row_to_summary(*st);
      out->set_repairs(out->repairs() + 1);
      if (r.success()) {
        out->set_succeeded(out->succeeded() + 1);
      } else {
        out->set_failed(out->failed() + 1);
        if (r.status() == pb::REPAIR_FAILED) out->set_escalations(out->escalations() + 1);
      }
      if (r.trigger() == pb::TRIGGER_MANUAL) out->set_manual(out->manual() + 1);
      total_ms += r.duration_ms();
      ++finished;
      for (auto t : r.tiers_tried()) {
        auto& ts = tiers[t];
        ts.set_tier(t);
        ts.set_attempts(ts.attempts() + 1);
      }
      if (r.fixed_by_tier()) tiers[r.fixed_by_tier()].set_fixes(tiers[r.fixed_by_tier()].fixes() + 1);
      ids.push_back(r.id());
    }
    // Time spent per tier, from the steps.
    for (int64_t id : ids) {
      auto steps = db_->prepare("SELECT body FROM steps WHERE repair_id = ?");
      if (!steps) continue;
      steps->bind(1, id);
      while (steps->step()) {
        pb::RepairStep s;
        if (parse_repairing_utf8(s, steps->blob(0))) tier_ms[s.tier()] += s.duration_ms();
      }
    }
    if (out->repairs()) out->set_success_rate(static_cast<double>(out->succeeded()) / out->repairs());
    if (finished) out->set_avg_duration_ms(total_ms / finished);
    for (auto& [t, ts] : tiers) {
      if (ts.attempts()) ts.set_avg_duration_ms(tier_ms[t] / ts.attempts());
      *out->add_tiers() = ts;
    }
  }
  return reply;
}

std::optional<HistoryStore::Learned> HistoryStore::learned(const std::string& signature) {
  auto st = db_->prepare(
      "SELECT signature, description, seen, last_seen_ms, tiers, plan, plan_successes, plan_failures FROM learned "
      "WHERE signature = ?");
  if (!st) return std::nullopt;
  st->bind(1, signature);
  if (!st->step()) return std::nullopt;
  Learned l;
  l.signature = st->text(0);
  l.description = st->text(1);
  l.seen = static_cast<uint32_t>(st->int64(2));
  l.last_seen_ms = st->int64(3);
  const auto tiers = nlohmann::json::parse(st->text(4), nullptr, false);
  for (int t = 1; t <= 3; ++t) {
    const std::string k = std::to_string(t);
    if (tiers.is_object() && tiers.contains(k) && tiers[k].is_object()) {
      l.attempts[t] = tiers[k].value("attempts", 0u);
      l.fixes[t] = tiers[k].value("fixes", 0u);
    }
  }
  const auto plan = nlohmann::json::parse(st->text(5), nullptr, false);
  if (plan.is_array()) {
    for (const auto& line : plan) {
      if (line.is_string()) l.plan.push_back(line.get<std::string>());
    }
  }
  l.plan_successes = static_cast<uint32_t>(st->int64(6));
  l.plan_failures = static_cast<uint32_t>(st->int64(7));
  return l;
}

Status HistoryStore::record_outcome(const Outcome& o, int64_t now_ms) {
  if (o.signature.empty()) return Status::Ok();
  Learned l = learned(o.signature).value_or(Learned{});
  l.signature = o.signature;
  l.description = o.description;
  ++l.seen;
  l.last_seen_ms = now_ms;
  for (auto t : o.tiers_tried) {
    if (t >= 1 && t <= 3) ++l.attempts[t];
  }
  if (o.fixed_by_tier >= 1 && o.fixed_by_tier <= 3) ++l.fixes[o.fixed_by_tier];
  if (o.fixed_by_tier == 3 && !o.plan.empty()) {
    if (!o.plan_replayed) l.plan = o.plan;
    ++l.plan_successes;
  }
  if (o.replay_failed) {
    ++l.plan_failures;
    // A learned plan that keeps failing is forgotten.
    if (l.plan_failures >= 2 && o.fixed_by_tier != 3) {
      l.plan.clear();
      l.plan_failures = 0;
      l.plan_successes = 0;
    }
  }
  return put_learned(l);
}

Status HistoryStore::put_learned(const Learned& l) {
  nlohmann::json tiers = nlohmann::json::object();
  for (int t = 1; t <= 3; ++t) tiers[std::to_string(t)] = {{"attempts", l.attempts[t]}, {"fixes", l.fixes[t]}};
  auto st = db_->prepare(
      "INSERT INTO learned(signature, description, seen, last_seen_ms, tiers, plan, plan_successes, plan_failures) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(signature) DO UPDATE SET description = excluded.description, "
      "seen = excluded.seen, last_seen_ms = excluded.last_seen_ms, tiers = excluded.tiers, plan = excluded.plan, "
      "plan_successes = excluded.plan_successes, plan_failures = excluded.plan_failures");
  if (!st) return st.error();
  st->bind(1, l.signature)
      .bind(2, l.description)
      .bind(3, static_cast<int64_t>(l.seen))
      .bind(4, l.last_seen_ms)
      .bind(5, tiers.dump())
      .bind(6, nlohmann::json(l.plan).dump())
      .bind(7, static_cast<int64_t>(l.plan_successes))
      .bind(8, static_cast<int64_t>(l.plan_failures));
  return st->run();
}

std::vector<pb::LearnedPattern> HistoryStore::learned_patterns(uint32_t limit) {
  std::vector<pb::LearnedPattern> out;
  auto st = db_->prepare("SELECT signature FROM learned ORDER BY last_seen_ms DESC LIMIT ?");
  if (!st) return out;
  st->bind(1, static_cast<int64_t>(limit));
  std::vector<std::string> sigs;
  while (st->step()) sigs.push_back(st->text(0));
  for (const auto& sig : sigs) {
    auto l = learned(sig);
    if (!l) continue;
    pb::LearnedPattern p;
    p.set_signature(l->signature);
    p.set_description(l->description);
    p.set_seen(l->seen);
    uint32_t best = 0;
    for (uint32_t t = 1; t <= 3; ++t) {
      if (l->fixes[t] > 0 && (best == 0 || l->fixes[t] > l->fixes[best])) best = t;
    }
    p.set_best_tier(best);
    p.set_tier1_failures(l->attempts[1] - std::min(l->attempts[1], l->fixes[1]));
    p.set_has_plan(!l->plan.empty());
    p.set_plan_successes(l->plan_successes);
    p.set_last_seen_ms(l->last_seen_ms);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace gwr::repairer
