#include "fleet/fleet_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace gwr::fleet {

Result<std::unique_ptr<FleetStore>> FleetStore::open(const std::string& path) {
  auto db = Database::open(path, std::chrono::milliseconds(2000));
  if (!db) return make_error(db.message());
  std::unique_ptr<FleetStore> store(new FleetStore(std::move(*db)));
  if (auto st = store->init(); !st) return make_error(path + ": " + st.message());
  return store;
}

Status FleetStore::init() {
  if (auto st = db_->exec("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, event BLOB NOT NULL, "
                          "at_ms INTEGER NOT NULL);"
                          "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                          "CREATE TABLE IF NOT EXISTS nodes (name TEXT PRIMARY KEY, instance TEXT NOT NULL, "
                          "seq INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL, gateways BLOB NOT NULL);");
      !st) {
    return st;
  }
  auto q = db_->prepare("SELECT value FROM meta WHERE key = 'last_seq'");
  if (!q) return make_error(q.message());
  if (q->step()) {
    last_seq_ = std::stoull(q->text(0).empty() ? "0" : q->text(0));
  } else if (auto st = q->status(); !st) {
    return st;
  }
  return Status::Ok();
}

Result<std::string> FleetStore::instance() {
  auto q = db_->prepare("SELECT value FROM meta WHERE key = 'instance'");
  if (!q) return make_error(q.message());
  if (q->step()) return q->text(0);
  if (auto st = q->status(); !st) return make_error(st.message());
  unsigned char bytes[12] = {};
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::read(fd, bytes, sizeof bytes) != static_cast<ssize_t>(sizeof bytes)) {
    if (fd >= 0) ::close(fd);
    return make_error("cannot read /dev/urandom for an instance id");
  }
  ::close(fd);
  std::string id;
  for (unsigned char b : bytes) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", b);
    id += hex;
  }
  auto ins = db_->prepare("INSERT INTO meta (key, value) VALUES ('instance', ?)");
  if (!ins) return make_error(ins.message());
  if (auto st = ins->bind(1, id).run(); !st) return make_error(st.message());
  return id;
}

Result<std::string> FleetStore::new_instance() {
  auto del = db_->prepare("DELETE FROM meta WHERE key = 'instance'");
  if (!del) return make_error(del.message());
  if (auto st = del->run(); !st) return make_error(st.message());
  return instance();
}

Result<uint64_t> FleetStore::append_all(const std::vector<pb::Event>& events, int64_t now_ms, int64_t* dropped) {
  if (dropped) *dropped = 0;
  if (events.empty()) return last_seq_;
  Transaction tx(*db_);
  if (!tx.ok()) return make_error(tx.begin_status().message());
  auto ins = db_->prepare("INSERT INTO outbox (seq, event, at_ms) VALUES (?, ?, ?)");
  if (!ins) return make_error(ins.message());
  uint64_t seq = last_seq_;
  for (const auto& event : events) {
    std::string bytes;
    if (!event.SerializeToString(&bytes)) return make_error("event does not serialize");
    ++seq;
    if (auto st = ins->bind(1, static_cast<int64_t>(seq)).bind_blob(2, bytes).bind(3, now_ms).run(); !st) {
      return make_error(st.message());
    }
    ins->reset();
  }
  auto meta = db_->prepare("INSERT INTO meta (key, value) VALUES ('last_seq', ?) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  if (!meta) return make_error(meta.message());
  if (auto st = meta->bind(1, std::to_string(seq)).run(); !st) return make_error(st.message());
  if (seq > static_cast<uint64_t>(kOutboxMax)) {
    const int64_t through = static_cast<int64_t>(seq) - kOutboxMax;
    auto n = db_->prepare("SELECT COUNT(*) FROM outbox WHERE seq <= ?");
    if (!n) return make_error(n.message());
    n->bind(1, through);
    if (n->step() && dropped) *dropped = n->int64(0);
    auto trim = db_->prepare("DELETE FROM outbox WHERE seq <= ?");
    if (!trim) return make_error(trim.message());
    if (auto st = trim->bind(1, through).run(); !st) return make_error(st.message());
  }
  if (auto st = tx.commit(); !st) return make_error(st.message());
  last_seq_ = seq;
  return seq;
}

Result<std::vector<pb::FleetEnvelope>> FleetStore::after(uint64_t after, size_t n) {
  std::vector<pb::FleetEnvelope> out;
  auto q = db_->prepare("SELECT seq, event FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?");
  if (!q) return make_error(q.message());
  q->bind(1, static_cast<int64_t>(after)).bind(2, static_cast<int64_t>(n));
  while (q->step()) {
    pb::FleetEnvelope e;
    e.set_seq(static_cast<uint64_t>(q->int64(0)));
    if (!e.mutable_event()->ParseFromString(q->blob(1))) continue;  // cannot happen: we wrote it
    out.push_back(std::move(e));
  }
  if (auto st = q->status(); !st) return make_error(st.message());
  return out;
}

Status FleetStore::remove_through(uint64_t seq) {
  auto q = db_->prepare("DELETE FROM outbox WHERE seq <= ?");
  if (!q) return make_error(q.message());
  return q->bind(1, static_cast<int64_t>(seq)).run();
}

Result<uint64_t> FleetStore::oldest_seq() {
  auto q = db_->prepare("SELECT MIN(seq) FROM outbox");
  if (!q) return make_error(q.message());
  if (q->step()) return q->is_null(0) ? uint64_t{0} : static_cast<uint64_t>(q->int64(0));
  if (auto st = q->status(); !st) return make_error(st.message());
  return uint64_t{0};
}

Result<int64_t> FleetStore::count() {
  auto q = db_->prepare("SELECT COUNT(*) FROM outbox");
  if (!q) return make_error(q.message());
  if (q->step()) return q->int64(0);
  if (auto st = q->status(); !st) return make_error(st.message());
  return int64_t{0};
}

Result<std::vector<FleetStore::NodeRow>> FleetStore::nodes() {
  std::vector<NodeRow> out;
  auto q = db_->prepare("SELECT name, instance, seq, last_seen_ms, gateways FROM nodes ORDER BY name");
  if (!q) return make_error(q.message());
  while (q->step()) {
    NodeRow r;
    r.name = q->text(0);
    r.instance = q->text(1);
    r.seq = static_cast<uint64_t>(q->int64(2));
    r.last_seen_ms = q->int64(3);
    pb::FleetHello g;
    if (g.ParseFromString(q->blob(4))) r.gateways.assign(g.gateways().begin(), g.gateways().end());
    out.push_back(std::move(r));
  }
  if (auto st = q->status(); !st) return make_error(st.message());
  return out;
}

Status FleetStore::save_node(const NodeRow& r) {
  pb::FleetHello g;
  for (const auto& e : r.gateways) *g.add_gateways() = e;
  auto q = db_->prepare("INSERT INTO nodes (name, instance, seq, last_seen_ms, gateways) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT(name) DO UPDATE SET instance = excluded.instance, seq = excluded.seq, "
                        "last_seen_ms = excluded.last_seen_ms, gateways = excluded.gateways");
  if (!q) return make_error(q.message());
  return q->bind(1, r.name)
      .bind(2, r.instance)
      .bind(3, static_cast<int64_t>(r.seq))
      .bind(4, r.last_seen_ms)
      .bind_blob(5, g.SerializeAsString())
      .run();
}

}  // namespace gwr::fleet
