// The SQLite history: repairs, steps, events, policy and statistics survive
// reopening; a damaged file is moved aside, not fatal.
#include "repairer/history_store.h"

#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "common/text.h"
#include "tests/support/test_support.h"

namespace gwr::repairer {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

pb::RepairSummary new_repair(pb::RepairTrigger trigger, int64_t started) {
  pb::RepairSummary r;
  r.set_trigger(trigger);
  r.set_actor(trigger == pb::TRIGGER_AUTO ? "auto" : "gwrctl");
  r.set_reason("gateway process exited");
  r.set_started_at_ms(started);
  r.set_current_tier(1);
  return r;
}

pb::RepairStep step(uint32_t tier, const std::string& name, bool ok, int64_t ms) {
  pb::RepairStep s;
  s.set_tier(tier);
  s.set_name(name);
  s.set_ok(ok);
  s.set_duration_ms(ms);
  return s;
}

TEST(HistoryStore, RepairsStepsAndEventsSurviveReopening) {
  testing::TempDir dir;
  const std::string path = dir / "gwr.db";
  int64_t id = 0;
  {
    auto store = HistoryStore::open(path);
    ASSERT_TRUE(store.ok()) << store.message();
    auto created = (*store)->create_repair(new_repair(pb::TRIGGER_AUTO, kNow));
    ASSERT_TRUE(created.ok());
    id = *created;
    ASSERT_TRUE((*store)->save_step(id, 0, step(1, "restart", true, 300), true).ok());
    ASSERT_TRUE((*store)->save_step(id, 0, step(1, "restart", true, 300), false).ok());
    ASSERT_TRUE((*store)->save_step(id, 1, step(1, "verify", true, 700), false).ok());
    pb::RepairEvent ev;
    ev.set_kind(pb::RepairEvent::STARTED);
    ev.set_repair_id(id);
    ev.set_at_ms(kNow);
    ASSERT_TRUE((*store)->add_event(ev).ok());
    PolicyState p;
    p.set_paused(true);
    p.add_auto_starts_ms(kNow);
    ASSERT_TRUE((*store)->save_policy(p).ok());
  }
  auto store = HistoryStore::open(path);
  ASSERT_TRUE(store.ok());
  auto r = (*store)->get_repair(id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), pb::REPAIR_RUNNING);
  ASSERT_EQ(r->steps_size(), 2);
  EXPECT_EQ(r->steps(1).name(), "verify");
  EXPECT_EQ((*store)->running_repairs().size(), 1u);
  EXPECT_EQ((*store)->recent_events(10).size(), 1u);
  auto policy = (*store)->load_policy();
  ASSERT_TRUE(policy.ok()) << policy.message();
  ASSERT_TRUE(policy->has_value());
  EXPECT_TRUE((**policy).paused());
  EXPECT_EQ((*store)->next_step_index(id), 2);
}

TEST(HistoryStore, InterruptedStepsAreMarked) {
  testing::TempDir dir;
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok());
  const int64_t id = *(*store)->create_repair(new_repair(pb::TRIGGER_AUTO, kNow));
  auto running = step(2, "stop", false, 0);
  running.set_pid(4321);
  ASSERT_TRUE((*store)->save_step(id, 0, running, true).ok());
  const auto interrupted = (*store)->interrupt_running_steps(id);
  ASSERT_EQ(interrupted.size(), 1u);
  EXPECT_EQ(interrupted[0].pid(), 4321u);
  EXPECT_TRUE((*store)->get_repair(id)->steps(0).interrupted());
  EXPECT_TRUE((*store)->interrupt_running_steps(id).empty());
}

TEST(HistoryStore, StatsPerWindowAndTier) {
  testing::TempDir dir;
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok());
  auto finish = [&](int64_t started, bool success, uint32_t fixed, std::vector<uint32_t> tiers, pb::RepairTrigger t) {
    const int64_t id = *(*store)->create_repair(new_repair(t, started));
    int idx = 0;
    for (auto tier : tiers) ASSERT_TRUE((*store)->save_step(id, idx++, step(tier, "x", true, 1000 * tier), false).ok());
    pb::RepairSummary o;
    o.set_finished_at_ms(started + 5000);
    o.set_status(success ? pb::REPAIR_SUCCEEDED : pb::REPAIR_FAILED);
    o.set_success(success);
    o.set_fixed_by_tier(fixed);
    for (auto tier : tiers) o.add_tiers_tried(tier);
    o.set_duration_ms(5000);
    ASSERT_TRUE((*store)->finish_repair(id, o).ok());
  };
  finish(kNow - 3'600'000, true, 1, {1}, pb::TRIGGER_AUTO);
  finish(kNow - 2'000'000, true, 2, {1, 2}, pb::TRIGGER_AUTO);
  finish(kNow - 3 * 86'400'000LL, false, 0, {1, 2, 3}, pb::TRIGGER_MANUAL);
  const auto stats = (*store)->stats(kNow);
  ASSERT_EQ(stats.windows_size(), 3);
  const auto& day = stats.windows(0);
  EXPECT_EQ(day.name(), "24h");
  EXPECT_EQ(day.repairs(), 2u);
  EXPECT_DOUBLE_EQ(day.success_rate(), 1.0);
  const auto& all = stats.windows(2);
  EXPECT_EQ(all.repairs(), 3u);
  EXPECT_EQ(all.failed(), 1u);
  EXPECT_EQ(all.escalations(), 1u);
  EXPECT_EQ(all.manual(), 1u);
  ASSERT_GE(all.tiers_size(), 2);
  EXPECT_EQ(all.tiers(0).tier(), 1u);
  EXPECT_EQ(all.tiers(0).attempts(), 3u);
  EXPECT_EQ(all.tiers(0).fixes(), 1u);
  EXPECT_EQ(all.tiers(0).avg_duration_ms(), 1000);
}

TEST(HistoryStore, AGarbageFileIsMovedAsideNotFatal) {
  testing::TempDir dir;
  testing::write_file(dir / "gwr.db", std::string(8192, 'x'));
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok()) << store.message();
  EXPECT_TRUE((*store)->create_repair(new_repair(pb::TRIGGER_AUTO, kNow)).ok());
  bool aside = false;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    aside |= e.path().filename().string().rfind("gwr.db.corrupt-", 0) == 0;
  }
  EXPECT_TRUE(aside);
}

// Only real damage moves a database aside, and then with its -wal and -shm
// (renamed, not deleted: the -wal may hold committed transactions).
TEST(HistoryStore, ADamagedDatabaseGoesAsideWithItsWalAndShm) {
  testing::TempDir dir;
  testing::write_file(dir / "gwr.db", std::string(8192, 'x'));
  testing::write_file(dir / "gwr.db-wal", "committed transactions live here");
  testing::write_file(dir / "gwr.db-shm", "index");
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok()) << store.message();
  bool wal = false;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    const std::string name = e.path().filename().string();
    if (name.rfind("gwr.db.corrupt-", 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == "-wal") {
      wal = true;
      EXPECT_EQ(testing::read_file(e.path().string()), "committed transactions live here");
    }
  }
  EXPECT_TRUE(wal) << "the -wal was not kept";
}

// A valid header over damaged pages: found by the integrity check.
TEST(HistoryStore, DamagedPagesAreFoundByTheIntegrityCheck) {
  testing::TempDir dir;
  {
    auto store = HistoryStore::open(dir / "gwr.db");
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 200; ++i) ASSERT_TRUE((*store)->create_repair(new_repair(pb::TRIGGER_AUTO, kNow + i)).ok());
  }
  std::string bytes = testing::read_file(dir / "gwr.db");
  ASSERT_GT(bytes.size(), 3 * 4096u);
  for (size_t i = 4096 + 100; i < 3 * 4096; ++i) bytes[i] = static_cast<char>(0xA5);
  testing::write_file(dir / "gwr.db", bytes);
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok()) << store.message();
  EXPECT_TRUE((*store)->recent_repairs(10).empty()) << "a fresh database";
  bool aside = false;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    aside |= e.path().filename().string().rfind("gwr.db.corrupt-", 0) == 0;
  }
  EXPECT_TRUE(aside);
}

// A database that is only busy (another process holds it locked) is an
// error to retry: it is neither moved aside nor replaced.
TEST(HistoryStore, ALockedDatabaseIsAnErrorNotCorruption) {
  testing::TempDir dir;
  {
    auto store = HistoryStore::open(dir / "gwr.db");
    ASSERT_TRUE(store.ok());
    PolicyState p;
    p.set_paused(true);
    ASSERT_TRUE((*store)->save_policy(p).ok());
  }
  auto holder = Database::open(dir / "gwr.db");
  ASSERT_TRUE(holder.ok());
  ASSERT_TRUE((*holder)->exec("PRAGMA locking_mode=EXCLUSIVE").ok());
  ASSERT_TRUE((*holder)->exec("BEGIN EXCLUSIVE").ok());
  ASSERT_TRUE((*holder)->exec("INSERT OR REPLACE INTO policy(key, value) VALUES('x', 'y')").ok());
  auto busy = HistoryStore::open(dir / "gwr.db");
  EXPECT_FALSE(busy.ok());
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find("corrupt"), std::string::npos) << e.path();
  }
  // What the owner saved can still be seen without writing anything.
  const auto seen = HistoryStore::peek_policy(dir / "gwr.db");
  ASSERT_TRUE(seen);
  EXPECT_TRUE(seen->paused());
  ASSERT_TRUE((*holder)->exec("ROLLBACK").ok());
  holder->reset();
  auto again = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(again.ok()) << again.message();
  auto policy = (*again)->load_policy();
  ASSERT_TRUE(policy.ok());
  ASSERT_TRUE(policy->has_value());
  EXPECT_TRUE((**policy).paused()) << "the pause survived the lock";
}

TEST(HistoryStore, AnUnreadablePolicyIsAnErrorNeverTheDefaults) {
  testing::TempDir dir;
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok());
  auto none = (*store)->load_policy();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "a new database has no policy yet";
  ASSERT_TRUE((*store)->db().exec("INSERT INTO policy(key, value) VALUES('state', 'not json')").ok());
  EXPECT_FALSE((*store)->load_policy().ok()) << "1.0's unreadable policy is not 'none'";
  ASSERT_TRUE((*store)->db().exec("INSERT INTO policy(key, value) VALUES('policy', x'FFFFFFFF')").ok());
  EXPECT_FALSE((*store)->load_policy().ok()) << "bytes that are no PolicyState";
}

// gwr 1.0 kept the policy as JSON: the upgrade keeps a pause (and the hour's
// repairs), stores it as protobuf and drops the JSON.
TEST(HistoryStore, A10PolicyIsMigratedNotReset) {
  testing::TempDir dir;
  const std::string path = dir / "gwr.db";
  {
    auto db = Database::open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->exec("CREATE TABLE repairs (id INTEGER PRIMARY KEY AUTOINCREMENT, trigger INTEGER NOT NULL, "
                            "actor TEXT NOT NULL, reason TEXT NOT NULL, signature TEXT NOT NULL DEFAULT '', "
                            "started_at_ms INTEGER NOT NULL, finished_at_ms INTEGER NOT NULL DEFAULT 0, status TEXT "
                            "NOT NULL, success INTEGER NOT NULL DEFAULT 0, fixed_by_tier INTEGER NOT NULL DEFAULT 0, "
                            "tiers_tried TEXT NOT NULL DEFAULT '[]', duration_ms INTEGER NOT NULL DEFAULT 0, details "
                            "TEXT NOT NULL DEFAULT '', current_tier INTEGER NOT NULL DEFAULT 0);"
                            "CREATE TABLE policy (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                            "INSERT INTO policy VALUES('state', '{\"paused\":true,\"paused_by\":\"telegram:7\","
                            "\"pause_reason\":\"upgrading node\",\"auto_starts_ms\":[1,2],\"cooldown_until_ms\":99}')")
                    .ok());
  }
  for (int open = 0; open < 2; ++open) {
    auto store = HistoryStore::open(path);
    ASSERT_TRUE(store.ok()) << store.message();
    auto policy = (*store)->load_policy();
    ASSERT_TRUE(policy.ok()) << policy.message();
    ASSERT_TRUE(policy->has_value());
    EXPECT_TRUE((**policy).paused());
    EXPECT_EQ((**policy).paused_by(), "telegram:7");
    EXPECT_EQ((**policy).pause_reason(), "upgrading node");
    EXPECT_EQ((**policy).auto_starts_ms_size(), 2);
    EXPECT_EQ((**policy).cooldown_until_ms(), 99);
    auto left = (*store)->db().prepare("SELECT count(*) FROM policy WHERE key = 'state'");
    ASSERT_TRUE(left.ok() && left->step());
    EXPECT_EQ(left->int64(0), 0) << "the JSON is gone once moved";
  }
  auto peek = HistoryStore::peek_policy(path);
  ASSERT_TRUE(peek);
  EXPECT_TRUE(peek->paused());
}

TEST(HistoryStore, TextAnOlderGwrStoredIsReadAsValidUtf8) {
  testing::TempDir dir;
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok());
  auto r = new_repair(pb::TRIGGER_AUTO, kNow);
  r.set_reason(std::string("health check failing: HTTP 500: ").append(159, 'x').append("\xE2\x82"));
  const int64_t id = *(*store)->create_repair(r);
  auto s = step(1, "restart", false, 10);
  s.set_output("exit 1 \xFF\xFE");
  ASSERT_TRUE((*store)->save_step(id, 0, s, false).ok());  // stored as 1.0 stored it
  const auto got = (*store)->get_repair(id);
  ASSERT_TRUE(got);
  EXPECT_TRUE(is_valid_utf8(got->reason()));
  ASSERT_EQ(got->steps_size(), 1) << "the step was dropped";
  EXPECT_TRUE(is_valid_utf8(got->steps(0).output()));
  pb::RepairSummary sent;
  EXPECT_TRUE(sent.ParseFromString(got->SerializeAsString())) << "a reply with it decodes";
}

TEST(HistoryStore, RetentionKeepsTheNewestAndNeverARunningRepair) {
  testing::TempDir dir;
  auto store = HistoryStore::open(dir / "gwr.db");
  ASSERT_TRUE(store.ok());
  const int64_t day = 86'400'000;
  std::vector<int64_t> ids;
  for (int i = 0; i < 30; ++i) {
    const int64_t id = *(*store)->create_repair(new_repair(pb::TRIGGER_AUTO, kNow - (30 - i) * day));
    ASSERT_TRUE((*store)->save_step(id, 0, step(1, "restart", true, 10), false).ok());
    pb::RepairEvent ev;
    ev.set_kind(pb::RepairEvent::FINISHED);
    ev.set_repair_id(id);
    ev.set_at_ms(kNow - (30 - i) * day);
    ASSERT_TRUE((*store)->add_event(ev).ok());
    pb::RepairSummary done = new_repair(pb::TRIGGER_AUTO, kNow - (30 - i) * day);
    done.set_status(i == 0 ? pb::REPAIR_RUNNING : pb::REPAIR_SUCCEEDED);  // the oldest is still running
    done.set_finished_at_ms(i == 0 ? 0 : kNow - (30 - i) * day + 1000);
    ASSERT_TRUE((*store)->finish_repair(id, done).ok());
    ids.push_back(id);
  }
  // Older than 10 days go; of the rest, the newest 5 stay.
  for (int i = 0; i < 30; ++i) {
    HistoryStore::Outcome o;
    o.signature = "v2|down|f:NOT_RUNNING/process|" + std::to_string(i);
    o.tiers_tried = {1};
    o.fixed_by_tier = 1;
    ASSERT_TRUE((*store)->record_outcome(o, kNow - (30 - i) * day).ok());
  }
  auto pruned = (*store)->prune(kNow, 10 * day, 5, 12);
  ASSERT_TRUE(pruned.ok()) << pruned.message();
  EXPECT_EQ(*pruned, 24);
  const auto left = (*store)->recent_repairs(100);
  ASSERT_EQ(left.size(), 6u);
  EXPECT_EQ(left.back().id(), ids[0]) << "the running repair is kept, however old";
  EXPECT_FALSE((*store)->get_repair(ids[1]));
  EXPECT_EQ((*store)->recent_events(100).size(), 6u) << "the events of deleted repairs went with them";
  const auto learned = (*store)->learned_patterns(100);
  ASSERT_EQ(learned.size(), 12u) << "history.max_learned";
  EXPECT_EQ(learned.back().signature(), "v2|down|f:NOT_RUNNING/process|18") << "the least recently seen went first";
}

}  // namespace
}  // namespace gwr::repairer
