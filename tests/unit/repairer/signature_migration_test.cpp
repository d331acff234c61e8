// gwr 1.0's incident signatures (text with digits masked) become gwr 2's
// typed ones, and a 1.0 gwr.db keeps what it learned across the upgrade.
#include "repairer/signature_migration.h"

#include <gtest/gtest.h>

#include "common/findings.h"
#include "common/sqlite.h"
#include "repairer/history_store.h"
#include "tests/support/test_support.h"

namespace gwr::repairer {
namespace {

pb::Finding f(pb::Finding::Kind kind, pb::CheckKind check, pb::Cause cause = pb::CAUSE_UNSPECIFIED) {
  pb::Finding out;
  out.set_kind(kind);
  out.set_check(check);
  out.set_cause(cause);
  return out;
}

// What the prober of gwr 2 says for the same incident.
std::string v2(pb::GatewayState state, std::vector<pb::Finding> found) { return incident_signature(state, found); }

TEST(SignatureMigration, EveryWordingOf10MapsToTheFindingsOfToday) {
  struct Case {
    const char* v1;
    std::string want;
  };
  const Case cases[] = {
      {"down|process:no process named openclaw-gateway is running",
       v2(pb::DOWN, {f(pb::Finding::NOT_RUNNING, pb::CHECK_PROCESS)})},
      {"down|process:no process named openclaw is running; port # is held by pid # (python#)",
       v2(pb::DOWN, {f(pb::Finding::NOT_RUNNING, pb::CHECK_PROCESS)})},
      {"down|process:gateway process # exited", v2(pb::DOWN, {f(pb::Finding::EXITED, pb::CHECK_PROCESS)})},
      {"down|process:gateway process # exited|oom",
       v2(pb::DOWN, {f(pb::Finding::EXITED, pb::CHECK_PROCESS), f(pb::Finding::OOM_KILLED, pb::CHECK_PROCESS)})},
      {"down|port:connection refused|health:connection refused",
       v2(pb::DOWN, {f(pb::Finding::CHECK_FAILING, pb::CHECK_PORT, pb::CAUSE_REFUSED)})},
      {"down|port:timeout after #s", v2(pb::DOWN, {f(pb::Finding::CHECK_FAILING, pb::CHECK_PORT, pb::CAUSE_TIMEOUT)})},
      {"down|health:no answer within #s",
       v2(pb::DOWN, {f(pb::Finding::CHECK_FAILING, pb::CHECK_HEALTH, pb::CAUSE_TIMEOUT)})},
      {"down|health:HTTP #: {\"error\":\"session file locked\"}",
       v2(pb::DOWN, {f(pb::Finding::CHECK_FAILING, pb::CHECK_HEALTH, pb::CAUSE_HTTP_STATUS)})},
      {"down|health:gateway says not ok (status degraded)",
       v2(pb::DOWN, {f(pb::Finding::CHECK_FAILING, pb::CHECK_HEALTH, pb::CAUSE_NOT_OK)})},
      {"down|health:unexpected body: <html>",
       v2(pb::DOWN, {f(pb::Finding::CHECK_FAILING, pb::CHECK_HEALTH, pb::CAUSE_BAD_BODY)})},
      {"degraded|memory:RSS # MB over # MB", v2(pb::DEGRADED, {f(pb::Finding::HIGH_MEMORY, pb::CHECK_MEMORY)})},
      {"degraded", v2(pb::DEGRADED, {f(pb::Finding::SLOW, pb::CHECK_HEALTH)})},
  };
  for (const auto& c : cases) EXPECT_EQ(migrate_v1_signature(c.v1), c.want) << c.v1;
}

TEST(SignatureMigration, TodaysAndUnknownSignaturesAreKeptNotGuessed) {
  const std::string today = "v2|down|f:EXITED/process";
  EXPECT_EQ(migrate_v1_signature(today), today);
  EXPECT_EQ(migrate_v1_signature("down|disk:full"), "v1-unmapped|down|disk:full");
  EXPECT_EQ(migrate_v1_signature("down|process:something else"), "v1-unmapped|down|process:something else");
  EXPECT_EQ(migrate_v1_signature(""), "v1-unmapped|");
  EXPECT_EQ(migrate_v1_signature("down"), "v1-unmapped|down");
  EXPECT_EQ(migrate_v1_signature("v1-unmapped|x"), "v1-unmapped|x");  // idempotent
}

// A database exactly as gwr 1.0 left it (its schema, user_version 0).
constexpr const char* k10Schema = R"SQL(
CREATE TABLE repairs (id INTEGER PRIMARY KEY AUTOINCREMENT, trigger INTEGER NOT NULL, actor TEXT NOT NULL,
  reason TEXT NOT NULL, signature TEXT NOT NULL DEFAULT '', started_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, success INTEGER NOT NULL DEFAULT 0,
  fixed_by_tier INTEGER NOT NULL DEFAULT 0, tiers_tried TEXT NOT NULL DEFAULT '[]',
  duration_ms INTEGER NOT NULL DEFAULT 0, details TEXT NOT NULL DEFAULT '', current_tier INTEGER NOT NULL DEFAULT 0);
CREATE TABLE steps (repair_id INTEGER NOT NULL, step_index INTEGER NOT NULL, running INTEGER NOT NULL,
  body BLOB NOT NULL, PRIMARY KEY (repair_id, step_index));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, repair_id INTEGER NOT NULL,
  body BLOB NOT NULL);
CREATE TABLE policy (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE learned (signature TEXT PRIMARY KEY, description TEXT NOT NULL, seen INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL, tiers TEXT NOT NULL, plan TEXT NOT NULL DEFAULT '[]',
  plan_successes INTEGER NOT NULL DEFAULT 0, plan_failures INTEGER NOT NULL DEFAULT 0);
INSERT INTO repairs(trigger, actor, reason, signature, started_at_ms, finished_at_ms, status, success, fixed_by_tier)
  VALUES(1, 'auto', 'health check failing: HTTP 500', 'down|health:HTTP #: locked', 1000, 2000, 'succeeded', 1, 2);
INSERT INTO learned VALUES('down|health:HTTP #: {"error":"session file locked"}', 'HTTP 500 locked', 3, 5000,
  '{"1":{"attempts":3,"fixes":0},"2":{"attempts":3,"fixes":3},"3":{"attempts":0,"fixes":0}}', '[]', 0, 0);
INSERT INTO learned VALUES('down|health:HTTP #: {"error":"other"}', 'HTTP 503', 1, 9000,
  '{"1":{"attempts":1,"fixes":0},"2":{"attempts":1,"fixes":1},"3":{"attempts":0,"fixes":0}}', '["openclaw doctor"]', 1, 0);
INSERT INTO learned VALUES('down|disk:full', 'who knows', 1, 100, '{}', '[]', 0, 0);
)SQL";

TEST(SignatureMigration, A10DatabaseKeepsWhatItLearnedAcrossTheUpgrade) {
  testing::TempDir dir;
  const std::string path = dir / "gwr.db";
  {
    auto db = Database::open(path);
    ASSERT_TRUE(db.ok()) << db.message();
    ASSERT_TRUE((*db)->exec(k10Schema).ok());
  }
  const std::string sig =
      v2(pb::DOWN, {f(pb::Finding::CHECK_FAILING, pb::CHECK_HEALTH, pb::CAUSE_HTTP_STATUS)});
  for (int open = 0; open < 2; ++open) {  // the second open finds it migrated and changes nothing
    auto store = HistoryStore::open(path);
    ASSERT_TRUE(store.ok()) << store.message();
    // Two wordings of one incident are one pattern now, their counts added.
    auto learned = (*store)->learned(sig);
    ASSERT_TRUE(learned) << "the learned pattern was lost";
    EXPECT_EQ(learned->seen, 4u);
    EXPECT_EQ(learned->attempts[1], 4u);
    EXPECT_EQ(learned->fixes[1], 0u);
    EXPECT_EQ(learned->fixes[2], 4u);
    EXPECT_EQ(learned->last_seen_ms, 9000);
    EXPECT_EQ(learned->plan, std::vector<std::string>{"openclaw doctor"});
    // So the next such incident still skips the tier that never fixed it.
    EXPECT_EQ(learned_start_tier(1, learned->attempts, learned->fixes, true), 2u);
    EXPECT_TRUE((*store)->learned("v1-unmapped|down|disk:full")) << "kept for the record";
    auto recent = (*store)->recent_repairs(5);
    ASSERT_EQ(recent.size(), 1u);
    EXPECT_EQ(recent[0].signature(), sig);
    EXPECT_EQ(recent[0].status(), pb::REPAIR_SUCCEEDED);
    EXPECT_EQ(recent[0].reason(), "health check failing: HTTP 500");
    EXPECT_EQ((*store)->learned_patterns(10).size(), 2u);
  }
}

TEST(SignatureMigration, ANewDatabaseStoresFindingsWithEachRepair) {
  testing::TempDir dir;
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok()) << store.message();
  pb::RepairSummary r;
  r.set_trigger(pb::TRIGGER_AUTO);
  r.set_actor("auto");
  r.set_started_at_ms(1);
  *r.add_findings() = f(pb::Finding::CHECK_FAILING, pb::CHECK_PORT, pb::CAUSE_REFUSED);
  auto id = (*store)->create_repair(r);
  ASSERT_TRUE(id.ok()) << id.message();
  auto got = (*store)->get_repair(*id);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->findings_size(), 1);
  EXPECT_EQ(got->findings(0).cause(), pb::CAUSE_REFUSED);
  EXPECT_EQ(got->status(), pb::REPAIR_RUNNING);
}

}  // namespace
}  // namespace gwr::repairer
